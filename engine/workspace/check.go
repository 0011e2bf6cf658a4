package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
)

// CheckResult is what `check` found about one source or the sink.
type CheckResult struct {
	Name   string   `json:"name"`   // source name, or the sink kind
	Kind   string   `json:"kind"`   // source | sink
	Driver string   `json:"driver"` // snapshot, duckdb, mssql, cxone…
	OK     bool     `json:"ok"`
	Lines  []string `json:"lines"` // what it found, for people
	Error  string   `json:"error,omitempty"`
}

// Check connects to every source (and the sink, when it has a checker) and
// says whether a run could read and send as planned. It never writes state.
func (w *Workspace) Check(ctx context.Context) []CheckResult {
	var out []CheckResult
	var seen []string // business-data names of the sources read through
	readCalls := false
	for _, src := range w.Plan.Sources {
		var buf bytes.Buffer
		var err error
		if d := w.Registry.Source(src.Driver); d != nil && d.Check != nil {
			err = d.Check(ctx, src, w.Plan.Window.From, &buf)
		} else {
			var names []string
			var calls int
			names, calls, err = w.readThrough(ctx, src, &buf)
			seen = append(seen, names...)
			readCalls = readCalls || calls > 0
		}
		out = append(out, result(src.Name, "source", src.Driver, &buf, err))
	}
	if readCalls {
		// The spec's bd names against the data, as a run compares them.
		if f := engine.BDNameFindings(w.Plan, seen); len(f) > 0 {
			lines := make([]string, len(f))
			for i := range f {
				lines[i] = f[i].Text
			}
			out = append(out, CheckResult{Name: "business data", Kind: "spec", Driver: "bd", Lines: lines,
				Error: fmt.Sprintf("%d business-data %s no row of the source carries: the field would be empty on every call", len(f), pluralWord(len(f), "name", "names"))})
		}
	}
	out = append(out, w.checkState(ctx))
	if s := w.Plan.Sink; s == nil || s.Kind == "" {
		out = append(out, checkOutbox(w.Paths.Outbox))
	}
	if s := w.Plan.Sink; s != nil && s.Kind != "" {
		if d := w.Registry.Sink(s.Kind); d != nil && d.Check != nil {
			var buf bytes.Buffer
			err := d.Check(ctx, *s, w.Plan.Fields, &buf)
			out = append(out, result(s.Kind, "sink", s.Kind, &buf, err))
		}
	}
	return out
}

func result(name, kind, driver string, buf *bytes.Buffer, err error) CheckResult {
	r := CheckResult{Name: name, Kind: kind, Driver: driver, OK: err == nil}
	for _, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		if l != "" {
			r.Lines = append(r.Lines, l)
		}
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// readThrough opens a file source and reads it through, counting rows as a
// run does: call rows (bad ones included), bad rows, and business-data rows
// without a call on their own line, never as call rows.
// It returns the business-data names the calls carry and the call rows read.
func (w *Workspace) readThrough(ctx context.Context, src dsl.Source, out io.Writer) (seen []string, calls int, err error) {
	d := w.Registry.Source(src.Driver)
	if d == nil {
		return nil, 0, fmt.Errorf("no connector for driver %q in this build", src.Driver)
	}
	start := time.Now()
	s, err := d.Open(ctx, src)
	if err != nil {
		return nil, 0, err
	}
	defer s.Close()
	var agents, badAgents, badCalls, orphans int
	var samples []string // the first bad rows, where a consultant fixes them
	bad := func(pos, id string, err error) {
		if len(samples) >= maxBadSamples {
			return
		}
		if id != "" {
			samples = append(samples, fmt.Sprintf("  %s: %s: %v", pos, id, err))
		} else {
			samples = append(samples, fmt.Sprintf("  %s: %v", pos, err))
		}
	}
	if err := s.ReadAgents(ctx, func(r *connector.AgentRecord) error {
		agents++
		if r.Err != nil {
			badAgents++
			bad(r.Pos, r.UserID, r.Err)
		}
		return nil
	}); err != nil {
		return nil, 0, err
	}
	names := connector.NewNames()
	var carried []bool // by name id: some call row has it
	if err := s.ReadCalls(ctx, connector.CallQuery{From: w.Plan.Window.From, Names: names}, func(r *connector.CallRecord) error {
		switch {
		case r.Err != nil && errors.Is(r.Err, connector.ErrBDWithoutCall):
			orphans++
			bad(r.Pos, "", r.Err)
		case r.Err != nil:
			calls++
			badCalls++
			bad(r.Pos, r.Call.CallID, r.Err)
		default:
			calls++
		}
		for _, f := range r.BD {
			for int(f.Name) >= len(carried) {
				carried = append(carried, false)
			}
			carried[f.Name] = true
		}
		return nil
	}); err != nil {
		return nil, 0, err
	}
	for id, ok := range carried {
		if ok {
			seen = append(seen, names.Name(int32(id)))
		}
	}
	fmt.Fprintf(out, "%s: %s %s readable in %s: %d agent rows (%d bad), %d call rows (%d bad); business data rows without a call: %d\n",
		src.Name, src.Driver, src.Path, time.Since(start).Round(time.Millisecond), agents, badAgents, calls, badCalls, orphans)
	if n := badAgents + badCalls + orphans; n > 0 {
		for _, l := range samples {
			fmt.Fprintln(out, l)
		}
		if n > len(samples) {
			fmt.Fprintf(out, "  … and %d more\n", n-len(samples))
		}
		return seen, calls, fmt.Errorf("%d bad rows and %d business data rows without a call: fix the source rows (the next run reads them again)", badAgents+badCalls, orphans)
	}
	return seen, calls, nil
}

// maxBadSamples bounds the bad rows check prints; the counts are complete.
const maxBadSamples = 5

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// checkState opens the state read-only and reports its schema version; a
// DuckDB file not created yet is fine (the first run creates it).
func (w *Workspace) checkState(ctx context.Context) CheckResult {
	r := CheckResult{Name: "state", Kind: "state", Driver: w.State.Driver, OK: true}
	if r.Driver == "" {
		r.Driver = state.DriverDuckDB
	}
	if r.Driver == state.DriverDuckDB && !w.State.Exists() {
		r.Lines = []string{fmt.Sprintf("state: duckdb %s: not created yet (the first run creates it)", w.State.Path)}
		return r
	}
	if w.State.Driver == state.DriverPostgres && w.State.DSN == "" {
		r.OK, r.Error = false, "the spec's state block has an empty dsn: set the environment variable its env() names (e.g. APPLINK_STATE_DSN)"
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := w.Drivers.OpenReadOnly(ctx, w.State)
	if err != nil {
		r.OK, r.Error = false, dsl.MaskSecrets(err.Error())
		return r
	}
	defer st.Close()
	v, err := st.Version(ctx)
	if err != nil {
		r.OK, r.Error = false, dsl.MaskSecrets(err.Error())
		return r
	}
	r.Lines = []string{fmt.Sprintf("state: %s %s: schema version %d", r.Driver, w.State, v)}
	return r
}

// checkOutbox checks that a run can write the outbox folder: it exists and
// takes a file, or its nearest existing parent does (the run creates it).
func checkOutbox(dir string) CheckResult {
	r := CheckResult{Name: "outbox", Kind: "sink", Driver: "outbox", OK: true}
	at := dir
	for {
		if _, err := os.Stat(at); err == nil {
			break
		}
		parent := filepath.Dir(at)
		if parent == at {
			break
		}
		at = parent
	}
	f, err := os.CreateTemp(at, ".applink-check-*")
	if err != nil {
		r.OK, r.Error = false, fmt.Sprintf("the outbox folder %s is not writable: %v", dir, err)
		return r
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	if at == dir {
		r.Lines = []string{fmt.Sprintf("outbox: %s: writable", dir)}
	} else {
		r.Lines = []string{fmt.Sprintf("outbox: %s: does not exist yet; %s is writable (the run creates it)", dir, at)}
	}
	return r
}
