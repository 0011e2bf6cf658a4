package demogen

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The headers as shared/README.md §4 writes them, spelled out here so that a
// change of the package's constants fails.
var wantHeaders = map[string]string{
	"agents.csv":        "user_id,agent_id,first_name,last_name,email,active,is_agent,tenant_id,created_at",
	"calls.csv":         "call_id,tenant_id,site,agent_id,start_time,duration_ms,direction,ani,dnis,archived,audio_packets,status,exception_code,media_path,skill",
	"business_data.csv": "call_id,name,value",
}

// snapshot is a generated folder read back with encoding/csv.
type snapshot struct {
	header map[string][]string
	agents []map[string]string
	calls  []map[string]string
	bd     [][]string // call_id, name, value
}

func readCSV(t *testing.T, path string) (header []string, rows [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	all, err := r.ReadAll() // checks the column count of every row
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(all) == 0 {
		t.Fatalf("%s: empty", path)
	}
	return all[0], all[1:]
}

func asMaps(header []string, rows [][]string) []map[string]string {
	out := make([]map[string]string, len(rows))
	for i, row := range rows {
		m := make(map[string]string, len(header))
		for j, h := range header {
			m[h] = row[j]
		}
		out[i] = m
	}
	return out
}

func readSnapshot(t *testing.T, dir string) *snapshot {
	t.Helper()
	s := &snapshot{header: map[string][]string{}}
	h, rows := readCSV(t, filepath.Join(dir, AgentsFile))
	s.header[AgentsFile], s.agents = h, asMaps(h, rows)
	h, rows = readCSV(t, filepath.Join(dir, CallsFile))
	s.header[CallsFile], s.calls = h, asMaps(h, rows)
	h, s.bd = readCSV(t, filepath.Join(dir, BusinessDataFile))
	s.header[BusinessDataFile] = h
	return s
}

func generate(t *testing.T, opt Options) (string, Stats) {
	t.Helper()
	dir := t.TempDir()
	st, err := Generate(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	return dir, st
}

// readTree returns every file under dir by relative path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeterminism(t *testing.T) {
	base := Options{Calls: 150, BDFields: 12, Agents: 60, MediaFiles: true}
	a, _ := generate(t, base)
	b, _ := generate(t, base)
	ta, tb := readTree(t, a), readTree(t, b)
	if len(ta) != len(tb) || len(ta) < 4 {
		t.Fatalf("file counts differ or too few: %d vs %d", len(ta), len(tb))
	}
	for name, data := range ta {
		if !bytes.Equal(data, tb[name]) {
			t.Errorf("%s: same seed, different bytes", name)
		}
	}

	other := base
	other.Seed = 2
	c, _ := generate(t, other)
	tc := readTree(t, c)
	for _, name := range []string{AgentsFile, CallsFile, BusinessDataFile} {
		if bytes.Equal(ta[name], tc[name]) {
			t.Errorf("%s: seeds 1 and 2 give the same bytes", name)
		}
	}

	// Streams are separate: the number of business-data fields does not
	// change calls.csv, the number of calls does not change agents.csv.
	fewer := base
	fewer.BDFields, fewer.Calls = 3, 100
	d, _ := generate(t, fewer)
	td := readTree(t, d)
	if !bytes.Equal(ta[AgentsFile], td[AgentsFile]) {
		t.Error("agents.csv depends on Calls or BDFields")
	}
	sameFields := base
	sameFields.BDFields = 50
	e, _ := generate(t, sameFields)
	if !bytes.Equal(ta[CallsFile], readTree(t, e)[CallsFile]) {
		t.Error("calls.csv depends on BDFields")
	}
}

func TestHeadersAndStats(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
	}{
		{"defaults", Options{}},
		{"no business data", Options{Calls: 300, BDFields: -1}},
		{"all fields few users", Options{Calls: 200, BDFields: 50, Agents: 12}},
		{"tiny", Options{Calls: 1, Agents: 1}},
		{"two users", Options{Calls: 50, Agents: 2, BDFields: 2}},
		{"short span", Options{Calls: 12_345, Days: 3, CallIDPrefix: "x"}},
		{"odd install time", Options{Calls: 300, InstalledAt: DefaultInstalledAt.Add(13*time.Hour + 17*time.Minute + 5*time.Second)}},
		{"multi tenant", Options{Calls: 400, TenantIDs: []int64{7, 12, 30}, Sites: []string{"lon", "fra", "ams"}, CallIDPrefix: "ENG-"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, st := generate(t, tc.opt)
			for name, want := range wantHeaders {
				data, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if got, _, _ := bytes.Cut(data, []byte("\n")); string(got) != want {
					t.Errorf("%s header = %q, want %q", name, got, want)
				}
			}
			s := readSnapshot(t, dir)
			o := tc.opt.WithDefaults()
			users := map[string]bool{}
			for _, a := range s.agents {
				users[a["user_id"]] = true
			}
			var size int64
			for name := range wantHeaders {
				fi, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				size += fi.Size()
			}
			got := Stats{Users: len(users), AgentRows: len(s.agents), Calls: len(s.calls), BDRows: len(s.bd), Bytes: size}
			if got != st {
				t.Errorf("files hold %+v, Stats say %+v", got, st)
			}
			if st.Calls != o.Calls || st.Users != o.Agents {
				t.Errorf("Stats %+v, asked for %d calls, %d users", st, o.Calls, o.Agents)
			}
			checkCalls(t, s, o)
		})
	}
}

// checkCalls checks the format rules of §4 and the ordering promises.
func checkCalls(t *testing.T, s *snapshot, o Options) {
	t.Helper()
	enum := map[string][]string{
		"direction": {"in", "out", "internal", "unknown"},
		"archived":  {"true", "false"},
		"status":    {"ok", "invalid", "error"},
		"site":      o.Sites,
	}
	var prevT time.Time
	var prevID string
	order := map[string]int{}
	for i, c := range s.calls {
		for col, vals := range enum {
			if !slices.Contains(vals, c[col]) {
				t.Fatalf("call %d: %s = %q", i, col, c[col])
			}
		}
		st, err := time.Parse(time.RFC3339, c["start_time"])
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if st.Before(prevT) || st.Equal(prevT) && c["call_id"] <= prevID {
			t.Fatalf("call %d (%s %s) not after %s %s", i, c["call_id"], c["start_time"], prevID, prevT)
		}
		prevT, prevID = st, c["call_id"]
		if want := fmt.Sprintf("%s%07d", o.CallIDPrefix, i+1); c["call_id"] != want {
			t.Fatalf("call %d id %q, want %q", i, c["call_id"], want)
		}
		tenant, err := strconv.ParseInt(c["tenant_id"], 10, 64)
		if err != nil || !slices.Contains(o.TenantIDs, tenant) {
			t.Fatalf("call %d: tenant_id %q", i, c["tenant_id"])
		}
		for _, col := range []string{"duration_ms", "audio_packets", "exception_code"} {
			if _, err := strconv.ParseInt(c[col], 10, 64); err != nil {
				t.Fatalf("call %d: %s: %v", i, col, err)
			}
		}
		wantMedia := ""
		if c["audio_packets"] != "0" {
			wantMedia = "media/" + st.Format("2006/01/02") + "/" + c["call_id"] + ".wav"
		}
		if c["media_path"] != wantMedia {
			t.Fatalf("call %d: media_path %q, want %q", i, c["media_path"], wantMedia)
		}
		order[c["call_id"]] = i
	}
	// Business data: grouped per call, in calls.csv order, names from the list.
	text, number, boolean := FieldNames(o.BDFields)
	names := slices.Concat(text, number, boolean)
	last := -1
	seen := map[string]bool{}
	for i, row := range s.bd {
		pos, ok := order[row[0]]
		if !ok {
			t.Fatalf("business data row %d: unknown call %q", i, row[0])
		}
		if pos < last {
			t.Fatalf("business data row %d: call %s after a later call", i, row[0])
		}
		if pos != last {
			clear(seen)
		}
		last = pos
		if !slices.Contains(names, row[1]) || seen[row[1]] {
			t.Fatalf("business data row %d: name %q unexpected or repeated", i, row[1])
		}
		seen[row[1]] = true
	}
	for i, a := range s.agents {
		if _, err := time.Parse(time.RFC3339, a["created_at"]); err != nil {
			t.Fatalf("agent %d: %v", i, err)
		}
		if (a["is_agent"] == "true") == (a["agent_id"] == "") {
			t.Fatalf("agent %d: is_agent %s with agent_id %q", i, a["is_agent"], a["agent_id"])
		}
	}
}

func TestMediaFiles(t *testing.T) {
	dir, _ := generate(t, Options{Calls: 120, MediaFiles: true})
	s := readSnapshot(t, dir)
	n := 0
	for _, c := range s.calls {
		if c["media_path"] == "" {
			continue
		}
		n++
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(c["media_path"])))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte("RIFF")) || !bytes.Contains(data[:16], []byte("WAVE")) {
			t.Fatalf("%s: not a WAV file", c["media_path"])
		}
	}
	if n == 0 {
		t.Fatal("no call with media")
	}
	dir, _ = generate(t, Options{Calls: 50})
	if _, err := os.Stat(filepath.Join(dir, "media")); !os.IsNotExist(err) {
		t.Errorf("media written without MediaFiles: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		want string
	}{
		{"negative calls", Options{Calls: -1}, "calls -1"},
		{"too many fields", Options{BDFields: 51}, "at most 50"},
		{"negative agents", Options{Agents: -3}, "agents -3"},
		{"too few days", Options{Days: 2}, "days 2"},
		{"backfill before install", Options{BackfillRequestedAt: DefaultInstalledAt.Add(-time.Hour)}, "before installed_at"},
		{"prefix with slash", Options{CallIDPrefix: "a/b"}, "call ID prefix"},
		{"site with comma", Options{Sites: []string{"a,b"}}, "site"},
		{"empty site", Options{Sites: []string{""}}, "site"},
		{"media for many calls", Options{Calls: MaxMediaCalls + 1, MediaFiles: true}, "media files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Generate(dir, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Generate error = %v, want one containing %q", err, tc.want)
			}
			if err := WriteSpec(dir, dir, tc.opt); err == nil {
				t.Fatal("WriteSpec accepted bad options")
			}
		})
	}
	// A file where the folder should be.
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(filepath.Join(f, "sub"), Options{Calls: 10}); err == nil {
		t.Fatal("Generate under a file succeeded")
	}
}

func TestFieldNames(t *testing.T) {
	tests := []struct {
		k          int
		t, n, b    int
		firstThree []string
	}{
		{-1, 0, 0, 0, nil},
		{0, 0, 0, 0, nil},
		{1, 1, 0, 0, []string{"CustomerID"}},
		{4, 2, 1, 1, []string{"CustomerID", "AccountNumber"}},
		{8, 5, 2, 1, []string{"CustomerID", "AccountNumber", "OrderID"}},
		{50, 35, 10, 5, []string{"CustomerID", "AccountNumber", "OrderID"}},
		{99, 35, 10, 5, []string{"CustomerID", "AccountNumber", "OrderID"}},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.k), func(t *testing.T) {
			text, number, boolean := FieldNames(tc.k)
			if len(text) != tc.t || len(number) != tc.n || len(boolean) != tc.b {
				t.Fatalf("FieldNames(%d) = %d text, %d number, %d boolean; want %d, %d, %d",
					tc.k, len(text), len(number), len(boolean), tc.t, tc.n, tc.b)
			}
			if len(tc.firstThree) > 0 && !slices.Equal(text[:len(tc.firstThree)], tc.firstThree) {
				t.Errorf("text starts %v, want %v", text, tc.firstThree)
			}
		})
	}
	text, number, boolean := FieldNames(50)
	all := slices.Concat(text, number, boolean)
	seen := map[string]bool{}
	for _, n := range all {
		if seen[n] {
			t.Errorf("name %q twice", n)
		}
		seen[n] = true
		for i, c := range n { // `bd.NAME` must be a valid identifier
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
				t.Errorf("name %q is not an identifier", n)
			}
		}
	}
	if number[0] != "OrderTotal" || boolean[0] != "VIP" {
		t.Errorf("first number %q, first boolean %q", number[0], boolean[0])
	}
}

func TestAppendCSV(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{" spaced ", " spaced "},
		{"a,b", `"a,b"`},
		{`say "hi"`, `"say ""hi"""`},
		{"two\nlines", "\"two\nlines\""},
		{"Zoë", "Zoë"},
	}
	for _, tc := range tests {
		if got := string(appendCSV(nil, tc.in)); got != tc.want {
			t.Errorf("appendCSV(%q) = %q, want %q", tc.in, got, tc.want)
		}
		// And encoding/csv reads it back.
		rec, err := csv.NewReader(strings.NewReader(string(appendCSV(nil, tc.in)) + ",x\n")).Read()
		if err != nil || rec[0] != tc.in {
			t.Errorf("read back %q: %q, %v", tc.in, rec, err)
		}
	}
}

func TestTenantsAndSitesSpread(t *testing.T) {
	opt := Options{Calls: 600, TenantIDs: []int64{7, 12, 30}, Sites: []string{"lon", "fra", "ams"}}
	dir, _ := generate(t, opt)
	s := readSnapshot(t, dir)
	agentTenant := map[string]string{}
	userTenants := map[string]bool{}
	for _, a := range s.agents {
		agentTenant[a["agent_id"]] = a["tenant_id"]
		userTenants[a["tenant_id"]] = true
	}
	callTenants, sites := map[string]bool{}, map[string]bool{}
	for _, c := range s.calls {
		callTenants[c["tenant_id"]] = true
		sites[c["site"]] = true
		if want, ok := agentTenant[c["agent_id"]]; ok && c["agent_id"] != "" && c["tenant_id"] != want {
			t.Errorf("call %s of agent %s in tenant %s, agent in %s", c["call_id"], c["agent_id"], c["tenant_id"], want)
		}
	}
	for _, want := range []string{"7", "12", "30"} {
		if !userTenants[want] || !callTenants[want] {
			t.Errorf("tenant %s: users %v, calls %v", want, userTenants[want], callTenants[want])
		}
	}
	if len(sites) != 3 {
		t.Errorf("sites %v", sites)
	}
}

func ExampleFieldNames() {
	text, number, boolean := FieldNames(8)
	fmt.Println(text)
	fmt.Println(number)
	fmt.Println(boolean)
	// Output:
	// [CustomerID AccountNumber OrderID CaseNumber Region]
	// [OrderTotal Balance]
	// [VIP]
}
