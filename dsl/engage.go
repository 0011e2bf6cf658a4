package dsl

import (
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Canonical columns of the Engage data every source maps onto: the columns
// of the snapshot format (shared/README.md §4), in its order.
var (
	AgentColumns = []string{"user_id", "agent_id", "first_name", "last_name", "email", "active", "is_agent", "tenant_id", "created_at"}
	CallColumns  = []string{"call_id", "tenant_id", "site", "agent_id", "start_time", "duration_ms", "direction", "ani", "dnis", "archived", "audio_packets", "status", "exception_code", "media_path", "skill"}
	BDColumns    = []string{"call_id", "name", "value"}
)

// The three canonical queries of a SQL source: the keys of `queries { … }`
// and the prefixes of an `engage` column name ("agents.email").
const (
	QueryAgents       = "agents"
	QueryCalls        = "calls"
	QueryBusinessData = "business_data"
)

// QueryNames lists the canonical queries in a stable order.
var QueryNames = []string{QueryAgents, QueryCalls, QueryBusinessData}

// Engage is an mssql source's `engage { … }` block: where the Engage
// databases are and, per canonical column, the SQL expression that feeds it
// instead of the connector's default. Unset settings are "" (the
// connector's defaults apply); the connector owns the defaults and the SQL.
type Engage struct {
	InteractionsDatabase EngageSetting
	StorageDatabase      EngageSetting
	AdminDatabase        EngageSetting
	Schema               EngageSetting
	Columns              []EngageColumn
	Range                hcl.Range // the block header
}

// EngageSetting is one attribute of the engage block.
type EngageSetting struct {
	Value string    // "" when the spec does not set it
	Range hcl.Range // the value in the spec, when set
}

// EngageColumn is one `column "NAME" { sql = "…" }` of the engage block.
type EngageColumn struct {
	Query  string // QueryCalls, QueryAgents or QueryBusinessData
	Column string // a canonical column of that query
	SQL    string
	Range  hcl.Range // the sql value
	Decl   hcl.Range // the column's label
}

// Name is the column as the spec names it: bare for calls ("duration_ms"),
// prefixed otherwise ("agents.email").
func (c EngageColumn) Name() string {
	if c.Query == QueryCalls {
		return c.Column
	}
	return c.Query + "." + c.Column
}

// Media is a source's `media { path_map { from = … to = … } }` block: where
// the recorded media paths (UNC paths on Engage's storage) are mounted here.
type Media struct {
	PathMaps []PathMap
	Range    hcl.Range
}

// PathMap maps a prefix of recorded media paths to a local folder.
type PathMap struct {
	From  string    // e.g. \\nas01\NICE
	To    string    // e.g. /mnt/nas01/NICE; resolved against the spec folder when relative
	Range hcl.Range // the path_map block
}

// EngageColumnNames lists every name an engage column block may take.
func EngageColumnNames() []string {
	var out []string
	for _, c := range CallColumns {
		if c != "site" {
			out = append(out, c)
		}
	}
	for _, c := range AgentColumns {
		out = append(out, QueryAgents+"."+c)
	}
	for _, c := range BDColumns {
		out = append(out, QueryBusinessData+"."+c)
	}
	return out
}

// parseEngageColumn splits a column block's label into query and column.
func parseEngageColumn(name string) (query, column string, ok bool) {
	query, column = QueryCalls, name
	if q, c, qualified := strings.Cut(name, "."); qualified {
		query, column = q, c
	}
	var cols []string
	switch query {
	case QueryCalls:
		cols = CallColumns
	case QueryAgents:
		cols = AgentColumns
	case QueryBusinessData:
		cols = BDColumns
	}
	return query, column, contains(cols, column) && !(query == QueryCalls && column == "site")
}

var (
	engageSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "interactions_database"}, {Name: "storage_database"}, {Name: "admin_database"}, {Name: "schema"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "column", LabelNames: []string{"name"}}},
	}
	engageColumnSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "sql", Required: true}}}
	mediaSchema        = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "path_map"}}}
	pathMapSchema      = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "from", Required: true}, {Name: "to", Required: true}}}
)

// decodeSourceBlocks decodes the engage and media blocks of a source block
// and checks its queries block's names. It runs after the source's
// attributes (the driver) and its queries block are decoded.
func (d *decoder) decodeSourceBlocks(src *Source, blocks []*hcl.Block) {
	var engage, media *hcl.Block
	for _, b := range blocks {
		switch b.Type {
		case "queries":
			d.checkQueryNames(b)
		case "engage", "media":
			first := &engage
			if b.Type == "media" {
				first = &media
			}
			if *first != nil {
				d.errorf(b.DefRange, blockRange(b), "Duplicate "+b.Type+" block",
					"A source has at most one %s block; the first is at %s. Merge them.", b.Type, rangeStart((*first).DefRange))
				continue
			}
			*first = b
			if src.Driver != "" && src.Driver != "mssql" {
				d.errorf(b.DefRange, blockRange(b), "Unexpected "+b.Type+" block",
					"The %s block configures how an mssql source reads a live Engage; this source's driver is %q, whose data is already in the canonical columns. Remove the block, or set driver = \"mssql\".", b.Type, src.Driver)
				continue
			}
			if b.Type == "engage" {
				src.Engage = d.decodeEngage(b, src)
			} else {
				src.Media = d.decodeMedia(b)
			}
		}
	}
}

func (d *decoder) checkQueryNames(b *hcl.Block) {
	attrs, _ := b.Body.JustAttributes() // the queries decoding reports its diagnostics
	for name, a := range attrs {
		if !contains(QueryNames, name) {
			d.errorf(a.NameRange, a.Range, "Unknown query",
				"A queries block replaces whole canonical queries: %s.%s", quoteList(QueryNames), didYouMean(name, QueryNames))
		}
	}
}

func (d *decoder) decodeEngage(b *hcl.Block, src *Source) *Engage {
	c, diags := b.Body.Content(engageSchema)
	d.diags = append(d.diags, diags...)
	e := &Engage{Range: b.DefRange}
	for name, set := range map[string]*EngageSetting{
		"interactions_database": &e.InteractionsDatabase, "storage_database": &e.StorageDatabase,
		"admin_database": &e.AdminDatabase, "schema": &e.Schema,
	} {
		a := c.Attributes[name]
		if a == nil {
			continue
		}
		v := d.nonEmpty(a)
		if strings.ContainsAny(v, ".[]") {
			d.errorf(a.Expr.Range(), a.Range, "Invalid "+name,
				"%s is one SQL Server name, without brackets or dots (the schema has its own setting, schema = \"dbo\"); %q is not one.", name, v)
			continue
		}
		*set = EngageSetting{Value: v, Range: a.Expr.Range()}
	}
	seen := map[string]hcl.Range{}
	for _, cb := range c.Blocks {
		name := cb.Labels[0]
		query, column, ok := parseEngageColumn(name)
		switch {
		case name == "site":
			d.errorf(cb.LabelRanges[0], cb.DefRange, "Unknown canonical column",
				"A call's site comes from the source block's site attribute, not from Engage; set site = \"…\" on the source instead.")
			continue
		case !ok:
			d.errorf(cb.LabelRanges[0], cb.DefRange, "Unknown canonical column",
				"A column block names the canonical column its SQL feeds (shared/README.md §4): calls columns by name (\"duration_ms\"), agents and business-data columns with their query (\"agents.email\", \"business_data.value\").%s",
				didYouMean(name, EngageColumnNames()))
			continue
		}
		if prev, dup := seen[name]; dup {
			d.errorf(cb.LabelRanges[0], cb.DefRange, "Duplicate column",
				"The column %q is already mapped at %s; keep one of the two.", name, rangeStart(prev))
			continue
		}
		seen[name] = cb.LabelRanges[0]
		if _, replaced := src.Queries[query]; replaced {
			d.errorf(cb.LabelRanges[0], cb.DefRange, "Column override without effect",
				"queries.%s replaces the whole %s query of this source, so this column's SQL would never be used. Write the expression in that query instead, or remove queries.%s to use the default query with this column.", query, query, query)
			continue
		}
		cc, diags := cb.Body.Content(engageColumnSchema)
		d.diags = append(d.diags, diags...)
		a := cc.Attributes["sql"]
		if a == nil {
			continue
		}
		if v := d.nonEmpty(a); strings.TrimSpace(v) != "" {
			e.Columns = append(e.Columns, EngageColumn{Query: query, Column: column, SQL: strings.TrimSpace(v), Range: a.Expr.Range(), Decl: cb.LabelRanges[0]})
		}
	}
	return e
}

func (d *decoder) decodeMedia(b *hcl.Block) *Media {
	c, diags := b.Body.Content(mediaSchema)
	d.diags = append(d.diags, diags...)
	m := &Media{Range: b.DefRange}
	seen := map[string]hcl.Range{}
	for _, pb := range c.Blocks {
		pc, diags := pb.Body.Content(pathMapSchema)
		d.diags = append(d.diags, diags...)
		from, to := d.nonEmpty(pc.Attributes["from"]), d.nonEmpty(pc.Attributes["to"])
		if from == "" || to == "" {
			continue
		}
		// Windows paths compare case-insensitively and either slash separates.
		key := strings.ToLower(strings.TrimRight(strings.ReplaceAll(from, "/", `\`), `\`))
		if prev, dup := seen[key]; dup {
			a := pc.Attributes["from"]
			d.errorf(a.Expr.Range(), a.Range, "Duplicate path_map",
				"The prefix %q is already mapped at %s; keep one of the two.", from, rangeStart(prev))
			continue
		}
		seen[key] = pb.DefRange
		if !filepath.IsAbs(to) {
			to = filepath.Join(d.spec.Dir, to)
		}
		m.PathMaps = append(m.PathMaps, PathMap{From: from, To: to, Range: pb.DefRange})
	}
	if len(m.PathMaps) == 0 {
		d.errorf(b.DefRange, blockRange(b), "Empty media block",
			"A media block maps recorded media paths to local folders with one or more path_map blocks, e.g.\n\nmedia {\n  path_map {\n    from = \"\\\\\\\\nas01\\\\NICE\"\n    to   = \"/mnt/nas01/NICE\"\n  }\n}")
	}
	return m
}
