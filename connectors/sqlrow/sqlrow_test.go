package sqlrow

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/duckdb/duckdb-go/v2"
)

// TestConverters pins how each driver value reads, in particular where the
// two sources used to disagree: "12.0" (text) is not an integer but 12.0
// (a FLOAT or DECIMAL) is; 1 and "true" are booleans, 2 and "1" are not.
func TestConverters(t *testing.T) {
	dec := duckdb.Decimal{Width: 10, Scale: 3, Value: big.NewInt(12000)} // 12.000
	frac := duckdb.Decimal{Width: 10, Scale: 1, Value: big.NewInt(125)}  // 12.5
	ts := time.Date(2026, 11, 2, 9, 30, 0, 250_000_000, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		conv func(any) (any, error)
		in   any
		want any
		err  string
	}{
		{"int nil", i64, nil, int64(0), ""},
		{"int int32", i64, int32(-7), int64(-7), ""},
		{"int uint8 (TINYINT)", i64, uint8(200), int64(200), ""},
		{"int uint64 too big", i64, uint64(math.MaxUint64), nil, "is not an integer"},
		{"int text", i64, "42", int64(42), ""},
		{"int empty text", i64, "", int64(0), ""},
		{"int text 12.0", i64, "12.0", nil, `"12.0" is not an integer`},
		{"int text spaces", i64, " 12", nil, "is not an integer"},
		{"int float 12.0", i64, 12.0, int64(12), ""},
		{"int float 12.5", i64, 12.5, nil, "12.5 is not an integer"},
		{"int mssql decimal", i64, []byte("12.0000"), int64(12), ""},
		{"int mssql decimal fraction", i64, []byte("12.5000"), nil, "12.5000 is not an integer"},
		{"int duckdb decimal", i64, dec, int64(12), ""},
		{"int duckdb decimal fraction", i64, frac, nil, "12.5 is not an integer"},
		{"int bool", i64, true, int64(1), ""},
		{"int time", i64, ts, nil, "is not an integer"},

		{"bool nil", boolean, nil, false, ""},
		{"bool BIT", boolean, true, true, ""},
		{"bool CASE 1", boolean, int32(1), true, ""},
		{"bool CASE 0", boolean, int64(0), false, ""},
		{"bool 2", boolean, int32(2), nil, "2: want 0 or 1"},
		{"bool text", boolean, "true", true, ""},
		{"bool text empty", boolean, "", false, ""},
		{"bool text 1", boolean, "1", nil, `"1": want true|false`},
		{"bool text TRUE", boolean, "TRUE", nil, `"TRUE": want true|false`},
		{"bool float", boolean, 1.0, nil, "float64 is not a boolean"},

		{"string nil", str, nil, "", ""},
		{"string bytes", str, []byte("abc"), "abc", ""},
		{"string int", str, int16(-3), "-3", ""},
		{"string float", str, 1234567890.0, "1234567890", ""},
		{"string time", str, ts, "2026-11-02T08:30:00.25Z", ""},
		{"string decimal", str, dec, dec.String(), ""},
		{"string struct", str, struct{}{}, nil, "struct {} is not text"},

		{"time nil", tm, nil, time.Time{}, ""},
		{"time value", tm, ts, ts.UTC(), ""},
		{"time text", tm, "2026-11-02T09:30:00+01:00", time.Date(2026, 11, 2, 8, 30, 0, 0, time.UTC), ""},
		{"time text bad", tm, "yesterday", nil, `"yesterday" is not an RFC 3339 time`},
		{"time int", tm, int64(5), nil, "int64 is not a time"},

		{"enum", enum, "out", connector.DirectionOut, ""},
		{"enum bad", enum, "sideways", nil, `"sideways": want in|out|internal|unknown`},
		{"enum case", enum, "IN", nil, "want in|out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.conv(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func i64(v any) (any, error)     { return Int64(v) }
func boolean(v any) (any, error) { return Bool(v) }
func str(v any) (any, error)     { return String(v) }
func tm(v any) (any, error)      { return Time(v) }
func enum(v any) (any, error)    { return Enum(v, connector.Directions) }

// TestMappers maps rows of canonical columns in another order and subset
// than the contract's, and checks bad values are named by column.
func TestMappers(t *testing.T) {
	cm, err := NewCallMapper([]string{"start_time", "call_id", "direction", "status", "duration_ms", "archived"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	var r connector.CallRecord
	r.Call.Site = "left over"
	cm.Map(&r, []any{start, int64(42), "in", "ok", int32(3000), true})
	want := dsl.Call{CallID: "42", StartTime: start, Direction: "in", Status: "ok", DurationMS: 3000, Archived: true}
	if r.Err != nil || fmt.Sprint(r.Call) != fmt.Sprint(want) {
		t.Errorf("got %+v (err %v), want %+v", r.Call, r.Err, want)
	}
	cm.Map(&r, []any{nil, "", "up", "fine", "1.5", 2})
	for _, w := range []string{"start_time: missing", `direction: "up"`, `status: "fine"`, `duration_ms: "1.5" is not an integer`, "archived: 2: want 0 or 1", "call_id is empty"} {
		if r.Err == nil || !strings.Contains(r.Err.Error(), w) {
			t.Errorf("err %v lacks %q", r.Err, w)
		}
	}
	if !errors.Is(r.Err, ErrMissing) {
		t.Errorf("a NULL start_time is not ErrMissing: %v", r.Err)
	}
	if _, err := NewCallMapper([]string{"call_id"}); err == nil {
		t.Error("a calls row without start_time accepted")
	}
	if _, err := NewCallMapper([]string{"call_id", "start_time", "sight"}); err == nil || !strings.Contains(err.Error(), `unknown canonical column "sight"`) {
		t.Errorf("err = %v", err)
	}

	am, err := NewAgentMapper(dsl.AgentColumns)
	if err != nil {
		t.Fatal(err)
	}
	a := connector.AgentRecord{Pos: "agents user_id=7"}
	am.Map(&a, []any{int32(7), "A7", "Ada", "Lovelace", "ada@example.com", true, int64(1), nil, nil})
	if a.Err != nil || a.UserID != "7" || !a.IsAgent || !a.Active || a.Pos != "agents user_id=7" {
		t.Errorf("agent %+v", a)
	}
	am.Map(&a, []any{nil, nil, nil, nil, nil, "yes", nil, "x", nil})
	if a.Err == nil || !strings.Contains(a.Err.Error(), "user_id is empty") || !strings.Contains(a.Err.Error(), `active: "yes"`) || !strings.Contains(a.Err.Error(), "tenant_id") {
		t.Errorf("err = %v", a.Err)
	}
}

// FuzzInt64 feeds arbitrary text cells and decimal text: a text cell reads
// exactly when strconv does, a decimal when its fraction is zero, and
// nothing panics.
func FuzzInt64(f *testing.F) {
	for _, s := range []string{"0", "-12", "12.0", "12.000", "1e3", "", " 1", "9223372036854775808", "-0.0", "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Int64(s)
		want, werr := strconv.ParseInt(s, 10, 64)
		if s == "" {
			want, werr = 0, nil
		}
		if (err == nil) != (werr == nil) || (err == nil && n != want) {
			t.Fatalf("Int64(%q) = %d, %v; strconv %d, %v", s, n, err, want, werr)
		}
		// Decimal text: its whole part, when the fraction is zero.
		d, err := Int64([]byte(s))
		whole, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
		w, werr := strconv.ParseInt(whole, 10, 64)
		if whole == "" && strings.TrimSpace(s) == "" {
			w, werr = 0, nil
		}
		if ok := werr == nil && strings.Trim(frac, "0") == ""; ok != (err == nil) || (ok && d != w) {
			t.Fatalf("decimal %q read as %d, %v", s, d, err)
		}
	})
}

// BenchmarkCallMapper is the per-row cost of mapping a typed calls row.
func BenchmarkCallMapper(b *testing.B) {
	m, _ := NewCallMapper(dsl.CallColumns)
	row := []any{"C0000042", int64(1), "dc1", "A17", time.Now(), int64(245000), "in", "+4912345", "+4930000", true, int64(12250), "ok", int64(0), "media/x.wav", "Sales"}
	var r connector.CallRecord
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		m.Map(&r, row)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

// TestSettersCoverTheContract: every canonical column has a setter and no
// setter is for a column the contract lacks.
func TestSettersCoverTheContract(t *testing.T) {
	if len(callSetters) != len(dsl.CallColumns) || len(agentSetters) != len(dsl.AgentColumns) {
		t.Fatalf("%d call setters for %d columns, %d agent setters for %d", len(callSetters), len(dsl.CallColumns), len(agentSetters), len(dsl.AgentColumns))
	}
	if _, err := NewCallMapper(dsl.CallColumns); err != nil {
		t.Error(err)
	}
	if _, err := NewAgentMapper(dsl.AgentColumns); err != nil {
		t.Error(err)
	}
}
