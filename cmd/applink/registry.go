package main

import (
	"io"

	"github.com/applink-dev/applink/connectors/cxone"
	"github.com/applink-dev/applink/connectors/duckdbsource"
	"github.com/applink-dev/applink/connectors/mssql"
	"github.com/applink-dev/applink/connectors/outbox"
	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
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
// Each is its descriptor: its block in the spec language, open, check and
// describe.
func registry() engine.Registry { return registryWith(cxone.Options{}) }

// registryWith is registry with the cxone sink's options (the demo points
// it at an in-process fake with that fake's credentials).
func registryWith(cx cxone.Options) engine.Registry {
	return engine.Registry{
		Sources: []connector.SourceDescriptor{snapshot.Descriptor(), duckdbsource.Descriptor(), mssql.Descriptor()},
		Sinks:   []connector.SinkDescriptor{counted(cxone.Descriptor(cx))},
		States:  stateConnectors,
		// The cumulative outbox, and the segments of queued runs and workers.
		Outbox:  func(dir string) connector.Sink { return outbox.NewFolder(dir) },
		Staging: outbox.Staging{},
	}
}

// stateConnectors describe the state block's drivers. The block is decoded
// by dsl (state.go) and opened by engine/state; these say what each driver
// takes, for validate's names and the reference page. (They belong with
// the drivers, engine/state/duckstate and pgstate: a move for the lead.)
var stateConnectors = []dsl.Connector{
	{Block: dsl.BlockState, Name: "duckdb", Doc: "A DuckDB file per spec: the embedded default, for one process.",
		Attrs: []dsl.Attr{
			{Name: "driver", Type: "string", Required: true, Doc: "duckdb"},
			{Name: "path", Type: "string", Default: ".applink/state.duckdb", Doc: "the state file, relative to the spec folder"},
		}},
	{Block: dsl.BlockState, Name: "postgres", Doc: "A PostgreSQL database shared by serve and the delivery workers on any number of machines.",
		Attrs: []dsl.Attr{
			{Name: "driver", Type: "string", Required: true, Doc: "postgres"},
			{Name: "dsn", Type: `env("NAME")`, Required: true, Doc: "postgres://user@host:5432/db, read from the environment (a literal password is an error)"},
			{Name: "key", Type: "string", Default: "the spec's customer", Doc: "the spec's key in a shared database"},
		}},
}

// counted gives the CXone sinks a descriptor opens the counters serve's
// /metrics reads (applink_sink_requests_total, _retries_total,
// _failures_total).
func counted(d connector.SinkDescriptor) connector.SinkDescriptor {
	open := d.Open
	d.Open = func(cfg dsl.Sink, dryRun io.Writer) (connector.Sink, error) {
		s, err := open(cfg, dryRun)
		if err != nil {
			return nil, err
		}
		if c, ok := s.(*cxone.Sink); ok {
			return countedSink{c}, nil
		}
		return s, nil
	}
	return d
}

// countedSink is the CXone sink with serve's counters.
type countedSink struct{ *cxone.Sink }

func (s countedSink) SinkCounters() (requests, retries, failures int64) {
	st := s.Stats()
	return st.Requests, st.Retries, st.CallsFailed + st.AgentsFailed
}
