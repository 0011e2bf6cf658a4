package dsl

import (
	"path/filepath"
	"regexp"

	"github.com/hashicorp/hcl/v2"
)

// State is a spec's `state` block: where its state lives. Without one the
// state is the embedded DuckDB file SPECDIR/.applink/state.duckdb.
//
//	state {
//	  driver = "postgres"                 # duckdb (default) | postgres
//	  dsn    = env("APPLINK_STATE_DSN")   # postgres: the database, shared by serve and workers
//	  key    = "acme"                     # optional: the spec's key in that database (default: customer)
//	  schema = "applink"                  # optional: the PostgreSQL schema of its tables (default: applink)
//	}
type State struct {
	Driver    string // duckdb | postgres
	Path      string // duckdb: the file, resolved against the spec folder ("" for the default)
	DSN       string // postgres; may come from env("NAME"); empty until set
	DSNEnv    string // the variable env() named, if any, for errors at run time
	Key       string // postgres: the spec's key in a shared database
	Schema    string // postgres: the schema of applink's, goose's and River's tables ("" the default, applink)
	DeclRange hcl.Range
}

// StateDrivers are the drivers of a state block.
var StateDrivers = []string{"duckdb", "postgres"}

var stateBlock = hcl.BlockHeaderSchema{Type: "state"}

// schemaName is what a state's schema may be: a PostgreSQL name that needs
// no quoting (River's rule), short enough for River's notification topics.
var schemaName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,39}$`)

var stateSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "driver", Required: true},
		{Name: "dsn"},
		{Name: "path"},
		{Name: "key"},
		{Name: "schema"},
	},
}

func (d *decoder) decodeState(b *hcl.Block) {
	c, diags := b.Body.Content(d.blockSchema(BlockState, stateSchema))
	d.diags = append(d.diags, diags...)
	st := &State{DeclRange: b.DefRange}
	if a := c.Attributes["driver"]; a != nil {
		if v, ok := d.str(a); ok {
			st.Driver = v
			if drivers := d.names(BlockState, StateDrivers); !contains(drivers, v) {
				d.errorf(a.Expr.Range(), a.Range, "Unknown state driver",
					"The state driver %q is not supported; use \"duckdb\" (a file beside the spec, the default) or \"postgres\" (a database shared by serve and the delivery workers).%s", v, didYouMean(v, drivers))
			}
		}
	}
	dsn, path := c.Attributes["dsn"], c.Attributes["path"]
	if dsn != nil {
		st.DSN, _ = d.str(dsn)
		st.DSNEnv = envName(dsn.Expr, d.ctx)
		// A literal password here is reported (and masked) by the secrets
		// scan that covers every block (secrets.go).
	}
	if path != nil {
		if v, ok := d.str(path); ok && v != "" {
			st.Path = v
			if !filepath.IsAbs(v) {
				st.Path = filepath.Join(d.spec.Dir, v)
			}
		}
	}
	if a := c.Attributes["key"]; a != nil {
		st.Key = d.nonEmpty(a)
	}
	schema := c.Attributes["schema"]
	if schema != nil {
		if v, ok := d.str(schema); ok {
			st.Schema = v
			if !schemaName.MatchString(v) {
				d.errorf(schema.Expr.Range(), schema.Range, "Invalid schema",
					"The schema %q is not a plain PostgreSQL name: use letters, digits and underscores (at most 40, not starting with a digit), e.g. schema = \"applink\".", v)
			}
		}
	}
	switch st.Driver {
	case "postgres":
		if dsn == nil {
			d.errorf(b.DefRange, b.DefRange, "Missing dsn",
				"A postgres state connects with a DSN: set dsn = env(\"APPLINK_STATE_DSN\") and put the connection string (postgres://user@host:5432/db) in that environment variable.")
		}
		if path != nil {
			d.errorf(path.NameRange, path.Range, "Unexpected path", "path names a DuckDB state file; a postgres state has a dsn instead. Remove path.")
		}
	case "duckdb":
		if schema != nil {
			d.errorf(schema.NameRange, schema.Range, "Unexpected schema", "schema names the PostgreSQL schema of a postgres state; a duckdb state is a file. Remove schema, or set driver = \"postgres\".")
		}
		if dsn != nil {
			d.errorf(dsn.NameRange, dsn.Range, "Unexpected dsn", "dsn is for a postgres state; a duckdb state is a file (path, default .applink/state.duckdb). Remove dsn, or set driver = \"postgres\".")
		}
	}
	d.spec.State = st
	d.connBlocks = append(d.connBlocks, connectorBlock{block: BlockState, name: st.Driver,
		cb: ConnectorBlock{Range: b.DefRange, Attrs: c.Attributes, State: st, Body: b.Body}})
}
