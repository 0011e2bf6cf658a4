package duckdbsource

import (
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// Descriptor is the duckdb source: its block in the spec language and what
// the engine calls (cmd/applink puts it in the registry).
func Descriptor() connector.SourceDescriptor {
	return connector.SourceDescriptor{
		Spec: dsl.Connector{
			Block: dsl.BlockSource, Name: "duckdb",
			Doc: "A DuckDB file holding the snapshot's three tables (agents, calls, business_data). Validate opens the file read-only.",
			Attrs: []dsl.Attr{
				{Name: "path", Type: "string", Required: true, Doc: "the DuckDB file, relative to the spec folder"},
			},
		},
		Open:     Open,
		Validate: Validate,
	}
}
