package state

import (
	"context"
	"fmt"
	"github.com/applink-dev/applink/dsl"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/applink-dev/applink/engine"
)

// Backend is a spec's state, whatever holds it: the embedded DuckDB file
// (duckstate, the default) or a PostgreSQL database shared by several specs
// and machines (pgstate). The workspace, the CLI and the report use only
// this; cmd wires the drivers (Drivers).
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

// DefaultRetentionDays is how long the staging index keeps a run's staged
// data unless the spec's `staging { retention_days }` says otherwise.
const DefaultRetentionDays = 90

// Drivers of a spec's `state` block.
const (
	DriverDuckDB   = "duckdb"
	DriverPostgres = "postgres"
)

// DefaultSchema is the PostgreSQL schema of applink's tables, its
// migrations' table and River's, unless the spec's state block or the
// DSN's search_path names another.
const DefaultSchema = "applink"

// Config says which state to open.
type Config struct {
	Driver string // DriverDuckDB (default) or DriverPostgres
	Path   string // DuckDB: the state file
	DSN    string // PostgreSQL: the connection string (holds secrets: never print it)
	// Spec is the spec's key in a shared PostgreSQL database: the rows of
	// several specs live side by side under it.
	Spec string
	// Schema is the PostgreSQL schema ("" the DSN's search_path if it sets
	// one, else DefaultSchema).
	Schema string
	// Epoch is the fencing epoch this process holds for Spec (a takeover's,
	// see pgstate.DB.Takeover). 0 means the epoch current when a run
	// begins: a takeover before its commit fences the commit all the same.
	Epoch int64
}

// Mode is how a driver opens a state.
type Mode int

const (
	// ReadWrite creates and migrates the state as needed.
	ReadWrite Mode = iota
	// ReadOnly never creates, migrates or writes the state: an older or
	// missing one is an error (ErrNotMigrated).
	ReadOnly
)

// Driver opens one kind of state. The drivers live in packages of their
// own (duckstate, pgstate) so that what only reads the state links no
// database driver; cmd puts them in a Drivers value.
type Driver interface {
	Open(ctx context.Context, cfg Config, mode Mode) (Backend, error)
}

// Drivers are the state drivers of a build, keyed by Config.Driver ("" is
// DriverDuckDB). A plain value built by cmd, no registration.
type Drivers map[string]Driver

// Open opens (creating and migrating as needed) the state cfg names.
func (d Drivers) Open(ctx context.Context, cfg Config) (Backend, error) {
	return d.open(ctx, cfg, ReadWrite)
}

// OpenReadOnly opens a state to read it (reports, the TUI): never created
// nor migrated; a DuckDB file read-only, so a run may hold it meanwhile.
func (d Drivers) OpenReadOnly(ctx context.Context, cfg Config) (Backend, error) {
	return d.open(ctx, cfg, ReadOnly)
}

func (d Drivers) open(ctx context.Context, cfg Config, mode Mode) (Backend, error) {
	name := cfg.Driver
	if name == "" {
		name = DriverDuckDB
	}
	drv := d[name]
	if drv == nil {
		if name != DriverDuckDB && name != DriverPostgres {
			return nil, fmt.Errorf("state: unknown driver %q (duckdb or postgres)", cfg.Driver)
		}
		return nil, fmt.Errorf("state: this build has no %s state driver", name)
	}
	return drv.Open(ctx, cfg, mode)
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

// RedactDSN is a PostgreSQL URL as it may be shown: the password masked
// the one way every output masks it (dsl.MaskSecrets: "****"), every
// parameter dropped: postgres://user:****@host:port/db.
func RedactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return "postgres://…"
	}
	u.RawQuery, u.Fragment = "", ""
	return dsl.MaskSecrets(u.String(), dsl.DSNSecrets(dsn)...)
}

// Prune deletes the staged data of runs created before `before` and marks
// them purged, through b's own PurgeRun; every backend's Prune is this.
func Prune(ctx context.Context, b Backend, before, now time.Time) ([]string, error) {
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

// RemoveStaged deletes a staged run's folder (the data; the index row is
// the backend's).
func RemoveStaged(r StagedRun) error {
	if err := os.RemoveAll(r.Path); err != nil {
		return fmt.Errorf("purge staged run %s: %w", r.RunID, err)
	}
	return nil
}
