package preview

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
	"github.com/duckdb/duckdb-go/v2"
)

// Options configure one preview.
type Options struct {
	// DBPath is the preview file; replaced atomically (written as
	// DBPath+".tmp", then renamed) so a crash never leaves half a preview.
	DBPath string
	// StatePath is the spec's state file. It may not exist (then every row
	// is new); it is attached READ_ONLY and never written or created.
	StatePath string
	// PriorLedger, when set, is the state ledger to diff against instead of
	// StatePath (a PostgreSQL state: it is copied into the preview file).
	PriorLedger func(ctx context.Context, fn func(state.LedgerRow) error) error
	Registry    engine.Registry    // to open the plan's sources
	Sources     []connector.Source // optional, already opened (tests)
	Progress    func(engine.Progress)
	// SampleBD also stores the source business data in long format (table
	// bd). Off by default: 50 M rows at the reference workload.
	SampleBD bool
}

// Run previews a plan: the engine runs with a discarding sink and no state,
// every call and user is stored in the preview file, and the diff against
// the state ledger is computed afterwards in SQL.
func Run(ctx context.Context, plan *engine.Plan, opts Options) (*Result, error) {
	if plan == nil {
		return nil, errors.New("preview: no plan")
	}
	if opts.DBPath == "" {
		return nil, errors.New("preview: no preview file given")
	}
	if opts.StatePath != "" && sameFile(opts.StatePath, opts.DBPath) {
		return nil, fmt.Errorf("preview: the preview file %s is the state file", opts.DBPath)
	}
	if err := os.MkdirAll(filepath.Dir(opts.DBPath), 0o755); err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	tmp := opts.DBPath + ".tmp"
	if err := removeDB(tmp); err != nil { // left by a crashed preview
		return nil, err
	}
	st, err := createStore(ctx, tmp)
	if err != nil {
		removeDB(tmp)
		return nil, err
	}
	complete := false
	defer func() {
		if !complete {
			st.close()
			removeDB(tmp)
		}
	}()

	// Explicit transactions (see commitEvery): the Appender would otherwise
	// commit at every auto-flush.
	if _, err := st.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	app, err := st.appenders()
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	col := newCollector(plan, app, opts.SampleBD, cancel)
	col.commit = func() error {
		_, err := st.conn.ExecContext(ctx, "COMMIT; BEGIN TRANSACTION")
		return err
	}
	sum, runErr := engine.Run(rctx, plan, engine.Options{
		Registry:     opts.Registry,
		Sink:         engine.Discard{},
		Sources:      opts.Sources,
		Progress:     opts.Progress,
		Observe:      col.observe,
		ObserveAgent: col.observeAgent,
	})
	storeErr := col.finish()
	switch {
	case ctx.Err() != nil: // the store's error, if any, is only a consequence
		return nil, fmt.Errorf("preview interrupted; the previous preview file is left as it was: %w (%v)", engine.ErrInterrupted, context.Cause(ctx))
	case storeErr != nil:
		return nil, storeErr
	case runErr != nil:
		return nil, fmt.Errorf("preview: %w", runErr)
	}

	res, err := st.finish(ctx, sum, opts.StatePath, opts.PriorLedger)
	if err != nil {
		return nil, err
	}
	if err := st.close(); err != nil {
		return nil, fmt.Errorf("preview: close %s: %w", tmp, err)
	}
	// A WAL beside the old file would be replayed onto the new one.
	if err := os.Remove(opts.DBPath + ".wal"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("preview: %w", err)
	}
	if err := os.Rename(tmp, opts.DBPath); err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	complete = true
	res.DBPath = opts.DBPath
	return res, nil
}

// store is a preview file being written, on one connection.
type store struct {
	db    *sql.DB
	conn  *sql.Conn
	spill string // DuckDB's temp_directory, removed with the store
}

func createStore(ctx context.Context, path string) (*store, error) {
	db, err := sql.Open("duckdb", path)
	if err != nil {
		return nil, fmt.Errorf("preview: open %s: %w", path, err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("preview: open %s: %w", path, err)
	}
	st := &store{db: db, conn: conn, spill: path + ".spill"}
	for _, q := range append(settings(st.spill), ddl...) {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			st.close()
			return nil, fmt.Errorf("preview: create tables: %w", err)
		}
	}
	return st, nil
}

func (st *store) appenders() (*appenders, error) {
	a := &appenders{}
	err := st.conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("not a driver connection: %T", dc)
		}
		for _, t := range []struct {
			dst   **duckdb.Appender
			table string
		}{{&a.calls, "calls"}, {&a.results, "results_raw"}, {&a.mapped, "mapped"}, {&a.agents, "agents_raw"}, {&a.bd, "bd"}} {
			app, err := duckdb.NewAppender(c, "", "", t.table)
			if err != nil {
				return fmt.Errorf("appender for %s: %w", t.table, err)
			}
			*t.dst = app
		}
		return nil
	})
	if err != nil {
		for _, x := range []*duckdb.Appender{a.calls, a.results, a.mapped, a.agents, a.bd} {
			if x != nil {
				x.Close()
			}
		}
		return nil, fmt.Errorf("preview: %w", err)
	}
	return a, nil
}

func (st *store) close() error {
	var errs []error
	if st.conn != nil {
		errs = append(errs, st.conn.Close())
		st.conn = nil
	}
	if st.db != nil {
		errs = append(errs, st.db.Close())
		st.db = nil
	}
	if st.spill != "" {
		errs = append(errs, os.RemoveAll(st.spill))
	}
	return errors.Join(errs...)
}

// removeDB deletes a DuckDB file and its WAL, if there.
func removeDB(path string) error {
	for _, p := range []string{path, path + ".wal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("preview: %w", err)
		}
	}
	return nil
}

func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(fa, fb)
	}
	ca, _ := filepath.Abs(a)
	cb, _ := filepath.Abs(b)
	return ca == cb
}

// sqlString quotes s as a SQL string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// memoryLimit bounds DuckDB's buffer pool. By default it may cache up to
// 80 % of RAM, so the preview's footprint would grow with the number of
// calls; bounded, written blocks are evicted to the file and the rest spills
// to the temp directory.
const memoryLimit = "256MB"

func settings(spill string) []string {
	return []string{
		"SET memory_limit = " + sqlString(memoryLimit),
		"SET temp_directory = " + sqlString(spill),
	}
}
