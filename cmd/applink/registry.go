package main

import (
	"github.com/applink-dev/applink/connectors/duckdbsource"
	"github.com/applink-dev/applink/connectors/mssql"
	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/engine"
)

// registry names the connectors this build offers, explicitly: no connector
// registers itself (a global registry is a known weakness of benthos's).
func registry() engine.Registry {
	return engine.Registry{
		Sources: map[string]engine.SourceFactory{
			"snapshot": snapshot.Open,
			"mssql":    mssql.Open,
			"duckdb":   duckdbsource.Open,
		},
		// What `applink plan` prints of a source's mapping.
		Describe: map[string]engine.SourceDescriber{"mssql": mssql.Describe},
	}
}
