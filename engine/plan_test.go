package engine

import (
	"flag"
	"os"
	"path/filepath"
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
