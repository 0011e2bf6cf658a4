package engine

import (
	"github.com/applink-dev/applink/dsl"
	"github.com/hashicorp/hcl/v2"
)

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
