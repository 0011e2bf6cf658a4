package engine

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

// CheckSources returns diags with the findings of the registry's source
// validators added. They run only on a spec that decoded without errors:
// a path is worth opening once the spec around it is right, and a spec with
// errors is never compiled or run anyway. Every verb that reads sources
// validates through it, so none goes on (creating state or preview files)
// when a source cannot be opened.
func CheckSources(spec *dsl.Spec, diags hcl.Diagnostics, reg Registry) hcl.Diagnostics {
	if spec == nil || diags.HasErrors() {
		return diags
	}
	return append(diags, checkSources(spec.Sources, reg)...)
}

// CheckSources runs the registry's source validators over the plan's
// sources: a saved plan is run without validating the folder again, but
// its sources must still be there.
func (p *Plan) CheckSources(reg Registry) hcl.Diagnostics {
	return checkSources(p.Sources, reg)
}

func checkSources(srcs []dsl.Source, reg Registry) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, s := range srcs {
		if d := reg.Source(s.Driver); d != nil && d.Validate != nil {
			diags = append(diags, d.Validate(s)...)
		}
	}
	return diags
}

// PathError is a validator's finding: an error at the source's `path =`
// value, the detail formatted from format and args.
func PathError(src dsl.Source, summary, format string, args ...any) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...),
		Subject: src.PathRange.Ptr(), Context: src.PathRange.Ptr()}}
}
