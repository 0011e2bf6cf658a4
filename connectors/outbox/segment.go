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
	"sync"
	"syscall"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// Segments: the outbox of a spec whose calls the delivery workers send
// (PostgreSQL state). No file is shared: a run writes its own rows (agents,
// calls it did not queue) into one segment file renamed into place at its
// commit, each worker process appends the calls it delivers to segment
// files in a folder of its own, and Materialize writes agents.csv,
// calls.jsonl and ledger.csv (shared/README.md §5) from their union.
//
//	DIR/segments/runs/RUN_ID.seg      a run's own rows (written whole, renamed in)
//	DIR/segments/w-HOST-PID-START/N.seg   a worker's deliveries (appended, fsynced per batch)
//
// A segment file is JSON lines, one record per ledger row: the run that
// produced it, the row's position in that run (seq), the row, and the
// outbox line it carries (an agents.csv row, a calls.jsonl object). The
// union keeps, per entity and id, the record of the latest run (the
// highest seq within it); ordered by (run, seq) the records give the files
// a single-process cumulative outbox writes, byte for byte. Records that
// repeat (a worker killed after writing but before settling redelivers the
// call) are identical and collapse. A torn last line (a worker killed mid
// write, never settled, so redelivered) is skipped.
const (
	segmentsDir = "segments"
	runsDir     = "runs"
	segmentExt  = ".seg"
	// segmentRotate is the size past which a worker starts a new file.
	segmentRotate = 64 << 20
)

// Folder is the outbox in a folder: the cumulative outbox of single-process
// runs, and the segments of runs whose calls workers deliver.
type Folder struct {
	*Cumulative
}

// NewFolder returns the outbox in dir.
func NewFolder(dir string) *Folder { return &Folder{Cumulative: NewCumulative(dir)} }

// RunSegment returns the sink of a queued run's own rows (engine/delivery
// uses it instead of the cumulative files when the run's calls are queued).
func (f *Folder) RunSegment(runID string) connector.Sink {
	return &runSegment{dir: filepath.Join(f.dir, segmentsDir, runsDir), run: runID}
}

// encoder encodes outbox lines for one set of fields.
type encoder struct{ s Sink }

func newEncoder(fields []dsl.Field) (*encoder, error) {
	e := &encoder{}
	s := &e.s
	s.fields = fields
	s.keys = make([][]byte, len(fields))
	s.slot = make([]int, len(fields))
	for i, f := range fields {
		s.keys[i] = append(appendJSONString(nil, f.Name), ':')
		s.slot[i] = -1
		t, err := typeIndex(f.Type)
		if err != nil {
			return nil, fmt.Errorf("outbox: field %q: %w", f.Name, err)
		}
		s.byType[t] = append(s.byType[t], i)
	}
	return e, nil
}

// appendAgentLine is an agents.csv row without its newline (Sink.Agent's).
func appendAgentLine(b []byte, a *connector.OutAgent) []byte {
	b = appendCSVField(b, a.UserID)
	b = append(b, ',')
	b = appendCSVField(b, a.FirstName)
	b = append(b, ',')
	b = appendCSVField(b, a.LastName)
	b = append(b, ',')
	b = appendCSVField(b, a.Email)
	b = append(b, ',')
	return appendCSVField(b, strings.Join(a.AgentIDs, ";"))
}

// appendRecord writes one segment record. agent and call are the outbox
// lines without their newline (call is JSON, embedded as is).
func appendRecord(b []byte, run string, seq int64, r connector.LedgerRow, agent, call []byte) []byte {
	b = append(b, `{"run":`...)
	b = appendJSONString(b, run)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"entity":`...)
	b = appendJSONString(b, r.Entity)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, r.State)
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, r.Reason)
	if agent != nil {
		b = append(b, `,"agent":`...)
		b = appendJSONString(b, agent)
	}
	if call != nil {
		b = append(b, `,"call":`...)
		b = append(b, call...)
	}
	return append(b, "}\n"...)
}

// runSegment is a queued run's own rows: written to a temp file named for
// this process, renamed to RUN_ID.seg at Commit.
type runSegment struct {
	dir, run string
	tmp      string
	f        *os.File
	w        *bufio.Writer
	enc      *encoder
	seq      int64
	agents   map[string][]byte // agent lines waiting for their ledger row
	call     []byte            // the call line waiting for its ledger row
	callID   string
	line     []byte
}

func (s *runSegment) Open(ctx context.Context, info connector.RunInfo) error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	removeDeadTemps(s.dir)
	enc, err := newEncoder(info.Fields)
	if err != nil {
		return err
	}
	if info.RunID != "" {
		s.run = info.RunID
	}
	s.enc, s.agents = enc, map[string][]byte{}
	s.tmp = filepath.Join(s.dir, "."+safeRunID(s.run)+tempMark())
	f, err := os.OpenFile(s.tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	s.f, s.w = f, bufio.NewWriterSize(f, 1<<20)
	return nil
}

func (s *runSegment) Agent(ctx context.Context, a *connector.OutAgent) error {
	s.agents[a.UserID] = appendAgentLine(nil, a)
	return nil
}

func (s *runSegment) Call(ctx context.Context, c *connector.OutCall) error {
	b, err := s.enc.s.appendCall(s.call[:0], c)
	if err != nil {
		return fmt.Errorf("outbox: call %q: %w", c.CallID, err)
	}
	s.call, s.callID = b[:len(b)-1], c.CallID // without the newline
	return nil
}

// Ledger writes a row at the next position of the run.
func (s *runSegment) Ledger(ctx context.Context, r connector.LedgerRow) error {
	s.seq++
	return s.LedgerAt(s.seq, r)
}

// LedgerAt writes a row at the run position the caller counted (the queue
// counts every row of the run, those it holds back for the workers too).
func (s *runSegment) LedgerAt(seq int64, r connector.LedgerRow) error {
	if s.w == nil {
		return errors.New("outbox: segment is not open")
	}
	s.seq = seq
	var agent, call []byte
	switch {
	case r.Entity == "agent":
		if a, ok := s.agents[r.ID]; ok {
			agent = a
			delete(s.agents, r.ID)
		}
	case r.Entity == "call" && s.call != nil && s.callID == r.ID:
		call = s.call
		s.call = s.call[:0:0]
	}
	s.line = appendRecord(s.line[:0], s.run, seq, r, agent, call)
	if _, err := s.w.Write(s.line); err != nil {
		return fmt.Errorf("outbox: %s: %w", s.tmp, err)
	}
	return nil
}

func (s *runSegment) Commit(ctx context.Context) error {
	if s.f == nil {
		return errors.New("outbox: Commit of a segment that is not open")
	}
	err := s.w.Flush()
	if err == nil {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	if err == nil {
		err = os.Rename(s.tmp, filepath.Join(s.dir, safeRunID(s.run)+segmentExt))
	}
	if err != nil {
		os.Remove(s.tmp)
		return fmt.Errorf("outbox: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

func (s *runSegment) Abort() error {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	if s.tmp != "" {
		if err := os.Remove(s.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("outbox: abort: %w", err)
		}
	}
	return nil
}

// tempMark names a temp file for this process: ".HOST.PID.tmp", so that
// only this process, or one that finds the process dead, removes it.
func tempMark() string {
	return "." + hostName() + "." + strconv.Itoa(os.Getpid()) + ".tmp"
}

func hostName() string {
	h, _ := os.Hostname()
	return safeRunID(strings.ReplaceAll(h, ".", "_"))
}

// removeDeadTemps removes the temp files in dir of processes of this host
// that are no longer alive (runs that crashed before their commit). Temp
// files of other hosts, and of live processes, are left alone.
func removeDeadTemps(dir string) {
	names, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	host := hostName()
	for _, n := range names {
		parts := strings.Split(strings.TrimSuffix(filepath.Base(n), ".tmp"), ".")
		if len(parts) < 3 || parts[len(parts)-2] != host {
			continue
		}
		pid, err := strconv.Atoi(parts[len(parts)-1])
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		os.Remove(n)
	}
}

// processAlive reports whether a process of this host runs as pid (a
// signal 0 reaches it, or it exists but belongs to another user).
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// SegmentWriter is one worker process's segment folder: the calls it
// delivers, appended. Append buffers a record; Sync makes every record
// appended so far durable (one fsync for a batch of deliveries, before
// their ledger rows are settled). Safe for concurrent use.
type SegmentWriter struct {
	dir  string
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	n    int   // file number
	size int64 // bytes in the current file
	encs map[string]*encoder
	line []byte
	sync sync.Mutex // one Sync at a time; Appends go on meanwhile
}

// OpenSegmentWriter opens the segment folder name (one per worker process
// life: a folder no other process writes) of the outbox in dir.
func OpenSegmentWriter(dir, name string) (*SegmentWriter, error) {
	w := &SegmentWriter{dir: filepath.Join(dir, segmentsDir, safeRunID(name)), encs: map[string]*encoder{}}
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if err := w.rotate(); err != nil {
		return nil, err
	}
	return w, nil
}

// Dir is the writer's folder.
func (w *SegmentWriter) Dir() string { return w.dir }

func (w *SegmentWriter) rotate() error {
	if w.f != nil {
		if err := w.w.Flush(); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		w.f.Close()
	}
	w.n++
	f, err := os.OpenFile(filepath.Join(w.dir, fmt.Sprintf("%06d%s", w.n, segmentExt)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	w.f, w.w, w.size = f, bufio.NewWriterSize(f, 256<<10), 0
	return syncDir(w.dir)
}

// Append buffers the record of a delivered call: the run that queued it,
// its position in that run, its ledger row; fieldsKey names the fields
// (the run's plan hash), so their encoder is built once.
func (w *SegmentWriter) Append(run string, seq int64, fieldsKey string, fields []dsl.Field, c *connector.OutCall, r connector.LedgerRow) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return errors.New("outbox: segment writer is closed")
	}
	enc := w.encs[fieldsKey]
	if enc == nil {
		var err error
		if enc, err = newEncoder(fields); err != nil {
			return err
		}
		w.encs[fieldsKey] = enc
	}
	call, err := enc.s.appendCall(nil, c)
	if err != nil {
		return fmt.Errorf("outbox: call %q: %w", c.CallID, err)
	}
	w.line = appendRecord(w.line[:0], run, seq, r, nil, call[:len(call)-1])
	if _, err := w.w.Write(w.line); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	w.size += int64(len(w.line))
	if w.size >= segmentRotate {
		return w.rotate()
	}
	return nil
}

// Sync writes the buffered records and fsyncs the file.
func (w *SegmentWriter) Sync() error {
	w.sync.Lock()
	defer w.sync.Unlock()
	w.mu.Lock()
	if w.f == nil {
		w.mu.Unlock()
		return errors.New("outbox: segment writer is closed")
	}
	err := w.w.Flush()
	f := w.f
	w.mu.Unlock()
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	// A rotation may have closed f meanwhile: it synced it first.
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// Close syncs and closes the current file.
func (w *SegmentWriter) Close() error {
	err := w.Sync()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		if cerr := w.f.Close(); err == nil {
			err = cerr
		}
		w.f = nil
	}
	return err
}
