package dsl

import (
	"fmt"
	"testing"
)

// TestFieldFacts: the shapes the engine reads directly, and whether a value
// reads bd, come from the compiled tree.
func TestFieldFacts(t *testing.T) {
	tests := []struct {
		typ, value string
		want       Direct
		readsBD    bool
	}{
		{"text", "bd.CustomerID", Direct{Kind: DirectText, BD: "CustomerID"}, true},
		{"text", `bd["Order No"]`, Direct{Kind: DirectText, BD: "Order No"}, true},
		{"text", "(bd.X)", Direct{Kind: DirectText, BD: "X"}, true},
		{"text", "  bd.X  ", Direct{Kind: DirectText, BD: "X"}, true},
		{"text", "bd?.X ?? ''", Direct{}, true},
		{"text", "bd.X + ''", Direct{}, true},
		{"text", "string(bd.X)", Direct{}, true},
		{"text", "bd[call.skill]", Direct{}, true},
		{"text", "call.skill", Direct{}, false},
		{"text", "$env.call.skill", Direct{}, true}, // $env reads every name
		{"text", "upper(call.skill)", Direct{}, false},
		{"number", "float(bd.Total)", Direct{Kind: DirectFloat, BD: "Total"}, true},
		{"number", "float(bd.Total) + 1", Direct{}, true},
		{"number", "call.duration_ms", Direct{}, false},
		{"boolean", "bd.Tier == 'gold'", Direct{Kind: DirectEqual, BD: "Tier", Lit: "gold"}, true},
		{"boolean", `"gold" == bd.Tier`, Direct{Kind: DirectEqual, BD: "Tier", Lit: "gold"}, true},
		{"boolean", "(bd.Tier == 'gold')", Direct{Kind: DirectEqual, BD: "Tier", Lit: "gold"}, true},
		{"boolean", "bd.Tier != 'gold'", Direct{}, true},
		{"boolean", "bd.A == bd.B", Direct{}, true},
		{"boolean", "call.skill == 'x'", Direct{}, false},
		{"boolean", "all(agent?.agent_ids ?? [], {# != bd.X})", Direct{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.value, func(t *testing.T) {
			src := minimal + fmt.Sprintf("field %q \"F\" { value = %q }\n", tt.typ, tt.value)
			spec, diags := Parse("s", map[string][]byte{"a.hcl": []byte(src)})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			f := spec.Fields[0]
			if f.Direct != tt.want || f.ReadsBD != tt.readsBD {
				t.Errorf("Direct %+v ReadsBD %v; want %+v %v", f.Direct, f.ReadsBD, tt.want, tt.readsBD)
			}
		})
	}
}

// TestFilterFacts: the tenant equality a source pushes down, and whether a
// filter reads bd.
func TestFilterFacts(t *testing.T) {
	tests := []struct {
		block, where string
		tenant       int64
		tenantOK     bool
		readsBD      bool
	}{
		{"tenant", "tenant_id == 12", 12, true, false},
		{"tenant", "12 == tenant_id", 12, true, false},
		{"tenant", "(tenant_id == 7)", 7, true, false},
		{"tenant", "tenant_id == -3", -3, true, false},
		{"tenant", "tenant_id != 12", 0, false, false},
		{"tenant", "tenant_id in [1, 2]", 0, false, false},
		{"tenant", "tenant_id == 1 || tenant_id == 2", 0, false, false},
		{"tenant", "tenant_id == 1.5", 0, false, false},
		{"tenant", "tenant_id == tenant_id", 0, false, false},
		{"tenant", "true", 0, false, false},
		{"calls", "call.direction != 'internal'", 0, false, false},
		{"calls", "bd.Queue == 'vip' || call.skill == 'vip'", 0, false, true},
		{"calls", "any(['a'], {bd[#] != ''})", 0, false, true},
		{"agents", "agent.email endsWith '@x'", 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.block+" "+tt.where, func(t *testing.T) {
			src := minimal + fmt.Sprintf("%s { where = %q }\n", tt.block, tt.where)
			spec, diags := Parse("s", map[string][]byte{"a.hcl": []byte(src)})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			f := map[string]*Filter{"tenant": spec.Tenant, "calls": spec.Calls, "agents": spec.Agents}[tt.block]
			n, ok := TenantEquals(f)
			if n != tt.tenant || ok != tt.tenantOK || f.ReadsBD != tt.readsBD || f.Block != tt.block {
				t.Errorf("TenantEquals %d, %v; ReadsBD %v; Block %q", n, ok, f.ReadsBD, f.Block)
			}
		})
	}
	if _, ok := TenantEquals(nil); ok {
		t.Error("TenantEquals(nil) reported a tenant")
	}
	// Only a tenant block's filter is pushed down as a tenant.
	spec, _ := Parse("s", map[string][]byte{"a.hcl": []byte(minimal + "calls { where = \"call.tenant_id == 3\" }\n")})
	if _, ok := TenantEquals(spec.Calls); ok {
		t.Error("a calls filter counted as a tenant equality")
	}
}
