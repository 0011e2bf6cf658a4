package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/applink-dev/applink/connectors/outbox"
	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/aymanbagabas/go-udiff"
	"golang.org/x/tools/txtar"
)

// Result is what running one case gave.
type Result struct {
	Case *Case
	// Got holds the expectation sections as this run produced them: either
	// expect/diagnostics, or those outbox files and summary the case pins
	// (all three outbox files when it pins nothing yet).
	Got map[string][]byte
	// Diff is a unified diff, expectation → result, of every section that
	// differs; "" when all match.
	Diff string
	// Err says why the case could not be run or judged (a malformed archive,
	// an engine error, no expectation at all).
	Err error
}

// Passed reports whether the case ran and matched its expectation.
func (r *Result) Passed() bool { return r.Err == nil && r.Diff == "" }

// errNoExpectation marks a case that has nothing to compare with yet.
var errNoExpectation = errors.New("the case has no expect/ section: run with -update (go test) or --update (applink) to record what it does, then review it")

// runID and clock make runs reproducible: nothing in a case's output may
// depend on when it ran.
const runID = "conformance"

// caseBatchSize is the engine's batch size for cases (see runPlan).
const caseBatchSize = 5

var clock = func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }

// Run runs a conformance case: its spec/ folder is validated and, unless
// the case expects diagnostics, compiled and run through the engine with the
// snapshot source (driver "snapshot", paths as the spec says) and the outbox
// sink.
func Run(ctx context.Context, c *Case) *Result {
	res := &Result{Case: c}
	if err := c.check(false); err != nil {
		res.Err = err
		return res
	}
	if !c.hasSpec() {
		res.Err = fmt.Errorf("the case has no spec/ section: a conformance case carries its spec folder")
		return res
	}
	tmp, err := os.MkdirTemp("", "applink-conformance-")
	if err != nil {
		res.Err = fmt.Errorf("temp dir: %w", err)
		return res
	}
	defer os.RemoveAll(tmp)
	if err := c.extract(tmp); err != nil {
		res.Err = err
		return res
	}
	specDir := filepath.Join(tmp, "spec")
	// Cases run on snapshot data; their specs are checked by the language
	// alone (dsl.Load), so a case may name any driver in a diagnostic case.
	reg := engine.Registry{Sources: []connector.SourceDescriptor{snapshot.Descriptor()}}
	spec, diags := dsl.Load(specDir)
	diags = engine.CheckSources(spec, diags, reg) // as validate does
	want := c.expectations()
	_, wantDiags := want[ExpectDiagnostics]
	if wantDiags || diags.HasErrors() {
		res.Got = map[string][]byte{ExpectDiagnostics: DiagnosticLines(specDir, diags)}
		return res.judge(want)
	}
	plan, err := engine.Compile(spec)
	if err != nil {
		res.Err = err
		return res
	}
	res.Got, _, res.Err = runPlan(ctx, plan, engine.Options{Registry: reg}, tmp, want)
	if res.Err != nil {
		return res
	}
	return res.judge(want)
}

// RunSpecTest runs a spec test: spec (a customer's folder, already
// validated) on the case's data. Each plan source, whatever its driver,
// reads the snapshot data/NAME when the case has that folder, else data
// itself: an mssql spec is tested on CSV fixtures.
func RunSpecTest(ctx context.Context, spec *dsl.Spec, c *Case) *Result {
	res := &Result{Case: c}
	if err := c.check(true); err != nil {
		res.Err = err
		return res
	}
	plan, err := engine.Compile(spec)
	if err != nil {
		res.Err = err
		return res
	}
	tmp, err := os.MkdirTemp("", "applink-spectest-")
	if err != nil {
		res.Err = fmt.Errorf("temp dir: %w", err)
		return res
	}
	defer os.RemoveAll(tmp)
	if err := c.extract(tmp); err != nil {
		res.Err = err
		return res
	}
	var srcs []connector.Source
	for _, s := range plan.Sources {
		dir := filepath.Join(tmp, "data", s.Name)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			dir = filepath.Join(tmp, "data")
		}
		if _, err := os.Stat(filepath.Join(dir, snapshot.CallsFile)); err != nil {
			res.Err = fmt.Errorf("source %q: the case has no %s: give data/%s/%s or data/%s", s.Name, snapshot.CallsFile, s.Name, snapshot.CallsFile, snapshot.CallsFile)
			return res
		}
		srcs = append(srcs, snapshot.New(dir))
	}
	want := c.expectations()
	var sum *engine.RunRecord
	res.Got, sum, res.Err = runPlan(ctx, plan, engine.Options{Sources: srcs}, tmp, want)
	if res.Err != nil {
		return res
	}
	// A spec's fixture is its data in miniature: a bd name its business
	// data lacks while carrying a name one slip away is a typo. (A fixture
	// may leave other fields out: it tests what it is about.)
	var unknown []string
	for _, f := range sum.Findings {
		if f.Kind == engine.FindingUnknownBD && f.Suggest != "" {
			unknown = append(unknown, f.Text)
		}
	}
	if len(unknown) > 0 {
		res.Err = fmt.Errorf("the spec does not match the fixture's data:\n  %s", strings.Join(unknown, "\n  "))
		return res
	}
	return res.judge(want)
}

// runPlan runs plan into an outbox under tmp and returns the expectation
// sections it yields.
func runPlan(ctx context.Context, plan *engine.Plan, opts engine.Options, tmp string, want map[string][]byte) (map[string][]byte, *engine.RunRecord, error) {
	out := filepath.Join(tmp, "outbox")
	opts.Sink = outbox.New(out)
	opts.RunID = runID
	opts.Now = clock
	// Small batches: cases hold a few calls, so the default (1024 per batch,
	// 8 batches) would mostly allocate; and with 5 most cases span several
	// batches, which exercises the pipeline's hand-offs.
	opts.BatchSize = caseBatchSize
	sum, err := engine.Run(ctx, plan, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("run: %w", err)
	}
	got := map[string][]byte{}
	for _, f := range outboxFiles {
		// Only the sections the case pins are compared (a spec test may pin
		// just the ledger); a case with none records them all.
		if _, pinned := want[f.expect]; !pinned && len(want) > 0 {
			continue
		}
		b, err := os.ReadFile(filepath.Join(out, f.out))
		if err != nil {
			return nil, nil, fmt.Errorf("outbox: %w", err)
		}
		if len(plan.Sources) > 1 {
			b = sortCallRows(f.out, b)
		}
		got[f.expect] = b
	}
	if _, ok := want[ExpectSummary]; ok {
		if len(plan.Sources) > 1 { // samples arrive in no defined order either
			sort.Strings(sum.BadRowSamples)
			sort.Strings(sum.WarnSamples)
		}
		// Run-time expression errors name the spec file: as a case sees it.
		got[ExpectSummary] = []byte(strings.ReplaceAll(SummaryText(sum), plan.SpecDir+string(filepath.Separator), ""))
	}
	return got, sum, nil
}

// sortCallRows puts the call rows of an outbox file in call_id order: with
// several sources they arrive in no defined order. JSON lines start with
// the call_id; ledger call rows follow the agent rows and the header.
func sortCallRows(name string, b []byte) []byte {
	lines := strings.SplitAfter(string(b), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	from := 0
	if name == "ledger.csv" {
		from = len(lines)
		for i, l := range lines {
			if strings.HasPrefix(l, "call,") {
				from = i
				break
			}
		}
	} else if name != "calls.jsonl" {
		return b
	}
	rest := lines[from:]
	sort.SliceStable(rest, func(i, j int) bool { return rest[i] < rest[j] })
	return []byte(strings.Join(lines, ""))
}

// judge compares Got with the case's expectations.
func (r *Result) judge(want map[string][]byte) *Result {
	if len(want) == 0 {
		r.Err = errNoExpectation
		return r
	}
	names := map[string]bool{}
	for n := range want {
		names[n] = true
	}
	for n := range r.Got {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var diff strings.Builder
	for _, n := range sorted {
		w, inWant := want[n]
		g, inGot := r.Got[n]
		if inWant == inGot && bytes.Equal(w, g) {
			continue
		}
		wl, gl := "want/"+n, "got/"+n
		if !inWant {
			wl += " (absent)"
		}
		if !inGot {
			gl += " (not produced)"
		}
		d := udiff.Unified(wl, gl, string(w), string(g))
		if d == "" { // same bytes, one side absent
			d = fmt.Sprintf("--- %s\n+++ %s\n", wl, gl)
		}
		diff.WriteString(d)
	}
	r.Diff = diff.String()
	return r
}

// Update returns the case's archive with its expect/ sections replaced by
// what the run produced, in a fixed order after the other sections.
func (r *Result) Update() ([]byte, error) {
	if r.Got == nil {
		if r.Err != nil {
			return nil, fmt.Errorf("%s: nothing to record: %w", r.Case.Name, r.Err)
		}
		return nil, fmt.Errorf("%s: nothing to record", r.Case.Name)
	}
	ar := &txtar.Archive{Comment: r.Case.Archive.Comment}
	for _, f := range r.Case.Archive.Files {
		if !strings.HasPrefix(f.Name, expectPrefix) {
			ar.Files = append(ar.Files, f)
		}
	}
	for _, n := range []string{ExpectDiagnostics, ExpectAgents, ExpectCalls, ExpectLedger, ExpectSummary} {
		if b, ok := r.Got[n]; ok {
			ar.Files = append(ar.Files, txtar.File{Name: n, Data: b})
		}
	}
	return txtar.Format(ar), nil
}

// WriteUpdate rewrites the case's file with Update. Built-in cases have no
// file: update them from a checkout (go test ./conformance -update).
func (r *Result) WriteUpdate() error {
	if r.Case.Path == "" {
		return fmt.Errorf("%s: a built-in case has no file to update; run go test ./conformance -update in a checkout", r.Case.Name)
	}
	b, err := r.Update()
	if err != nil {
		return err
	}
	if err := os.WriteFile(r.Case.Path, b, 0o644); err != nil {
		return fmt.Errorf("update case: %w", err)
	}
	return nil
}
