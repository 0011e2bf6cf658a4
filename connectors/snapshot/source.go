package snapshot

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// The files of a snapshot folder.
const (
	AgentsFile = "agents.csv"
	CallsFile  = "calls.csv"
	BDFile     = "business_data.csv"
)

// Source reads one snapshot folder. It holds no open files between calls.
// ReadCalls may not run concurrently with itself on one Source.
type Source struct {
	dir string

	// TempDir is where the slow path of the business-data join puts its sort
	// runs; "" means os.TempDir().
	TempDir string
	// SortMemory bounds the memory of each sort of the slow path, in bytes;
	// 0 means 32 MiB (two sorts: about 100 MiB in all with their indexes).
	SortMemory int

	// Sequential reads business data on the caller's goroutine; by default
	// worker goroutines (one per core) parse it while the caller emits.
	Sequential bool

	// sorted records which join the last ReadCalls took; forceSort skips
	// the fast path; chunkSize, when > 0, replaces the chunk size of the
	// parallel join; checkRanges, when > 0, is how many ranges the order
	// check cuts business_data.csv into, however small. All for tests.
	sorted, forceSort bool
	chunkSize         int
	checkRanges       int
}

var (
	_ connector.Source        = (*Source)(nil)
	_ connector.MediaResolver = (*Source)(nil)
	_ connector.SourceFactory = Open
)

// New returns a source over the snapshot folder dir.
func New(dir string) *Source { return &Source{dir: dir} }

// Open is the connector.SourceFactory of driver "snapshot": src.Path is the folder.
func Open(ctx context.Context, src dsl.Source) (connector.Source, error) {
	fi, err := os.Stat(src.Path)
	if err != nil {
		return nil, fmt.Errorf("snapshot source %q: %w", src.Name, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("snapshot source %q: %s is not a folder", src.Name, src.Path)
	}
	return New(src.Path), nil
}

// Close releases nothing: files are opened per read.
func (s *Source) Close() error { return nil }

// MediaFile resolves a media_path against the folder. A path that is
// absolute or climbs out of the folder resolves to "" (no media) rather than
// letting a snapshot point anywhere on the machine.
func (s *Source) MediaFile(mediaPath string) string {
	p := filepath.FromSlash(mediaPath)
	if mediaPath == "" || !filepath.IsLocal(p) {
		return ""
	}
	return filepath.Join(s.dir, p)
}

func (s *Source) path(name string) string { return filepath.Join(s.dir, name) }

// openCSV opens a file of the folder and checks its header. The scanner
// resynchronises on records of the header's width.
func (s *Source) openCSV(name string, header []string) (*os.File, *Scanner, error) {
	f, err := os.Open(s.path(name))
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: %w", err)
	}
	sc := NewScanner(f)
	h, err := sc.Next()
	if err == io.EOF {
		f.Close()
		return nil, nil, fmt.Errorf("snapshot: %s is empty: want the header %q", name, header)
	}
	if err == nil {
		err = checkHeader(name, h, header)
	} else {
		err = fmt.Errorf("%s: header: %w", name, err)
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("snapshot: %w", err)
	}
	sc.Width = len(header)
	return f, sc, nil
}

// ReadAgents emits one record per row of agents.csv.
func (s *Source) ReadAgents(ctx context.Context, emit func(*connector.AgentRecord) error) error {
	f, sc, err := s.openCSV(AgentsFile, agentsHeader)
	if err != nil {
		return err
	}
	defer f.Close()
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, err := sc.Next()
		if err == io.EOF {
			return nil
		}
		var r *connector.AgentRecord
		var pe *ParseError
		switch {
		case asParse(err, &pe):
			r = &connector.AgentRecord{Pos: AgentsFile + ":" + strconv.Itoa(pe.Line), UserID: pe.ID, Err: pe.Row()}
		case err != nil:
			return fmt.Errorf("snapshot: %s: %w", AgentsFile, err)
		default:
			r = parseAgent(rec, sc.Line())
		}
		if err := emit(r); err != nil {
			return err
		}
	}
}

// ReadCalls emits every row of calls.csv with its business data, and the
// rows of business_data.csv that belong to no call (Pos in that file,
// Call.CallID empty): those of a call_id that is not in calls.csv, with an
// Err wrapping connector.ErrBDWithoutCall, and those whose call_id cannot be
// read, as bad rows without an id. A business-data row of a call that
// cannot be read, or that gives a name twice, fails the call: its Err says
// which line and why. q.From and q.After are not pushed down: the engine
// applies them. The *CallRecord is reused between emits.
func (s *Source) ReadCalls(ctx context.Context, q connector.CallQuery, emit func(*connector.CallRecord) error) error {
	names := q.Names
	if names == nil {
		names = connector.NewNames()
	}
	j := &joiner{namer: newNamer(names), emit: emit}
	plan, err := s.checkOrder(ctx)
	if err != nil {
		return err
	}
	inOrder := plan.inOrder && !s.forceSort
	s.sorted = !inOrder
	switch {
	case inOrder && s.Sequential:
		return s.mergeJoin(ctx, j)
	case inOrder:
		return s.mergeJoinParallel(ctx, j, plan)
	}
	return s.sortJoin(ctx, j)
}

// callParseError is the record of a calls.csv row that could not be read,
// with its call_id when that could be.
func callParseError(pe *ParseError) *connector.CallRecord {
	r := &connector.CallRecord{Pos: CallsFile + ":" + strconv.Itoa(pe.Line), Err: pe.Row()}
	r.Call.CallID = pe.ID
	return r
}
