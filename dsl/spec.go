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
	Sink    *Sink // nil: the outbox, chosen on the command line
}

// Source is one `source "engage" NAME` block: one site of one Engage system.
type Source struct {
	Name     string
	Driver   string // snapshot | duckdb | mssql
	Path     string // snapshot folder or DuckDB file, resolved against Dir
	SystemID string
	Site     string // defaults to Name

	// mssql only.
	DSN               string // may come from env("NAME"); empty until resolved
	DSNEnv            string // the variable env() named, if any, for errors at run time
	ApplicationIntent string // "" or ReadOnly
	BatchSize         int
	QueryTimeout      time.Duration
	Queries           map[string]string // overrides of the default queries, by name

	DeclRange hcl.Range
}

// Filter is a compiled `where` expression of a tenant, agents or calls block.
type Filter struct {
	Source  string      // the expression text as written
	Program *vm.Program // compiled against the block's environment; yields bool
	Range   hcl.Range   // the expression in the .hcl file
}

// Field is one `field TYPE NAME` block: a CXone business-data field.
type Field struct {
	Type    string // text | number | boolean
	Name    string
	Value   string      // the expression text
	Program *vm.Program // compiled against CallEnv
	OnError string      // omit | exclude
	// BDRef is set when Value is exactly `bd.NAME` (or bd["NAME"]): the engine
	// then reads the value directly instead of running the program.
	BDRef string
	Range hcl.Range // the value expression
	Decl  hcl.Range // the block header
}

// Staging configures the 90-day store-and-forward area.
type Staging struct {
	RetentionDays int // default 90
}

// Sink is a `sink "cxone" { … }` block.
type Sink struct {
	Kind              string // cxone
	APIURL            string
	AuthURL           string
	Concurrency       int
	RequestsPerSecond float64
	Timeout           time.Duration
	CallsPath         string
	MediaPath         string
	DeclRange         hcl.Range
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
