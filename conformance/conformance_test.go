package conformance

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/applink-dev/applink/dsl"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the expect/ sections of cases/*.txtar from what the engine does now (review the diff!)")

// minCases is the suite's floor: the contract has more rules than this.
const minCases = 40

// TestSuite runs every case of cases/ through the real engine. With
// -update it records what the engine does instead of judging it.
func TestSuite(t *testing.T) {
	cases, err := ReadDir("cases")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < minCases {
		t.Fatalf("%d cases in cases/, want at least %d", len(cases), minCases)
	}
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if c.Comment() == "" {
				t.Error("the case has no comment saying what it shows")
			}
			res := Run(ctx, c)
			if *update {
				if err := res.WriteUpdate(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if res.Diff != "" {
				t.Errorf("differs from the expectation (go test ./conformance -update to record):\n%s", res.Diff)
			}
		})
	}
}

// TestBuiltinIsTheSuite checks that the embedded suite is the one in cases/.
func TestBuiltinIsTheSuite(t *testing.T) {
	onDisk, err := ReadDir("cases")
	if err != nil {
		t.Fatal(err)
	}
	built, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(built) != len(onDisk) {
		t.Fatalf("%d built-in cases, %d in cases/", len(built), len(onDisk))
	}
	for i := range built {
		if built[i].Name != onDisk[i].Name || !bytes.Equal(txtar.Format(built[i].Archive), txtar.Format(onDisk[i].Archive)) {
			t.Errorf("built-in case %s differs from cases/%s.txtar", built[i].Name, onDisk[i].Name)
		}
		if built[i].Path != "" {
			t.Errorf("built-in case %s has a path %q", built[i].Name, built[i].Path)
		}
	}
}

// builtinCase returns one case of the suite by name.
func builtinCase(t *testing.T, name string) *Case {
	t.Helper()
	cases, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no case %s", name)
	return nil
}

// edit returns a copy of c with section name's data passed through f
// (f gets nil when the section is absent; returning nil removes it).
func edit(c *Case, name string, f func([]byte) []byte) *Case {
	ar := &txtar.Archive{Comment: c.Archive.Comment}
	found := false
	for _, file := range c.Archive.Files {
		if file.Name == name {
			found = true
			if d := f(file.Data); d != nil {
				ar.Files = append(ar.Files, txtar.File{Name: name, Data: d})
			}
			continue
		}
		ar.Files = append(ar.Files, file)
	}
	if !found {
		if d := f(nil); d != nil {
			ar.Files = append(ar.Files, txtar.File{Name: name, Data: d})
		}
	}
	return &Case{Name: c.Name, Archive: ar}
}

// TestRunnerJudges proves the runner can fail: every way a case can be
// wrong is reported, with a diff naming the section.
func TestRunnerJudges(t *testing.T) {
	ctx := context.Background()
	run := builtinCase(t, "reason_too_short")
	diag := builtinCase(t, "diag_unknown_driver")
	replace := func(old, neu string) func([]byte) []byte {
		return func(b []byte) []byte { return []byte(strings.Replace(string(b), old, neu, 1)) }
	}
	drop := func([]byte) []byte { return nil }
	onlyLedger := func(c *Case) *Case { return edit(edit(c, ExpectAgents, drop), ExpectCalls, drop) }
	tests := []struct {
		name     string
		c        *Case
		wantDiff string // a line the diff must hold
		wantErr  string // or a part of Err
	}{
		{"ledger reason changed", edit(run, ExpectLedger, replace("too_short", "no_audio")), "-call,c2,excluded,no_audio", ""},
		{"call missing from calls.jsonl", edit(run, ExpectCalls, func(b []byte) []byte { return append(b, "{\"call_id\":\"zz\"}\n"...) }), `-{"call_id":"zz"}`, ""},
		{"agent row extra", edit(run, ExpectAgents, func(b []byte) []byte { return append(b, "u9,X,Y,x@y.example,a9\n"...) }), "-u9,X,Y,x@y.example,a9", ""},
		{"diagnostics instead of a run", edit(run, "spec/main.hcl", replace(`"snapshot"`, `"snapshots"`)), "+main.hcl:8,15: error: Unknown driver", ""},
		{"diagnostic position changed", edit(diag, ExpectDiagnostics, replace(":8,15", ":9,15")), "+main.hcl:8,15: error: Unknown driver", ""},
		{"no expectation", edit(onlyLedger(run), ExpectLedger, drop), "", "no expect/ section"},
		{"diagnostics expected, spec valid", edit(edit(onlyLedger(run), ExpectLedger, drop), ExpectDiagnostics, func([]byte) []byte { return []byte("main.hcl:1,1: error: X\n") }), "-main.hcl:1,1: error: X", ""},
		{"unknown section", edit(run, "expected/ledger.csv", func([]byte) []byte { return []byte("x\n") }), "", `section "expected/ledger.csv"`},
		{"path escapes", edit(run, "data/../../x", func([]byte) []byte { return []byte("x\n") }), "", "relative paths inside the case"},
		{"both kinds of expectation", edit(run, ExpectDiagnostics, func([]byte) []byte { return []byte("\n") }), "", "diagnostics or a run, not both"},
		{"no spec", edit(run, "spec/main.hcl", drop), "", "no spec/ section"},
		{"unknown expectation", edit(run, "expect/calls.json", func([]byte) []byte { return []byte("x\n") }), "", "unknown expectation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Run(ctx, tc.c)
			if res.Passed() {
				t.Fatal("passed")
			}
			if tc.wantErr != "" {
				if res.Err == nil || !strings.Contains(res.Err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", res.Err, tc.wantErr)
				}
				return
			}
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if !strings.Contains(res.Diff, tc.wantDiff) {
				t.Errorf("diff lacks %q:\n%s", tc.wantDiff, res.Diff)
			}
		})
	}
}

// TestUpdate: recording a case with no expectation, then running it again,
// passes; and an up-to-date case is rewritten byte for byte.
func TestUpdate(t *testing.T) {
	ctx := context.Background()
	orig := builtinCase(t, "reason_too_short")
	bare := orig
	for _, n := range []string{ExpectAgents, ExpectCalls, ExpectLedger} {
		bare = edit(bare, n, func([]byte) []byte { return nil })
	}
	res := Run(ctx, bare)
	if !errors.Is(res.Err, errNoExpectation) {
		t.Fatalf("err = %v, want errNoExpectation", res.Err)
	}
	dir := t.TempDir()
	bare.Path = filepath.Join(dir, "c.txtar")
	if err := res.WriteUpdate(); err != nil {
		t.Fatal(err)
	}
	again, err := ReadDir(dir)
	if err != nil || len(again) != 1 {
		t.Fatalf("read back: %v, %d cases", err, len(again))
	}
	if res := Run(ctx, again[0]); !res.Passed() {
		t.Fatalf("recorded case fails: %v\n%s", res.Err, res.Diff)
	}
	res = Run(ctx, orig)
	b, err := res.Update()
	if err != nil {
		t.Fatal(err)
	}
	if want := txtar.Format(orig.Archive); !bytes.Equal(b, want) {
		t.Errorf("update of a passing case changed it:\n%s", b)
	}
	if err := res.WriteUpdate(); err == nil {
		t.Error("WriteUpdate of a built-in case: no error")
	}
}

// TestPinOnlyLedger: a case may pin only some outbox files; the others are
// not compared.
func TestPinOnlyLedger(t *testing.T) {
	c := builtinCase(t, "reason_too_short")
	for _, n := range []string{ExpectAgents, ExpectCalls} {
		c = edit(c, n, func([]byte) []byte { return nil })
	}
	res := Run(context.Background(), c)
	if !res.Passed() {
		t.Fatalf("%v\n%s", res.Err, res.Diff)
	}
	if len(res.Got) != 1 {
		t.Errorf("got %d sections, want only the ledger", len(res.Got))
	}
}

func TestSortCallRows(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"ledger.csv", "entity,id,state,reason\nagent,u2,imported,\nagent,u1,imported,\ncall,c3,imported,\ncall,c1,excluded,too_short\n",
			"entity,id,state,reason\nagent,u2,imported,\nagent,u1,imported,\ncall,c1,excluded,too_short\ncall,c3,imported,\n"},
		{"ledger.csv", "entity,id,state,reason\nagent,u1,imported,\n", "entity,id,state,reason\nagent,u1,imported,\n"},
		{"calls.jsonl", "{\"call_id\":\"b\"}\n{\"call_id\":\"a\"}\n", "{\"call_id\":\"a\"}\n{\"call_id\":\"b\"}\n"},
		{"calls.jsonl", "", ""},
		{"agents.csv", "user_id\nu2\nu1\n", "user_id\nu2\nu1\n"},
	}
	for _, tc := range tests {
		if got := string(sortCallRows(tc.name, []byte(tc.in))); got != tc.want {
			t.Errorf("%s %q: got %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

// TestSpecTest runs a conformance case as a spec test of its own spec: the
// two runners must agree.
func TestSpecTest(t *testing.T) {
	ctx := context.Background()
	c := builtinCase(t, "multi_site_mdc")
	dir := t.TempDir()
	if err := c.extract(dir); err != nil {
		t.Fatal(err)
	}
	spec := loadSpec(t, filepath.Join(dir, "spec"))
	fixture := c
	for _, f := range c.Archive.Files {
		if strings.HasPrefix(f.Name, specPrefix) {
			fixture = edit(fixture, f.Name, func([]byte) []byte { return nil })
		}
	}
	res := RunSpecTest(ctx, spec, fixture)
	if !res.Passed() {
		t.Fatalf("spec test of the case's own spec fails: %v\n%s", res.Err, res.Diff)
	}
	// A spec test carrying a spec is refused.
	if res := RunSpecTest(ctx, spec, c); res.Err == nil || !strings.Contains(res.Err.Error(), "remove spec/") {
		t.Errorf("spec test with spec/: err = %v", res.Err)
	}
	// Missing data for a source is an error naming it.
	noData := fixture
	for _, f := range fixture.Archive.Files {
		if strings.HasPrefix(f.Name, "data/dc2/") {
			noData = edit(noData, f.Name, func([]byte) []byte { return nil })
		}
	}
	if res := RunSpecTest(ctx, spec, noData); res.Err != nil {
		// data/dc2 is gone, so dc2 falls back to data/, which has no calls.csv.
		if !strings.Contains(res.Err.Error(), `source "dc2"`) {
			t.Errorf("err = %v", res.Err)
		}
	} else {
		t.Error("no error without dc2's data")
	}
}

func TestDiagnosticLinesOutsideSpec(t *testing.T) {
	// A diagnostic without a subject still renders one line.
	c := builtinCase(t, "diag_unknown_driver")
	res := Run(context.Background(), c)
	if res.Err != nil || !res.Passed() {
		t.Fatalf("%v %s", res.Err, res.Diff)
	}
	if !bytes.HasSuffix(res.Got[ExpectDiagnostics], []byte("\n")) {
		t.Error("diagnostics do not end in a newline")
	}
}

// FuzzCase: no archive makes the runner panic; whatever it is, a malformed
// case is an error, not a pass.
func FuzzCase(f *testing.F) {
	f.Add([]byte("comment\n-- spec/main.hcl --\nspec {}\n-- expect/diagnostics --\n"))
	f.Add([]byte("-- data/calls.csv --\nx\n-- expect/ledger.csv --\n"))
	f.Add([]byte("-- ../x --\n-- expect/x --\n"))
	f.Add([]byte("-- spec/a.hcl --\nspec {\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := ParseCase("fuzz", b)
		if err := c.check(false); err != nil {
			return
		}
		res := Run(context.Background(), c)
		if res.Passed() && len(c.expectations()) == 0 {
			t.Fatal("a case without expectations passed")
		}
	})
}

func loadSpec(t *testing.T, dir string) *dsl.Spec {
	t.Helper()
	spec, diags := dsl.Load(dir)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return spec
}
