package state

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/applink-dev/applink/engine"
)

// Backend is a spec's state, whatever holds it: the embedded DuckDB file
// (Store, the default) or a PostgreSQL database shared by several specs and
// machines (PGStore). The workspace, the CLI and the report use only this.
type Backend interface {
	// String says where the state is, for people; never a secret.
	String() string
	Close() error
	// Version is the schema version of the state.
	Version(ctx context.Context) (int, error)
	// Prior loads the committed ledger into an Index (through IndexBuilder).
	Prior(ctx context.Context) (*Index, error)
	// Begin starts recording a run's ledger changes into dir; its Commit
	// applies them in one transaction.
	Begin(runID, specHash, dir string, idx *Index) (*RunLedger, error)
	Watermarks(ctx context.Context) (map[string]engine.Watermark, error)
	// Runs lists the run history, oldest first, each line's record typed.
	Runs(ctx context.Context) ([]RunRecord, error)
	// RecordEvent adds a restore or a purge (kind) to the run history.
	RecordEvent(ctx context.Context, kind, runID string, started time.Time, ev *engine.EventRecord) error
	// Ledger streams the ledger in (entity, id) order.
	Ledger(ctx context.Context, fn func(r LedgerRow) error) error
	Staging(ctx context.Context) ([]StagedRun, error)
	Prune(ctx context.Context, before, now time.Time) ([]string, error)
	PurgeRun(ctx context.Context, r StagedRun, now time.Time) error
	// LedgerCounts and LedgerRows are what reports read (engine/report).
	LedgerCounts(ctx context.Context, runID string) ([]LedgerCount, error)
	LedgerRows(ctx context.Context, q LedgerQuery) ([]LedgerRow, int, error)
	// Queue counts the spec's deliveries waiting for a worker (zero for a
	// backend without a delivery queue).
	Queue(ctx context.Context) (QueueStats, error)
}

var (
	_ Backend = (*Store)(nil)
	_ Backend = (*PGStore)(nil)
)

// Drivers of a spec's `state` block.
const (
	DriverDuckDB   = "duckdb"
	DriverPostgres = "postgres"
)

// Config says which state to open.
type Config struct {
	Driver string // DriverDuckDB (default) or DriverPostgres
	Path   string // DuckDB: the state file
	DSN    string // PostgreSQL: the connection string (holds secrets: never print it)
	// Spec is the spec's key in a shared PostgreSQL database: the rows of
	// several specs live side by side under it.
	Spec string
}

// IsDSN reports whether a --state value names a PostgreSQL database rather
// than a file.
func IsDSN(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// String says where the state is, without a secret.
func (c Config) String() string {
	if c.Driver != DriverPostgres {
		return c.Path
	}
	return RedactDSN(c.DSN) + " (spec " + c.Spec + ")"
}

// Exists reports whether the state has been created: a DuckDB file exists;
// a database is assumed to (opening it creates the spec's rows lazily).
func (c Config) Exists() bool {
	if c.Driver == DriverPostgres {
		return true
	}
	_, err := os.Stat(c.Path)
	return err == nil
}

// RedactDSN drops the password and every parameter of a PostgreSQL URL, so
// it can be shown: postgres://user@host:port/db.
func RedactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return "postgres://…"
	}
	out := u.Scheme + "://"
	if u.User != nil {
		out += u.User.Username() + "@"
	}
	return out + u.Host + u.Path
}

// OpenConfig opens (creating and migrating as needed) the state cfg names.
func OpenConfig(ctx context.Context, cfg Config) (Backend, error) {
	switch cfg.Driver {
	case "", DriverDuckDB:
		s, err := Open(ctx, cfg.Path)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return s, nil
	case DriverPostgres:
		s, err := OpenPostgres(ctx, cfg.DSN, cfg.Spec)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("state: unknown driver %q (duckdb or postgres)", cfg.Driver)
}

// prune deletes the staged data of runs created before `before` and marks
// them purged; both backends share it.
func prune(ctx context.Context, b Backend, before, now time.Time) ([]string, error) {
	runs, err := b.Staging(ctx)
	if err != nil {
		return nil, err
	}
	var pruned []string
	for _, r := range runs {
		if r.PurgedAt != nil || !r.Created.Before(before) {
			continue
		}
		if err := b.PurgeRun(ctx, r, now); err != nil {
			return pruned, err
		}
		pruned = append(pruned, r.RunID)
	}
	return pruned, nil
}

// removeStaged deletes a staged run's folder (the data; the index row is
// the backend's).
func removeStaged(r StagedRun) error {
	if err := os.RemoveAll(r.Path); err != nil {
		return fmt.Errorf("purge staged run %s: %w", r.RunID, err)
	}
	return nil
}

// ErrNoQueue is returned by a RunLedger asked to enqueue a delivery on a
// backend without a delivery queue (DuckDB).
var ErrNoQueue = errors.New("this state has no delivery queue (delivery workers need PostgreSQL state)")

// OpenConfigReadOnly opens a state to read it (reports, the TUI): a DuckDB
// file read-only, so a run may hold it at the same time; PostgreSQL as
// OpenConfig does (reads do not lock).
func OpenConfigReadOnly(ctx context.Context, cfg Config) (Backend, error) {
	if cfg.Driver == "" || cfg.Driver == DriverDuckDB {
		s, err := OpenReadOnly(ctx, cfg.Path)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return s, nil
	}
	return OpenConfig(ctx, cfg)
}
