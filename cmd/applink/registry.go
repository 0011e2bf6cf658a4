package main

import (
	"context"
	"io"

	"github.com/applink-dev/applink/connectors/cxone"
	"github.com/applink-dev/applink/connectors/duckdbsource"
	"github.com/applink-dev/applink/connectors/mssql"
	"github.com/applink-dev/applink/connectors/outbox"
	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/delivery"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/duckstate"
	"github.com/applink-dev/applink/engine/state/pgstate"
	"github.com/applink-dev/applink/engine/workspace"
)

// stateDrivers are the state backends this build links, explicitly as the
// connectors are: the engine's packages link none of their own.
func stateDrivers() state.Drivers {
	return state.Drivers{
		state.DriverDuckDB:   duckstate.Driver{},
		state.DriverPostgres: pgstate.Driver{Jobs: delivery.Jobs},
	}
}

// newWorkspace is a spec's workspace with this build's connectors and state
// drivers.
func newWorkspace(plan *engine.Plan, paths workspace.Paths) *workspace.Workspace {
	ws := workspace.New(plan, paths, registry())
	ws.Drivers = stateDrivers()
	return ws
}

// registry names the connectors this build offers, explicitly: no connector
// registers itself (a global registry is a known weakness of benthos's).
func registry() engine.Registry {
	return engine.Registry{
		Sources: map[string]engine.SourceFactory{
			"snapshot": snapshot.Open,
			"mssql":    mssql.Open,
			"duckdb":   duckdbsource.Open,
		},
		// Checked at validate (mssql is reached by `check`, not validate).
		Validators: map[string]engine.SourceValidator{
			"snapshot": snapshot.Validate,
			"duckdb":   duckdbsource.Validate,
		},
		Sinks: map[string]engine.SinkFactory{
			"cxone": func(cfg dsl.Sink, dryRun io.Writer) (engine.Sink, error) {
				s, err := cxone.New(cfg, cxone.Options{DryRun: dryRun})
				if err != nil {
					return nil, err // not a typed nil in the interface
				}
				return s, nil
			},
		},
		Outbox:  func(dir string) engine.Sink { return outbox.NewCumulative(dir) },
		Staging: outbox.Staging{},
		SourceCheckers: map[string]engine.SourceChecker{
			"mssql": mssql.Check,
		},
		SinkCheckers: map[string]engine.SinkChecker{
			"cxone": func(ctx context.Context, cfg dsl.Sink, fields []dsl.Field, w io.Writer) error {
				return cxone.Check(ctx, cfg, fields, w, cxone.Options{})
			},
		},
		// What `applink plan` prints of a source's mapping.
		Describe: map[string]engine.SourceDescriber{"mssql": mssql.Describe},
	}
}
