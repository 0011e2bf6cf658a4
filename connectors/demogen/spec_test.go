package demogen

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/applink-dev/applink/dsl"
	"github.com/expr-lang/expr"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/text/unicode/norm"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestWriteSpecGolden(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
	}{
		{"default", Options{}},
		{"all_fields_two_tenants", Options{BDFields: 50, TenantIDs: []int64{12, 30}}},
		{"no_fields", Options{BDFields: -1, InstalledAt: DefaultInstalledAt.AddDate(0, 1, 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			specDir := filepath.Join(root, "spec")
			if err := WriteSpec(specDir, filepath.Join(root, "data", "engage"), tc.opt); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(specDir, SpecFile))
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".hcl.golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("main.hcl differs from %s (run with -update):\n%s", golden, got)
			}
			checkSpec(t, got, tc.opt.WithDefaults())

			// Calls and Seed do not shape the spec.
			other := tc.opt
			other.Calls, other.Seed = 77, 9
			if err := WriteSpec(specDir, filepath.Join(root, "data", "engage"), other); err != nil {
				t.Fatal(err)
			}
			if again, _ := os.ReadFile(filepath.Join(specDir, SpecFile)); string(again) != string(got) {
				t.Error("spec depends on Calls or Seed")
			}
		})
	}
}

// checkSpec parses src as HCL and compiles every expression against the
// environments of shared/README.md §3, with the result type each block needs.
// It stands in for dsl's validation, which lives in another package.
func checkSpec(t *testing.T, src []byte, o Options) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, SpecFile, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	str := func(b *hclsyntax.Block, name string) string {
		t.Helper()
		a := b.Body.Attributes[name]
		if a == nil {
			t.Fatalf("%s block: no %s", b.Type, name)
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() || v.Type() != cty.String {
			t.Fatalf("%s.%s: not a literal string: %v", b.Type, name, diags)
		}
		return v.AsString()
	}
	compile := func(what, src string, env any, opts ...expr.Option) {
		t.Helper()
		if _, err := expr.Compile(src, append([]expr.Option{expr.Env(env)}, opts...)...); err != nil {
			t.Errorf("%s: %q: %v", what, src, err)
		}
	}
	fields := map[string]int{}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		switch b.Type {
		case "spec":
			if got := str(b, "customer"); got != DemoCustomer {
				t.Errorf("customer %q", got)
			}
			if got := str(b, "backfill_requested_at"); got != o.BackfillRequestedAt.Format("2006-01-02T15:04:05Z07:00") {
				t.Errorf("backfill_requested_at %q", got)
			}
		case "source":
			if got := str(b, "path"); got != "../data/engage" {
				t.Errorf("source path %q, want ../data/engage", got)
			}
			if str(b, "driver") != "snapshot" || str(b, "system_id") != DemoSystemID {
				t.Error("source block")
			}
		case "tenant":
			compile("tenant", str(b, "where"), dsl.TenantEnv{}, expr.AsBool())
		case "agents":
			compile("agents", str(b, "where"), dsl.AgentEnv{}, expr.AsBool())
		case "calls":
			compile("calls", str(b, "where"), dsl.CallEnv{}, expr.AsBool())
		case "field":
			typ, name := b.Labels[0], b.Labels[1]
			fields[typ]++
			v := str(b, "value")
			switch typ {
			case dsl.TypeText:
				compile(name, v, dsl.CallEnv{}, expr.AsKind(reflect.String))
			case dsl.TypeNumber:
				compile(name, v, dsl.CallEnv{}, expr.AsFloat64())
				if str(b, "on_error") != dsl.OnErrorOmit {
					t.Errorf("%s: on_error", name)
				}
			case dsl.TypeBoolean:
				compile(name, v, dsl.CallEnv{}, expr.AsBool())
			default:
				t.Errorf("field %s: type %q", name, typ)
			}
			if !strings.Contains(v, "bd."+name) {
				t.Errorf("field %s reads %q", name, v)
			}
		default:
			t.Errorf("unexpected block %q", b.Type)
		}
	}
	text, number, boolean := FieldNames(o.BDFields)
	if fields[dsl.TypeText] != len(text) || fields[dsl.TypeNumber] != len(number) || fields[dsl.TypeBoolean] != len(boolean) {
		t.Errorf("field blocks %v, want %d/%d/%d", fields, len(text), len(number), len(boolean))
	}
	for typ, n := range fields {
		if n > dsl.FieldLimits[typ] {
			t.Errorf("%d %s fields, over the limit", n, typ)
		}
	}
}

// TestDemoFiltersOnData runs the demo spec's filters on generated rows: the
// agent filter drops exactly the @test.example users, the call filter
// exactly the internal calls.
func TestDemoFiltersOnData(t *testing.T) {
	root := t.TempDir()
	if err := WriteSpec(root, root, Options{}); err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile(filepath.Join(root, SpecFile))
	f, diags := hclsyntax.ParseConfig(src, SpecFile, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	where := map[string]string{}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if a := b.Body.Attributes["where"]; a != nil {
			v, _ := a.Expr.Value(nil)
			where[b.Type] = v.AsString()
		}
	}
	agentProg, err := expr.Compile(where["agents"], expr.Env(dsl.AgentEnv{}), expr.AsBool())
	if err != nil {
		t.Fatal(err)
	}
	callProg, err := expr.Compile(where["calls"], expr.Env(dsl.CallEnv{}), expr.AsBool())
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := generate(t, Options{Calls: 500})
	s := readSnapshot(t, dir)
	dropped := 0
	for _, a := range s.agents {
		out, err := expr.Run(agentProg, dsl.AgentEnv{Agent: &dsl.Agent{Email: a["email"]}})
		if err != nil {
			t.Fatal(err)
		}
		isTest := strings.HasSuffix(strings.ToLower(strings.TrimSpace(a["email"])), "@test.example")
		if out.(bool) == isTest {
			t.Errorf("agent filter on %q = %v", a["email"], out)
		}
		if isTest {
			dropped++
		}
	}
	if dropped == 0 {
		t.Error("no test agent in the data")
	}
	for _, c := range s.calls {
		out, err := expr.Run(callProg, dsl.CallEnv{Call: &dsl.Call{Direction: c["direction"]}})
		if err != nil {
			t.Fatal(err)
		}
		if out.(bool) == (c["direction"] == "internal") {
			t.Errorf("call filter on %q = %v", c["direction"], out)
		}
	}
}

func TestRelPath(t *testing.T) {
	root := t.TempDir()
	tests := []struct{ spec, data, want string }{
		{filepath.Join(root, "spec"), filepath.Join(root, "data"), "../data"},
		{filepath.Join(root, "spec"), filepath.Join(root, "spec", "data"), "data"},
		{root, root, "."},
	}
	for _, tc := range tests {
		if got := relPath(tc.spec, tc.data); got != tc.want {
			t.Errorf("relPath(%q, %q) = %q, want %q", tc.spec, tc.data, got, tc.want)
		}
	}
}

// FuzzHCLString checks that hclString yields an HCL literal that reads back
// as the same string, whatever the path or expression holds.
func FuzzHCLString(f *testing.F) {
	for _, s := range []string{"", "data/engage", `C:\data\engage`, `a "quoted" path`, "${var.x}", "%{ if x }", "$${", "line\nbreak\ttab\r", "Zoë/王", "$", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// HCL reads UTF-8 only, and cty keeps strings in NFC.
		if !utf8.ValidString(s) || norm.NFC.String(s) != s {
			return
		}
		src := "x = " + hclString(s) + "\n"
		file, diags := hclsyntax.ParseConfig([]byte(src), "f.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%q: %v", src, diags)
		}
		v, diags := file.Body.(*hclsyntax.Body).Attributes["x"].Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("%q: %v", src, diags)
		}
		if got := v.AsString(); got != s {
			t.Fatalf("hclString(%q) reads back as %q", s, got)
		}
	})
}

// TestWindowMatchesDSL keeps the generator's idea of the window (which
// decides the before_window calls) equal to dsl's.
func TestWindowMatchesDSL(t *testing.T) {
	tests := []Options{
		{},
		{BackfillRequestedAt: DefaultInstalledAt},
		{BackfillRequestedAt: DefaultInstalledAt.AddDate(0, 0, 30)},
		{InstalledAt: DefaultInstalledAt.Add(13 * time.Hour)},
	}
	for _, opt := range tests {
		o := opt.WithDefaults()
		spec := dsl.Spec{InstalledAt: o.InstalledAt, BackfillRequestedAt: o.BackfillRequestedAt}
		if got, want := o.windowStart(), spec.WindowStart(); !got.Equal(want) {
			t.Errorf("%+v: window %s, dsl says %s", opt, got, want)
		}
	}
}
