package pgstate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/applink-dev/applink/engine/state"
)

// Options configure a DB.
type Options struct {
	// Schema is where applink's, goose's and River's tables live: ""
	// the DSN's search_path if it sets one, else state.DefaultSchema.
	Schema string
	// Jobs are the delivery jobs (engine/delivery's Jobs): their kind is
	// what the queue counts and sweeps.
	Jobs state.Jobs
}

// DB is one PostgreSQL state: a pool on its schema. A process keeps one per spec (serve) or per command; the
// Backends it opens share it, and migrations run once (Migrate).
type DB struct {
	pool   *pgxpool.Pool
	schema string
	jobs   state.Jobs
	where  string // the DSN without secrets, for people

	mu       sync.Mutex
	migrated bool
}

var schemaName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// SchemaOf is the schema a state uses: schema if set, else the DSN's
// search_path (its first entry) if it has one, else state.DefaultSchema.
func SchemaOf(dsn, schema string) (string, error) {
	if schema == "" {
		if u, err := url.Parse(dsn); err == nil {
			if sp := u.Query().Get("search_path"); sp != "" {
				schema = strings.Trim(strings.TrimSpace(strings.Split(sp, ",")[0]), `"`)
			}
		}
	}
	if schema == "" {
		schema = state.DefaultSchema
	}
	if !schemaName.MatchString(schema) || len(schema) > 40 {
		return "", fmt.Errorf("state: schema %q: letters, digits and underscores, at most 40, not starting with a digit", schema)
	}
	return schema, nil
}

// Connect opens a pool on a PostgreSQL state's schema (every connection's
// search_path), without migrating it. Errors never repeat the DSN (it may
// hold a password).
func Connect(ctx context.Context, dsn string, opts Options) (*DB, error) {
	where := state.RedactDSN(dsn)
	schema, err := SchemaOf(dsn, opts.Schema)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("state %s: the DSN does not parse (postgres://user@host:5432/db?sslmode=…)", where)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("state %s: %w", where, err)
	}
	return fromPool(pool, schema, opts.Jobs, where), nil
}

// FromPool is a DB on a pool of one's own (its connections' search_path
// must be schema); Close does not close the pool.
func FromPool(pool *pgxpool.Pool, opts Options) (*DB, error) {
	schema, err := SchemaOf("", opts.Schema)
	if err != nil {
		return nil, err
	}
	return fromPool(pool, schema, opts.Jobs, "postgres (pool)"), nil
}

func fromPool(pool *pgxpool.Pool, schema string, jobs state.Jobs, where string) *DB {
	return &DB{pool: pool, schema: schema, jobs: jobs, where: where + " (schema " + schema + ")"}
}

// Close closes the pool.
func (db *DB) Close() { db.pool.Close() }

// Pool is the connection pool (delivery workers, tests).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Schema is the schema of the state's tables.
func (db *DB) Schema() string { return db.schema }

// Jobs are the delivery jobs this DB counts and sweeps.
func (db *DB) Jobs() state.Jobs { return db.jobs }

// String says where the state is, without secrets.
func (db *DB) String() string { return db.where }

// Open implements state.Driver on this DB's pool: serve keeps one DB per
// spec and opens its Backend per run; cfg's DSN and schema are the DB's.
// ReadWrite migrates once per DB; ReadOnly never migrates and refuses a
// state at another version. Closing the Backend keeps the pool.
func (db *DB) Open(ctx context.Context, cfg state.Config, mode state.Mode) (state.Backend, error) {
	s, err := db.open(ctx, cfg, mode)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (db *DB) open(ctx context.Context, cfg state.Config, mode state.Mode) (*Store, error) {
	if cfg.Spec == "" {
		return nil, errors.New("state: a postgres state needs the spec's key")
	}
	if mode == state.ReadOnly {
		if err := db.checkVersion(ctx); err != nil {
			return nil, err
		}
	} else if err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	return db.Store(cfg.Spec, cfg.Epoch), nil
}

// Store is the Backend of one spec on this DB, committing under epoch (0:
// the epoch current when a run begins). Its Close keeps the pool.
func (db *DB) Store(spec string, epoch int64) *Store {
	return &Store{db: db, pool: db.pool, spec: spec, epoch: epoch, where: db.where + " (spec " + spec + ")"}
}

// Driver is the state.Driver of one-shot commands: each open connects a
// pool of its own (closed with the Backend), migrating unless read-only.
type Driver struct {
	Jobs state.Jobs
}

// Open implements state.Driver.
func (d Driver) Open(ctx context.Context, cfg state.Config, mode state.Mode) (state.Backend, error) {
	if cfg.DSN == "" {
		return nil, errors.New("the spec's state block has an empty dsn: set the environment variable its env() names (e.g. APPLINK_STATE_DSN)")
	}
	db, err := Connect(ctx, cfg.DSN, Options{Schema: cfg.Schema, Jobs: d.Jobs})
	if err != nil {
		return nil, err
	}
	s, err := db.open(ctx, cfg, mode)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.owns = true
	return s, nil
}

// Open connects to a state, migrates it and returns the spec's Backend,
// which closes the pool when closed: what a one-shot command or a test
// needs.
func Open(ctx context.Context, dsn, spec string, opts Options) (*Store, error) {
	db, err := Connect(ctx, dsn, opts)
	if err != nil {
		return nil, err
	}
	s, err := db.open(ctx, state.Config{Spec: spec}, state.ReadWrite)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.owns = true
	return s, nil
}
