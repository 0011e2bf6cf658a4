package snapshot

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// maxLine bounds the buffer a single line may need, so that a file without
// newlines cannot make the reader take all memory.
const maxLine = 64 << 20

// errLineTooLong is fatal: the scanner cannot resynchronise past it.
var errLineTooLong = errors.New("line longer than 64 MiB")

// ParseError is an RFC 4180 syntax error in one record. Reading goes on with
// the next line.
type ParseError struct {
	Line int   // the line the record started on, 1-based
	Err  error // csv.ErrQuote or csv.ErrBareQuote
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *ParseError) Unwrap() error { return e.Err }

// Scanner splits RFC 4180 CSV into records of byte fields, like
// encoding/csv.Reader with FieldsPerRecord = -1 and default settings (empty
// lines skipped, CRLF normalised, a trailing \r before EOF dropped), but
// without allocating per record: fields point into the scanner's buffers and
// are only valid until the next call to Next.
//
// A line without a quote (the common case) is split in place; a line with
// one goes through a slower state machine that copies the record into a
// scratch buffer and may span lines.
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

	// FirstOnly makes quote-free records yield only their first field: the
	// order check needs only call_id and skips splitting the rest.
	FirstOnly bool

	fields  [][]byte
	scratch []byte
	offs    []int
}

// bufTarget is the read buffer a long file ends up with. Buffers start at
// 4 KiB and double per read until then, so that small files stay cheap.
const bufTarget = 1 << 20

// NewScanner returns a scanner reading r.
func NewScanner(r io.Reader) *Scanner {
	return &Scanner{r: r, buf: make([]byte, 4<<10), qnext: -1}
}

// Line is the line on which the last record returned by Next started.
func (s *Scanner) Line() int { return s.recLine }

// Next returns the next record. At the end it returns io.EOF; a record with
// bad quoting returns a *ParseError and the next call goes on after it; any
// other error is from the reader and is final.
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
		s.recLine = s.line
		if s.qnext < start {
			if q := bytes.IndexByte(s.buf[start:s.end], '"'); q < 0 {
				s.qnext = s.end
			} else {
				s.qnext = start + q
			}
		}
		if s.qnext >= start+len(line) {
			s.fields = s.fields[:0]
			if s.FirstOnly {
				if i := bytes.IndexByte(line, ','); i >= 0 {
					line = line[:i]
				}
				s.fields = append(s.fields, line)
				return s.fields, nil
			}
			for {
				i := bytes.IndexByte(line, ',')
				if i < 0 {
					s.fields = append(s.fields, line)
					return s.fields, nil
				}
				s.fields = append(s.fields, line[:i])
				line = line[i+1:]
			}
		}
		if err := s.parseQuoted(line, hasNL); err != nil {
			if errors.Is(err, errLineTooLong) || s.rerr != nil {
				return nil, err
			}
			return nil, &ParseError{Line: s.recLine, Err: err}
		}
		s.fields = s.fields[:0]
		prev := 0
		for _, o := range s.offs {
			s.fields = append(s.fields, s.scratch[prev:o:o])
			prev = o
		}
		return s.fields, nil
	}
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
				return csv.ErrBareQuote
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
					return csv.ErrQuote
				}
			case hasNL:
				s.scratch = append(s.scratch, line...)
				s.scratch = append(s.scratch, '\n')
				var ok bool
				_, line, hasNL, ok = s.readLine()
				if !ok {
					if s.rerr != nil {
						return s.rerr
					}
					return csv.ErrQuote
				}
			default:
				// The last line ends inside a quoted field.
				return csv.ErrQuote
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

// fill moves unread data to the front of buf, grows buf when a line fills
// it, and reads more.
func (s *Scanner) fill() {
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:s.end])
		s.scan -= s.pos
		s.end = n
		s.pos = 0
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
// as long as they are quote-free and already in the buffer; it stops at the
// first other record, which the next call of Next returns. It is Next with
// FirstOnly and a comparison, minus the per-record overhead, for the order
// check's run over a call's business-data rows.
func (s *Scanner) SkipSame(id []byte) {
	if bytes.ContainsAny(id, ",\"\r\n") {
		return // such an id comes from a quoted field: leave it to Next
	}
	for {
		i := bytes.IndexByte(s.buf[s.pos:s.end], '\n')
		if i < 0 {
			return
		}
		start := s.pos
		line := s.buf[start : start+i]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if s.qnext < start {
			if q := bytes.IndexByte(s.buf[start:s.end], '"'); q < 0 {
				s.qnext = s.end
			} else {
				s.qnext = start + q
			}
		}
		if s.qnext < start+len(line) {
			return
		}
		// An empty line is skipped by Next too.
		if len(line) > 0 && !(len(line) >= len(id) && bytes.Equal(line[:len(id)], id) && (len(line) == len(id) || line[len(id)] == ',')) {
			return
		}
		s.pos = start + i + 1
		s.scan = s.pos
		s.line++
	}
}
