package sourcetest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/connectors/outbox"
	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/report"
	"github.com/applink-dev/applink/engine/state/duckstate"
)

// Options of a comparison.
type Options struct {
	// NumericIDs compares demo IDs in the numeric form a source that reads
	// Engage's integer IDs returns ("C0000042" → "42").
	NumericIDs bool
	// MinCounted is the number of distinct reasons the source must have
	// counted in its database (0: none required).
	MinCounted int
}

// Run is what one engine run of the demo spec left: the outbox, the bytes
// of the media each sent call carried, and the report of the state.
type Run struct {
	Out    string
	Media  map[string]string // call id -> sha256 prefix of its media file
	Report *report.Report
	ids    *regexp.Regexp
}

var demoCallID = regexp.MustCompile(`C0*([0-9]+)`)

// RunSpec runs the demo spec of opt (reading dataDir) through the engine
// with src as its only source, into an outbox and a state file.
func RunSpec(t *testing.T, dataDir string, opt demogen.Options, src connector.Source, o Options) Run {
	t.Helper()
	specDir := t.TempDir()
	if err := demogen.WriteSpec(specDir, dataDir, opt); err != nil {
		t.Fatal(err)
	}
	spec, diags := dsl.Load(specDir)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	plan, err := engine.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := duckstate.Open(ctx, filepath.Join(specDir, "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	prior, err := st.Prior(ctx)
	if err != nil {
		t.Fatal(err)
	}
	led, err := st.Begin("compare", plan.SpecHash, t.TempDir(), prior)
	if err != nil {
		t.Fatal(err)
	}
	r := Run{Out: t.TempDir(), Media: map[string]string{}}
	if o.NumericIDs {
		r.ids = demoCallID
	}
	var mu sync.Mutex
	now := func() time.Time { return time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC) }
	_, err = engine.Run(ctx, plan, engine.Options{Sink: outbox.New(r.Out), Sources: []connector.Source{src}, Now: now, RunID: "compare",
		Prior: prior, Ledger: led,
		Observe: func(c *engine.ObservedCall) {
			if c.Out == nil || c.Out.MediaFile == "" {
				return
			}
			b, err := os.ReadFile(c.Out.MediaFile)
			if err != nil {
				t.Errorf("call %s: media %s: %v", c.Out.CallID, c.Out.MediaFile, err)
				return
			}
			sum := sha256.Sum256(b)
			mu.Lock()
			r.Media[r.id(c.Out.CallID)] = hex.EncodeToString(sum[:8])
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Report, err = report.Build(ctx, st, report.Options{RunID: "compare"}); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r Run) id(s string) string {
	if r.ids == nil {
		return s
	}
	return r.ids.ReplaceAllString(s, "$1")
}

var (
	callLine   = regexp.MustCompile(`^\{"call_id":"([^"]+)"`)
	mediaField = regexp.MustCompile(`"media":("(?:[^"\\]|\\.)*"|null)`)
)

// Lines reads an outbox file as sorted lines, IDs in the run's form, a
// call's media field replaced by a hash of the bytes it was sent with.
func (r Run) Lines(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(r.Out, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := r.id(sc.Text())
		if m := callLine.FindStringSubmatch(line); m != nil {
			line = mediaField.ReplaceAllString(line, `"media":"bytes `+r.Media[m[1]]+`"`)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// AllCalls is a report's call counts with the rows counted by the database,
// by "state/reason".
func AllCalls(r *report.Report) map[string]int {
	out := lineCounts(r.Calls.Lines)
	for k, n := range lineCounts(r.Counted) {
		out[k] += n
	}
	return out
}

func lineCounts(lines []report.Line) map[string]int {
	out := map[string]int{}
	for _, l := range lines {
		if l.N != 0 {
			out[l.State+"/"+l.Reason] += l.N
		}
	}
	return out
}

// CompareRuns checks that a run over src writes the outbox a run over the
// snapshot of the same data writes (media bytes included), that every
// snapshot ledger row is in src's ledger or counted by its database,
// reason by reason, and that both reports give the same counts with
// nothing unexplained.
func CompareRuns(t *testing.T, dataDir string, opt demogen.Options, src connector.Source, o Options) {
	t.Helper()
	want := RunSpec(t, dataDir, opt, snapshot.New(dataDir), o)
	got := RunSpec(t, dataDir, opt, src, o)
	if opt.MediaFiles && (len(want.Media) < 100 || len(got.Media) != len(want.Media)) {
		t.Errorf("calls sent with media: %d, snapshot %d", len(got.Media), len(want.Media))
	}
	for _, name := range []string{"agents.csv", "calls.jsonl"} {
		w, g := want.Lines(t, name), got.Lines(t, name)
		if len(w) < 10 {
			t.Fatalf("%s: the snapshot run wrote %d lines: the comparison tests nothing", name, len(w))
		}
		diffLines(t, name, g, w)
	}

	w, g := want.Lines(t, "ledger.csv"), got.Lines(t, "ledger.csv")
	missing := map[string]int{}
	for _, l := range w {
		if _, ok := slices.BinarySearch(g, l); !ok {
			parts := strings.Split(l, ",")
			missing[parts[2]+"/"+parts[3]]++
		}
	}
	for _, l := range g {
		if _, ok := slices.BinarySearch(w, l); !ok {
			t.Errorf("ledger.csv: extra %s", l)
		}
	}
	counted := lineCounts(got.Report.Counted)
	if fmt.Sprint(missing) != fmt.Sprint(counted) {
		t.Errorf("ledger rows not read %v, counted by the database %v", missing, counted)
	}
	if len(counted) < o.MinCounted {
		t.Errorf("counted by the database: %v: the push-down tests nothing", counted)
	}

	if fmt.Sprint(AllCalls(got.Report)) != fmt.Sprint(AllCalls(want.Report)) {
		t.Errorf("report calls\n got  %v\n want %v", AllCalls(got.Report), AllCalls(want.Report))
	}
	if g, w := lineCounts(got.Report.Agents.Lines), lineCounts(want.Report.Agents.Lines); fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("report agents\n got  %v\n want %v", g, w)
	}
	ga, wa := got.Report.Accounting, want.Report.Accounting
	if ga == nil || wa == nil {
		t.Fatalf("no accounting in the reports: %v %v", ga, wa)
	}
	if ga.SourceRows != wa.SourceRows || ga.Unexplained != 0 || wa.Unexplained != 0 {
		t.Errorf("source rows %d (unexplained %d), snapshot %d (unexplained %d)", ga.SourceRows, ga.Unexplained, wa.SourceRows, wa.Unexplained)
	}
}

func diffLines(t *testing.T, name string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	n := 0
	for _, l := range want {
		if _, ok := slices.BinarySearch(got, l); !ok && n < 5 {
			t.Errorf("%s: missing %s", name, l)
			n++
		}
	}
	for _, l := range got {
		if _, ok := slices.BinarySearch(want, l); !ok && n < 10 {
			t.Errorf("%s: extra %s", name, l)
			n++
		}
	}
	t.Errorf("%s: %d lines, want %d", name, len(got), len(want))
}
