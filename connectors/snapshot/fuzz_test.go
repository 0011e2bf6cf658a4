package snapshot

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/applink-dev/applink/engine/connector"
)

// FuzzReadCalls reads random calls.csv and business_data.csv bodies (after
// valid headers, each with a byte order mark before it when a bit of bom
// says so) through every join path and checks them against a model built
// with encoding/csv, not the scanner under test (csvOracle): each
// calls.csv record is emitted once, in order, with its id when it has one;
// the first call of an id gets exactly the good business-data rows of that
// id (the last value of a name) and fails when one of them could not be
// read or a name comes twice; every other business-data record (an id of
// no call, or none that can be read) is emitted on its own line as a row
// without a call (ErrBDWithoutCall). The paths agree with each other.
// testdata/fuzz/FuzzReadCalls holds seeds of wrong widths, unclosed and
// stray quotes and byte order marks.
func FuzzReadCalls(f *testing.F) {
	f.Add([]byte(mixedCalls), []byte(mixedBD), uint8(0))
	f.Add([]byte(mixedCalls), []byte("c2,Tier,late\n"+mixedBD), uint8(0))
	f.Add([]byte("a\nb\nc\n"), []byte("b,x,1\na,y,2\nb,x,3\n"), uint8(0))
	f.Add([]byte("\"a\n\"\"\",b\r\n"), []byte("\"a\n\"\"\",n,v\r\n\"\n"), uint8(0))
	f.Add([]byte(mixedCalls), []byte("c1,A,1\nc1,B,\"open\nc2,A,2\n,x,y\nc9,A,\"x\"y\nc3,A,3\n"), uint8(0))
	// One folder for every input: a fresh one per input costs more than
	// the reading under test.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, calls, bd []byte, bom uint8) {
		if len(calls)+len(bd) > maxQuoted/2 {
			t.Skip("the oracle does not give up on a quote after maxQuoted bytes, as the scanner does")
		}
		write := func(name, head string, bit uint8, body []byte) {
			if bom&bit != 0 {
				head = "\xEF\xBB\xBF" + head
			}
			if err := os.WriteFile(filepath.Join(dir, name), append([]byte(head), body...), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write(CallsFile, callsHead, 1, calls)
		write(BDFile, "call_id,name,value\n", 2, bd)
		write(AgentsFile, strings.Join(agentsHeader, ",")+"\n", 4, calls)

		m := newModel(calls, bd)
		var outs [4][]string
		for i, mode := range []string{"parallel", "sort", "sequential", "parallel, 3 check ranges, a chunk per group"} {
			s := New(dir)
			s.forceSort, s.SortMemory, s.Sequential = mode == "sort", 256, mode == "sequential"
			s.TempDir = dir
			if i == 3 {
				s.chunkSize, s.checkRanges = 1, 3
			}
			names := connector.NewNames()
			var got []emitted
			err := s.ReadCalls(context.Background(), connector.CallQuery{Names: names}, func(r *connector.CallRecord) error {
				e := emitted{pos: r.Pos, id: r.Call.CallID, err: r.Err}
				if len(r.BD) > 0 {
					e.bd = map[string]string{}
					for _, f := range r.BD {
						e.bd[names.Name(f.Name)] = string(f.Value)
					}
				}
				got = append(got, e)
				outs[i] = append(outs[i], render(r, names))
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v", mode, err)
			}
			if msg := m.check(got); msg != "" {
				t.Fatalf("%s: %s", mode, msg)
			}
			// Agents share the reader: no error, one record per row.
			nAgents := 0
			if err := s.ReadAgents(context.Background(), func(*connector.AgentRecord) error { nAgents++; return nil }); err != nil || nAgents != m.agentRecs {
				t.Fatalf("ReadAgents: %d of %d, %v", nAgents, m.agentRecs, err)
			}
		}
		norm := func(lines []string) []string {
			var c, b []string
			for _, l := range lines {
				if strings.HasPrefix(l, BDFile) {
					b = append(b, l)
				} else {
					c = append(c, l)
				}
			}
			slices.Sort(b)
			return append(c, b...)
		}
		if s0, s3 := checkVerdict(t, dir, 1), checkVerdict(t, dir, 3); s0 != s3 {
			t.Fatalf("the order check in 3 ranges says in order = %v, in one range %v", s3, s0)
		}
		if m.dupCalls {
			return // which call of a repeated id gets the business data is path-dependent
		}
		if d := diffLines(norm(outs[0]), norm(outs[1])); d != "" {
			t.Fatalf("sort path differs:\n%s", d)
		}
		if d := diffLines(outs[0], outs[2]); d != "" {
			t.Fatalf("sequential merge differs:\n%s", d)
		}
		if d := diffLines(outs[0], outs[3]); d != "" {
			t.Fatalf("a chunk per group differs:\n%s", d)
		}
	})
}

// checkVerdict is the order check's verdict with the file cut in n ranges.
func checkVerdict(t *testing.T, dir string, n int) bool {
	t.Helper()
	s := New(dir)
	s.checkRanges = n
	plan, err := s.checkOrder(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return plan.inOrder
}

type emitted struct {
	pos, id string
	err     error
	bd      map[string]string
}

// model is what ReadCalls must emit, derived from the scanner's records.
type model struct {
	calls     []mCall
	bdOwn     map[string]bool // bd records emitted on their own, by pos
	dupCalls  bool
	agentRecs int
}

type mCall struct {
	pos, id string
	bd      map[string]string // the first call of an id: its good values
	bdFail  bool              // a bd row of it could not be read, or a name came twice
	first   bool
}

type mRow struct {
	id, name, value string
	bad             bool
	line            int
}

func newModel(calls, bd []byte) *model {
	m := &model{bdOwn: map[string]bool{}}
	first := map[string]int{}
	for _, r := range csvOracle(calls, len(callsHeader)) {
		c := mCall{pos: CallsFile + ":" + strconv.Itoa(r.line), id: r.id}
		if c.id != "" {
			if _, ok := first[c.id]; ok {
				m.dupCalls = true
			} else {
				first[c.id] = len(m.calls)
				c.first = true
			}
		}
		m.calls = append(m.calls, c)
	}
	m.agentRecs = len(csvOracle(calls, len(agentsHeader)))
	seen := map[string]map[string]bool{}
	for _, o := range csvOracle(bd, len(bdHeader)) {
		r := mRow{id: o.id, bad: o.fields == nil, line: o.line}
		if !r.bad {
			r.name, r.value = o.fields[1], o.fields[2]
		}
		pos := BDFile + ":" + strconv.Itoa(r.line)
		i, ok := first[r.id]
		switch {
		case !ok: // r.id == "" included
			m.bdOwn[pos] = true
		case r.bad:
			m.calls[i].bdFail = true
		default:
			c := &m.calls[i]
			if seen[r.id][r.name] {
				c.bdFail = true
			} else if seen[r.id] == nil {
				seen[r.id] = map[string]bool{}
			}
			seen[r.id][r.name] = true
			if c.bd == nil {
				c.bd = map[string]string{}
			}
			c.bd[r.name] = r.value
		}
	}
	return m
}

// oracleRec is a record of csvOracle: fields nil for a line that cannot be
// read, id its first field when that can be read alone.
type oracleRec struct {
	line   int
	fields []string
	id     string
}

// csvOracle is what a resynchronising Scanner with Width width must make
// of body (a file's lines after its header), worked out with encoding/csv
// alone, so that FuzzReadCalls does not take its expectations from the
// scanner it tests. From each line that is not empty, encoding/csv reads
// one record: one of width fields is a record (however many lines it
// spans); anything else (a quoting error, another width) is a bad line,
// that line alone, and reading starts again on the next line. A bad
// line's id is its first field when encoding/csv reads some prefix of the
// line, up to a comma, as exactly one field.
func csvOracle(body []byte, width int) []oracleRec {
	var out []oracleRec
	line := 2 // the header is line 1
	for pos := 0; pos < len(body); {
		end := bytes.IndexByte(body[pos:], '\n')
		next := len(body)
		if end < 0 {
			end = len(body)
		} else {
			end += pos
			next = end + 1
		}
		text := bytes.TrimSuffix(body[pos:end], []byte("\r"))
		if len(text) == 0 { // empty lines are no records
			pos, line = next, line+1
			continue
		}
		r := csv.NewReader(bytes.NewReader(body[pos:]))
		r.FieldsPerRecord = -1
		if rec, err := r.Read(); err == nil && len(rec) == width {
			out = append(out, oracleRec{line: line, fields: rec, id: rec[0]})
			n := int(r.InputOffset())
			line += max(1, bytes.Count(body[pos:pos+n], []byte("\n")))
			pos += n
			continue
		}
		out = append(out, oracleRec{line: line, id: firstField(text)})
		pos, line = next, line+1
	}
	return out
}

// firstField is the first field of a line that is not a record, when
// encoding/csv reads the line up to one of its commas as one field; "" if
// at none.
func firstField(text []byte) string {
	for i, c := range text {
		if c != ',' {
			continue
		}
		r := csv.NewReader(bytes.NewReader(text[:i]))
		rec, err := r.Read()
		if err == io.EOF {
			return "" // the line starts with a comma: the first field is empty
		}
		if err == nil && len(rec) == 1 {
			if _, err := r.Read(); err == io.EOF {
				return rec[0]
			}
		}
	}
	// No comma ends a first field: the line may still be one field of a
	// record of the wrong width.
	r := csv.NewReader(bytes.NewReader(text))
	r.FieldsPerRecord = -1
	if rec, err := r.Read(); err == nil {
		if _, err := r.Read(); err == io.EOF {
			return rec[0]
		}
	}
	return ""
}

// check compares what a path emitted with the model; "" when they agree.
func (m *model) check(got []emitted) string {
	ci := 0
	own := map[string]bool{}
	for _, e := range got {
		if strings.HasPrefix(e.pos, BDFile+":") {
			if e.id != "" || !errors.Is(e.err, connector.ErrBDWithoutCall) {
				return "business-data record with an id or not a row without a call: " + e.pos
			}
			if own[e.pos] {
				return "business-data line emitted twice: " + e.pos
			}
			own[e.pos] = true
			continue
		}
		if errors.Is(e.err, connector.ErrBDWithoutCall) {
			return "call record that says it is a row without a call: " + e.pos
		}
		if ci >= len(m.calls) {
			return "more call records than calls.csv has: " + e.pos
		}
		c := m.calls[ci]
		ci++
		if e.pos != c.pos || e.id != c.id {
			return "call record " + e.pos + " " + strconv.Quote(e.id) + ", want " + c.pos + " " + strconv.Quote(c.id)
		}
		hasBDErr := e.err != nil && strings.Contains(e.err.Error(), BDFile+":")
		if c.first && !m.dupCalls {
			if hasBDErr != c.bdFail {
				return "call " + e.pos + ": business-data failure " + strconv.FormatBool(hasBDErr) + ", want " + strconv.FormatBool(c.bdFail) + " (" + errString(e.err) + ")"
			}
			if !maps.Equal(e.bd, c.bd) {
				return "call " + e.pos + ": business data differs"
			}
		} else if len(e.bd) > 0 && !m.dupCalls {
			return "call " + e.pos + " got business data that is another call's"
		}
	}
	if ci != len(m.calls) {
		return strconv.Itoa(ci) + " call records of " + strconv.Itoa(len(m.calls))
	}
	if !maps.Equal(own, m.bdOwn) {
		return "business-data records of their own differ"
	}
	return ""
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// FuzzResync corrupts one record of a valid CSV file and reads it with the
// resynchronising scanner: every other record is read exactly as before (same
// fields, same line, in order), and what else comes out (bad lines, or
// records a corruption made) lies on the lines of the corrupted record.
// testdata/fuzz/FuzzResync holds a seed per way a line goes bad (a wrong
// width, an unclosed quote read on past its line, a stray or bare quote,
// BOMs), each with good lines after it: a scanner that loses the line after
// a bad one fails them, whichever way the line went bad.
func FuzzResync(f *testing.F) {
	f.Add([]byte("C1\x00in\x00Support\x00C2\x00out\x00Sales\x00C3\x00in\x00x"), uint8(3), uint8(1), uint8(0), uint16(9))
	f.Add([]byte("a\x00b\x00c\nd\x00e,f\x00g\x00h\"i\x00j"), uint8(2), uint8(0), uint8(1), uint16(3))
	f.Add([]byte("a\x00multi\nline\x00c\x00d"), uint8(2), uint8(0), uint8(2), uint16(4))
	f.Fuzz(func(t *testing.T, data []byte, width, target, kind uint8, at uint16) {
		w := int(width%5) + 1
		fields := bytes.Split(data, []byte{0})
		for len(fields)%w != 0 {
			fields = append(fields, []byte("x"))
		}
		var recs [][]string
		for i := 0; i < len(fields); i += w {
			r := make([]string, w)
			for j := range w {
				// A CR in a field would read back as part of a newline.
				v := strings.ReplaceAll(string(fields[i+j]), "\r", "r")
				// A quoted value that starts with a quote, a comma or a line
				// break can pair up with a stray quote before it, so that
				// the lines between read as one good record: CSV cannot
				// tell that from a multi-line value. Such values are left
				// out of the property.
				if v != "" && strings.ContainsRune("\",\n", rune(v[0])) {
					v = "v" + v
				}
				r[j] = v
			}
			if w == 1 && r[0] == "" {
				r[0] = "x" // an empty line is no record
			}
			recs = append(recs, r)
		}
		// Encode each record alone, to know its bytes.
		enc := make([][]byte, len(recs))
		for i, r := range recs {
			enc[i] = encodeRecord(r)
		}
		body := bytes.Join(enc, nil)
		got, lines, bad := scanResync(t, body, w)
		if !equalRecs(got, recs) || len(bad) != 0 {
			t.Fatalf("valid file %q: got %q (bad %v), want %q", body, got, bad, recs)
		}

		ti := int(target) % len(recs)
		orig := enc[ti]
		text := orig[:len(orig)-1] // without its newline
		p := int(at) % (len(text) + 1)
		var c []byte
		switch kind % 5 {
		case 0: // a quote inserted
			c = slices.Concat(text[:p], []byte{'"'}, text[p:])
		case 1: // a byte replaced by a quote
			if p == len(text) {
				p--
			}
			c = slices.Concat(text[:p], []byte{'"'}, text[p+1:])
		case 2: // a byte deleted
			if p == len(text) {
				p--
			}
			c = slices.Concat(text[:p], text[p+1:])
		case 3: // a comma inserted
			c = slices.Concat(text[:p], []byte{','}, text[p:])
		case 4: // cut short
			c = slices.Clone(text[:p])
		}
		c = append(c, '\n')
		corrupt := slices.Concat(bytes.Join(enc[:ti], nil), c, bytes.Join(enc[ti+1:], nil))

		// Where the corrupted record lies, and how far it moved the lines
		// after it.
		from := lines[ti]
		to := from + bytes.Count(c, []byte{'\n'}) - 1
		shift := bytes.Count(c, []byte{'\n'}) - bytes.Count(orig, []byte{'\n'})

		got2, lines2, bad2 := scanResync(t, corrupt, w)
		k := 0
		for i, r := range got2 {
			if lines2[i] >= from && lines2[i] <= to {
				continue // made of the corrupted record
			}
			if k == ti {
				k++
			}
			want := lines[k]
			if k > ti {
				want += shift
			}
			if k >= len(recs) || !slices.Equal(r, recs[k]) || lines2[i] != want {
				t.Fatalf("corrupted record %d of %q into %q:\nrecord %q on line %d, want %q on line %d\nall: %q %v bad %v", ti, body, corrupt, r, lines2[i], recs[min(k, len(recs)-1)], want, got2, lines2, bad2)
			}
			k++
		}
		if k == ti {
			k++
		}
		if k != len(recs) {
			t.Fatalf("corrupted record %d of %q into %q: %d of %d other records read: %q %v bad %v", ti, body, corrupt, k-1, len(recs)-1, got2, lines2, bad2)
		}
		for _, l := range bad2 {
			if l < from || l > to {
				t.Fatalf("corrupted record %d (lines %d-%d) of %q into %q: bad line %d", ti, from, to, body, corrupt, l)
			}
		}
	})
}

// encodeRecord writes one record as RFC 4180 with a final newline, quoting
// only what needs it.
func encodeRecord(r []string) []byte {
	var b []byte
	for i, f := range r {
		if i > 0 {
			b = append(b, ',')
		}
		if strings.ContainsAny(f, ",\"\r\n") {
			b = append(b, '"')
			b = append(b, strings.ReplaceAll(f, `"`, `""`)...)
			b = append(b, '"')
		} else {
			b = append(b, f...)
		}
	}
	return append(b, '\n')
}

// scanResync reads body with Width w: the records with their lines, and the
// lines of the bad ones.
func scanResync(t testing.TB, body []byte, w int) (recs [][]string, lines, bad []int) {
	items, _ := readResync(t, bytes.NewReader(body), w)
	for _, it := range items {
		if it.fields == nil {
			bad = append(bad, it.line)
			continue
		}
		recs = append(recs, it.fields)
		lines = append(lines, it.line)
	}
	return recs, lines, bad
}
