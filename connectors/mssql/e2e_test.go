package mssql

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/connectors/outbox"
	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
)

// runOutbox runs the demo spec through the engine with src as its only
// source and returns the outbox folder.
func runOutbox(t *testing.T, dataDir string, opt demogen.Options, src engine.Source) string {
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
	out := t.TempDir()
	now := func() time.Time { return time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC) }
	if _, err := engine.Run(context.Background(), plan, engine.Options{Sink: outbox.New(out), Sources: []engine.Source{src}, Now: now, RunID: "e2e"}); err != nil {
		t.Fatal(err)
	}
	return out
}

var demoCallID = regexp.MustCompile(`C0*([0-9]+)`)

// outboxLines reads an outbox file as lines, demo call IDs in Engage form
// ("C0000042" → "42"), ledger rows the source never sees when the window
// and tenant are pushed down removed, sorted.
func outboxLines(t *testing.T, dir, name string, pushedDown bool) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := demoCallID.ReplaceAllString(sc.Text(), "$1")
		if pushedDown && (strings.HasSuffix(line, ",before_window") || strings.HasSuffix(line, ",other_tenant")) && strings.HasPrefix(line, "call,") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// compareRuns checks that a run over src writes the outbox a run over the
// snapshot of the same data writes.
func compareRuns(t *testing.T, dataDir string, opt demogen.Options, src engine.Source) {
	t.Helper()
	want := runOutbox(t, dataDir, opt, snapshot.New(dataDir))
	got := runOutbox(t, dataDir, opt, src)
	for _, name := range []string{"agents.csv", "calls.jsonl", "ledger.csv"} {
		w, g := outboxLines(t, want, name, true), outboxLines(t, got, name, false)
		if len(w) < 10 {
			t.Fatalf("%s: the snapshot run wrote %d lines: the comparison tests nothing", name, len(w))
		}
		if !slices.Equal(g, w) {
			n := 0
			for _, l := range w {
				if !slices.Contains(g, l) && n < 5 {
					t.Errorf("%s: missing %s", name, l)
					n++
				}
			}
			for _, l := range g {
				if !slices.Contains(w, l) && n < 10 {
					t.Errorf("%s: extra %s", name, l)
					n++
				}
			}
			t.Errorf("%s: %d lines, want %d", name, len(g), len(w))
		}
	}
}
