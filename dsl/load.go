package dsl

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Load reads every *.hcl file of dir (sorted by name) and parses them as one
// spec. It returns the (possibly partial) Spec and every diagnostic found.
func Load(dir string) (*Spec, hcl.Diagnostics) { return load(dir, LoadOptions{}) }

func load(dir string, opts LoadOptions) (*Spec, hcl.Diagnostics) {
	dirRange := &hcl.Range{Filename: dir, Start: hcl.InitialPos, End: hcl.InitialPos}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return &Spec{Dir: dir}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read spec folder",
			Detail:   fmt.Sprintf("Reading the spec folder failed: %s. Give the path of a folder holding the spec's *.hcl files.", err),
			Subject:  dirRange,
		}}
	}
	files := map[string][]byte{}
	var diags hcl.Diagnostics
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read spec file",
				Detail:   fmt.Sprintf("Reading %s failed: %s.", e.Name(), err),
				Subject:  &hcl.Range{Filename: filepath.Join(dir, e.Name()), Start: hcl.InitialPos, End: hcl.InitialPos},
			})
			continue
		}
		files[e.Name()] = b
	}
	spec, more := parse(dir, files, opts)
	return spec, append(diags, more...)
}

// Parse is the in-memory form of Load: files maps a file name (relative to
// dir) to its contents. Names not ending in .hcl are ignored, so a txtar
// archive holding a spec next to its data can be passed whole. Ranges in the
// diagnostics and the Spec name files as filepath.Join(dir, name).
func Parse(dir string, files map[string][]byte) (*Spec, hcl.Diagnostics) {
	return parse(dir, files, LoadOptions{})
}

func parse(dir string, files map[string][]byte, opts LoadOptions) (*Spec, hcl.Diagnostics) {
	spec := &Spec{
		Dir:          dir,
		Files:        map[string][]byte{},
		HCLFiles:     map[string]*hcl.File{},
		BackfillDays: DefaultBackfillDays,
		Staging:      Staging{RetentionDays: defaultRetentionDays},
	}
	var names []string
	for name, b := range files {
		if strings.HasSuffix(name, ".hcl") {
			names = append(names, name)
			spec.Files[name] = b
		}
	}
	sort.Strings(names)
	d := &decoder{spec: spec, src: map[string][]byte{}, ctx: evalContext(), conns: opts.Connectors}
	if len(names) == 0 {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No spec files",
			Detail:   fmt.Sprintf("The folder %s holds no *.hcl file. A spec folder needs at least a spec block and a source block in one or more .hcl files.", dir),
			Subject:  &hcl.Range{Filename: dir, Start: hcl.InitialPos, End: hcl.InitialPos},
		})
		return spec, d.diags
	}
	var blocks []*hcl.Block
	for _, name := range names {
		fn := filepath.Join(dir, name)
		d.src[fn] = files[name]
		f, diags := hclsyntax.ParseConfig(files[name], fn, hcl.InitialPos)
		d.diags = append(d.diags, diags...)
		if f == nil {
			continue
		}
		spec.HCLFiles[fn] = f
		if d.first == "" {
			d.first = fn
		}
		content, diags := f.Body.Content(rootSchema)
		d.diags = append(d.diags, diags...)
		blocks = append(blocks, content.Blocks...)
	}
	if d.first == "" {
		d.first = filepath.Join(dir, names[0])
	}
	d.decodeBlocks(blocks)
	d.scanSecrets(sortedKeys(spec.HCLFiles))
	d.validate()
	d.validateConnectors()
	sortDiags(d.diags)
	return spec, d.diags
}

// sortDiags orders diagnostics by file and position, so that output is
// stable (hcl reports unknown attributes in map order) and reads top-down.
func sortDiags(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
}

const defaultRetentionDays = 90

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "spec"},
		{Type: "source", LabelNames: []string{"type", "name"}},
		{Type: "tenant"},
		{Type: "agents"},
		{Type: "calls"},
		{Type: "field", LabelNames: []string{"type", "name"}},
		{Type: "staging"},
		{Type: "sink", LabelNames: []string{"kind"}},
		stateBlock,
		scheduleBlock,
	},
}

var specSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "customer", Required: true},
		{Name: "cxone_tenant", Required: true},
		{Name: "installed_at", Required: true},
		{Name: "backfill_requested_at"},
		{Name: "backfill_days"},
	},
}

var sourceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "driver", Required: true},
		{Name: "path"},
		{Name: "system_id", Required: true},
		{Name: "site"},
		{Name: "dsn"},
		{Name: "application_intent"},
		{Name: "batch_size"},
		{Name: "query_timeout"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "queries"}, {Type: "engage"}, {Type: "media"}},
}

var filterSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "where", Required: true}},
}

var fieldSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "value", Required: true},
		{Name: "on_error"},
	},
}

var stagingSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "retention_days"}},
}

var sinkSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "api_url"},  // optional: discovered from the tenant
		{Name: "auth_url"}, // optional: CXone's published issuer
		{Name: "concurrency"},
		{Name: "requests_per_second"},
		{Name: "timeout"},
		{Name: "calls_path"},
		{Name: "media_path"},
		{Name: "role"},
		{Name: "external_identity"},
		{Name: "business_data_requests_per_second"},
	},
}

// Drivers are the source drivers the spec language knows.
var Drivers = []string{"snapshot", "duckdb", "mssql"}

var (
	fieldTypes     = []string{TypeText, TypeNumber, TypeBoolean}
	onErrors       = []string{OnErrorOmit, OnErrorExclude}
	intents        = []string{"ReadOnly", "ReadWrite"}
	sourceKinds    = []string{"engage"}
	sinkKinds      = []string{"cxone"}
	singletonNames = map[string]string{"spec": "spec", "tenant": "tenant", "agents": "agents", "calls": "calls", "staging": "staging", "sink": "sink", "state": "state", scheduleBlock.Type: scheduleBlock.Type}
)
