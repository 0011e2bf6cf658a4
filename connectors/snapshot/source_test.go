package snapshot

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

const callsHead = "call_id,tenant_id,site,agent_id,start_time,duration_ms,direction,ani,dnis,archived,audio_packets,status,exception_code,media_path,skill\n"

// writeSnapshot makes a snapshot folder with the given file bodies (headers
// added unless a body starts with "!", which is written verbatim).
func writeSnapshot(t testing.TB, agents, calls, bd string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		AgentsFile: withHeader(strings.Join(agentsHeader, ",")+"\n", agents),
		CallsFile:  withHeader(callsHead, calls),
		BDFile:     withHeader("call_id,name,value\n", bd),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func withHeader(h, body string) string {
	if strings.HasPrefix(body, "!") {
		return body[1:]
	}
	return h + body
}

// render describes every emitted call record, one line each, copying what
// is only valid during emit.
func readAll(t testing.TB, s *Source) ([]string, *connector.Names, error) {
	t.Helper()
	names := connector.NewNames()
	var out []string
	err := s.ReadCalls(context.Background(), connector.CallQuery{Names: names}, func(r *connector.CallRecord) error {
		out = append(out, render(r, names))
		return nil
	})
	return out, names, err
}

func render(r *connector.CallRecord, names *connector.Names) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s id=%q", r.Pos, r.Call.CallID)
	if r.Err != nil {
		fmt.Fprintf(&b, " ERR %q", strings.ReplaceAll(r.Err.Error(), "\n", "; "))
		if r.Call.CallID == "" {
			return b.String()
		}
	}
	c := r.Call
	if r.Err == nil {
		fmt.Fprintf(&b, " t=%d site=%q agent=%q start=%s dur=%d dir=%s ani=%q dnis=%q arch=%v pk=%d st=%s exc=%d media=%q skill=%q",
			c.TenantID, c.Site, c.AgentID, c.StartTime.Format(time.RFC3339Nano), c.DurationMS, c.Direction, c.ANI, c.DNIS,
			c.Archived, c.AudioPackets, c.Status, c.ExceptionCode, c.MediaPath, c.Skill)
	}
	for _, f := range r.BD {
		fmt.Fprintf(&b, " %s=%q", names.Name(f.Name), f.Value)
	}
	return b.String()
}

const mixedCalls = `c1,12,dc1,a1,2026-11-02T09:00:00Z,65000,in,+3212,100,true,50,ok,0,media/c1.wav,sales
c2,,dc1,a2,2026-11-02T09:01:00.250Z,1000,out,"+32,""12""",101,false,,invalid,,,
c3,12,dc1,a1,2026-11-02T09:02:00+01:00,2,internal,"multi
line",x,true,1,error,12,m/c3.wav,s
c4,12,dc1,a1,not-a-time,abc,sideways,1,2,maybe,x,ok,0,,
c5,12,dc1
"c6,"x,1
c7,1,dc1,a9,2026-11-02T09:03:00Z,9000,unknown,1,2,true,3,ok,0,,
`

const mixedBD = `c1,CustomerID,C-1
c1,Tier,gold
c1,Note,"a, ""quoted""
value"
c2,CustomerID,C-2
c2,Tier,silver
c2,Tier,bronze
c3,Bad
c4,CustomerID,C-4
c5,"x"y,z
c5,CustomerID,C-5
c7,CustomerID,C-7
`

func TestReadCallsGolden(t *testing.T) {
	tests := []struct {
		name      string
		calls, bd string
		sorted    bool
	}{
		{"mixed", mixedCalls, mixedBD, false},
		{"mixed_orphan", mixedCalls, mixedBD + "c99,CustomerID,C-99\n", true},
		{"out_of_order", mixedCalls, "c2,Tier,late\n" + mixedBD, true},
		{"no_bd", mixedCalls, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(writeSnapshot(t, "", tc.calls, tc.bd))
			got, _, err := readAll(t, s)
			if err != nil {
				t.Fatal(err)
			}
			if s.sorted != tc.sorted {
				t.Errorf("sorted path = %v, want %v", s.sorted, tc.sorted)
			}
			compareGolden(t, filepath.Join("testdata", "readcalls_"+tc.name+".golden"), strings.Join(got, "\n")+"\n")
			// The sequential merge join says exactly the same, and so does
			// the parallel one with a chunk per group.
			s.Sequential = true
			seq, _, err := readAll(t, s)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffLines(got, seq); d != "" {
				t.Errorf("sequential merge differs from parallel:\n%s", d)
			}
			s.Sequential, s.chunkSize = false, 1
			small, _, err := readAll(t, s)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffLines(got, small); d != "" {
				t.Errorf("a chunk per group differs:\n%s", d)
			}
			s.chunkSize = 0
			// The slow path must say exactly the same, in the same order.
			s.forceSort, s.SortMemory = true, 64
			slow, _, err := readAll(t, s)
			if err != nil {
				t.Fatal(err)
			}
			// Bad bd rows come after their call on the merge path and at
			// the end on the sort path; everything else is in calls order.
			sortBad := func(lines []string) []string {
				var calls, bad []string
				for _, l := range lines {
					if strings.HasPrefix(l, BDFile) {
						bad = append(bad, l)
					} else {
						calls = append(calls, l)
					}
				}
				slices.Sort(bad)
				return append(calls, bad...)
			}
			if d := diffLines(sortBad(got), sortBad(slow)); d != "" {
				t.Errorf("sort path differs from merge path:\n%s", d)
			}
		})
	}
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update after checking):\n%s", path, diffLines(strings.Split(string(want), "\n"), strings.Split(got, "\n")))
	}
}

func diffLines(want, got []string) string {
	var b strings.Builder
	for i := 0; i < max(len(want), len(got)); i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, w, g)
		}
	}
	return b.String()
}

func TestReadCallsHeaders(t *testing.T) {
	tests := []struct {
		name, calls, bd, want string
	}{
		{"calls header", "!call_id,tenant\nc1,1\n", "", "calls.csv: header"},
		{"bd header", "", "!id,name,value\n", "business_data.csv: header"},
		{"bd empty file", "", "!", "business_data.csv is empty"},
		{"bd header order", "", "!name,call_id,value\n", `column 1 is "name", want "call_id" (want ["call_id" "name" "value"])`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readAll(t, New(writeSnapshot(t, "", tc.calls, tc.bd)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	dir := writeSnapshot(t, "", "", "")
	os.Remove(filepath.Join(dir, BDFile))
	if _, _, err := readAll(t, New(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing business_data.csv: %v", err)
	}
	// A byte order mark before the header is accepted.
	dir = writeSnapshot(t, "", "!\xEF\xBB\xBF"+callsHead, "")
	if _, _, err := readAll(t, New(dir)); err != nil {
		t.Errorf("BOM: %v", err)
	}
}

func TestReadAgents(t *testing.T) {
	agents := `u1,a1,Ann,Lee,ann@x.example,true,true,12,2026-01-01T00:00:00Z
u1,a2,Ann,Lee,ann@x.example,true,true,12,2026-01-01T00:00:00Z
u2,,Bob,,,false,false,,
u3,a3,Cy,Do,cy@x.example,yes,true,12,2026-01-01
u4,a4
"u5
`
	s := New(writeSnapshot(t, agents, "", ""))
	var got []string
	err := s.ReadAgents(context.Background(), func(r *connector.AgentRecord) error {
		got = append(got, fmt.Sprintf("%s %s|%s|%s|%s|%s|%v|%v|%d|%s|%v", r.Pos, r.UserID, r.AgentID, r.FirstName, r.LastName, r.Email, r.Active, r.IsAgent, r.TenantID, r.CreatedAt.Format(time.RFC3339), r.Err))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	compareGolden(t, filepath.Join("testdata", "readagents.golden"), strings.Join(got, "\n")+"\n")
}

func TestOpenAndMedia(t *testing.T) {
	dir := writeSnapshot(t, "", "", "")
	src, err := Open(context.Background(), dsl.Source{Name: "dc1", Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	mr := src.(connector.MediaResolver)
	for in, want := range map[string]string{
		"media/c1.wav": filepath.Join(dir, "media", "c1.wav"),
		"":             "",
		"../etc/x":     "",
		"/etc/passwd":  "",
	} {
		if got := mr.MediaFile(in); got != want {
			t.Errorf("MediaFile(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := Open(context.Background(), dsl.Source{Name: "x", Path: filepath.Join(dir, "nope")}); err == nil {
		t.Error("Open of a missing folder succeeded")
	}
	if _, err := Open(context.Background(), dsl.Source{Name: "x", Path: filepath.Join(dir, CallsFile)}); err == nil {
		t.Error("Open of a file succeeded")
	}
}

func TestParallelJoinStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	genSnapshot(t, dir, 5000, 20, false, 9)
	open := func() *Source {
		s := New(dir)
		s.chunkSize = 4 << 10 // many chunks: every batch in flight
		return s
	}
	const worker = "snapshot.(*parallel)"
	stacks := func() string {
		buf := make([]byte, 1<<20)
		return string(buf[:runtime.Stack(buf, true)])
	}
	stop := errors.New("stop")
	for _, after := range []int{1, 10, 3000} {
		n := 0
		seen := false
		err := open().ReadCalls(context.Background(), connector.CallQuery{}, func(*connector.CallRecord) error {
			if n++; n == after {
				seen = strings.Contains(stacks(), worker)
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Errorf("stop after %d: %v", after, err)
		}
		if !seen {
			t.Errorf("stop after %d: no %s goroutine while reading: the leak check below looks for the wrong name", after, worker)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := open().ReadCalls(ctx, connector.CallQuery{}, func(*connector.CallRecord) error {
		if n++; n == 2000 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancel: %v", err)
	}
	// ReadCalls waits for its workers: none may be left (other runtime
	// goroutines may come and go, so look for them by name).
	if st := stacks(); strings.Contains(st, worker) {
		t.Errorf("a worker goroutine outlived ReadCalls:\n%s", st)
	}
}

func TestReadCallsStopsOnEmitErrorAndCancel(t *testing.T) {
	dir := writeSnapshot(t, "", mixedCalls, mixedBD)
	stop := errors.New("stop")
	n := 0
	err := New(dir).ReadCalls(context.Background(), connector.CallQuery{}, func(*connector.CallRecord) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("emit error: %v after %d records", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := New(dir).ReadCalls(ctx, connector.CallQuery{}, func(*connector.CallRecord) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// genSnapshot writes n calls with fields bd rows each, optionally with the
// bd rows shuffled, and returns what each call's bd should be.
func genSnapshot(t testing.TB, dir string, n, fields int, shuffle bool, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var calls, bd strings.Builder
	calls.WriteString(callsHead)
	var rows []string
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		id := fmt.Sprintf("call-%07d", i)
		fmt.Fprintf(&calls, "%s,12,dc1,agent-%03d,%s,%d,in,+32470%06d,1000,true,%d,ok,0,media/%s.wav,sales\n",
			id, i%300, start.Add(time.Duration(i)*time.Second).Format(time.RFC3339), 1000+rng.IntN(600000), i, 100+i%50, id)
		for f := range fields {
			v := fmt.Sprintf("value-%d-%d", i, f)
			if f%7 == 3 {
				v = fmt.Sprintf("\"quoted, %d\"", rng.IntN(1000))
			}
			rows = append(rows, fmt.Sprintf("%s,Field%02d,%s\n", id, f, v))
		}
	}
	if shuffle {
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	}
	bd.WriteString("call_id,name,value\n")
	for _, r := range rows {
		bd.WriteString(r)
	}
	for name, body := range map[string]string{AgentsFile: strings.Join(agentsHeader, ",") + "\n", CallsFile: calls.String(), BDFile: bd.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSortPathMatchesMergePath(t *testing.T) {
	sortMatchesMerge(t, 2500, 7)
}

// Issue 14: at 100k calls, business data in another order gives exactly
// what the same data in calls.csv order gives (the sort path spilling many
// runs, the merge path over many chunks).
func TestSortPathMatchesMergePath100k(t *testing.T) {
	if testing.Short() {
		t.Skip("100k calls")
	}
	sortMatchesMerge(t, 100_000, 10)
}

func sortMatchesMerge(t *testing.T, n, fields int) {
	ordered, shuffled := t.TempDir(), t.TempDir()
	genSnapshot(t, ordered, n, fields, false, 3)
	genSnapshot(t, shuffled, n, fields, true, 3)
	want, _, err := readAll(t, New(ordered))
	if err != nil {
		t.Fatal(err)
	}
	seq := New(ordered)
	seq.Sequential = true
	wantSeq, _, err := readAll(t, seq)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffLines(want, wantSeq); d != "" {
		t.Fatalf("sequential differs from parallel:\n%.2000s", d)
	}
	s := New(shuffled)
	s.SortMemory = max(4<<10, n*fields*2) // many runs
	got, _, err := readAll(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if !s.sorted {
		t.Fatal("shuffled business data took the merge path")
	}
	// Within a call the sort path keeps file order of the rows, which was
	// shuffled: compare each call's fields as a set.
	norm := func(lines []string) []string {
		out := make([]string, len(lines))
		for i, l := range lines {
			parts := strings.Split(l, " ")
			head, bd := parts[:0:0], []string{}
			for _, p := range parts {
				if strings.HasPrefix(p, "Field") {
					bd = append(bd, p)
				} else {
					head = append(head, p)
				}
			}
			slices.Sort(bd)
			out[i] = strings.Join(append(head, bd...), " ")
		}
		return out
	}
	if len(got) != n {
		t.Fatalf("%d records, want %d", len(got), n)
	}
	if d := diffLines(norm(want), norm(got)); d != "" {
		t.Fatalf("shuffled differs from ordered:\n%.2000s", d)
	}
}

func TestParseTimeAgreesWithTimeParse(t *testing.T) {
	for _, s := range []string{
		"2026-11-02T09:00:00Z", "2026-11-02T09:00:00.123456789Z", "2024-02-29T23:59:59Z", "2026-02-29T00:00:00Z",
		"2026-13-01T00:00:00Z", "2026-11-02T24:00:00Z", "2026-11-02T09:00:60Z", "2026-11-02T09:00:00.Z",
		"2026-11-02T09:00:00.1234567891Z", "2026-11-02T09:00:00+01:00", "2026-11-02 09:00:00Z", "0000-01-01T00:00:00Z",
	} {
		want, werr := time.Parse(time.RFC3339, s)
		got, ok := parseTime([]byte(s))
		if ok != (werr == nil) || !got.Equal(want) || got.Location().String() != want.Location().String() {
			t.Errorf("parseTime(%q) = %v, %v; time.Parse: %v, %v", s, got, ok, want, werr)
		}
	}
}

func FuzzParseTime(f *testing.F) {
	f.Add("2026-11-02T09:00:00Z")
	f.Add("2026-11-02T09:00:00.5Z")
	f.Add("2024-02-29T23:59:59.000000001Z")
	f.Fuzz(func(t *testing.T, s string) {
		want, werr := time.Parse(time.RFC3339, s)
		got, ok := parseTime([]byte(s))
		if ok != (werr == nil) || (ok && got != want) {
			t.Fatalf("parseTime(%q) = %v, %v; time.Parse: %v, %v", s, got, ok, want, werr)
		}
	})
}

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-12", -12, true}, {"+7", 7, true}, {"", 0, false}, {"-", 0, false}, {"1x", 0, false},
		{"9223372036854775807", 9223372036854775807, true}, {"9223372036854775808", 0, false}, {"1.5", 0, false},
	} {
		got, ok := parseInt([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// The newcomer's cases of issue 10 on a 5,000-call snapshot: an unclosed
// quote on line 4501 of calls.csv, a stray quote inside a field on another,
// a business-data row of a known call with a stray quote, and one whose
// call_id cannot be read. Every path reads every other row as before: each
// call once, with its id; the damaged calls and the call with unreadable
// business data fail with file:line; the row without a readable call_id is
// a row without a call (no call can be said to own it, so its call goes
// out without that value; the row makes the run exit 1), the only record
// of business_data.csv.
func TestReadCallsDamagedRows(t *testing.T) {
	clean, dir := t.TempDir(), t.TempDir()
	const n = 5000
	genSnapshot(t, clean, n, 3, false, 11)
	genSnapshot(t, dir, n, 3, false, 11)
	edit := func(name string, line int, f func(string) string) {
		t.Helper()
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		was := lines[line-1]
		if lines[line-1] = f(was); lines[line-1] == was {
			t.Fatalf("%s:%d unchanged: %q", name, line, was)
		}
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// calls.csv line L holds call L-2.
	edit(CallsFile, 4501, func(s string) string { return strings.TrimSuffix(s, ",sales") + `,"Support` })
	edit(CallsFile, 4601, func(s string) string { return strings.TrimSuffix(s, ",sales") + `,"Sup"port` })
	// business_data.csv: header, then 3 rows per call.
	bdLine := func(call, field int) int { return 2 + 3*call + field }
	edit(BDFile, bdLine(100, 1), func(s string) string { return strings.Replace(s, ",Field01,", `,"Field"01,`, 1) })
	edit(BDFile, bdLine(200, 0), func(s string) string { return `"call-` + s[len("call-"):] + `"x` })

	want, _, err := readAll(t, New(clean))
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]string{
		"call-0004499": "calls.csv:4501",
		"call-0004599": "calls.csv:4601",
		"call-0000100": "calls.csv:102",
	}
	for _, mode := range []string{"parallel", "sequential", "sort"} {
		t.Run(mode, func(t *testing.T) {
			s := New(dir)
			s.Sequential, s.forceSort = mode == "sequential", mode == "sort"
			names := connector.NewNames()
			var got []string
			var bad []string
			err := s.ReadCalls(context.Background(), connector.CallQuery{Names: names}, func(r *connector.CallRecord) error {
				if strings.HasPrefix(r.Pos, BDFile) != errors.Is(r.Err, connector.ErrBDWithoutCall) {
					t.Errorf("%s: %v: a business-data record must be a row without a call, and only it", r.Pos, r.Err)
				}
				if strings.HasPrefix(r.Pos, BDFile) {
					bad = append(bad, r.Pos+": "+r.Err.Error())
					return nil
				}
				if pos, ok := failed[r.Call.CallID]; ok {
					if r.Err == nil || r.Pos != pos {
						t.Errorf("%s: %s %v, want a failure at %s", r.Call.CallID, r.Pos, r.Err, pos)
					}
					got = append(got, r.Call.CallID+" failed")
					return nil
				}
				got = append(got, render(r, names))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var wantLines []string
			for _, l := range want {
				id := strings.Split(strings.Split(l, `id="`)[1], `"`)[0]
				if _, ok := failed[id]; ok {
					l = id + " failed"
				}
				if id == "call-0000200" {
					l = strings.Replace(l, ` Field00="value-200-0"`, "", 1)
				}
				wantLines = append(wantLines, l)
			}
			if d := diffLines(wantLines, got); d != "" {
				t.Errorf("calls differ from the undamaged snapshot:\n%.3000s", d)
			}
			wantBad := fmt.Sprintf("%s:%d: business-data row without a call: its call_id cannot be read: column 1: text after the closing quote", BDFile, bdLine(200, 0))
			if len(bad) != 1 || !strings.HasPrefix(bad[0], wantBad) {
				t.Errorf("bad rows %q, want one starting %q", bad, wantBad)
			}
		})
	}
}

// The order check gives the sequential verdict however many ranges it cuts
// business_data.csv into, including when a range would start inside a
// multi-line value (the ranges then do not fit and it checks again on one
// goroutine); every chunk it notes starts a group, at its line; and the
// parallel join over those chunks reads what the sequential one does.
func TestCheckOrderRanges(t *testing.T) {
	edit := func(dir string, f func(lines []string) []string) {
		p := filepath.Join(dir, BDFile)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if err := os.WriteFile(p, []byte(strings.Join(f(lines), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	long := `"` + strings.Repeat("a long note,\nover, many, lines\n", 2000) + `"`
	tests := []struct {
		name     string
		make     func(dir string)
		inOrder  bool
		fallBack bool // with 2 ranges, they do not fit
	}{
		{"in order", func(dir string) { genSnapshot(t, dir, 3000, 7, false, 5) }, true, false},
		{"a long multi-line value", func(dir string) {
			genSnapshot(t, dir, 3000, 7, false, 5)
			edit(dir, func(l []string) []string {
				l[7*1500+1] = "call-0001500,Field00," + long
				return l
			})
		}, true, true},
		{"shuffled", func(dir string) { genSnapshot(t, dir, 3000, 7, true, 5) }, false, false},
		{"a call_id of no call", func(dir string) {
			genSnapshot(t, dir, 3000, 7, false, 5)
			edit(dir, func(l []string) []string { return append(l, "call-9999999,Field00,x") })
		}, false, false},
		{"a group in two places", func(dir string) {
			genSnapshot(t, dir, 3000, 7, false, 5)
			edit(dir, func(l []string) []string { return append(l, "call-0000010,Extra,x") })
		}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.make(dir)
			seq := New(dir)
			seq.Sequential = true
			want, _, err := readAll(t, seq)
			if err != nil {
				t.Fatal(err)
			}
			starts := groupStarts(t, dir)
			for n := 1; n <= 6; n++ {
				s := New(dir)
				s.checkRanges, s.chunkSize = n, 4<<10
				plan, err := s.checkOrder(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if plan.inOrder != tc.inOrder {
					t.Fatalf("%d ranges: in order = %v, want %v", n, plan.inOrder, tc.inOrder)
				}
				if n == 2 && (plan.ranges == 1) != tc.fallBack {
					t.Fatalf("2 ranges: the verdict came from %d ranges, want a fall back to one: %v", plan.ranges, tc.fallBack)
				}
				if !tc.inOrder {
					continue
				}
				if len(plan.chunks) < 10 {
					t.Errorf("%d ranges: %d chunks of 4 KiB, want many", n, len(plan.chunks))
				}
				for i, c := range plan.chunks[1:] {
					if line, ok := starts[c.off]; !ok || line != c.line+1 || c.off <= plan.chunks[i].off {
						t.Fatalf("%d ranges: chunk %d at %d (after %d lines) is not a group start (%v, line %d)", n, i+1, c.off, c.line, ok, line)
					}
				}
				got, _, err := readAll(t, s)
				if err != nil {
					t.Fatal(err)
				}
				if d := diffLines(want, got); d != "" {
					t.Fatalf("%d ranges: the parallel join differs from the sequential one:\n%.2000s", n, d)
				}
			}
		})
	}
}

// groupStarts maps the offset of each business_data.csv record that starts
// a group (its id differs from the last id before it) to its line.
func groupStarts(t *testing.T, dir string) map[int64]int {
	f, err := os.Open(filepath.Join(dir, BDFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := NewScanner(f)
	s.Next()
	s.Width = len(bdHeader)
	starts := map[int64]int{}
	var last string
	for {
		r, err := s.Next()
		if err == io.EOF {
			return starts
		}
		id, err := recordID(r, err)
		if err != nil {
			t.Fatal(err)
		}
		if id != nil && string(id) != last {
			starts[s.Offset()] = s.Line()
			last = string(id)
		}
	}
}

// The strings of a call may be kept (connector.CallRecord): those of every
// call read stay as they were after all the others were read, through
// blocks of call strings filled and one call too long for what is left of
// a block.
func TestCallStringsKept(t *testing.T) {
	dir := t.TempDir()
	const n = 5000
	genSnapshot(t, dir, n, 1, false, 4)
	p := filepath.Join(dir, CallsFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 3*strBlock/2)
	lines := strings.Split(string(b), "\n")
	lines[2500] = strings.Replace(lines[2500], ",sales", ","+long, 1) // call 2499
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	type kept struct{ pos, id, media, skill string }
	var got []kept
	err = New(dir).ReadCalls(context.Background(), connector.CallQuery{}, func(r *connector.CallRecord) error {
		got = append(got, kept{r.Pos, r.Call.CallID, r.Call.MediaPath, r.Call.Skill})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d calls, want %d", len(got), n)
	}
	for i, k := range got {
		id := fmt.Sprintf("call-%07d", i)
		skill := "sales"
		if i == 2499 {
			skill = long
		}
		want := kept{fmt.Sprintf("calls.csv:%d", i+2), id, "media/" + id + ".wav", skill}
		if k != want {
			t.Fatalf("call %d kept %.80q, want %.80q", i, k, want)
		}
	}
}
