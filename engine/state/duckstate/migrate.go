package duckstate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"

	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/migrations"
)

// versionTable is goose's table in the file.
const versionTable = "goose_db_version"

// querier is goose's SQL for DuckDB (goose has no DuckDB dialect): the
// version table and its queries, as goose's own dialects write them.
type querier struct{}

func (querier) CreateTable(t string) string {
	return `CREATE TABLE ` + t + ` (version_id BIGINT NOT NULL, is_applied BOOLEAN NOT NULL, tstamp TIMESTAMP NOT NULL DEFAULT current_timestamp)`
}
func (querier) InsertVersion(t string) string {
	return `INSERT INTO ` + t + ` (version_id, is_applied) VALUES ($1, $2)`
}
func (querier) DeleteVersion(t string) string { return `DELETE FROM ` + t + ` WHERE version_id = $1` }
func (querier) GetMigrationByVersion(t string) string {
	return `SELECT tstamp, is_applied FROM ` + t + ` WHERE version_id = $1 ORDER BY tstamp DESC LIMIT 1`
}
func (querier) ListMigrations(t string) string {
	return `SELECT version_id, is_applied FROM ` + t + ` ORDER BY version_id DESC`
}
func (querier) GetLatestVersion(t string) string { return `SELECT max(version_id) FROM ` + t }
func (querier) TableExists(t string) string {
	return `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '` + t + `')`
}

func tableExists(ctx context.Context, db *sql.DB, t string) (bool, error) {
	var ok bool
	err := db.QueryRowContext(ctx, querier{}.TableExists(t)).Scan(&ok)
	return ok, err
}

// version is the file's schema version: its latest applied migration (0
// for a new file). A file of the hand-written migrations before goose
// (a schema_version table) counts as its version.
func version(ctx context.Context, db *sql.DB) (int64, error) {
	if ok, err := tableExists(ctx, db, versionTable); err != nil || ok {
		if err != nil {
			return 0, err
		}
		var v sql.NullInt64
		err := db.QueryRowContext(ctx, `SELECT max(version_id) FROM `+versionTable+` WHERE is_applied`).Scan(&v)
		return v.Int64, err
	}
	if ok, err := tableExists(ctx, db, "schema_version"); err != nil || !ok {
		return 0, err
	}
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT max(version) FROM schema_version`).Scan(&v)
	return v.Int64, err
}

// migrate brings a file to this build's schema with goose; a newer file is
// refused.
func migrate(ctx context.Context, db *sql.DB) error {
	cur, err := version(ctx, db)
	if err != nil {
		return err
	}
	if latest := migrations.Latest(); cur > latest {
		return fmt.Errorf("%w (schema version %d; this build knows up to %d): upgrade applink", state.ErrNewerSchema, cur, latest)
	}
	if err := adoptLegacy(ctx, db); err != nil {
		return err
	}
	store, err := database.NewStoreFromQuerier(versionTable, querier{})
	if err != nil {
		return err
	}
	fsys, err := migrations.FS(migrations.DuckDB)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectCustom, db, fsys, goose.WithStore(store), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// adoptLegacy turns the version table of the hand-written migrations
// before goose (schema_version, version 1 = goose's 00001) into goose's.
func adoptLegacy(ctx context.Context, db *sql.DB) error {
	ok, err := tableExists(ctx, db, "schema_version")
	if err != nil || !ok {
		return err
	}
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(version) FROM schema_version`).Scan(&v); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmts := []string{querier{}.CreateTable(versionTable), `INSERT INTO ` + versionTable + ` (version_id, is_applied) VALUES (0, true)`}
	for i := int64(1); i <= v.Int64; i++ {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO %s (version_id, is_applied) VALUES (%d, true)`, versionTable, i))
	}
	stmts = append(stmts, `DROP TABLE schema_version`)
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("adopt the schema version: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return errors.Join(errors.New("adopt the schema version"), err)
	}
	return nil
}
