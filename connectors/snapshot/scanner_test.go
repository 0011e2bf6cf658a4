package snapshot

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// scanAll reads every record up to the first error, copying the fields.
func scanAll(s *Scanner) (recs [][]string, lines []int, err error) {
	for {
		f, err := s.Next()
		if err == io.EOF {
			return recs, lines, nil
		}
		if err != nil {
			return recs, lines, err
		}
		r := make([]string, len(f))
		for i := range f {
			r[i] = string(f[i])
		}
		recs = append(recs, r)
		lines = append(lines, s.Line())
	}
}

// stdAll is encoding/csv's view of the same input.
func stdAll(in []byte) (recs [][]string, lines []int, err error) {
	r := csv.NewReader(bytes.NewReader(in))
	r.FieldsPerRecord = -1
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return recs, lines, nil
		}
		if err != nil {
			return recs, lines, err
		}
		l, _ := r.FieldPos(0)
		recs = append(recs, rec)
		lines = append(lines, l)
	}
}

func TestScannerCases(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  [][]string
		lines []int
		err   error // of the record after want
	}{
		{"empty", "", nil, nil, nil},
		{"simple", "a,b,c\n1,2,3\n", [][]string{{"a", "b", "c"}, {"1", "2", "3"}}, []int{1, 2}, nil},
		{"no final newline", "a,b\n1,2", [][]string{{"a", "b"}, {"1", "2"}}, []int{1, 2}, nil},
		{"crlf", "a,b\r\n1,2\r\n", [][]string{{"a", "b"}, {"1", "2"}}, []int{1, 2}, nil},
		{"cr before eof", "a,b\r", [][]string{{"a", "b"}}, []int{1}, nil},
		{"lone cr kept", "a\rb,c\n", [][]string{{"a\rb", "c"}}, []int{1}, nil},
		{"empty lines skipped", "\na\n\r\n\nb\n", [][]string{{"a"}, {"b"}}, []int{2, 5}, nil},
		{"empty fields", ",,\n", [][]string{{"", "", ""}}, []int{1}, nil},
		{"quoted", `"a","b,c"` + "\n", [][]string{{"a", "b,c"}}, []int{1}, nil},
		{"escaped quote", `"say ""hi""",x` + "\n", [][]string{{`say "hi"`, "x"}}, []int{1}, nil},
		{"newline in quotes", "\"a\nb\",c\nd,e\n", [][]string{{"a\nb", "c"}, {"d", "e"}}, []int{1, 3}, nil},
		{"crlf in quotes", "\"a\r\nb\",c\r\n", [][]string{{"a\nb", "c"}}, []int{1}, nil},
		{"empty quoted last", `a,""` + "\n", [][]string{{"a", ""}}, []int{1}, nil},
		{"blank line in quotes", "\"a\n\nb\"\n", [][]string{{"a\n\nb"}}, []int{1}, nil},
		{"bare quote", "a,b\"c\n", nil, nil, csv.ErrBareQuote},
		{"text after quote", `"a"b,c` + "\n", nil, nil, csv.ErrQuote},
		{"eof in quotes", "x\n\"abc", [][]string{{"x"}}, []int{1}, csv.ErrQuote},
		{"eof in quotes after newline", "\"abc\n", nil, nil, csv.ErrQuote},
		{"quote at eof with cr", "\"abc\"\r", [][]string{{"abc"}}, []int{1}, nil},
		{"utf8 and invalid bytes", "é,\xff\n", [][]string{{"é", "\xff"}}, []int{1}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, oneByte := range []bool{false, true} {
				var r io.Reader = strings.NewReader(tc.in)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				got, lines, err := scanAll(NewScanner(r))
				if !equalRecs(got, tc.want) || !equalInts(lines, tc.lines) {
					t.Errorf("oneByte=%v: records %q at lines %v, want %q at %v", oneByte, got, lines, tc.want, tc.lines)
				}
				if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
					t.Errorf("oneByte=%v: error %v, want %v", oneByte, err, tc.err)
				}
			}
			// The table itself must agree with encoding/csv.
			std, _, serr := stdAll([]byte(tc.in))
			if !equalRecs(std, tc.want) || (serr == nil) != (tc.err == nil) {
				t.Errorf("encoding/csv disagrees with the table: %q, %v", std, serr)
			}
		})
	}
}

func TestScannerResyncAfterError(t *testing.T) {
	s := NewScanner(strings.NewReader("a,b\"x\nc,d\n"))
	if _, err := s.Next(); !errors.Is(err, csv.ErrBareQuote) {
		t.Fatalf("first record: %v, want bare quote", err)
	}
	var pe *ParseError
	f, err := s.Next()
	if errors.As(err, &pe) || err != nil || len(f) != 2 || string(f[1]) != "d" || s.Line() != 2 {
		t.Fatalf("after error: %q line %d err %v, want [c d] at line 2", f, s.Line(), err)
	}
}

func TestScannerFirstOnly(t *testing.T) {
	s := NewScanner(strings.NewReader("a,b,c\n\"q,1\",x\nz\n"))
	s.FirstOnly = true
	got, _, err := scanAll(s)
	// A quoted record is parsed whole; callers look at field 0 only.
	if err != nil || got[0][0] != "a" || len(got[0]) != 1 || got[1][0] != "q,1" || got[2][0] != "z" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestScannerLongLineGrowsBuffer(t *testing.T) {
	long := strings.Repeat("x", 3<<20)
	in := "a," + long + "\n\"" + long + "\n" + long + "\",b\n"
	got, _, err := scanAll(NewScanner(strings.NewReader(in)))
	if err != nil || len(got) != 2 || got[0][1] != long || got[1][0] != long+"\n"+long {
		t.Fatalf("long lines: %d records, err %v", len(got), err)
	}
}

func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		"a,b,c\n1,2,3\n", "\"a\"\"b\",c\r\n", "\"a\nb\",c", "a\"b\n", "\"a\"b\n", "\n\n\r\n", "\"x\r", "a,b\r",
		"\"\"\n", ",\n,", "\"abc", "x\n\"a,\"\"\"\"\n\r\n\",y\n", "a\rb\r\n\"\r\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, wantLines, werr := stdAll(in)
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(in)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			s := NewScanner(r)
			got, lines, err := scanAll(s)
			if !equalRecs(got, want) || !equalInts(lines, wantLines) {
				t.Fatalf("%q: got %q at %v, encoding/csv %q at %v", in, got, lines, want, wantLines)
			}
			if (err == nil) != (werr == nil) {
				t.Fatalf("%q: error %v, encoding/csv %v", in, err, werr)
			}
			if werr != nil {
				var pe *csv.ParseError
				var mine *ParseError
				if errors.As(werr, &pe) && errors.As(err, &mine) && (pe.StartLine != mine.Line || !errors.Is(err, pe.Err)) {
					t.Fatalf("%q: error %v, encoding/csv %v", in, err, werr)
				}
			}
		}
	})
}

func equalRecs(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// SkipSame must leave the scanner where Next would, for any input: skipping
// then reading gives the records a plain Next loop gives (same first field,
// same offset) minus the skipped ones, each of which has the given first
// field and starts before the limit.
func FuzzSkipSame(f *testing.F) {
	f.Add([]byte("a,1\na,2\n\na\r\na,\"q\"\nb,3\n"), []byte("a"), int64(-1))
	f.Add([]byte("ab,1\na,2\n"), []byte("a"), int64(-1))
	f.Add([]byte("x\n\"a\",1\na\n"), []byte("a"), int64(-1))
	f.Add([]byte("a,1\na,2\na,3\n"), []byte("a"), int64(6))
	f.Fuzz(func(t *testing.T, in, id []byte, limit int64) {
		type rec struct {
			first string
			off   int64
		}
		read := func(skip bool) ([]rec, error) {
			s := NewScanner(bytes.NewReader(in))
			s.FirstOnly = true
			var out []rec
			for {
				f, err := s.Next()
				if err == io.EOF {
					return out, nil
				}
				if err != nil {
					return out, err
				}
				out = append(out, rec{string(f[0]), s.Offset()})
				if skip {
					s.SkipSame(id, limit)
				}
			}
		}
		want, werr := read(false)
		got, err := read(true)
		j := 0
		for _, w := range want {
			if j < len(got) && got[j] == w {
				j++
				continue
			}
			if w.first != string(id) || (limit >= 0 && w.off >= limit) {
				t.Fatalf("%q: record %+v lost (got %+v, want %+v)", in, w, got, want)
			}
		}
		if j != len(got) || (err == nil) != (werr == nil) {
			t.Fatalf("%q: got %+v (%v), want %+v (%v)", in, got, err, want, werr)
		}
	})
}

// An item of a resynchronising scan: a record, or a bad line.
type rsItem struct {
	line   int
	fields []string // nil for a bad line
	id     string   // bad line: the id read
	err    string   // bad line: substring of the error
}

func TestScannerResync(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	tests := []struct {
		name string
		in   string
		want []rsItem
	}{
		{"unclosed quote loses its line only", "a,b,c\nd,e,\"open\nf,g,h\ni,j,k\n", []rsItem{
			{1, []string{"a", "b", "c"}, "", ""},
			{2, nil, "d", "column 3: quote not closed"},
			{3, []string{"f", "g", "h"}, "", ""},
			{4, []string{"i", "j", "k"}, "", ""},
		}},
		{"stray quote", "a,\"Sup\"port,c\nd,e,f\n", []rsItem{
			{1, nil, "a", "column 2: text after the closing quote"},
			{2, []string{"d", "e", "f"}, "", ""},
		}},
		{"bare quote", "a,Sup\"port,c\nd,e,f\n", []rsItem{
			{1, nil, "a", "column 2: a quote inside a field"},
			{2, []string{"d", "e", "f"}, "", ""},
		}},
		{"unclosed then stray: each its own line", "d,e,\"open\nf,\"x\"y,h\ni,j,k\n", []rsItem{
			{1, nil, "d", "column 3: quote not closed"},
			{2, nil, "f", "column 2: text after the closing quote"},
			{3, []string{"i", "j", "k"}, "", ""},
		}},
		{"unclosed quote before a quoted record", "a,\"open,c\nd,\"e\",f\n", []rsItem{
			{1, nil, "a", "column 2: quote not closed"},
			{2, []string{"d", "e", "f"}, "", ""},
		}},
		{"multi-line value", "a,\"x\ny\",c\nd,e,f\n", []rsItem{
			{1, []string{"a", "x\ny", "c"}, "", ""},
			{3, []string{"d", "e", "f"}, "", ""},
		}},
		{"multi-line value, record too short", "a,\"x\ny\"\nd,e,f\n", []rsItem{
			{1, nil, "a", "column 2: quote not closed; the line reads"},
			{2, nil, "", "column 1: a quote inside a field"},
			{3, []string{"d", "e", "f"}, "", ""},
		}},
		{"wrong width", "a,b\nc,d,e,f\ng,h,i\n", []rsItem{
			{1, nil, "a", "2 columns, want 3"},
			{2, nil, "c", "4 columns, want 3"},
			{3, []string{"g", "h", "i"}, "", ""},
		}},
		{"quoted wrong width", "\"a\",b\n", []rsItem{{1, nil, "a", "2 columns, want 3"}}},
		{"unreadable first field", "\"abc,d,e\nf,g,h\n\"x\"y,1,2\n", []rsItem{
			{1, nil, "", "column 1: quote not closed"},
			{2, []string{"f", "g", "h"}, "", ""},
			{3, nil, "", "column 1: text after"},
		}},
		{"crlf", "a,b,\"c\r\nd,e,f\r\n", []rsItem{
			{1, nil, "a", "column 3: quote not closed"},
			{2, []string{"d", "e", "f"}, "", ""},
		}},
		{"unclosed at eof", "a,b,c\nd,e,\"f", []rsItem{
			{1, []string{"a", "b", "c"}, "", ""},
			{2, nil, "d", "column 3: quote not closed"},
		}},
		{"empty lines stay skipped", "\na,b,c\n\n\"x\n\nd,e,f\n", []rsItem{
			{2, []string{"a", "b", "c"}, "", ""},
			{4, nil, "", "column 1: quote not closed"},
			{6, []string{"d", "e", "f"}, "", ""},
		}},
		{"raw cut at 200 bytes on a rune boundary", "a,\"" + long + "\n", []rsItem{
			{1, nil, "a", `the line reads "a,\"éé`},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, oneByte := range []bool{false, true} {
				var r io.Reader = strings.NewReader(tc.in)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				got, raws := readResync(t, r, 3)
				for _, raw := range raws {
					if len(raw) > maxRaw || !utf8.ValidString(raw) {
						t.Errorf("raw text %q: longer than %d or cut inside a rune", raw, maxRaw)
					}
				}
				ok := len(got) == len(tc.want)
				for i := 0; ok && i < len(got); i++ {
					g, w := got[i], tc.want[i]
					ok = g.line == w.line && slices.Equal(g.fields, w.fields) && g.id == w.id && strings.Contains(g.err, w.err) && (g.fields == nil) == (w.fields == nil)
				}
				if !ok {
					t.Errorf("oneByte=%v:\ngot  %+v\nwant %+v", oneByte, got, tc.want)
				}
			}
		})
	}
}

// readResync reads r with Width w: the records and bad lines in order, and
// the raw texts of the bad lines.
func readResync(t testing.TB, r io.Reader, w int) (items []rsItem, raws []string) {
	t.Helper()
	s := NewScanner(r)
	s.Width = w
	for {
		f, err := s.Next()
		if err == io.EOF {
			return items, raws
		}
		var pe *ParseError
		if errors.As(err, &pe) {
			items = append(items, rsItem{pe.Line, nil, pe.ID, pe.Row().Error()})
			raws = append(raws, pe.Raw)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		rec := make([]string, len(f))
		for i := range f {
			rec[i] = string(f[i])
		}
		items = append(items, rsItem{s.Line(), rec, "", ""})
	}
}

// A quote never closed is given up after maxQuoted bytes: the lines after
// it are read as records even when a quote much further down would close
// it into one record of the right width.
func TestScannerResyncGivesUpLongQuote(t *testing.T) {
	var b strings.Builder
	b.WriteString("a,b,\"open\n")
	n := 0
	for b.Len() < 2*maxQuoted {
		b.WriteString("d,e,f\n")
		n++
	}
	b.WriteString("g,h,i\"\n")
	s := NewScanner(strings.NewReader(b.String()))
	s.Width = 3
	recs, bad := 0, 0
	for {
		_, err := s.Next()
		if err == io.EOF {
			break
		}
		var pe *ParseError
		switch {
		case errors.As(err, &pe):
			bad++
		case err != nil:
			t.Fatal(err)
		default:
			recs++
		}
	}
	if recs != n || bad != 2 {
		t.Fatalf("%d records and %d bad lines, want %d and 2", recs, bad, n)
	}
}

// word.at agrees with a plain comparison for every length, at every place
// in a buffer (the loads near its end included), on a match and on a
// difference in any one byte.
func TestWordAt(t *testing.T) {
	for n := 0; n <= 20; n++ {
		s := []byte(strings.Repeat("abcdefghijklmnopqrstuvwxyz", 1)[:n])
		w := newWord(append([]byte(nil), s...))
		for size := n; size <= n+10; size++ {
			for i := 0; i+n <= size; i++ {
				buf := bytes.Repeat([]byte{'#'}, size)
				copy(buf[i:], s)
				if !w.at(buf, i) {
					t.Fatalf("len %d at %d of %d: no match", n, i, size)
				}
				for k := range n {
					buf[i+k] ^= 0x20
					if w.at(buf, i) {
						t.Fatalf("len %d at %d of %d: match with byte %d changed", n, i, size, k)
					}
					buf[i+k] ^= 0x20
				}
			}
		}
	}
}
