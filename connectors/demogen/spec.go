package demogen

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// SpecFile is the file WriteSpec writes in the spec folder.
const SpecFile = "main.hcl"

// Names of the demo spec.
const (
	DemoCustomer    = "demo"
	DemoCXoneTenant = "demo-eu1"
	DemoSystemID    = "engage-demo"
)

// WriteSpec writes specDir/main.hcl: the demo spec reading the snapshot at
// dataPath (made relative to specDir when possible), with one field block
// per business-data name Generate writes for opt. Its output depends only on
// the options that shape the spec (times, fields, tenants), not on Calls or
// Seed.
//
// With several tenants it adds a tenant block keeping the first, since a
// multi-tenant Engage needs one (shared/README.md §3).
func WriteSpec(specDir, dataPath string, opt Options) error {
	o := opt.WithDefaults()
	if err := o.validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(specDir, 0o755); err != nil {
		return fmt.Errorf("demogen: %w", err)
	}
	if err := os.WriteFile(filepath.Join(specDir, SpecFile), specText(specDir, dataPath, o), 0o644); err != nil {
		return fmt.Errorf("demogen: %w", err)
	}
	return nil
}

// specText renders the spec of defaulted options.
func specText(specDir, dataPath string, o Options) []byte {
	var b bytes.Buffer
	w := func(s ...string) {
		for _, x := range s {
			b.WriteString(x)
		}
	}
	w("# Demo spec written by applink demo (connectors/demogen).\n",
		"# It reads generated Engage snapshot data; see that package's doc for what\n",
		"# the data holds and which exclusion reasons it exercises.\n\n")
	w("spec {\n",
		"  customer              = ", hclString(DemoCustomer), "\n",
		"  cxone_tenant          = ", hclString(DemoCXoneTenant), "\n",
		"  installed_at          = ", hclString(o.InstalledAt.Format(time.RFC3339)), "\n",
		"  backfill_requested_at = ", hclString(o.BackfillRequestedAt.Format(time.RFC3339)), "\n",
		"}\n\n")
	w(`source "engage" "dc1" {`, "\n",
		"  driver    = ", hclString("snapshot"), "\n",
		"  path      = ", hclString(relPath(specDir, dataPath)), "\n",
		"  system_id = ", hclString(DemoSystemID), "\n",
		"}\n\n")
	if len(o.TenantIDs) > 1 {
		w("tenant {\n",
			"  where = ", hclString("tenant_id == "+strconv.FormatInt(o.TenantIDs[0], 10)), "\n",
			"}\n\n")
	}
	w("# Test accounts of the QA team are not real agents. Engage emails may carry\n",
		"# stray spaces and capitals, hence trim and lower.\n",
		"agents {\n",
		"  where = ", hclString("!(lower(trim(agent.email)) endsWith '@test.example')"), "\n",
		"}\n\n")
	w("# Internal calls (agent to agent) are not quality-managed.\n",
		"calls {\n",
		"  where = ", hclString(`call.direction != "internal"`), "\n",
		"}\n")
	for _, f := range fieldsFor(o.BDFields) {
		w("\n")
		switch f.typ {
		case typeText:
			w(`field "text" `, hclString(f.name), " {\n",
				"  value = ", hclString("bd."+f.name), "\n",
				"}\n")
		case typeNumber:
			w(`field "number" `, hclString(f.name), " {\n",
				"  value    = ", hclString("float(bd."+f.name+")"), "\n",
				"  on_error = ", hclString("omit"), "\n",
				"}\n")
		case typeBoolean:
			w(`field "boolean" `, hclString(f.name), " {\n",
				"  value = ", hclString("bd."+f.name+" == 'true'"), "\n",
				"}\n")
		}
	}
	return b.Bytes()
}

// relPath is dataPath relative to specDir when both resolve and the result
// is clean, else dataPath as given (made absolute when possible). HCL paths
// use forward slashes.
func relPath(specDir, dataPath string) string {
	if !filepath.IsAbs(dataPath) {
		if abs, err := filepath.Abs(dataPath); err == nil {
			dataPath = abs
		}
	}
	if sd, err := filepath.Abs(specDir); err == nil {
		if rel, err := filepath.Rel(sd, dataPath); err == nil {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(dataPath)
}

// hclString quotes s as an HCL string literal: escapes, and template
// sequences ${ and %{ doubled so they stay literal.
func hclString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '$', '%':
			b.WriteByte(c)
			if i+1 < len(s) && s[i+1] == '{' {
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
