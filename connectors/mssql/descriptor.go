package mssql

import (
	"fmt"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// Descriptor is the mssql source (a live Engage on SQL Server): its block
// in the spec language and what the engine calls. It is reached by
// `applink check`, not by validate (no server at validate time).
func Descriptor() connector.SourceDescriptor {
	return connector.SourceDescriptor{
		Spec: dsl.Connector{
			Block: dsl.BlockSource, Name: "mssql",
			Doc: "NICE Engage on SQL Server through go-mssqldb, possibly an Always On listener. Nested blocks: `engage { … column \"…\" { sql = \"…\" } }` (databases and per-column SQL), `media { path_map … }` (where media files are read), `queries { … }` (overrides of the default queries). See connectors/mssql/MAPPING.md.",
			Attrs: []dsl.Attr{
				{Name: "dsn", Type: `env("NAME")`, Required: true, Doc: "the connection string, read from the environment (a literal password is an error), e.g. sqlserver://user@host:1433?database=nice_interactions"},
				{Name: "application_intent", Type: "string", Default: "the server's", Doc: "ReadOnly routes to a readable secondary of an Always On listener; or ReadWrite"},
				{Name: "batch_size", Type: "number", Default: fmt.Sprint(DefaultBatchSize), Doc: "rows per keyset page, 1..1000000"},
				{Name: "query_timeout", Type: "duration", Default: DefaultQueryTimeout.String(), Doc: "how long one query may take"},
			},
		},
		Open:     Open,
		Check:    Check,
		Describe: Describe,
	}
}
