package dsl

import (
	"testing"
	"time"
)

// TestSchedule decodes the schedule block; its mistakes are diagnostics
// golden cases (testdata/diag/schedule.txtar).
func TestSchedule(t *testing.T) {
	const head = `spec {
  customer     = "acme"
  cxone_tenant = "acme-eu1"
  installed_at = "2026-11-01T00:00:00Z"
}
source "engage" "dc1" {
  driver    = "snapshot"
  path      = "data"
  system_id = "engage-acme"
}
`
	tests := []struct {
		name, block string
		want        time.Duration
		wantLine    int
	}{
		{"none", "", 0, 0},
		{"five minutes", "schedule {\n  every = \"5m\"\n}\n", 5 * time.Minute, 12},
		{"compound", "schedule {\n  every = \"1h30m\"\n}\n", 90 * time.Minute, 12},
		{"minimum", "schedule {\n  every = \"1s\"\n}\n", time.Second, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, diags := Parse("spec", map[string][]byte{"main.hcl": []byte(head + tt.block)})
			if len(diags) > 0 {
				t.Fatalf("diagnostics:\n%s", render(t, spec, diags))
			}
			if spec.Schedule.Every != tt.want {
				t.Errorf("every = %s, want %s", spec.Schedule.Every, tt.want)
			}
			if tt.wantLine != 0 && spec.Schedule.Range.Start.Line != tt.wantLine {
				t.Errorf("range %s, want line %d", spec.Schedule.Range, tt.wantLine)
			}
		})
	}
}
