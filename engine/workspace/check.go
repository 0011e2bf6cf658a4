package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
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
	for _, src := range w.Plan.Sources {
		var buf bytes.Buffer
		var err error
		if chk := w.Registry.SourceCheckers[src.Driver]; chk != nil {
			err = chk(ctx, src, w.Plan.Window.From, &buf)
		} else {
			err = w.readThrough(ctx, src, &buf)
		}
		out = append(out, result(src.Name, "source", src.Driver, &buf, err))
	}
	if s := w.Plan.Sink; s != nil && s.Kind != "" {
		if chk := w.Registry.SinkCheckers[s.Kind]; chk != nil {
			var buf bytes.Buffer
			err := chk(ctx, *s, w.Plan.Fields, &buf)
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
func (w *Workspace) readThrough(ctx context.Context, src dsl.Source, out io.Writer) error {
	f := w.Registry.Sources[src.Driver]
	if f == nil {
		return fmt.Errorf("no connector for driver %q in this build", src.Driver)
	}
	start := time.Now()
	s, err := f(ctx, src)
	if err != nil {
		return err
	}
	defer s.Close()
	var agents, badAgents, calls, badCalls, orphans int
	if err := s.ReadAgents(ctx, func(r *engine.AgentRecord) error {
		agents++
		if r.Err != nil {
			badAgents++
		}
		return nil
	}); err != nil {
		return err
	}
	if err := s.ReadCalls(ctx, engine.CallQuery{From: w.Plan.Window.From, Names: engine.NewNames()}, func(r *engine.CallRecord) error {
		switch {
		case r.Err != nil && errors.Is(r.Err, engine.ErrBDWithoutCall):
			orphans++
		case r.Err != nil:
			calls++
			badCalls++
		default:
			calls++
		}
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %s %s readable in %s: %d agent rows (%d bad), %d call rows (%d bad); business data rows without a call: %d\n",
		src.Name, src.Driver, src.Path, time.Since(start).Round(time.Millisecond), agents, badAgents, calls, badCalls, orphans)
	if badAgents+badCalls+orphans > 0 {
		return fmt.Errorf("%d bad rows and %d business data rows without a call: `applink run` would report them", badAgents+badCalls, orphans)
	}
	return nil
}
