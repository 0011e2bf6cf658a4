package mssql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/applink-dev/applink/connectors/sqlrow"
	"github.com/hashicorp/hcl/v2"
)

// mediaSample is how many recent recordings check opens per source.
const mediaSample = 20

// checker compares a source's mapping with the catalog of the Engage it
// reads: INFORMATION_SCHEMA of every database the mapping touches, the
// interaction catalog, the storage-center tables; then probes the queries
// and opens recent media files.
type checker struct {
	db       *sql.DB
	d        Dialect
	m        *mapping
	w        io.Writer
	label    string
	media    *pathMapper
	findings int
	info     map[dbRole]*dbInfo
}

// dbInfo is what INFORMATION_SCHEMA says of one database's schema.
type dbInfo struct {
	exists bool
	tables map[string]*tableInfo // by lowercased name
}

type tableInfo struct {
	name string
	cols map[string]string // lowercased -> as named
}

func (c *checker) finding(at *hcl.Range, format string, args ...any) {
	c.findings++
	if at != nil {
		fmt.Fprintf(c.w, "%s:%d,%d: ", at.Filename, at.Start.Line, at.Start.Column)
	}
	fmt.Fprintf(c.w, "%s: finding: %s\n", c.label, fmt.Sprintf(format, args...))
}

func (c *checker) say(format string, args ...any) {
	fmt.Fprintf(c.w, "%s: %s\n", c.label, fmt.Sprintf(format, args...))
}

// nearest returns up to three candidates closest to name (case-insensitive),
// as the did-you-mean of a missing table or column.
func nearest(name string, candidates []string) []string {
	type cand struct {
		s string
		d int
	}
	var cs []cand
	ln := strings.ToLower(name)
	for _, x := range candidates {
		lx := strings.ToLower(x)
		d := levenshtein.Distance(ln, lx, nil)
		// A shared stem (tblUser, tblUsers; iTenantID, iTenantKey) counts.
		if strings.Contains(lx, ln) || strings.Contains(ln, lx) {
			d = min(d, 2)
		}
		if d <= max(3, len(name)/3) {
			cs = append(cs, cand{x, d})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].s < cs[j].s
	})
	var out []string
	for i := 0; i < len(cs) && i < 3; i++ {
		out = append(out, cs[i].s)
	}
	return out
}

func didYouMean(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return "; nearest: " + strings.Join(names, ", ")
}

// status says whether a table (and a column of it) is a public name.
func status(t *tableDef, col string) string {
	if !t.public {
		return statusAssumed + " name"
	}
	if col != "" && !t.cols[col] {
		return statusAssumed + " column"
	}
	return statusPublic + " name"
}

// rolesUsed lists the databases the mapping reads.
func (c *checker) rolesUsed() []dbRole {
	used := map[dbRole]bool{}
	for _, q := range QueryNames {
		if _, overridden := c.m.overrides[q]; overridden {
			continue
		}
		for _, u := range c.m.uses(q, nil) {
			used[tables[u.table].db] = true
		}
	}
	if c.m.needsCatalog() {
		used[dbInteractions] = true
	}
	var out []dbRole
	for _, r := range []dbRole{dbInteractions, dbStorage, dbAdmin} {
		if used[r] {
			out = append(out, r)
		}
	}
	return out
}

// loadInfo reads which databases exist and the tables and columns of the
// mapping's schema in each.
func (c *checker) loadInfo(ctx context.Context) error {
	q := databasesQuery(c.d)
	rows, err := c.db.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return fmt.Errorf("%s: listing databases: %w", c.label, err)
	}
	var dbs []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		dbs = append(dbs, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	c.info = map[dbRole]*dbInfo{}
	for _, role := range c.rolesUsed() {
		set := c.m.dbs[role]
		info := &dbInfo{tables: map[string]*tableInfo{}}
		c.info[role] = info
		if !slices.ContainsFunc(dbs, func(s string) bool { return strings.EqualFold(s, set.value) }) {
			c.finding(set.spec, "database %q (%s) does not exist or the login cannot see it%s", set.value, dbSettingNames[role], didYouMean(nearest(set.value, dbs)))
			continue
		}
		info.exists = true
		q := columnsQuery(c.d, set.value, c.m.schema.value)
		rows, err := c.db.QueryContext(ctx, q.SQL, q.Args...)
		if err != nil {
			return fmt.Errorf("%s: reading INFORMATION_SCHEMA.COLUMNS of %s: %w", c.label, set.value, err)
		}
		for rows.Next() {
			var t, col string
			if err := rows.Scan(&t, &col); err != nil {
				rows.Close()
				return err
			}
			ti := info.tables[strings.ToLower(t)]
			if ti == nil {
				ti = &tableInfo{name: t, cols: map[string]string{}}
				info.tables[strings.ToLower(t)] = ti
			}
			ti.cols[strings.ToLower(col)] = col
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(info.tables) == 0 {
			c.finding(c.m.schema.spec, "database %q has no table in schema %q (schema)", set.value, c.m.schema.value)
		}
	}
	return nil
}

// table returns what INFORMATION_SCHEMA says of a table, nil when the
// table is missing (a finding the caller reports) or its database is.
func (c *checker) table(t *tableDef, name string) (*tableInfo, bool) {
	info := c.info[t.db]
	if info == nil || !info.exists || len(info.tables) == 0 {
		return nil, false // reported once for the database
	}
	ti := info.tables[strings.ToLower(name)]
	return ti, ti != nil
}

func (c *checker) tableNames(role dbRole) []string {
	var out []string
	for _, ti := range c.info[role].tables {
		out = append(out, ti.name)
	}
	sort.Strings(out)
	return out
}

// run checks the mapping against the catalog, then reads what a run would.
func (c *checker) run(ctx context.Context, from time.Time) error {
	fmt.Fprintf(c.w, "%s: databases: interactions %s, storage %s, admin %s; schema %s\n", c.label,
		c.m.dbs[dbInteractions].value, c.m.dbs[dbStorage].value, c.m.dbs[dbAdmin].value, c.m.schema.value)
	if err := c.loadInfo(ctx); err != nil {
		return err
	}
	cat := &catalog{}
	var read []interactionSet
	catalogOK := true
	if c.m.needsCatalog() {
		t := tables[tCatalog]
		if _, ok := c.table(t, t.name); !ok {
			catalogOK = false
			if info := c.info[t.db]; info.exists && len(info.tables) > 0 {
				c.finding(nil, "missing table %s (%s: %s)%s", c.m.plainTable(t, t.name), status(t, ""), t.role, didYouMean(nearest(t.name, c.tableNames(t.db))))
			}
		} else {
			var err error
			if cat, err = c.m.readCatalog(ctx, c.db); err != nil {
				var perm *permanentError
				if !errors.As(err, &perm) {
					return fmt.Errorf("%s: %w", c.label, err)
				}
				c.finding(nil, "%v", err)
				catalogOK = false
				cat = &catalog{}
			}
			read = cat.inWindow(from)
			c.say("interaction catalog %s: %d sets; the window (from %s) reads %d", c.m.plainTable(t, t.name), len(cat.sets), from.UTC().Format(time.RFC3339), len(read))
			if len(cat.sets) == 0 {
				c.finding(nil, "the interaction catalog lists no set: a run would read no call")
			}
		}
		_, overridden := c.m.overrides[QueryCalls]
		if info := c.info[dbStorage]; !overridden && c.m.usedAliases(QueryCalls, nil)["r"] && info != nil && info.exists {
			c.say("storage-center tables in %s.%s: %s", c.m.dbs[dbStorage].value, c.m.schema.value, orDefault(strings.Join(cat.storage, ", "), "none"))
			if len(cat.storage) == 0 && catalogOK {
				c.finding(c.m.dbs[dbStorage].spec, "%s", errNoStorage{c.m.dbs[dbStorage].value + "." + c.m.schema.value}.Error())
			}
		}
	}
	bad := map[string]bool{}
	for _, q := range QueryNames {
		if _, overridden := c.m.overrides[q]; !overridden {
			bad[q] = c.checkUses(q, cat, read)
		}
	}
	if catalogOK || !c.m.needsCatalog() {
		c.probe(ctx, cat, read, bad)
	}
	if !catalogOK || bad[QueryCalls] {
		return nil // nothing more can be read
	}

	// Which sets the window reads, and their calls in the window.
	w := callWindow{from: from}
	for _, s := range cat.sets {
		if !slices.Contains(read, s) {
			c.say("  %s: not read, it ends before the window", s)
			continue
		}
		keys, err := c.m.callsBase([]string{s.number}, cat.storage, keyColumns)
		if err != nil {
			return err
		}
		ws := w
		ws.keys = keys
		n, err := c.count(ctx, windowCountQuery(c.d, ws))
		if err != nil {
			return fmt.Errorf("%s: counting the calls of %s: %w", c.label, s, err)
		}
		c.say("  %s: read, %d calls in the window", s, n)
	}
	if c.m.needsCatalog() && len(read) == 0 {
		return nil
	}
	var err error
	if w.calls, err = c.m.callsBase(numbers(read), cat.storage, nil); err != nil {
		return err
	}
	if w.keys, err = c.m.callsBase(numbers(read), cat.storage, keyColumns); err != nil {
		return err
	}
	// Keyset predicates never match a NULL start_time: such calls would be
	// skipped (a run counts them as failed bad rows), so say so here.
	noStart, err := c.count(ctx, noStartQuery(c.d, w.keys))
	if err != nil {
		return fmt.Errorf("%s: counting calls without start_time: %w", c.label, err)
	}
	if noStart > 0 {
		c.finding(nil, "%d calls of the window's sets have no start_time: a run cannot read them (it counts them as failed bad_row); fix the start_time column", noStart)
	}
	if err := c.dailyCounts(ctx, w); err != nil {
		return err
	}
	return c.checkMedia(ctx, w)
}

func (c *checker) count(ctx context.Context, q Query) (int64, error) {
	var v any
	if err := c.db.QueryRowContext(ctx, q.SQL, q.Args...).Scan(&v); err != nil {
		return 0, err
	}
	return sqlrow.Int64(v)
}

// checkUses reports each table or column a query's SQL reads that the
// catalog lacks, with the nearest names; it reports whether it found any.
func (c *checker) checkUses(query string, cat *catalog, read []interactionSet) bool {
	before, dbMissing := c.findings, false
	type miss struct {
		u      use
		tables []string
	}
	var misses []*miss
	missingTables := map[string]bool{}
	for _, u := range c.m.uses(query, nil) {
		t := tables[u.table]
		var names []string
		switch {
		case u.table == tStorage:
			names = cat.storage
		case strings.Contains(t.name, setToken):
			for _, s := range read {
				names = append(names, strings.ReplaceAll(t.name, setToken, s.number))
			}
		default:
			names = []string{t.name}
		}
		if info := c.info[t.db]; info == nil || !info.exists || len(info.tables) == 0 {
			dbMissing = true // reported once for the database
			continue
		}
		var mi *miss
		for _, name := range names {
			ti, ok := c.table(t, name)
			if !ok {
				if !missingTables[name] {
					missingTables[name] = true
					c.finding(nil, "missing table %s (%s: %s, read by the %s query)%s", c.m.plainTable(t, name), status(t, ""), t.role, query, didYouMean(nearest(name, c.tableNames(t.db))))
				}
				continue
			}
			if _, ok := ti.cols[strings.ToLower(u.column)]; ok {
				continue
			}
			if mi == nil {
				mi = &miss{u: u}
				misses = append(misses, mi)
			}
			mi.tables = append(mi.tables, ti.name)
		}
	}
	for _, mi := range misses {
		u, t := mi.u, tables[mi.u.table]
		ti, _ := c.table(t, mi.tables[0])
		var cols []string
		for _, name := range ti.cols {
			cols = append(cols, name)
		}
		sort.Strings(cols)
		where := c.m.plainTable(t, mi.tables[0])
		if len(mi.tables) > 1 {
			where += " and " + strings.Join(mi.tables[1:], ", ")
		}
		why := "a join of the " + query + " query"
		hint := ""
		if u.canonical != "" {
			q, col, _ := strings.Cut(u.canonical, ".")
			name := col
			if q != QueryCalls {
				name = u.canonical
			}
			why = "read by " + u.canonical
			if u.spec == nil {
				hint = fmt.Sprintf("; to read it elsewhere: engage { column %q { sql = \"…\" } }", name)
				if col == "tenant_id" {
					hint += " (a single-tenant Engage: sql = \"0\")"
				}
			}
		}
		st := status(t, u.column)
		if u.spec != nil {
			st = "named in the spec"
		}
		c.finding(u.spec, "missing column %s in %s (%s, %s)%s%s", u.column, where, st, why, didYouMean(nearest(u.column, cols)), hint)
	}
	return dbMissing || c.findings > before
}

// probe runs each query with no row wanted, so the server resolves every
// name and permission, and each column override of the spec on its own,
// so a server error points at the spec line that caused it.
func (c *checker) probe(ctx context.Context, cat *catalog, read []interactionSet, bad map[string]bool) {
	// A query the server refuses is bad too: nothing more is read with it.
	sets := numbers(read)
	if c.m.needsCatalog() && len(sets) == 0 && len(cat.sets) > 0 {
		sets = []string{cat.sets[len(cat.sets)-1].number} // still resolve the names
	}
	for _, q := range QueryNames {
		if bad[q] || (q == QueryCalls && c.m.needsCatalog() && len(sets) == 0) {
			continue
		}
		base, err := c.m.base(q, sets, cat.storage, nil)
		if err == nil {
			t0 := time.Now()
			if err = c.exec(ctx, probeQuery(c.d, queryColumns[q], base)); err == nil {
				c.say("query %s readable (%s)", q, ms(time.Since(t0)))
				continue
			}
		}
		bad[q] = true
		var at *hcl.Range
		if _, overridden := c.m.overrides[q]; overridden {
			what := "queries." + q + ", the spec's override"
			c.finding(nil, "%s: %s", what, firstLine(err.Error()))
			continue
		}
		// Find the override that breaks it, if one does.
		for _, col := range c.m.columns[q] {
			if col.spec == nil || (q == QueryCalls && len(sets) == 0) {
				continue
			}
			one := []string{col.name}
			base, err := c.m.base(q, sets[:1], cat.storage, one)
			if err == nil {
				err = c.exec(ctx, probeQuery(c.d, one, base))
			}
			if err != nil {
				at = col.spec
				c.finding(at, "the SQL of column %s: %s", col.name, firstLine(err.Error()))
			}
		}
		if at == nil {
			c.finding(nil, "query %s: %s", q, firstLine(err.Error()))
		}
	}
}

func (c *checker) exec(ctx context.Context, q Query) error {
	rows, err := c.db.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	return errors.Join(rows.Err(), rows.Close())
}

func (c *checker) dailyCounts(ctx context.Context, w callWindow) error {
	q := dailyCountsQuery(c.d, w)
	rows, err := c.db.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return fmt.Errorf("%s: counting calls per day: %w", c.label, err)
	}
	defer rows.Close()
	var total int64
	c.say("calls per day since %s:", w.from.UTC().Format(time.DateOnly))
	for rows.Next() {
		var day, n any
		if err := rows.Scan(&day, &n); err != nil {
			return fmt.Errorf("%s: counting calls per day: %w", c.label, err)
		}
		t, _ := sqlrow.Time(day)
		k, _ := sqlrow.Int64(n)
		fmt.Fprintf(c.w, "  %s %8d\n", t.Format(time.DateOnly), k)
		total += k
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: counting calls per day: %w", c.label, err)
	}
	fmt.Fprintf(c.w, "  total %8d\n", total)
	return nil
}

// checkMedia opens the media files of the window's most recent recordings.
func (c *checker) checkMedia(ctx context.Context, w callWindow) error {
	q := recentMediaQuery(c.d, w, mediaSample)
	rows, err := c.db.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return fmt.Errorf("%s: reading recent media paths: %w", c.label, err)
	}
	var paths []string
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		p, _ := sqlrow.String(v)
		paths = append(paths, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(paths) == 0 {
		c.say("media: no recording with a media path in the window")
		return nil
	}
	var failed []string
	for _, p := range paths {
		if _, err := c.media.open(p); err != nil {
			failed = append(failed, err.Error())
		}
	}
	c.say("media: %d of the %d most recent recordings readable", len(paths)-len(failed), len(paths))
	for i, f := range failed {
		if i < 5 {
			c.finding(nil, "unreadable %s", f)
			continue
		}
		c.findings++
		if i == len(failed)-1 {
			fmt.Fprintf(c.w, "  … and %d more unreadable\n", len(failed)-5)
		}
	}
	return nil
}
