package duckdbsource

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine/connector"
)

// FuzzCallRecord feeds arbitrary cell text (as an imported, all-VARCHAR
// file holds it) to the row decoder: it never panics, and a row is flagged
// bad exactly when a cell breaks the snapshot format.
func FuzzCallRecord(f *testing.F) {
	f.Add("C1", "1", "2026-11-01T10:00:00Z", "5000", "in", "true", "10", "ok", "0")
	f.Add("", "", "", "", "", "", "", "", "")
	f.Add("C2", "x", "yesterday", "1.5", "sideways", "yes", "-", "fine", "1e3")
	f.Add("C3", "-9223372036854775808", "2026-11-01T10:00:00.123+02:00", "0", "unknown", "false", "0", "error", "1702")
	f.Fuzz(func(t *testing.T, id, tenant, start, dur, dir, archived, audio, status, exc string) {
		cells := []any{id, tenant, "dc1", "A1", start, dur, dir, "+1", "+2", archived, audio, status, exc, "", "Sales"}
		for i, c := range cells {
			if c == "" {
				cells[i] = nil // an empty CSV cell is NULL after import
			}
		}
		var r connector.CallRecord
		callMapper.Map(&r, cells)
		_, errT := time.Parse(time.RFC3339Nano, start)
		okInt := func(s string) bool {
			if s == "" {
				return true
			}
			_, err := strconv.ParseInt(s, 10, 64)
			return err == nil
		}
		valid := id != "" && errT == nil && okInt(tenant) && okInt(dur) && okInt(audio) && okInt(exc) &&
			slices.Contains([]string{"in", "out", "internal", "unknown"}, dir) &&
			slices.Contains([]string{"", "true", "false"}, archived) &&
			slices.Contains([]string{"ok", "invalid", "error"}, status)
		if valid != (r.Err == nil) {
			t.Fatalf("valid=%v but Err=%v for %q", valid, r.Err, cells)
		}
		if r.Call.CallID != id {
			t.Fatalf("call_id %q, want %q", r.Call.CallID, id)
		}
	})
}
