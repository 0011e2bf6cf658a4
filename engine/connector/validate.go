package connector

import (
	"fmt"

	"github.com/applink-dev/applink/dsl"
	"github.com/hashicorp/hcl/v2"
)

// SourceValidator checks, at validate time, that a source block names
// something its connector can open (a snapshot folder with its files, a
// DuckDB file with its tables), reporting at src.PathRange. It must be quick
// and must not create anything. The dsl cannot do this itself: it knows no
// connector.
type SourceValidator func(src dsl.Source) hcl.Diagnostics

// PathError is a validator's finding: an error at the source's `path =`
// value, the detail formatted from format and args.
func PathError(src dsl.Source, summary, format string, args ...any) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...),
		Subject: src.PathRange.Ptr(), Context: src.PathRange.Ptr()}}
}
