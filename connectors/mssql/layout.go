package mssql

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/applink-dev/applink/dsl"
	"github.com/hashicorp/hcl/v2"
)

// The Engage layout the default queries read, with what public code shows
// of it (shared/engage-schema.md) and what is our assumption. MAPPING.md
// is the prose of these tables; TestMappingDoc keeps the two in step.

// Status of a default name.
const (
	statusPublic  = "public"
	statusAssumed = "ASSUMED"
)

// Default settings of the engage block.
const (
	DefaultInteractionsDatabase = "nice_interactions"
	DefaultStorageDatabase      = "nice_storage_center"
	DefaultAdminDatabase        = "nice_admin"
	DefaultSchema               = "dbo"
)

// dbRole says which database setting a table lives in.
type dbRole int

const (
	dbInteractions dbRole = iota
	dbStorage
	dbAdmin
)

var dbSettingNames = [...]string{dbInteractions: "interactions_database", dbStorage: "storage_database", dbAdmin: "admin_database"}

// setToken stands for an interaction set's number in a table name (and in
// an override of the calls query, which is then read once per set).
const setToken = "{set}"

// Engage codes the default queries interpret (public: shared/engage-schema.md).
const (
	subExceptionNoAudio = 1702 // sub-exception of 12 "voice recording failed": no VoIP audio
)

// storageTable matches the storage-center tables tblStorageCenter01 … 99.
var storageTable = regexp.MustCompile(`(?i)^tblStorageCenter[0-9]{2}$`)

// tableDef is a table the default queries read.
type tableDef struct {
	key    string // internal name
	db     dbRole
	name   string // with setToken for per-set tables; storage tables are discovered
	public bool   // the name is seen in public code
	// cols lists the columns the defaults read; true = seen in public code
	// on this table.
	cols map[string]bool
	role string // what it holds, for messages
}

const (
	tInteraction = "interaction"
	tParticipant = "participant"
	tCatalog     = "catalog"
	tStorage     = "storage"
	tUnit        = "unit"
	tException   = "exception"
	tUser        = "user"
	tAgent       = "agent"
	tBD          = "business_data"
)

var tables = map[string]*tableDef{
	tCatalog: {key: tCatalog, db: dbInteractions, name: "tblInteractionCatalog", public: true, role: "the interaction sets",
		cols: map[string]bool{"vcSetNumber": true, "dtMinStartTime": true, "dtMaxStartTime": true}},
	tInteraction: {key: tInteraction, db: dbInteractions, name: "tblInteraction" + setToken, public: true, role: "interactions of a set",
		cols: map[string]bool{"iInteractionID": true, "dtInteractionGMTStartTime": true, "dtInteractionGMTStopTime": true,
			"tiCallDirectionTypeID": true, "nvcDialedNumber": true, "biInteractionDuration": true, "iCompoundID": true, "nvcBusinessData": true,
			"iTenantID": false, "tiInteractionStatusID": false, "nvcSkillName": false}},
	tParticipant: {key: tParticipant, db: dbInteractions, name: "tblParticipant" + setToken, public: true, role: "participants of a set's interactions",
		cols: map[string]bool{"iParticipantID": true, "iInteractionID": true, "nvcAgentId": true, "nvcPhoneNumber": true,
			"bitIsInteractionInitiator": true, "iUserID": true, "nvcStation": true}},
	tStorage: {key: tStorage, db: dbStorage, name: "tblStorageCenterNN", public: true, role: "recordings and their archive paths",
		cols: map[string]bool{"vcArchivePath": true, "siUnitID": true, "dtRecordingGMTStartTime": true, "iInteractionID": false}},
	tUnit: {key: tUnit, db: dbAdmin, name: "tblScSamUnit", public: true, role: "storage units and their root paths",
		cols: map[string]bool{"siUnitID": true, "nvcUnitPath": true}},
	tException: {key: tException, db: dbInteractions, name: "tblInteractionException", public: false, role: "exceptions of interactions",
		cols: map[string]bool{"iExceptionNumber": true, "dtExceptionTimeStamp": true, "iInteractionID": false, "iExceptionID": false}},
	tUser: {key: tUser, db: dbAdmin, name: "tblUser", public: false, role: "users",
		cols: map[string]bool{"iUserID": true, "nvcFirstName": true, "nvcLastName": true, "vcEmailAddress": true,
			"bitActive": false, "iTenantID": false, "dtCreatedGMT": false}},
	tAgent: {key: tAgent, db: dbAdmin, name: "tblAgent", public: false, role: "agent profiles of users",
		cols: map[string]bool{"iAgentId": true, "iUserID": true, "nvcSwitchAgentId": true}},
	tBD: {key: tBD, db: dbInteractions, name: "tblBusinessData", public: false, role: "business data of interactions",
		cols: map[string]bool{"iInteractionID": false, "nvcFieldName": false, "nvcFieldValue": false}},
}

// aliasTable maps every SQL alias of the default queries to its table.
// Outer aliases (ag, ini, r, ex, na) are the one-row joins a column's SQL
// may name; inner ones (p, rc, un, e) appear only inside them. r.nvcUnitPath
// is the unit's column (see refTable).
var aliasTable = map[string]string{
	"i": tInteraction, "ag": tParticipant, "ini": tParticipant, "p": tParticipant,
	"r": tStorage, "rc": tStorage, "un": tUnit,
	"ex": tException, "na": tException, "e": tException,
	"u": tUser, "a": tAgent, "b": tBD,
}

// queryAliases are the aliases a column's SQL may use, per query.
var queryAliases = map[string][]string{
	dsl.QueryCalls:        {"i", "ag", "ini", "r", "ex", "na"},
	dsl.QueryAgents:       {"u", "a"},
	dsl.QueryBusinessData: {"b"},
}

// ref is a column an expression names through an alias.
type ref struct{ alias, column string }

var refPattern = regexp.MustCompile(`\b([A-Za-z][A-Za-z0-9_]*)\.\[?([A-Za-z_@#][A-Za-z0-9_@#$]*)\]?`)

// refs lists the alias.column names of an expression among aliases (a
// lexical scan: a match inside a string literal counts too, which only
// makes check look for a column it need not).
func refs(expr string, aliases []string) []ref {
	var out []ref
	for _, m := range refPattern.FindAllStringSubmatch(expr, -1) {
		if slices.Contains(aliases, m[1]) {
			r := ref{m[1], m[2]}
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// refTable is the table an alias.column reads.
func refTable(r ref) string {
	if (r.alias == "r") && strings.EqualFold(r.column, "nvcUnitPath") {
		return tUnit
	}
	return aliasTable[r.alias]
}

// columnDef is the default SQL of one canonical column.
type columnDef struct {
	query, column string
	sql           func(d Dialect) string
	note          string // what the expression means, for the plan and MAPPING.md
}

func lit(s string) func(Dialect) string { return func(Dialect) string { return s } }

var defaultColumns = []columnDef{
	{dsl.QueryCalls, "call_id", lit("i.iInteractionID"), ""},
	{dsl.QueryCalls, "tenant_id", lit("i.iTenantID"), "single-tenant Engage without the column: sql = \"0\""},
	{dsl.QueryCalls, "agent_id", lit("ag.nvcAgentId"), "first participant (by iParticipantID) with an agent ID"},
	{dsl.QueryCalls, "start_time", lit("i.dtInteractionGMTStartTime"), "UTC"},
	{dsl.QueryCalls, "duration_ms", func(d Dialect) string {
		return d.MillisBetween("i.dtInteractionGMTStartTime", "i.dtInteractionGMTStopTime")
	}, "from the GMT start and stop times: does not depend on biInteractionDuration's unit"},
	{dsl.QueryCalls, "direction", lit("CASE i.tiCallDirectionTypeID WHEN 1 THEN 'in' WHEN 2 THEN 'out' WHEN 3 THEN 'internal' ELSE 'unknown' END"),
		"codes public: 0 unknown, 1 incoming, 2 outgoing, 3 internal; 4 block, 5 tandem, 6 external read as unknown"},
	{dsl.QueryCalls, "ani", lit("ini.nvcPhoneNumber"), "the participant with bitIsInteractionInitiator = 1"},
	{dsl.QueryCalls, "dnis", lit("i.nvcDialedNumber"), ""},
	{dsl.QueryCalls, "archived", lit("CASE WHEN r.vcArchivePath <> '' THEN 1 ELSE 0 END"),
		"the recording has an archive path in the storage center (inference)"},
	{dsl.QueryCalls, "audio_packets", lit("CASE WHEN na.iExceptionNumber IS NOT NULL THEN 0 WHEN r.vcArchivePath <> '' THEN 1 ELSE 0 END"),
		fmt.Sprintf("0 with sub-exception %d (no VoIP audio) or no archived recording, else 1: a presence flag, not a packet count", subExceptionNoAudio)},
	{dsl.QueryCalls, "status", lit("CASE i.tiInteractionStatusID WHEN 1 THEN 'invalid' WHEN 2 THEN 'error' ELSE 'ok' END"), "codes ASSUMED"},
	{dsl.QueryCalls, "exception_code", lit("ex.iExceptionNumber"),
		fmt.Sprintf("first exception (by dtExceptionTimeStamp) other than %d; numbers public: 7, 12, 15, 20, 34", subExceptionNoAudio)},
	{dsl.QueryCalls, "media_path", lit(`CASE WHEN r.vcArchivePath <> '' THEN CONCAT(r.nvcUnitPath, '\', r.vcArchivePath) END`),
		"the unit's root (tblScSamUnit by siUnitID) joined with the archive path; read through media { path_map }"},
	{dsl.QueryCalls, "skill", lit("i.nvcSkillName"), ""},

	{dsl.QueryAgents, "user_id", lit("u.iUserID"), ""},
	{dsl.QueryAgents, "agent_id", lit("a.nvcSwitchAgentId"), "what tblParticipant.nvcAgentId holds (the match is ASSUMED)"},
	{dsl.QueryAgents, "first_name", lit("u.nvcFirstName"), ""},
	{dsl.QueryAgents, "last_name", lit("u.nvcLastName"), ""},
	{dsl.QueryAgents, "email", lit("u.vcEmailAddress"), ""},
	{dsl.QueryAgents, "active", lit("u.bitActive"), ""},
	{dsl.QueryAgents, "is_agent", lit("CASE WHEN a.iAgentId IS NULL THEN 0 ELSE 1 END"), "a tblAgent row exists"},
	{dsl.QueryAgents, "tenant_id", lit("u.iTenantID"), ""},
	{dsl.QueryAgents, "created_at", lit("u.dtCreatedGMT"), ""},

	{dsl.QueryBusinessData, "call_id", lit("b.iInteractionID"), "the only public hint of business data is tblInteraction<N>.nvcBusinessData"},
	{dsl.QueryBusinessData, "name", lit("b.nvcFieldName"), ""},
	{dsl.QueryBusinessData, "value", lit("b.nvcFieldValue"), ""},
}

// queryColumns are the canonical output columns of each query, in the
// order the wrapper selects them and the reader scans them: the contract's
// columns, less the call's site (the source block's).
var queryColumns = map[string][]string{
	dsl.QueryAgents:       dsl.AgentColumns,
	dsl.QueryCalls:        slices.DeleteFunc(slices.Clone(dsl.CallColumns), func(c string) bool { return c == "site" }),
	dsl.QueryBusinessData: dsl.BDColumns,
}

// setting is a resolved engage setting with its origin.
type setting struct {
	value string
	spec  *hcl.Range // where the spec set it; nil for the default
}

// column is a resolved canonical column: its SQL and where it came from.
type column struct {
	query, name string
	sql         string
	spec        *hcl.Range // the override's sql in the spec; nil for the default
	note        string
}

// mapping is a source block's resolved layout: database names, the SQL of
// every canonical column, and the whole-query overrides (queries { … }).
type mapping struct {
	d         Dialect
	dbs       [3]setting
	schema    setting
	columns   map[string][]column // by query, in queryColumns order
	overrides map[string]string   // queries { … }, by query name
}

// newMapping resolves a source block against the defaults in dialect d.
func newMapping(d Dialect, src dsl.Source) (*mapping, error) {
	m := &mapping{d: d, columns: map[string][]column{}, overrides: map[string]string{}}
	m.dbs[dbInteractions] = setting{value: DefaultInteractionsDatabase}
	m.dbs[dbStorage] = setting{value: DefaultStorageDatabase}
	m.dbs[dbAdmin] = setting{value: DefaultAdminDatabase}
	m.schema = setting{value: DefaultSchema}
	overrides := map[string]dsl.EngageColumn{}
	if e := src.Engage; e != nil {
		for role, s := range map[dbRole]dsl.EngageSetting{dbInteractions: e.InteractionsDatabase, dbStorage: e.StorageDatabase, dbAdmin: e.AdminDatabase} {
			if s.Value != "" {
				m.dbs[role] = setting{value: s.Value, spec: &s.Range}
			}
		}
		if e.Schema.Value != "" {
			m.schema = setting{value: e.Schema.Value, spec: &e.Schema.Range}
		}
		for _, c := range e.Columns {
			overrides[c.Query+"."+c.Column] = c
		}
	}
	for _, def := range defaultColumns {
		c := column{query: def.query, name: def.column, sql: def.sql(d), note: def.note}
		if o, ok := overrides[def.query+"."+def.column]; ok {
			c.sql, c.spec, c.note = o.SQL, &o.Range, ""
			delete(overrides, def.query+"."+def.column)
		}
		m.columns[def.query] = append(m.columns[def.query], c)
	}
	for name := range overrides { // dsl validates names: only a version skew gets here
		return nil, fmt.Errorf("engage: unknown canonical column %q", name)
	}
	for name, q := range src.Queries {
		if !slices.Contains(dsl.QueryNames, name) {
			return nil, fmt.Errorf("queries: unknown query %q (known: %s)", name, strings.Join(dsl.QueryNames, ", "))
		}
		if strings.TrimSpace(q) == "" {
			return nil, fmt.Errorf("queries: %s is empty", name)
		}
		m.overrides[name] = q
	}
	return m, nil
}

// table renders a table's three-part name; set replaces setToken.
func (m *mapping) table(t *tableDef, name string) string {
	return m.d.Ident(m.dbs[t.db].value) + "." + m.d.Ident(m.schema.value) + "." + m.d.Ident(name)
}

// plainTable is a table's three-part name for messages.
func (m *mapping) plainTable(t *tableDef, name string) string {
	return m.dbs[t.db].value + "." + m.schema.value + "." + name
}

// uses lists, for one query, the columns of each table its SQL reads:
// the columns' expressions (only those of cols when cols is non-nil) and
// the joins they bring in. Each use keeps the spec range of the override
// that asked for it.
type use struct {
	table, column string
	spec          *hcl.Range
	canonical     string // the canonical column whose SQL names it ("" for a join)
}

func (m *mapping) uses(query string, cols []string) []use {
	var out []use
	add := func(u use) {
		for _, o := range out {
			if o.table == u.table && strings.EqualFold(o.column, u.column) {
				return
			}
		}
		out = append(out, u)
	}
	aliases := map[string]bool{}
	for _, c := range m.columns[query] {
		if cols != nil && !slices.Contains(cols, c.name) {
			continue
		}
		for _, r := range refs(c.sql, queryAliases[query]) {
			aliases[r.alias] = true
			add(use{table: refTable(r), column: r.column, spec: c.spec, canonical: query + "." + c.name})
		}
	}
	for _, j := range joinsOf(query) {
		if !aliases[j.alias] {
			continue
		}
		for _, r := range refs(j.where+" "+j.order+" "+j.on, []string{"p", "rc", "un", "e", "a", "u", "i"}) {
			add(use{table: refTable(r), column: r.column})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].table < out[j].table })
	return out
}

// selected lists the columns of a one-row join's table that the query's
// column SQL names through alias, the defaults first.
func (m *mapping) selected(query, alias string, defaults []string) []string {
	out := slices.Clone(defaults)
	for _, c := range m.columns[query] {
		for _, r := range refs(c.sql, []string{alias}) {
			if !slices.ContainsFunc(out, func(s string) bool { return strings.EqualFold(s, r.column) }) {
				out = append(out, r.column)
			}
		}
	}
	return out
}
