package dsl

import (
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"
)

// Field types of CXone business data, with the seed's limits per type.
const (
	TypeText    = "text"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
)

// Limits of business-data fields per type (shared/README.md §2).
var FieldLimits = map[string]int{TypeText: 35, TypeNumber: 10, TypeBoolean: 5}

// on_error policies of a field.
const (
	OnErrorOmit    = "omit"    // leave the field out of the call, count a warning
	OnErrorExclude = "exclude" // exclude the call with reason mapping_error
)

// DefaultBackfillDays is how far before backfill_requested_at a backfill
// reaches unless backfill_days narrows it.
const DefaultBackfillDays = 7

// Spec is a customer's spec folder, decoded and validated. Every expression in
// it is compiled. A Spec returned with error diagnostics is partial: use it
// only to show what was understood.
type Spec struct {
	Dir   string            // the spec folder as given
	Files map[string][]byte // file name relative to Dir -> contents, for hashing and snippets
	// HCLFiles are the parsed files keyed by the file name used in ranges
	// (Dir joined with the file name), for rendering diagnostics with snippets.
	HCLFiles map[string]*hcl.File

	Customer            string
	CXoneTenant         string
	InstalledAt         time.Time
	BackfillRequestedAt time.Time // zero when no backfill was requested
	BackfillDays        int       // 1..7; DefaultBackfillDays when unset
	SpecRange           hcl.Range // the spec block

	Sources []Source
	Tenant  *Filter // nil: every tenant
	Agents  *Filter // nil: every agent
	Calls   *Filter // nil: every call
	Fields  []Field

	Schedule Schedule // how often `applink serve` runs it (schedule.go)

	Staging Staging
	Sink    *Sink  // nil: the outbox, chosen on the command line
	State   *State // nil: the DuckDB file beside the spec

	// Literal secrets found in the files (secrets.go): every renderer masks
	// them (mask.go).
	secrets    []secretSpan
	secretText []string
}

// Source is one `source "engage" NAME` block: one site of one Engage system.
type Source struct {
	Name     string
	Driver   string // snapshot | duckdb | mssql
	Path     string // snapshot folder or DuckDB file, resolved against Dir
	SystemID string
	Site     string // defaults to Name
	// PathRange is where path's value is written: checks of the folder or
	// file (engine.CheckSources) report there.
	PathRange hcl.Range `json:"-"`

	// mssql only.
	DSN               string `json:"-"` // may come from env("NAME"): a secret, never hashed or printed
	DSNEnv            string // the variable env() named, if any, for errors at run time
	ApplicationIntent string // "" or ReadOnly
	BatchSize         int
	QueryTimeout      time.Duration
	Queries           map[string]string // overrides of the default queries, by name
	Engage            *Engage           // the engage block (database names, column SQL); nil when absent
	Media             *Media            // the media block (path maps); nil when absent

	DeclRange hcl.Range `json:"-"`
}

// Filter is a compiled `where` expression of a tenant, agents or calls block.
type Filter struct {
	Block   string      // tenant | agents | calls
	Source  string      // the expression text as written
	Program *vm.Program // compiled against the block's environment; yields bool
	Range   hcl.Range   // the expression in the .hcl file

	// Facts read once from the compiled tree (facts.go).
	ReadsBD  bool     // the expression names bd: the engine builds the map only then
	BDNames  []string // the business-data names it reads by name (bd.X), first use first
	TenantID *int64   // set when the filter is exactly tenant_id == N (push-down)

	pos exprMap // expr positions -> file positions, for RunError
}

// Field is one `field TYPE NAME` block: a CXone business-data field.
type Field struct {
	Type    string // text | number | boolean
	Name    string
	Value   string      // the expression text
	Program *vm.Program // compiled against CallEnv
	OnError string      // omit | exclude
	Range   hcl.Range   // the value expression
	Decl    hcl.Range   // the block header

	// Facts read once from the compiled tree (facts.go).
	ReadsBD bool     // the value names bd: the engine builds the map only then
	BDNames []string // the business-data names it reads by name (bd.X), first use first
	Direct  Direct   // a shape the engine reads without the VM, if any

	pos exprMap // expr positions -> file positions, for RunError
}

// Staging configures the 90-day store-and-forward area.
type Staging struct {
	RetentionDays int // default 90
}

// Sink is a `sink "cxone" { … }` block. Zero values mean the connector's
// defaults (connectors/cxone). Credentials are not part of it: the sink reads
// them from the environment (secrets.go names the variables).
type Sink struct {
	Kind              string // cxone
	APIURL            string // "": discovered from the tenant
	AuthURL           string // the issuer; "": CXone's published one
	Concurrency       int
	RequestsPerSecond float64
	Timeout           time.Duration
	CallsPath         string
	MediaPath         string
	// Role of the CXone users the sink creates ("": Agent).
	Role string
	// ExternalIdentity writes the Engage user id into the CXone user's
	// externalIdentity (which may hold the SSO identity: off by default).
	ExternalIdentity bool
	// BusinessDataRequestsPerSecond is the Business Data API's own rate
	// limit (0: RequestsPerSecond).
	BusinessDataRequestsPerSecond float64
	// Settings are the attributes the sink's connector declares in its
	// descriptor beyond the fields above (a number, string or bool each):
	// a connector adds a setting there and reads it here, without a change
	// to the spec language. Set only when loaded with the connectors.
	Settings  map[string]any `json:",omitempty"`
	DeclRange hcl.Range      `json:"-"`
}

// WindowStart is the first instant of the import window: calls that started
// at or after it are in. Without a backfill it is installed_at; a backfill
// requested at T reaches T − backfill_days, but never later than installed_at.
func (s *Spec) WindowStart() time.Time {
	if s.BackfillRequestedAt.IsZero() {
		return s.InstalledAt
	}
	days := s.BackfillDays
	if days == 0 {
		days = DefaultBackfillDays
	}
	from := s.BackfillRequestedAt.Add(-time.Duration(days) * 24 * time.Hour)
	if from.After(s.InstalledAt) {
		return s.InstalledAt
	}
	return from
}
