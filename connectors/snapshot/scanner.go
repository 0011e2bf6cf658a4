package snapshot

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// maxLine bounds the buffer a single line may need, so that a file without
// newlines cannot make the reader take all memory.
const maxLine = 64 << 20

// maxQuoted bounds how far a quoted field may run past the end of its first
// line when the scanner resynchronises (Width > 0): beyond it the quote is
// taken as never closed. It bounds what one bad quote costs to read twice.
const maxQuoted = 1 << 20

// maxRaw is how much of a bad line a ParseError keeps.
const maxRaw = 200

// errLineTooLong is fatal: the scanner cannot resynchronise past it.
var errLineTooLong = errors.New("line longer than 64 MiB")

// The quoting errors. Each wraps encoding/csv's error for the same fault, so
// that errors.Is(err, csv.ErrQuote) holds as it does for encoding/csv.
var (
	errBareQuote = &quoteError{`a quote inside a field that does not start with one (inside a quoted field, write it "")`, csv.ErrBareQuote}
	errStray     = &quoteError{"text after the closing quote of a quoted field (a stray quote?)", csv.ErrQuote}
	errOpen      = &quoteError{"quote not closed", csv.ErrQuote}
)

type quoteError struct {
	msg  string
	base error
}

func (e *quoteError) Error() string { return e.msg }
func (e *quoteError) Unwrap() error { return e.base }

// ParseError is a record that could not be read. Reading goes on with the
// next line.
type ParseError struct {
	Line int   // the line the record started on, 1-based
	Err  error // what is wrong; errors.Is it csv.ErrQuote or csv.ErrBareQuote for quoting
	// With Width set: the record's first field when it could be read
	// (an id), and the text of its first line cut to 200 bytes.
	ID  string
	Raw string
	Cut bool // Raw was cut
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Row()) }
func (e *ParseError) Unwrap() error { return e.Err }

// Row is the error a source puts in the record it emits for the line (whose
// Pos gives the line): what is wrong and the line as it reads.
func (e *ParseError) Row() error {
	if e.Raw == "" && !e.Cut {
		return e.Err
	}
	return &rowError{e}
}

type rowError struct{ pe *ParseError }

func (e *rowError) Error() string {
	s := e.pe.Err.Error() + "; the line reads " + strconv.Quote(e.pe.Raw)
	if e.pe.Cut {
		s += "…"
	}
	return s
}
func (e *rowError) Unwrap() error { return e.pe.Err }

// colError places an error in a column.
type colError struct {
	col int
	err error
}

func (e *colError) Error() string { return fmt.Sprintf("column %d: %v", e.col, e.err) }
func (e *colError) Unwrap() error { return e.err }

// widthError is a record with the wrong number of columns.
type widthError struct{ got, want int }

func (e *widthError) Error() string { return fmt.Sprintf("%d columns, want %d", e.got, e.want) }

// Scanner splits RFC 4180 CSV into records of byte fields, like
// encoding/csv.Reader with FieldsPerRecord = -1 and default settings (empty
// lines skipped, CRLF normalised, a trailing \r before EOF dropped), but
// without allocating per record: fields point into the scanner's buffers and
// are only valid until the next call to Next.
//
// A line without a quote (the common case) is split in place; a line with
// one goes through a slower state machine that copies the record into a
// scratch buffer and may span lines.
//
// With Width set, the scanner resynchronises as DuckDB's CSV reader does
// with its rejects table: every record it returns has exactly Width fields,
// and a record that cannot be read (bad quoting, wrong number of columns)
// damages only itself. It is returned as a *ParseError for its first line
// alone, and reading resumes at the next line: when a quote that is not
// closed on its line makes the record fail further down, the lines after
// the first are read again as records of their own. So an unclosed quote
// loses one line, not the rest of the file. A quoted field that is closed
// on a later line and gives a record of Width fields is a legitimate
// multi-line value and is read as one (CSV cannot tell it from a stray
// quote that happens to pair up).
type Scanner struct {
	r    io.Reader
	buf  []byte
	pos  int // start of unread data
	scan int // where the search for '\n' resumes (pos ≤ scan ≤ end)
	end  int // end of data read
	eof  bool
	rerr error

	// qnext is an index ≥ some line start with no '"' in buf[that start:qnext]:
	// the next quote, or the end of data when it was scanned. -1: unknown.
	qnext int

	line    int // lines consumed so far
	recLine int
	off     int64 // offset in the input of buf[0]
	recOff  int64 // offset of the last record returned

	// FirstOnly makes quote-free records yield only their first field: the
	// order check needs only call_id and skips splitting the rest. Such a
	// record is returned whatever its width: callers want its id only.
	FirstOnly bool

	// Width, when > 0, is the number of fields of a record: the scanner
	// resynchronises (see the type's comment).
	Width int

	fields  [][]byte
	scratch []byte
	offs    []int

	// A quoted record being read with Width set holds its first line in
	// the buffer: mark is where it starts (-1: none), markLen its length
	// without newline, markNext where the line after it starts. crossCol is
	// the column of a quoted field that ran past the end of its line (0:
	// none), crossFields the fields complete by then.
	mark, markLen, markNext int
	crossCol, crossFields   int
}

// bufTarget is the read buffer a long file ends up with. Buffers start at
// 4 KiB and double per read until then, so that small files stay cheap.
const bufTarget = 1 << 20

// NewScanner returns a scanner reading r.
func NewScanner(r io.Reader) *Scanner {
	return &Scanner{r: r, buf: make([]byte, 4<<10), qnext: -1, mark: -1}
}

// Line is the line on which the last record returned by Next started.
func (s *Scanner) Line() int { return s.recLine }

// Offset is where the last record returned by Next (or its ParseError)
// started, as a byte offset from the start of the input.
func (s *Scanner) Offset() int64 { return s.recOff }

// Reset makes the scanner read r as the part of a larger input that starts
// at byte offset off after line lines, keeping its buffers. off must be
// where a record starts.
func (s *Scanner) Reset(r io.Reader, off int64, line int) {
	*s = Scanner{r: r, buf: s.buf, fields: s.fields[:0], scratch: s.scratch[:0], offs: s.offs[:0],
		qnext: -1, mark: -1, line: line, off: off, FirstOnly: s.FirstOnly, Width: s.Width}
}

// Next returns the next record. At the end it returns io.EOF; a record with
// bad quoting (or, with Width set, the wrong number of fields) returns a
// *ParseError and the next call goes on after it; any other error is from
// the reader and is final.
func (s *Scanner) Next() ([][]byte, error) {
	for {
		start, line, hasNL, ok := s.readLine()
		if !ok {
			if s.rerr != nil {
				return nil, s.rerr
			}
			return nil, io.EOF
		}
		if len(line) == 0 {
			continue // empty lines are skipped, as encoding/csv does
		}
		return s.record(start, line, hasNL)
	}
}

// record reads the record whose first line (not empty) readLine returned.
func (s *Scanner) record(start int, line []byte, hasNL bool) ([][]byte, error) {
	s.recLine, s.recOff = s.line, s.off+int64(start)
	if s.noQuote(start, start+len(line), s.end) {
		s.fields = s.fields[:0]
		if s.FirstOnly {
			if i := bytes.IndexByte(line, ','); i >= 0 {
				line = line[:i]
			}
			s.fields = append(s.fields, line)
			return s.fields, nil
		}
		rest := line
		for {
			i := bytes.IndexByte(rest, ',')
			if i < 0 {
				s.fields = append(s.fields, rest)
				break
			}
			s.fields = append(s.fields, rest[:i])
			rest = rest[i+1:]
		}
		if s.Width > 0 && len(s.fields) != s.Width {
			return nil, s.lineError(line, string(s.fields[0]), &widthError{len(s.fields), s.Width})
		}
		return s.fields, nil
	}
	if s.Width > 0 {
		return s.resyncQuoted(start, line, hasNL)
	}
	if err := s.parseQuoted(line, hasNL); err != nil {
		if errors.Is(err, errLineTooLong) || s.rerr != nil {
			return nil, err
		}
		return nil, &ParseError{Line: s.recLine, Err: err}
	}
	return s.quotedFields(), nil
}

func (s *Scanner) quotedFields() [][]byte {
	s.fields = s.fields[:0]
	prev := 0
	for _, o := range s.offs {
		s.fields = append(s.fields, s.scratch[prev:o:o])
		prev = o
	}
	return s.fields
}

// noQuote reports whether buf[start:end] holds no '"', start being a line
// start. The search runs on up to lim (≤ s.end) and its result is kept in
// qnext, so that the lines up to the next quote cost one search in all.
func (s *Scanner) noQuote(start, end, lim int) bool {
	if s.qnext < start {
		s.findQuote(start, lim)
	}
	return s.qnext >= end
}

func (s *Scanner) findQuote(start, lim int) {
	if q := bytes.IndexByte(s.buf[start:lim], '"'); q < 0 {
		s.qnext = lim
	} else {
		s.qnext = start + q
	}
}

// resyncQuoted reads a record with a quote in its first line when Width is
// set: the record if it is good, else a ParseError for the first line alone,
// the scanner then resuming on the line after it.
func (s *Scanner) resyncQuoted(start int, line []byte, hasNL bool) ([][]byte, error) {
	s.mark, s.markLen, s.markNext = start, len(line), s.pos
	s.crossCol, s.crossFields = 0, 0
	err := s.parseQuoted(line, hasNL)
	if err == nil && len(s.offs) == s.Width {
		s.mark = -1
		return s.quotedFields(), nil
	}
	pe, err := s.resyncFailed(err)
	s.mark = -1
	if err != nil {
		return nil, err
	}
	return nil, pe
}

// resyncFailed is resyncQuoted for a record that failed: the ParseError of
// its first line, the scanner set to read on after it; or a final error.
func (s *Scanner) resyncFailed(err error) (*ParseError, error) {
	if err != nil && (errors.Is(err, errLineTooLong) || s.rerr != nil) {
		return nil, err
	}
	// The record fails. Its first line is all it may take with it.
	complete := len(s.offs) // fields read before the error
	switch {
	case s.crossCol > 0:
		// However it failed further down (read on up to another quote, or
		// to the end of a chunk of the file), the line's quote is open.
		complete = s.crossFields
		err = &colError{s.crossCol, errOpen}
	case err != nil:
		err = &colError{len(s.offs) + 1, err}
	default:
		err = &widthError{len(s.offs), s.Width}
	}
	id := ""
	if complete > 0 {
		id = string(s.scratch[:s.offs[0]])
	}
	if s.crossCol > 0 { // read the following lines again
		s.pos, s.scan, s.line, s.qnext = s.markNext, s.markNext, s.recLine, -1
	}
	return s.lineError(s.buf[s.mark:s.mark+s.markLen], id, err), nil
}

// lineError reports the record starting on the current line.
func (s *Scanner) lineError(line []byte, id string, err error) *ParseError {
	pe := &ParseError{Line: s.recLine, Err: err, ID: id}
	if len(line) > maxRaw {
		n := maxRaw
		for n > maxRaw-3 && line[n]&0xC0 == 0x80 { // not inside a UTF-8 sequence
			n--
		}
		line, pe.Cut = line[:n], true
	}
	pe.Raw = string(line)
	return pe
}

// parseQuoted is encoding/csv's readRecord state machine over lines given
// without their newline; hasNL tells whether the line had one.
func (s *Scanner) parseQuoted(line []byte, hasNL bool) error {
	s.scratch = s.scratch[:0]
	s.offs = s.offs[:0]
	for {
		if len(line) == 0 || line[0] != '"' {
			i := bytes.IndexByte(line, ',')
			field := line
			if i >= 0 {
				field = line[:i]
			}
			if bytes.IndexByte(field, '"') >= 0 {
				return errBareQuote
			}
			s.scratch = append(s.scratch, field...)
			s.offs = append(s.offs, len(s.scratch))
			if i < 0 {
				return nil
			}
			line = line[i+1:]
			continue
		}
		line = line[1:]
	quoted:
		for {
			i := bytes.IndexByte(line, '"')
			switch {
			case i >= 0:
				s.scratch = append(s.scratch, line[:i]...)
				line = line[i+1:]
				switch {
				case len(line) > 0 && line[0] == '"':
					s.scratch = append(s.scratch, '"')
					line = line[1:]
				case len(line) > 0 && line[0] == ',':
					line = line[1:]
					s.offs = append(s.offs, len(s.scratch))
					break quoted
				case len(line) == 0:
					s.offs = append(s.offs, len(s.scratch))
					return nil
				default:
					return errStray
				}
			case hasNL:
				s.scratch = append(s.scratch, line...)
				s.scratch = append(s.scratch, '\n')
				if s.mark >= 0 {
					if s.crossCol == 0 {
						s.crossCol, s.crossFields = len(s.offs)+1, len(s.offs)
					}
					if len(s.scratch) > maxQuoted {
						return errOpen
					}
				}
				var ok bool
				_, line, hasNL, ok = s.readLine()
				if !ok {
					if s.rerr != nil {
						return s.rerr
					}
					return errOpen
				}
			default:
				// The last line ends inside a quoted field.
				return errOpen
			}
		}
	}
}

// readLine returns the next line without its newline (and without the \r
// of a CRLF, or a \r before EOF), with its start index in buf.
func (s *Scanner) readLine() (start int, line []byte, hasNL, ok bool) {
	for {
		if i := bytes.IndexByte(s.buf[s.scan:s.end], '\n'); i >= 0 {
			nl := s.scan + i
			start = s.pos
			line = s.buf[start:nl]
			s.pos = nl + 1
			s.scan = s.pos
			s.line++
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return start, line, true, true
		}
		s.scan = s.end
		if s.eof {
			if s.rerr == nil && s.pos < s.end {
				start = s.pos
				line = s.buf[start:s.end]
				s.pos, s.scan = s.end, s.end
				s.line++
				if n := len(line); line[n-1] == '\r' {
					line = line[:n-1]
				}
				return start, line, false, true
			}
			return 0, nil, false, false
		}
		s.fill()
	}
}

// fill moves unread data (and a marked line) to the front of buf, grows
// buf when a line fills it, and reads more.
func (s *Scanner) fill() {
	keep := s.pos
	if s.mark >= 0 {
		keep = s.mark
	}
	if keep > 0 {
		s.off += int64(keep)
		n := copy(s.buf, s.buf[keep:s.end])
		s.scan -= keep
		s.pos -= keep
		s.end = n
		if s.mark >= 0 {
			s.mark -= keep
			s.markNext -= keep
		}
		s.qnext = -1
	}
	if s.end == len(s.buf) || len(s.buf) < bufTarget {
		if len(s.buf) >= maxLine {
			s.rerr, s.eof = errLineTooLong, true
			return
		}
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for range 100 {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err == io.EOF {
			s.eof = true
			return
		}
		if err != nil {
			s.rerr, s.eof = fmt.Errorf("read: %w", err), true
			return
		}
		if n > 0 {
			return
		}
	}
	s.rerr, s.eof = io.ErrNoProgress, true
}

// asParse is errors.As for the scanner's unwrapped *ParseError, without the
// allocation errors.As costs when its target escapes.
func asParse(err error, pe **ParseError) bool {
	p, ok := err.(*ParseError)
	if ok {
		*pe = p
	}
	return ok
}

// SkipSame consumes the records that follow while their first field is id,
// as long as they are quote-free, already in the buffer and start before
// byte offset limit (limit < 0: no limit); it stops at the first other
// record, which the next call of Next returns. It is Next with FirstOnly
// and a comparison, minus the per-record overhead, for the order check's
// run over a call's business-data rows.
func (s *Scanner) SkipSame(id []byte, limit int64) {
	for _, c := range id {
		if c == ',' || c == '"' || c == '\r' || c == '\n' {
			return // such an id comes from a quoted field: leave it to Next
		}
	}
	w := newWord(id)
	n := len(id)
	buf := s.buf[:s.end]
	if limit >= 0 && limit-s.off < int64(len(buf)) {
		buf = buf[:max(limit-s.off, int64(s.pos))]
	}
	pos, lines := s.pos, 0
	for {
		if pos+n >= len(buf) || buf[pos+n] != ',' || !w.at(buf, pos) {
			if pos < len(buf) && buf[pos] == '\n' { // an empty line: Next skips it too
				pos++
				lines++
				continue
			}
			break
		}
		i := bytes.IndexByte(buf[pos+n+1:], '\n')
		if i < 0 {
			break
		}
		nl := pos + n + 1 + i
		if !s.noQuote(pos, nl, len(buf)) {
			break // a quote: the record may run on; Next reads it
		}
		pos = nl + 1
		lines++
	}
	s.pos, s.scan = pos, pos
	s.line += lines
}

// Next3 is Next for a scanner with Width 3 (and FirstOnly false): it
// returns the fields without building a slice, the common quote-free line
// split in place; a record with quotes or of another width goes through
// Next's path.
func (s *Scanner) Next3() (a, b, c []byte, err error) {
	for {
		start, line, hasNL, ok := s.readLine()
		if !ok {
			if s.rerr != nil {
				return nil, nil, nil, s.rerr
			}
			return nil, nil, nil, io.EOF
		}
		if len(line) == 0 {
			continue
		}
		if s.noQuote(start, start+len(line), s.end) {
			if i := bytes.IndexByte(line, ','); i >= 0 {
				rest := line[i+1:]
				if k := bytes.IndexByte(rest, ','); k >= 0 && bytes.IndexByte(rest[k+1:], ',') < 0 {
					s.recLine, s.recOff = s.line, s.off+int64(start)
					return line[:i], rest[:k], rest[k+1:], nil
				}
			}
		}
		f, err := s.record(start, line, hasNL)
		if err != nil {
			return nil, nil, nil, err
		}
		return f[0], f[1], f[2], nil
	}
}
