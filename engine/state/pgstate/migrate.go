package pgstate

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/migrations"
)

// migrateLockKey is the advisory lock of migrations (any constant that no
// other application of the database uses).
const migrateLockKey = 0x6170706c696e6b // "applink"

// versionTable is goose's table, in the state's schema.
const versionTable = "goose_db_version"

// legacySchema is where states made before the schema option keep their
// tables (a variable for tests, which cannot use the shared database's
// public schema).
var legacySchema = "public"

// Migrate brings the state to this build's schema, once per DB: the
// schema created, the tables of an older state moved there from public,
// applink's tables migrated with goose and River's with River's migrator,
// all under one advisory lock so that processes starting together migrate
// once. A state from a newer applink is refused.
func (db *DB) Migrate(ctx context.Context) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.migrated {
		return nil
	}
	if err := db.migrate(ctx, 0); err != nil {
		return fmt.Errorf("state %s: %w", db.where, err)
	}
	db.migrated = true
	return nil
}

// migrate migrates up to version upTo (0: the latest).
func (db *DB) migrate(ctx context.Context, upTo int64) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLockKey)); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrateLockKey))
	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{db.schema}.Sanitize()); err != nil {
		return fmt.Errorf("create schema %s: %w", db.schema, err)
	}
	if err := moveLegacy(ctx, conn.Conn(), db.schema); err != nil {
		return err
	}
	cur, err := version(ctx, db)
	if err != nil {
		return err
	}
	if latest := migrations.Latest(); cur > latest {
		return fmt.Errorf("%w (schema version %d; this build knows up to %d): upgrade applink", state.ErrNewerSchema, cur, latest)
	}
	fsys, err := migrations.FS(migrations.Postgres)
	if err != nil {
		return err
	}
	sqldb := stdlib.OpenDBFromPool(db.pool)
	defer sqldb.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqldb, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithTableName(db.schema+"."+versionTable))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if upTo == 0 {
		_, err = p.Up(ctx)
	} else {
		_, err = p.UpTo(ctx, upTo)
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	m, err := rivermigrate.New(riverpgxv5.New(db.pool), &rivermigrate.Config{Schema: db.schema})
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	// River indexes every job's args with GIN (its migration 002), for
	// users who query jobs by their args' contents. applink never does (it
	// reads args->>'spec', which GIN does not serve), and a delivery's args
	// carry the whole call: measured on 69k jobs, the index made the bulk
	// enqueue 57 times slower (21.1 s against 0.37 s). No later River
	// migration touches it.
	if _, err := conn.Exec(ctx, `DROP INDEX IF EXISTS `+pgx.Identifier{db.schema, "river_job_args_index"}.Sanitize()); err != nil {
		return fmt.Errorf("drop River's args index: %w", err)
	}
	return nil
}

// version is the state's goose version (0 before the first migration).
func version(ctx context.Context, db *DB) (int64, error) {
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, db.schema+"."+versionTable).Scan(&exists); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int64
	err := db.pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM `+pgx.Identifier{db.schema, versionTable}.Sanitize()+` WHERE is_applied`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// checkVersion is a read-only open's check: the state must be at this
// build's version; it is never migrated here.
func (db *DB) checkVersion(ctx context.Context) error {
	v, err := version(ctx, db)
	if err != nil {
		return fmt.Errorf("state %s: %w", db.where, err)
	}
	switch latest := migrations.Latest(); {
	case v > latest:
		return fmt.Errorf("state %s: %w (schema version %d; this build knows up to %d): upgrade applink", db.where, state.ErrNewerSchema, v, latest)
	case v < latest:
		return fmt.Errorf("state %s: %w: schema version %d, this build's is %d", db.where, state.ErrNotMigrated, v, latest)
	}
	return nil
}

// moveLegacy moves a state made before the schema option (applink's,
// goose's and River's tables in public) into schema, in one transaction:
// tables (with their indexes, sequences and triggers), River's enum types
// and functions. It does nothing when schema already holds a state or
// public holds none.
func moveLegacy(ctx context.Context, conn *pgx.Conn, schema string) error {
	if schema == legacySchema {
		return nil
	}
	var here, there bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL`,
		schema+".applink_ledger", legacySchema+".applink_ledger").Scan(&here, &there); err != nil {
		return fmt.Errorf("look for a state in %s: %w", legacySchema, err)
	}
	if here || !there {
		return nil
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var stmts []string
	target := pgx.Identifier{schema}.Sanitize()
	collect := func(q, format string) error {
		rows, err := tx.Query(ctx, q, legacySchema)
		if err != nil {
			return err
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, n := range names {
			stmts = append(stmts, fmt.Sprintf(format, n, target))
		}
		return nil
	}
	// Functions first: their signatures name the enum types by their
	// schema as it is now.
	err = errors.Join(
		collect(`SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname = $1 AND p.proname LIKE 'river\_%'`, `ALTER FUNCTION %s SET SCHEMA %s`),
		collect(`SELECT quote_ident($1) || '.' || quote_ident(t.typname) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
			WHERE n.nspname = $1 AND t.typtype = 'e' AND t.typname LIKE 'river\_%'`, `ALTER TYPE %s SET SCHEMA %s`),
		collect(`SELECT quote_ident($1) || '.' || quote_ident(tablename) FROM pg_tables WHERE schemaname = $1
			AND (tablename LIKE 'applink\_%' OR tablename LIKE 'river\_%' OR tablename = 'goose_db_version')`, `ALTER TABLE %s SET SCHEMA %s`),
	)
	if err != nil {
		return fmt.Errorf("move the state from %s: %w", legacySchema, err)
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("move the state from %s: %s: %w", legacySchema, q, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("move the state from %s: %w", legacySchema, err)
	}
	return nil
}
