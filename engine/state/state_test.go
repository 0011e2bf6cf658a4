package state_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/duckstate"
	"github.com/applink-dev/applink/engine/state/migrations"
	"github.com/applink-dev/applink/engine/state/pgstate"
	"github.com/applink-dev/applink/engine/state/statetest"
)

// drivers are the state drivers the tests run against, as cmd wires them.
var drivers = state.Drivers{state.DriverDuckDB: duckstate.Driver{}, state.DriverPostgres: pgstate.Driver{}}

// backend is one kind of state the tests run against.
type backend struct {
	name string
	// config returns the state of a fresh spec (dir is the test's folder).
	config func(t *testing.T, dir string) state.Config
	// newer marks the state as written by a newer applink.
	newer func(t *testing.T, b state.Backend)
}

// backends is the table every state test runs over: the embedded DuckDB
// file and PostgreSQL (skipped, saying so, without APPLINK_TEST_PG_DSN).
var backends = []backend{
	{
		name: "duckdb",
		config: func(t *testing.T, dir string) state.Config {
			return state.Config{Path: filepath.Join(dir, "state.duckdb")}
		},
		newer: func(t *testing.T, b state.Backend) {
			if _, err := b.(*duckstate.Store).DB().Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (99, true)`); err != nil {
				t.Fatal(err)
			}
		},
	},
	{
		name: "postgres",
		config: func(t *testing.T, dir string) state.Config {
			return state.Config{Driver: state.DriverPostgres, DSN: statetest.DSN(t), Spec: "acme"}
		},
		newer: func(t *testing.T, b state.Backend) {
			if _, err := b.(*pgstate.Store).Pool().Exec(context.Background(), `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99, true)`); err != nil {
				t.Fatal(err)
			}
		},
	},
}

// eachBackend runs fn as a subtest per backend, with a fresh state open.
func eachBackend(t *testing.T, fn func(t *testing.T, s state.Backend, dir string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := drivers.Open(context.Background(), b.config(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			fn(t, s, dir)
		})
	}
}

// Both drivers migrate from the one source to its latest version, reopen
// without migrating, and refuse a state from a newer applink; a read-only
// open of a state not created yet fails and creates nothing.
func TestMigrateAndRefuseNewer(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.config(t, t.TempDir())
			if _, err := drivers.OpenReadOnly(ctx, cfg); err == nil {
				t.Fatal("a read-only open of a state not created yet succeeded")
			}
			s, err := drivers.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if v, err := s.Version(ctx); err != nil || v != int(migrations.Latest()) {
				t.Fatalf("version %d, %v; want %d", v, err, migrations.Latest())
			}
			s.Close()
			// Opening again migrates nothing and keeps the version.
			if s, err = drivers.Open(ctx, cfg); err != nil {
				t.Fatalf("reopen: %v", err)
			}
			b.newer(t, s)
			s.Close()
			if _, err = drivers.Open(ctx, cfg); !errors.Is(err, state.ErrNewerSchema) {
				t.Fatalf("opening a newer state: %v", err)
			}
			if _, err = drivers.OpenReadOnly(ctx, cfg); !errors.Is(err, state.ErrNewerSchema) {
				t.Fatalf("opening a newer state read-only: %v", err)
			}
		})
	}
}

func TestCommitThenPrior(t *testing.T) { eachBackend(t, statetest.CommitThenPrior) }

func TestAbortLeavesStateUntouched(t *testing.T) {
	eachBackend(t, statetest.AbortLeavesStateUntouched)
}

func TestUpsertKeepsOneRowPerID(t *testing.T) {
	t.Run("in memory", func(t *testing.T) { eachBackend(t, statetest.UpsertKeepsOneRowPerID) })
	t.Run("on disk", func(t *testing.T) {
		statetest.SmallIndexes(t, 1, 1) // the run's keys and the prior index spill at once
		eachBackend(t, statetest.UpsertKeepsOneRowPerID)
	})
}

func TestReportStagingAndEvents(t *testing.T) { eachBackend(t, statetest.ReportStagingAndEvents) }

func TestMediaSentReachesTheLedger(t *testing.T) { eachBackend(t, statetest.MediaSentReachesTheLedger) }

func TestRunRecordRoundTrip(t *testing.T) { eachBackend(t, statetest.RunRecordRoundTrip) }
func TestLedgerCountsOrder(t *testing.T)  { eachBackend(t, statetest.LedgerCountsOrder) }
