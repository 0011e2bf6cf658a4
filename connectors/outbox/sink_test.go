package outbox

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

var testFields = []dsl.Field{
	{Type: dsl.TypeText, Name: "CustomerID"},
	{Type: dsl.TypeNumber, Name: "OrderTotal"},
	{Type: dsl.TypeBoolean, Name: "VIP"},
	{Type: dsl.TypeText, Name: "Note <html> & \"quotes\""},
	{Type: dsl.TypeNumber, Name: "Tiny"},
}

// writeRun writes a small run covering nulls, escapes, field order and
// number formats.
func writeRun(t *testing.T, s *Sink) {
	t.Helper()
	ctx := context.Background()
	if err := s.Open(ctx, connector.RunInfo{RunID: "run-1", Fields: testFields}); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Agent(ctx, &connector.OutAgent{UserID: "u1", FirstName: "Ann", LastName: "Lee, Jr.", Email: "ann@x.example", AgentIDs: []string{"a1", "a2"}}))
	must(s.Agent(ctx, &connector.OutAgent{UserID: "u2", FirstName: " Bob", LastName: `O"Neil`, Email: "bob@x.example", AgentIDs: []string{"b1"}}))
	must(s.Call(ctx, &connector.OutCall{
		CallID: "c1", AgentUserID: "u1", StartTime: time.Date(2026, 11, 2, 10, 0, 0, 0, time.FixedZone("CET", 3600)),
		DurationMS: 65000, Direction: "in", ANI: "+3212", DNIS: "100", Media: "media/c1.wav",
		// Values out of plan order: the output follows the plan.
		Values: []connector.Value{
			{Field: 4, Number: 1e-7}, {Field: 2, Bool: true}, {Field: 3, Text: []byte("line\nbreak <b> \xff \u2028")},
			{Field: 1, Number: 1234.5}, {Field: 0, Text: []byte("C-1")},
		},
	}))
	must(s.Call(ctx, &connector.OutCall{
		CallID: "c\"2", StartTime: time.Date(2026, 11, 2, 9, 0, 0, 250_000_000, time.UTC), DurationMS: 3000,
		Direction: "out", Values: []connector.Value{{Field: 1, Number: 1e21}, {Field: 2, Bool: false}},
	}))
	must(s.Call(ctx, &connector.OutCall{CallID: "c3", StartTime: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), Direction: "internal"}))
	must(s.Ledger(ctx, connector.LedgerRow{Entity: "agent", ID: "u1", State: connector.StateImported}))
	must(s.Ledger(ctx, connector.LedgerRow{Entity: "call", ID: "c\"2", State: connector.StateImported, Reason: "agent_unmapped"}))
	must(s.Ledger(ctx, connector.LedgerRow{Entity: "call", ID: "c4", State: connector.StateExcluded, Reason: "too_short", Detail: "not written"}))
}

func TestGolden(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	writeRun(t, s)
	if err := s.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := listDir(t, dir)
	if want := []string{agentsFile, callsFile, ledgerFile}; !slices.Equal(got, want) {
		t.Fatalf("folder holds %v, want %v", got, want)
	}
	for _, name := range got {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "golden", name)
		if *update {
			os.MkdirAll(filepath.Dir(golden), 0o755)
			if err := os.WriteFile(golden, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s differs from %s (run with -update after checking):\n%s", name, golden, b)
		}
	}
	// The CSV files read back with encoding/csv; every JSON line is valid.
	for _, name := range []string{agentsFile, ledgerFile} {
		f, _ := os.Open(filepath.Join(dir, name))
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil || len(recs) < 2 {
			t.Errorf("%s: %d records, %v", name, len(recs), err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, callsFile))
	for _, l := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		var v map[string]any
		if err := json.Unmarshal(l, &v); err != nil {
			t.Errorf("invalid JSON line %s: %v", l, err)
		}
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func TestAtomicity(t *testing.T) {
	ctx := context.Background()
	previous := func(t *testing.T) string {
		dir := t.TempDir()
		for _, n := range []string{agentsFile, callsFile, ledgerFile} {
			os.WriteFile(filepath.Join(dir, n), []byte("previous "+n), 0o644)
		}
		return dir
	}
	checkPrevious := func(t *testing.T, dir string) {
		t.Helper()
		if got := listDir(t, dir); !slices.Equal(got, []string{agentsFile, callsFile, ledgerFile}) {
			t.Errorf("folder holds %v", got)
		}
		for _, n := range []string{agentsFile, callsFile, ledgerFile} {
			if b, _ := os.ReadFile(filepath.Join(dir, n)); string(b) != "previous "+n {
				t.Errorf("%s = %q, want the previous contents", n, b)
			}
		}
	}
	tests := []struct {
		name string
		prev bool
		fail func(t *testing.T, s *Sink) error // makes the run end without a commit
	}{
		{"abort of a first run leaves nothing", false, func(t *testing.T, s *Sink) error { return s.Abort() }},
		{"abort keeps previous files", true, func(t *testing.T, s *Sink) error { return s.Abort() }},
		{"failed commit keeps previous files", true, func(t *testing.T, s *Sink) error {
			s.files[1].f.Close() // the flush of calls.jsonl fails
			if err := s.Commit(ctx); err == nil {
				t.Error("Commit succeeded with a closed file")
			}
			return s.Abort()
		}},
		{"cancelled commit keeps previous files", true, func(t *testing.T, s *Sink) error {
			c, cancel := context.WithCancel(ctx)
			cancel()
			if err := s.Commit(c); !errors.Is(err, context.Canceled) {
				t.Errorf("Commit: %v", err)
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.prev {
				dir = previous(t)
			}
			s := New(dir)
			writeRun(t, s)
			// Nothing shows under a final name before Commit.
			for _, n := range listDir(t, dir) {
				if !strings.HasPrefix(n, ".") && !tc.prev {
					t.Errorf("%s exists before Commit", n)
				}
			}
			if err := tc.fail(t, s); err != nil {
				t.Fatal(err)
			}
			if tc.prev {
				checkPrevious(t, dir)
			} else if got := listDir(t, dir); len(got) != 0 {
				t.Errorf("folder holds %v after abort", got)
			}
		})
	}
}

func TestCallErrors(t *testing.T) {
	ctx := context.Background()
	s := New(t.TempDir())
	if err := s.Call(ctx, &connector.OutCall{CallID: "x"}); err == nil {
		t.Error("Call before Open succeeded")
	}
	if err := s.Open(ctx, connector.RunInfo{RunID: "../evil/../id", Fields: testFields}); err != nil {
		t.Fatal(err)
	}
	defer s.Abort()
	for _, tc := range []struct {
		name string
		v    connector.Value
		want string
	}{
		{"nan", connector.Value{Field: 1, Number: math.NaN()}, "unsupported value NaN"},
		{"inf", connector.Value{Field: 4, Number: math.Inf(-1)}, "unsupported value -Inf"},
		{"unknown field", connector.Value{Field: 9}, "the plan has 5 fields"},
	} {
		err := s.Call(ctx, &connector.OutCall{CallID: "c", Values: []connector.Value{{Field: 0, Text: []byte("ok")}, tc.v}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// Nothing of the failed calls was written, and the slots are clean.
	if err := s.Call(ctx, &connector.OutCall{CallID: "ok", Values: []connector.Value{{Field: 2, Bool: true}}}); err != nil {
		t.Fatal(err)
	}
	s.files[1].w.Flush()
	b, _ := os.ReadFile(s.files[1].tmp)
	if want := `{"call_id":"ok","agent_user_id":null,"start_time":"0001-01-01T00:00:00Z","duration_ms":0,"direction":"","ani":"","dnis":"","media":null,"business_data":{"text":{},"number":{},"boolean":{"VIP":true}}}` + "\n"; string(b) != want {
		t.Errorf("calls.jsonl = %s, want %s", b, want)
	}
	if strings.Contains(s.files[1].tmp, "/evil/") {
		t.Errorf("run ID escaped the folder: %s", s.files[1].tmp)
	}
}

func TestJSONStringCases(t *testing.T) {
	for _, in := range []string{
		"", "plain", `"quoted" \back\`, "<a href='x'>&amp;</a>", "\b\f\n\r\t\x00\x1f\x7f", "é ü 日本 🎉",
		"\xff\xfe", "a\xc3", "\u2028\u2029", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	} {
		checkJSONString(t, in)
	}
}

func checkJSONString(t *testing.T, in string) {
	t.Helper()
	want, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendJSONString(nil, in); !bytes.Equal(got, want) {
		t.Errorf("string %q: got %s, encoding/json %s", in, got, want)
	}
	if got := appendJSONString(nil, []byte(in)); !bytes.Equal(got, want) {
		t.Errorf("[]byte %q: got %s, encoding/json %s", in, got, want)
	}
}

func TestJSONFloatCases(t *testing.T) {
	for _, f := range []float64{
		0, math.Copysign(0, -1), 1, -1, 0.1, 1234.5, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 1.5e300, -2.5e-300,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 123456789012345678, 1e-10,
	} {
		checkJSONFloat(t, f)
	}
}

func checkJSONFloat(t *testing.T, f float64) {
	t.Helper()
	want, werr := json.Marshal(f)
	got, err := appendJSONFloat(nil, f)
	if (err == nil) != (werr == nil) || (err == nil && !bytes.Equal(got, want)) {
		t.Errorf("%v: got %s (%v), encoding/json %s (%v)", f, got, err, want, werr)
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "a<b>&c", "\x00\n\"\\", "\xff", "\u2028", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkJSONString(t, s) })
}

func FuzzJSONFloat(f *testing.F) {
	for _, v := range []float64{0, 1e-7, 1e21, -3.25, math.NaN(), math.Inf(1)} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) { checkJSONFloat(t, v) })
}

func TestCSVFieldMatchesEncodingCSV(t *testing.T) {
	for _, in := range []string{"", "a", "a,b", `a"b`, "a\nb", "a\rb", " lead", "\tlead", `\.`, "trail ", "é", "\u00a0nbsp"} {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write([]string{in})
		w.Flush()
		want := strings.TrimSuffix(buf.String(), "\n")
		if got := string(appendCSVField(nil, in)); got != want {
			t.Errorf("%q: got %s, encoding/csv %s", in, got, want)
		}
	}
}
