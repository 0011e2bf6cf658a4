package engine

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/hashicorp/hcl/v2"
)

var update = flag.Bool("update", false, "rewrite golden files")

// compileSrc compiles a one-file spec in folder dir.
func compileSrc(t *testing.T, dir, src string) *Plan {
	t.Helper()
	spec, diags := dsl.Parse(dir, map[string][]byte{"main.hcl": []byte(src)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPlanGolden pins what `applink plan` prints for a spec that uses every
// block: sources of one system at two sites, the backfill window, the rule
// chain, the three filters and direct and expression fields.
func TestPlanGolden(t *testing.T) {
	src := `
spec {
  customer              = "acme"
  cxone_tenant          = "acme-eu1"
  installed_at          = "2026-11-01T00:00:00Z"
  backfill_requested_at = "2026-11-03T00:00:00Z"
  backfill_days         = 5
}
source "engage" "dc1" {
  driver    = "snapshot"
  path      = "data/dc1"
  system_id = "engage-acme"
}
source "engage" "dc2" {
  driver             = "mssql"
  dsn                = env("ENGAGE_DC2_DSN")
  application_intent = "ReadOnly"
  system_id          = "engage-acme"
}
tenant { where = "tenant_id == 12" }
agents { where = "!(agent.email endsWith '@test.example')" }
calls {
  where = <<-EXPR
    call.direction != "internal" &&
      call.duration_ms > 5000
  EXPR
}
field "text" "CustomerID" { value = "bd.CustomerID" }
field "number" "OrderTotal" { value = "float(bd.OrderTotal)" }
field "boolean" "VIP" {
  value    = "bd.Tier == 'gold'"
  on_error = "exclude"
}
field "text" "Skill" { value = "upper(call.skill)" }
`
	got := compileSrc(t, "specs/acme", src).String()
	path := filepath.Join("testdata", "plan.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("plan differs from %s (rerun with -update and review the diff):\n%s", path, got)
	}
}

// hashSpec uses every part of a plan the hash must cover.
const hashSpec = `spec {
  customer     = "acme"
  cxone_tenant = "acme-eu1"
  installed_at = "2026-11-01T00:00:00Z"
}
source "engage" "dc1" {
  driver    = "snapshot"
  path      = "data/dc1"
  system_id = "engage-acme"
}
source "engage" "dc2" {
  driver             = "mssql"
  dsn                = env("ENGAGE_DC2_DSN")
  application_intent = "ReadOnly"
  batch_size         = 5000
  system_id          = "engage-acme"
  queries {
    calls = "SELECT 1"
  }
}
tenant { where = "tenant_id == 12" }
calls { where = "call.direction != 'internal'" }
field "text" "CustomerID" { value = "bd.CustomerID" }
staging { retention_days = 30 }
sink "cxone" {
  api_url  = "https://api-eu1.niceincontact.com"
  auth_url = "https://cxone.niceincontact.com"
  concurrency = 8
}
`

// TestPlanHashCoversPlan: the hash is over the plan's value, so changing
// any setting a run acts on changes it (a saved plan is then another
// plan), while what does not change the run keeps it.
func TestPlanHashCoversPlan(t *testing.T) {
	hash := func(t *testing.T, dir, src string) string {
		t.Helper()
		return compileSrc(t, dir, src).Hash()
	}
	base := hash(t, "specs/acme", hashSpec)
	changed := []struct{ name, old, new string }{
		{"sink url", `api_url  = "https://api-eu1`, `api_url  = "https://api-eu2`},
		{"sink concurrency", "concurrency = 8", "concurrency = 9"},
		{"staging", "retention_days = 30", "retention_days = 31"},
		{"a query", `calls = "SELECT 1"`, `calls = "SELECT 2"`},
		{"batch size", "batch_size         = 5000", "batch_size         = 500"},
		{"application intent", `application_intent = "ReadOnly"`, `application_intent = "ReadWrite"`},
		{"DSN variable", `env("ENGAGE_DC2_DSN")`, `env("ENGAGE_DSN")`},
		{"path", `"data/dc1"`, `"data/dc3"`},
		{"site", `driver    = "snapshot"`, "driver    = \"snapshot\"\n  site = \"x\""},
		{"window", `"2026-11-01T00:00:00Z"`, `"2026-11-02T00:00:00Z"`},
		{"tenant filter", "tenant_id == 12", "tenant_id == 13"},
		{"calls filter", "'internal'", "'in'"},
		{"a field", "bd.CustomerID", "bd.Customer"},
		{"customer", `"acme"`, `"acme2"`},
	}
	for _, tt := range changed {
		t.Run("changes: "+tt.name, func(t *testing.T) {
			src := strings.Replace(hashSpec, tt.old, tt.new, 1)
			if src == hashSpec {
				t.Fatalf("%q not in the spec", tt.old)
			}
			if hash(t, "specs/acme", src) == base {
				t.Error("same hash")
			}
		})
	}
	t.Run("changes: no sink", func(t *testing.T) {
		if hash(t, "specs/acme", hashSpec[:strings.Index(hashSpec, "sink \"cxone\"")]) == base {
			t.Error("same hash")
		}
	})
	same := []struct{ name, dir, src string }{
		{"another folder", "elsewhere/acme", hashSpec},
		{"comments and layout", "specs/acme", "# note\n" + strings.ReplaceAll(hashSpec, "  concurrency = 8", "  concurrency    =    8 # more")},
		{"the same instant in another zone", "specs/acme", strings.Replace(hashSpec, `"2026-11-01T00:00:00Z"`, `"2026-11-01T01:00:00+01:00"`, 1)},
	}
	for _, tt := range same {
		t.Run("keeps: "+tt.name, func(t *testing.T) {
			if hash(t, tt.dir, tt.src) != base {
				t.Error("hash changed")
			}
		})
	}
	t.Run("keeps: the DSN variable's value", func(t *testing.T) {
		t.Setenv("ENGAGE_DC2_DSN", "sqlserver://applink:secret@db")
		if hash(t, "specs/acme", hashSpec) != base {
			t.Error("hash changed with the environment")
		}
	})
}

func TestCheckWatermarks(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 11, 2, h, 0, 0, 0, time.UTC) }
	saved := map[string]Watermark{"dc1": {StartTime: at(10), CallID: "C1"}, "dc2": {StartTime: at(11), CallID: "C7"}}
	tests := []struct {
		name    string
		saved   map[string]Watermark
		current map[string]Watermark
		want    string // "" accepted
	}{
		{"no runs, none since", nil, nil, ""},
		{"unchanged", saved, map[string]Watermark{"dc1": {StartTime: at(10).In(time.FixedZone("x", 3600)), CallID: "C1"}, "dc2": {StartTime: at(11), CallID: "C7"}}, ""},
		{"first run since", nil, map[string]Watermark{"dc1": {StartTime: at(10), CallID: "C1"}},
			"source dc1: saved no watermark, the state now has call C1 at 2026-11-02T10:00:00Z"},
		{"one source moved", saved, map[string]Watermark{"dc1": {StartTime: at(12), CallID: "C9"}, "dc2": {StartTime: at(11), CallID: "C7"}},
			"source dc1: saved call C1 at 2026-11-02T10:00:00Z, the state now has call C9 at 2026-11-02T12:00:00Z)"},
		{"same time, another call", saved, map[string]Watermark{"dc1": {StartTime: at(10), CallID: "C2"}, "dc2": {StartTime: at(11), CallID: "C7"}},
			"source dc1: saved call C1"},
		{"state reset", saved, nil,
			"source dc1: saved call C1 at 2026-11-02T10:00:00Z, the state now has no watermark; source dc2: saved call C7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&PlanFile{Watermarks: tt.saved}).CheckWatermarks(tt.current)
			var we *WatermarkError
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (!errors.As(err, &we) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

// TestSavedPlanRoundTrip: a saved plan recompiles to the same hash; one
// whose saved hash differs is refused.
func TestSavedPlanRoundTrip(t *testing.T) {
	p := compileSrc(t, "specs/acme", hashSpec)
	var buf bytes.Buffer
	if err := SavePlan(&buf, p, nil, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	pf, err := ReadPlanFile(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := pf.Plan("somewhere/else")
	if err != nil || got.Hash() != p.Hash() {
		t.Fatalf("recompiled: %v, hash %s vs %s", err, got.Hash(), p.Hash())
	}
	pf.PlanHash = strings.Repeat("0", 64)
	if _, err := pf.Plan("specs/acme"); err == nil || !strings.Contains(err.Error(), "compiles to another plan") {
		t.Errorf("a plan with another hash: %v", err)
	}
}

// TestCheckSources: the registry's validators run per driver, only on a
// spec without errors; a saved plan's sources are checked the same way.
func TestCheckSources(t *testing.T) {
	spec, diags := dsl.Parse("s", map[string][]byte{"main.hcl": []byte(hashSpec)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var seen []string
	reg := Registry{Sources: []connector.SourceDescriptor{{Spec: dsl.Connector{Block: dsl.BlockSource, Name: "snapshot"}, Validate: func(src dsl.Source) hcl.Diagnostics {
		seen = append(seen, src.Name+" "+src.PathRange.String())
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Snapshot folder not found", Subject: src.PathRange.Ptr()}}
	}}}}
	got := CheckSources(spec, nil, reg)
	if len(got) != 1 || got[0].Summary != "Snapshot folder not found" || strings.Join(seen, ",") != "dc1 s/main.hcl:8,15-25" {
		t.Errorf("diags %v, validated %v", got, seen)
	}
	prior := hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid expression"}}
	if got := CheckSources(spec, prior, reg); len(got) != 1 || got[0] != prior[0] {
		t.Errorf("a spec with errors was checked: %v", got)
	}
	warn := hcl.Diagnostics{{Severity: hcl.DiagWarning, Summary: "Unused backfill_days"}}
	if got := CheckSources(spec, warn, reg); len(got) != 2 {
		t.Errorf("a spec with warnings was not checked: %v", got)
	}
	p := compileSrc(t, "s", hashSpec)
	if got := p.CheckSources(reg); len(got) != 1 {
		t.Errorf("plan sources: %v", got)
	}
	if got := p.CheckSources(Registry{}); len(got) != 0 {
		t.Errorf("no validators: %v", got)
	}
}

// TestRunErrorsNameTheSpec: every run-time expression failure (tenant,
// agents and calls filters, fields excluded or left out) says where in the
// spec, and on_error = omit keeps up to 5 reasons per field.
func TestRunErrorsNameTheSpec(t *testing.T) {
	p := mustPlan(t, "", `tenant { where = "[1, 1][tenant_id] > 0" }
agents { where = "agent.user_id == 'u1' || int(agent.first_name) > 0" }
calls { where = "int(bd.P) > 0" }
field "number" "Total" { value = "float(bd.Total)" }
field "number" "Count" {
  value    = "int(bd.Count) + 0"
  on_error = "exclude"
}
`)
	var calls []memCall
	for i := range 7 {
		calls = append(calls, memCall{call: goodCall(fmt.Sprint("c", i), "a1"), bd: [][2]string{{"P", "1"}, {"Count", "2"}, {"Total", "x"}}})
	}
	calls = append(calls,
		memCall{call: goodCall("bad-filter", "a1"), bd: [][2]string{{"P", "high"}}},
		memCall{call: goodCall("bad-count", "a1"), bd: [][2]string{{"P", "1"}, {"Count", "many"}}})
	tenant5 := goodCall("tenant5", "a1")
	tenant5.TenantID = 5
	calls = append(calls, memCall{call: tenant5})
	src := &memSource{agents: []connector.AgentRecord{agent("u1", "a1", "x@acme.example", t0), agent("u2", "a2", "y@acme.example", t0)}, calls: calls}
	sink, sum := runMem(t, p, src)

	detail := func(id string) string {
		for _, r := range sink.ledger {
			if r.ID == id {
				return r.Reason + " " + r.Detail
			}
		}
		return ""
	}
	if got, want := detail("bad-filter"), "filtered_out spec/main.hcl:15,18-21: calls filter: invalid operation: int(high)"; got != want {
		t.Errorf("calls filter detail:\n%s\nwant\n%s", got, want)
	}
	if got, want := detail("bad-count"), "mapping_error spec/main.hcl:18,15-18: field Count: invalid operation: int(many)"; got != want {
		t.Errorf("field detail:\n%s\nwant\n%s", got, want)
	}
	if n := sum.FieldOmitted["Total"]; n != 7 { // c0…c6: only imported calls count
		t.Errorf("Total omitted %d times, want 7", n)
	}
	samples := sum.FieldOmittedSamples["Total"]
	if len(samples) != 5 || samples[0] != `call c0: spec/main.hcl:16,35-50: field Total: float: cannot parse "x"` {
		t.Errorf("samples (%d): %q", len(samples), samples)
	}
	warns := strings.Join(sum.WarnSamples, "\n")
	for _, want := range []string{
		"user u2: spec/main.hcl:14,44-47: agents filter: invalid operation: int(Fu2)",
		"call bad-filter: spec/main.hcl:15,18-21: calls filter: invalid operation: int(high)",
		"call tenant5: spec/main.hcl:13,25-26: tenant filter: index out of range: 5 (array length is 2)",
	} {
		if !strings.Contains(warns, want) {
			t.Errorf("warnings lack %q:\n%s", want, warns)
		}
	}
	// How the notes render them: engine/summarytext's TestNotes.
}
