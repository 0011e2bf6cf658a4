package mssql

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/applink-dev/applink/dsl"
)

// Names of the overridable queries (`queries { calls = <<-SQL … SQL }`).
const (
	QueryAgents       = dsl.QueryAgents
	QueryCalls        = dsl.QueryCalls
	QueryBusinessData = dsl.QueryBusinessData
)

// QueryNames lists the overridable queries in a stable order.
var QueryNames = dsl.QueryNames

// Canonical output columns of each base query. An override must return
// these names (any extra column is ignored); the wrapper selects them in
// this order and the reader scans them by position.
var (
	agentColumns = queryColumns[QueryAgents]
	callColumns  = queryColumns[QueryCalls]
	bdColumns    = queryColumns[QueryBusinessData]
	// keyColumns are what paging, business data and counting need of a
	// call: a lighter rendering of the calls query.
	keyColumns = []string{"call_id", "start_time", "tenant_id"}
)

// joinDef is a one-row join of the calls query: the first row of a table
// correlated with the interaction i, under an alias a column's SQL names.
// Its text names the table's alias inner; select lists are computed.
type joinDef struct {
	alias    string
	table    string
	inner    string
	where    string // correlated predicate, on inner and i
	order    string
	defaults []string // columns always selected (those the default SQL reads)
	on       string   // further join text, for the columns it reads (r: the unit)
}

var callJoins = []joinDef{
	{alias: "ag", table: tParticipant, inner: "p", where: "p.iInteractionID = i.iInteractionID AND p.nvcAgentId <> ''", order: "p.iParticipantID", defaults: []string{"nvcAgentId"}},
	{alias: "ini", table: tParticipant, inner: "p", where: "p.iInteractionID = i.iInteractionID AND p.bitIsInteractionInitiator = 1", order: "p.iParticipantID", defaults: []string{"nvcPhoneNumber"}},
	{alias: "r", table: tStorage, inner: "rc", where: "rc.iInteractionID = i.iInteractionID",
		// The first recording with an archive path, by start time.
		order: "CASE WHEN rc.vcArchivePath <> '' THEN 0 ELSE 1 END, rc.dtRecordingGMTStartTime", defaults: []string{"vcArchivePath"},
		on: "un.siUnitID = rc.siUnitID"},
	{alias: "ex", table: tException, inner: "e", where: fmt.Sprintf("e.iInteractionID = i.iInteractionID AND e.iExceptionNumber <> %d", subExceptionNoAudio), order: "e.dtExceptionTimeStamp, e.iExceptionID", defaults: []string{"iExceptionNumber"}},
	{alias: "na", table: tException, inner: "e", where: fmt.Sprintf("e.iInteractionID = i.iInteractionID AND e.iExceptionNumber = %d", subExceptionNoAudio), order: "e.iExceptionID", defaults: []string{"iExceptionNumber"}},
}

var agentJoins = []joinDef{{alias: "a", table: tAgent, inner: "a", on: "a.iUserID = u.iUserID"}}

func joinsOf(query string) []joinDef {
	switch query {
	case QueryCalls:
		return callJoins
	case QueryAgents:
		return agentJoins
	}
	return nil
}

// usedAliases lists the aliases the columns cols of query name.
func (m *mapping) usedAliases(query string, cols []string) map[string]bool {
	out := map[string]bool{}
	for _, c := range m.columns[query] {
		if cols == nil || slices.Contains(cols, c.name) {
			for _, r := range refs(c.sql, queryAliases[query]) {
				out[r.alias] = true
			}
		}
	}
	return out
}

// selectList renders `expr AS column, …` of a query's columns (cols nil: all).
func (m *mapping) selectList(query string, cols []string) string {
	var b strings.Builder
	first := true
	for _, c := range m.columns[query] {
		if cols != nil && !slices.Contains(cols, c.name) {
			continue
		}
		if !first {
			b.WriteString(",\n")
		}
		first = false
		b.WriteString("  " + c.sql + " AS " + c.name)
	}
	return b.String()
}

// errNoStorage says a calls query needs the recordings but the storage
// database holds no storage-center table.
type errNoStorage struct{ where string }

func (e errNoStorage) Error() string {
	return fmt.Sprintf("no storage-center table (tblStorageCenter01 … tblStorageCenter99) in %s: set storage_database and schema in the source's engage block", e.where)
}

// callsSet renders the calls query of one interaction set: the columns
// cols (nil: all) and the joins they name. storage lists the
// storage-center tables to read recordings from.
func (m *mapping) callsSet(set string, storage []string, cols []string) (string, error) {
	used := m.usedAliases(QueryCalls, cols)
	inter := tables[tInteraction]
	var b strings.Builder
	b.WriteString("SELECT\n" + m.selectList(QueryCalls, cols) + "\nFROM " + m.table(inter, strings.ReplaceAll(inter.name, setToken, set)) + " AS i")
	for _, j := range callJoins {
		if !used[j.alias] {
			continue
		}
		sel := m.selected(QueryCalls, j.alias, j.defaults)
		var from, list string
		switch j.alias {
		case "r":
			if len(storage) == 0 {
				return "", errNoStorage{m.dbs[dbStorage].value + "." + m.schema.value}
			}
			// The union selects what the join and the columns read.
			need := []string{"iInteractionID", "vcArchivePath", "dtRecordingGMTStartTime", "siUnitID"}
			var outer []string
			for _, c := range sel {
				if strings.EqualFold(c, "nvcUnitPath") {
					outer = append(outer, "un.nvcUnitPath")
					continue
				}
				outer = append(outer, "rc."+c)
				if !slices.ContainsFunc(need, func(s string) bool { return strings.EqualFold(s, c) }) {
					need = append(need, c)
				}
			}
			if !slices.Contains(outer, "un.nvcUnitPath") {
				outer = append(outer, "un.nvcUnitPath")
			}
			var parts []string
			for _, t := range storage {
				parts = append(parts, "SELECT "+strings.Join(need, ", ")+" FROM "+m.table(tables[tStorage], t))
			}
			from = "FROM (" + strings.Join(parts, " UNION ALL ") + ") AS rc LEFT JOIN " + m.table(tables[tUnit], tables[tUnit].name) + " AS un ON " + j.on + " WHERE " + j.where
			list = strings.Join(outer, ", ")
		default:
			t := tables[j.table]
			cols := make([]string, len(sel))
			for i, c := range sel {
				cols[i] = j.inner + "." + c
			}
			list = strings.Join(cols, ", ")
			from = "FROM " + m.table(t, strings.ReplaceAll(t.name, setToken, set)) + " AS " + j.inner + " WHERE " + j.where
		}
		b.WriteString("\n" + m.d.FirstRow(list, from, j.order, j.alias))
	}
	return b.String(), nil
}

// callsBase renders the base calls query over interaction sets (UNION ALL),
// or the spec's override (read once per set when it names {set}). ""
// means there is nothing to read (no set).
func (m *mapping) callsBase(sets, storage, cols []string) (string, error) {
	if o, ok := m.overrides[QueryCalls]; ok {
		if !strings.Contains(o, setToken) {
			return o, nil
		}
		var parts []string
		for _, s := range sets {
			parts = append(parts, strings.TrimRight(strings.ReplaceAll(o, setToken, s), " \t\r\n;"))
		}
		return strings.Join(parts, "\nUNION ALL\n"), nil
	}
	var parts []string
	for _, s := range sets {
		q, err := m.callsSet(s, storage, cols)
		if err != nil {
			return "", err
		}
		parts = append(parts, q)
	}
	return strings.Join(parts, "\nUNION ALL\n"), nil
}

// agentsBase renders the base agents query: one row per agent ID of a
// user; users without an agent profile appear once with is_agent 0 and a
// NULL agent_id (the LEFT JOIN).
func (m *mapping) agentsBase(cols []string) string {
	if o, ok := m.overrides[QueryAgents]; ok {
		return o
	}
	q := "SELECT\n" + m.selectList(QueryAgents, cols) + "\nFROM " + m.table(tables[tUser], tables[tUser].name) + " AS u"
	if m.usedAliases(QueryAgents, cols)["a"] {
		q += "\nLEFT JOIN " + m.table(tables[tAgent], tables[tAgent].name) + " AS a ON " + agentJoins[0].on
	}
	return q
}

// bdBase renders the base business-data query: one row per field of a call.
func (m *mapping) bdBase(cols []string) string {
	if o, ok := m.overrides[QueryBusinessData]; ok {
		return o
	}
	return "SELECT\n" + m.selectList(QueryBusinessData, cols) + "\nFROM " + m.table(tables[tBD], tables[tBD].name) + " AS b"
}

// base renders a query's base SELECT with the columns cols (nil: all).
func (m *mapping) base(query string, sets, storage, cols []string) (string, error) {
	switch query {
	case QueryAgents:
		return m.agentsBase(cols), nil
	case QueryBusinessData:
		return m.bdBase(cols), nil
	}
	return m.callsBase(sets, storage, cols)
}

// key is a keyset position: the (start_time, call_id) of the last call
// emitted. id is int64 for Engage's numeric interaction IDs, string when an
// override returns textual IDs.
type key struct {
	t  time.Time
	id any
}

// callWindow is what a calls query is restricted to, and the base queries
// it reads (resolved against the catalog for the run).
type callWindow struct {
	from   time.Time // zero: no lower bound
	after  *key      // resume strictly after this key
	tenant *int64
	calls  string // base calls query
	keys   string // the same rows, key columns only
}

func (b *builder) columns(alias string, cols []string) {
	for i, c := range cols {
		if i > 0 {
			b.W(", ")
		}
		b.W(alias, ".", b.d.Ident(c))
	}
}

// where writes the window, keyset and tenant predicates on alias q. The
// redundant `start_time >= lower bound` lets SQL Server seek on an index of
// start_time even though the keyset comparison is an OR. It reports whether
// it wrote a WHERE.
func (b *builder) where(w callWindow, upTo *key) bool {
	st, id := "q."+b.d.Ident("start_time"), "q."+b.d.Ident("call_id")
	var conds []string
	lo := w.from
	if w.after != nil && w.after.t.After(lo) {
		lo = w.after.t
	}
	if !lo.IsZero() {
		conds = append(conds, st+" >= "+b.TimeArg(lo))
	}
	if w.after != nil {
		t := b.TimeArg(w.after.t)
		conds = append(conds, "("+st+" > "+t+" OR ("+st+" = "+t+" AND "+id+" > "+b.Arg(w.after.id)+"))")
	}
	if upTo != nil {
		t := b.TimeArg(upTo.t)
		conds = append(conds, st+" <= "+t, "("+st+" < "+t+" OR ("+st+" = "+t+" AND "+id+" <= "+b.Arg(upTo.id)+"))")
	}
	if w.tenant != nil {
		conds = append(conds, "q."+b.d.Ident("tenant_id")+" = "+b.Arg(*w.tenant))
	}
	if len(conds) > 0 {
		b.W("\nWHERE ", strings.Join(conds, "\n  AND "))
	}
	return len(conds) > 0
}

func (b *builder) from(base string) {
	b.W("\nFROM (\n", strings.TrimRight(base, " \t\r\n;"), "\n) AS q")
}

// callsBatch renders one page of calls: at most limit rows after the window's
// key, in keyset order.
func callsBatch(d Dialect, w callWindow, limit int) Query {
	b := &builder{d: d}
	b.W("SELECT ")
	if d == TSQL {
		b.W("TOP (", b.Arg(limit), ") ")
	}
	b.columns("q", callColumns)
	b.from(w.calls)
	b.where(w, nil)
	b.W("\nORDER BY q.", d.Ident("start_time"), ", q.", d.Ident("call_id"))
	if d == DuckDB {
		b.W("\nLIMIT ", b.Arg(limit))
	}
	return b.Query()
}

// bdBatch renders the business data of the calls of one page: those after
// the window's key up to and including upTo, the page's last key. A join on
// the key range rather than `IN (@p1, …)` because SQL Server takes at most
// 2,100 parameters and a page holds 5,000 calls.
func bdBatch(d Dialect, bdBase string, w callWindow, upTo key) Query {
	b := &builder{d: d}
	b.W("SELECT ")
	b.columns("b", bdColumns)
	b.W("\nFROM (\n", strings.TrimRight(bdBase, " \t\r\n;"), "\n) AS b")
	b.W("\nWHERE b.", d.Ident("call_id"), " IN (SELECT q.", d.Ident("call_id"))
	b.from(w.keys)
	b.where(w, &upTo)
	b.W(")\nORDER BY b.", d.Ident("call_id"), ", b.", d.Ident("name"))
	return b.Query()
}

// agentsQuery renders the agents query in a stable order.
func agentsQuery(d Dialect, base string) Query {
	b := &builder{d: d}
	b.W("SELECT ")
	b.columns("q", agentColumns)
	b.from(base)
	b.W("\nORDER BY q.", d.Ident("user_id"), ", q.", d.Ident("agent_id"))
	return b.Query()
}

// probeQuery renders a query that returns no row but makes the server
// resolve every table and column (and check permissions) of a base query.
func probeQuery(d Dialect, cols []string, base string) Query {
	b := &builder{d: d}
	b.W("SELECT ")
	if d == TSQL {
		b.W("TOP (0) ")
	}
	b.columns("q", cols)
	b.from(base)
	if d == DuckDB {
		b.W("\nLIMIT 0")
	}
	return b.Query()
}

// dailyCountsQuery renders the number of calls per day of the window.
func dailyCountsQuery(d Dialect, w callWindow) Query {
	b := &builder{d: d}
	day := d.Day("q." + d.Ident("start_time"))
	b.W("SELECT ", day, " AS ", d.Ident("day"), ", COUNT(*) AS ", d.Ident("calls"))
	b.from(w.keys)
	b.where(w, nil)
	b.W("\nGROUP BY ", day, "\nORDER BY ", day)
	return b.Query()
}

// windowCountQuery counts the calls of the window.
func windowCountQuery(d Dialect, w callWindow) Query {
	b := &builder{d: d}
	b.W("SELECT ", d.Count("*"), " AS ", d.Ident("calls"))
	b.from(w.keys)
	b.where(w, nil)
	return b.Query()
}

// noStartQuery counts the calls a keyset cannot reach.
func noStartQuery(d Dialect, keys string) Query {
	b := &builder{d: d}
	b.W("SELECT COUNT(*) AS ", d.Ident("calls"))
	b.from(keys)
	b.W("\nWHERE q.", d.Ident("start_time"), " IS NULL")
	return b.Query()
}

// Reasons of the rows countFilteredQuery counts, in its column order.
var filteredReasons = []string{"other_tenant", "before_window", "no_start_time"}

// countFilteredQuery counts, by the reason each would have had, the rows of
// the keys query that the window and tenant predicates of callsBatch leave
// out: another tenant (or none) first, then started before the window, then
// no start_time (no keyset reaches it). It is the negation of where().
func countFilteredQuery(d Dialect, keys string, w callWindow) Query {
	b := &builder{d: d}
	st, tn := "q."+d.Ident("start_time"), "q."+d.Ident("tenant_id")
	otherTenant := "1 = 0"
	if w.tenant != nil {
		otherTenant = "(" + tn + " IS NULL OR " + tn + " <> " + b.Arg(*w.tenant) + ")"
	}
	before, noStart := "1 = 0", "1 = 0"
	if !w.from.IsZero() {
		before = st + " < " + b.TimeArg(w.from)
		noStart = st + " IS NULL"
	}
	b.W("SELECT\n  ", d.Count("CASE WHEN "+otherTenant+" THEN 1 END"), " AS ", d.Ident(filteredReasons[0]),
		",\n  ", d.Count("CASE WHEN NOT "+otherTenant+" AND "+before+" THEN 1 END"), " AS ", d.Ident(filteredReasons[1]),
		",\n  ", d.Count("CASE WHEN NOT "+otherTenant+" AND "+noStart+" THEN 1 END"), " AS ", d.Ident(filteredReasons[2]))
	b.from(keys)
	return b.Query()
}

// catalogQuery reads the interaction sets.
func (m *mapping) catalogQuery() Query {
	return Query{SQL: "SELECT c.vcSetNumber, c.dtMinStartTime, c.dtMaxStartTime\nFROM " + m.table(tables[tCatalog], tables[tCatalog].name) + " AS c"}
}

// tablesQuery lists the tables of a database's schema whose lowercased
// name starts with prefix ("" for all).
func tablesQuery(d Dialect, db, schema, prefix string) Query {
	b := &builder{d: d}
	if d == DuckDB {
		b.W("SELECT table_name FROM information_schema.tables WHERE table_catalog = ", b.Arg(db), " AND table_schema = ", b.Arg(schema))
	} else {
		b.W("SELECT TABLE_NAME FROM ", d.Ident(db), ".INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = ", b.Arg(schema))
	}
	if prefix != "" {
		b.W(" AND LOWER(", map[Dialect]string{TSQL: "TABLE_NAME", DuckDB: "table_name"}[d], ") LIKE ", b.Arg(strings.ToLower(prefix)+"%"))
	}
	return b.Query()
}

// columnsQuery lists table and column names of a database's schema.
func columnsQuery(d Dialect, db, schema string) Query {
	b := &builder{d: d}
	if d == DuckDB {
		b.W("SELECT table_name, column_name FROM information_schema.columns WHERE table_catalog = ", b.Arg(db), " AND table_schema = ", b.Arg(schema))
	} else {
		b.W("SELECT TABLE_NAME, COLUMN_NAME FROM ", d.Ident(db), ".INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = ", b.Arg(schema))
	}
	return b.Query()
}

// databasesQuery lists the databases of the server.
func databasesQuery(d Dialect) Query {
	if d == DuckDB {
		return Query{SQL: "SELECT database_name FROM duckdb_databases()"}
	}
	return Query{SQL: "SELECT name FROM sys.databases"}
}

// recentMediaQuery renders the media paths of the window's most recent
// calls that a run would send with media: archived, with audio.
func recentMediaQuery(d Dialect, w callWindow, n int) Query {
	b := &builder{d: d}
	mp, st := "q."+d.Ident("media_path"), "q."+d.Ident("start_time")
	b.W("SELECT ")
	if d == TSQL {
		b.W("TOP (", b.Arg(n), ") ")
	}
	b.W(mp)
	b.from(w.calls)
	if b.where(w, nil) {
		b.W("\n  AND ")
	} else {
		b.W("\nWHERE ")
	}
	b.W(mp, " IS NOT NULL AND ", mp, " <> '' AND q.", d.Ident("archived"), " = 1 AND q.", d.Ident("audio_packets"), " > 0\nORDER BY ", st, " DESC")
	if d == DuckDB {
		b.W("\nLIMIT ", b.Arg(n))
	}
	return b.Query()
}

// DefaultQuery returns the base SELECT of a query in a dialect for a source
// block without overrides, with the given interaction set and storage
// tables: the SQL that maps Engage's tables to canonical rows. The builder
// wraps it with the window, tenant and keyset predicates.
func DefaultQuery(d Dialect, name string, sets, storage []string) (string, error) {
	m, err := newMapping(d, dsl.Source{})
	if err != nil {
		return "", err
	}
	if slices.Contains(QueryNames, name) {
		return m.base(name, sets, storage, nil)
	}
	return "", fmt.Errorf("unknown query %q (known: %s)", name, strings.Join(QueryNames, ", "))
}
