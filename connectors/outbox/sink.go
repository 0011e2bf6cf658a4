package outbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/killpoint"
)

// The files of an outbox (shared/README.md §5).
const (
	agentsFile = "agents.csv"
	callsFile  = "calls.jsonl"
	ledgerFile = "ledger.csv"
)

const (
	agentsHeader = "user_id,first_name,last_name,email,agent_ids\n"
	ledgerHeader = "entity,id,state,reason\n"
)

// Sink writes one run's outbox into a folder. Every file is written to a
// temp file in the folder (.NAME.tmp-RUNID) and renamed over its final name
// at Commit, so a crash or an Abort never leaves a half-written file under a
// final name; a previous run's files stay as they were until Commit.
//
// Commit replaces the three files one after the other: each replacement is
// atomic, the set is not (a crash between two renames leaves a mix of this
// run and the previous one; the state is not committed then, so the next run
// writes them all again).
type Sink struct {
	dir string
	// BufferSize is the write buffer per file; 0 means 1 MiB.
	BufferSize int

	files  [3]*outFile // agents, calls, ledger
	fields []dsl.Field
	keys   [][]byte // by plan field: `"name":`, escaped once at Open
	byType [3][]int // plan field indexes of text, number and boolean fields, in plan order
	slot   []int    // by plan field: index in OutCall.Values of the current call, -1 none
	line   []byte   // the line being encoded, reused
}

type outFile struct {
	final, tmp string
	f          *os.File
	w          *bufio.Writer
}

var _ connector.Sink = (*Sink)(nil)

// New returns a sink writing into dir (created at Open).
func New(dir string) *Sink { return &Sink{dir: dir} }

// Open creates the folder and the run's temp files.
func (s *Sink) Open(ctx context.Context, info connector.RunInfo) error {
	if s.files[0] != nil {
		return errors.New("outbox: Open of a sink already open")
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	size := s.BufferSize
	if size <= 0 {
		size = 1 << 20
	}
	run := safeRunID(info.RunID)
	for i, name := range [...]string{agentsFile, callsFile, ledgerFile} {
		o := &outFile{final: filepath.Join(s.dir, name), tmp: filepath.Join(s.dir, "."+name+".tmp-"+run)}
		f, err := os.OpenFile(o.tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			s.Abort()
			return fmt.Errorf("outbox: %w", err)
		}
		o.f, o.w = f, bufio.NewWriterSize(f, size)
		s.files[i] = o
	}
	s.files[0].w.WriteString(agentsHeader)
	s.files[2].w.WriteString(ledgerHeader)

	s.fields = info.Fields
	s.keys = make([][]byte, len(info.Fields))
	s.slot = make([]int, len(info.Fields))
	s.byType = [3][]int{}
	for i, f := range info.Fields {
		s.keys[i] = append(appendJSONString(nil, f.Name), ':')
		s.slot[i] = -1
		t, err := typeIndex(f.Type)
		if err != nil {
			s.Abort()
			return fmt.Errorf("outbox: field %q: %w", f.Name, err)
		}
		s.byType[t] = append(s.byType[t], i)
	}
	return nil
}

func typeIndex(t string) (int, error) {
	switch t {
	case dsl.TypeText:
		return 0, nil
	case dsl.TypeNumber:
		return 1, nil
	case dsl.TypeBoolean:
		return 2, nil
	}
	return 0, fmt.Errorf("unknown field type %q", t)
}

// safeRunID keeps a run ID usable in a file name.
func safeRunID(id string) string {
	if id == "" {
		return strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (r == '-' || r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return '_'
	}, id)
}

func (s *Sink) file(i int) (*outFile, error) {
	if s.files[i] == nil {
		return nil, errors.New("outbox: sink is not open")
	}
	return s.files[i], nil
}

// Agent appends a row to agents.csv.
func (s *Sink) Agent(ctx context.Context, a *connector.OutAgent) error {
	o, err := s.file(0)
	if err != nil {
		return err
	}
	b := appendCSVField(s.line[:0], a.UserID)
	b = append(b, ',')
	b = appendCSVField(b, a.FirstName)
	b = append(b, ',')
	b = appendCSVField(b, a.LastName)
	b = append(b, ',')
	b = appendCSVField(b, a.Email)
	b = append(b, ',')
	b = appendCSVField(b, strings.Join(a.AgentIDs, ";"))
	b = append(b, '\n')
	s.line = b
	if _, err := o.w.Write(b); err != nil {
		return fmt.Errorf("outbox: %s: %w", agentsFile, err)
	}
	return nil
}

// Ledger appends a row to ledger.csv (Detail is not part of the outbox).
func (s *Sink) Ledger(ctx context.Context, r connector.LedgerRow) error {
	o, err := s.file(2)
	if err != nil {
		return err
	}
	b := appendCSVField(s.line[:0], r.Entity)
	b = append(b, ',')
	b = appendCSVField(b, r.ID)
	b = append(b, ',')
	b = appendCSVField(b, r.State)
	b = append(b, ',')
	b = appendCSVField(b, r.Reason)
	b = append(b, '\n')
	s.line = b
	if _, err := o.w.Write(b); err != nil {
		return fmt.Errorf("outbox: %s: %w", ledgerFile, err)
	}
	return nil
}

// Call appends one JSON line to calls.jsonl. The line is encoded whole
// before it is written: a call that cannot be encoded (a NaN number, a value
// of an unknown field) is an error and leaves no partial line.
func (s *Sink) Call(ctx context.Context, c *connector.OutCall) error {
	o, err := s.file(1)
	if err != nil {
		return err
	}
	b, err := s.appendCall(s.line[:0], c)
	s.line = b[:0]
	if err != nil {
		return fmt.Errorf("outbox: call %q: %w", c.CallID, err)
	}
	if _, err := o.w.Write(b); err != nil {
		return fmt.Errorf("outbox: %s: %w", callsFile, err)
	}
	return nil
}

var typeKeys = [3]string{`"text":{`, `"number":{`, `"boolean":{`}

// appendCall encodes a call as a JSON object with the keys in the order of
// shared/README.md §5, business data per type in plan field order.
func (s *Sink) appendCall(b []byte, c *connector.OutCall) ([]byte, error) {
	b = append(b, `{"call_id":`...)
	b = appendJSONString(b, c.CallID)
	b = append(b, `,"agent_user_id":`...)
	b = appendJSONStringOrNull(b, c.AgentUserID)
	// RFC 3339 in UTC with a fraction only when there is one: what
	// json.Marshal writes for a time.Time in UTC.
	b = append(b, `,"start_time":"`...)
	b = c.StartTime.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","duration_ms":`...)
	b = strconv.AppendInt(b, c.DurationMS, 10)
	b = append(b, `,"direction":`...)
	b = appendJSONString(b, c.Direction)
	b = append(b, `,"ani":`...)
	b = appendJSONString(b, c.ANI)
	b = append(b, `,"dnis":`...)
	b = appendJSONString(b, c.DNIS)
	b = append(b, `,"media":`...)
	b = appendJSONStringOrNull(b, c.Media)
	b = append(b, `,"business_data":{`...)

	for i := range c.Values {
		f := c.Values[i].Field
		if f < 0 || f >= len(s.slot) {
			s.clearSlots(c, i)
			return b, fmt.Errorf("value of field %d: the plan has %d fields", f, len(s.slot))
		}
		s.slot[f] = i
	}
	defer s.clearSlots(c, len(c.Values))
	var err error
	for t, idx := range s.byType {
		if t > 0 {
			b = append(b, ',')
		}
		b = append(b, typeKeys[t]...)
		first := true
		for _, f := range idx {
			vi := s.slot[f]
			if vi < 0 {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, s.keys[f]...)
			v := &c.Values[vi]
			switch t {
			case 0:
				b = appendJSONString(b, v.Text)
			case 1:
				if b, err = appendJSONFloat(b, v.Number); err != nil {
					return b, fmt.Errorf("field %q: %w", s.fields[f].Name, err)
				}
			default:
				b = strconv.AppendBool(b, v.Bool)
			}
		}
		b = append(b, '}')
	}
	return append(b, "}}\n"...), nil
}

func (s *Sink) clearSlots(c *connector.OutCall, n int) {
	for _, v := range c.Values[:n] {
		if v.Field >= 0 && v.Field < len(s.slot) {
			s.slot[v.Field] = -1
		}
	}
}

func appendJSONStringOrNull(b []byte, v string) []byte {
	if v == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, v)
}

// appendCSVField writes a field as encoding/csv's Writer does: quoted when
// it holds a comma, quote, CR or LF, starts with a space, or is `\.`.
func appendCSVField(b []byte, f string) []byte {
	if !csvNeedsQuotes(f) {
		return append(b, f...)
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(f, '"')
		if i < 0 {
			break
		}
		b = append(b, f[:i+1]...)
		b = append(b, '"')
		f = f[i+1:]
	}
	b = append(b, f...)
	return append(b, '"')
}

func csvNeedsQuotes(f string) bool {
	if f == "" {
		return false
	}
	if f == `\.` || strings.ContainsAny(f, "\",\r\n") {
		return true
	}
	r, _ := utf8.DecodeRuneInString(f)
	return unicode.IsSpace(r)
}

// Commit flushes and syncs the temp files, renames each over its final
// name and syncs the folder. On failure the temp files are removed and the
// final files not yet replaced keep their previous contents.
func (s *Sink) Commit(ctx context.Context) error {
	if s.files[0] == nil {
		return errors.New("outbox: Commit of a sink that is not open")
	}
	if err := ctx.Err(); err != nil {
		s.Abort()
		return fmt.Errorf("outbox: %w", err)
	}
	for _, o := range s.files {
		err := o.w.Flush()
		if err == nil {
			err = fsyncFile(o.f)
		}
		if cerr := o.f.Close(); err == nil {
			err = cerr
		}
		o.f = nil
		if err != nil {
			s.Abort()
			return fmt.Errorf("outbox: %s: %w", o.tmp, err)
		}
	}
	killpoint.Hit(killpoint.OutboxFilesSynced)
	for _, o := range s.files {
		if err := renameFile(o.tmp, o.final); err != nil {
			s.Abort()
			return fmt.Errorf("outbox: %w", err)
		}
	}
	s.files = [3]*outFile{}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	killpoint.Hit(killpoint.OutboxFilesRenamed)
	return nil
}

// Abort removes the temp files. It may be called at any time, more than once.
func (s *Sink) Abort() error {
	var errs []error
	for i, o := range s.files {
		if o == nil {
			continue
		}
		if o.f != nil {
			o.f.Close()
		}
		if err := os.Remove(o.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		s.files[i] = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("outbox: abort: %w", err)
	}
	return nil
}

// The file system calls that make a commit durable, in the order that
// matters (a file synced before a name points at it, its folder synced
// after): durability_test.go records them.
var (
	fsyncFile  = (*os.File).Sync
	renameFile = os.Rename
)

// syncDir makes renames in dir durable. Some systems cannot sync a
// folder; that is not an error there.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := fsyncFile(d); err != nil && !errors.Is(err, errors.ErrUnsupported) && !isInvalid(err) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// isInvalid reports EINVAL-like errors of Sync on a folder (Windows, some
// file systems).
func isInvalid(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe) && strings.Contains(strings.ToLower(pe.Err.Error()), "invalid")
}
