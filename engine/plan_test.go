package engine

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/applink-dev/applink/dsl"
)

var update = flag.Bool("update", false, "rewrite golden files")

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
	spec, diags := dsl.Parse("specs/acme", map[string][]byte{"main.hcl": []byte(src)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	got := p.String()
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
	src := &memSource{agents: []AgentRecord{agent("u1", "a1", "x@acme.example", t0), agent("u2", "a2", "y@acme.example", t0)}, calls: calls}
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
	var out strings.Builder
	WriteSummaryNotes(&out, sum)
	if !strings.Contains(out.String(), "field values left out (on_error = omit): Total 7\n  call c0: spec/main.hcl:16,35-50: field Total: float: cannot parse \"x\"\n") {
		t.Errorf("summary notes:\n%s", out.String())
	}
}
