package snapshot

import (
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// Descriptor is the snapshot source: its block in the spec language and
// what the engine calls (cmd/applink puts it in the registry).
func Descriptor() connector.SourceDescriptor {
	return connector.SourceDescriptor{
		Spec: dsl.Connector{
			Block: dsl.BlockSource, Name: "snapshot",
			Doc: "A folder of Engage CSV exports: agents.csv, calls.csv and business_data.csv (shared/README.md §4). Validate opens the folder and reads each header.",
			Attrs: []dsl.Attr{
				{Name: "path", Type: "string", Required: true, Doc: "the snapshot folder, relative to the spec folder"},
			},
		},
		Open:     Open,
		Validate: Validate,
	}
}
