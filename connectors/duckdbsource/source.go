package duckdbsource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/applink-dev/applink/connectors/sqlrow"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/duckdb/duckdb-go/v2"
)

// Table and column names of the file (shared/README.md §4).
var (
	agentColumns = dsl.AgentColumns
	callColumns  = dsl.CallColumns
	tables       = map[string][]string{"agents": agentColumns, "calls": callColumns, "business_data": dsl.BDColumns}
	// The file's columns are the canonical ones, so the mappers cannot fail.
	agentMapper = must(sqlrow.NewAgentMapper(agentColumns))
	callMapper  = must(sqlrow.NewCallMapper(callColumns))
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Source reads one DuckDB file.
type Source struct {
	db    *sql.DB
	dir   string // the file's folder, media paths are relative to it
	label string
}

var (
	_ connector.Source          = (*Source)(nil)
	_ connector.MediaResolver   = (*Source)(nil)
	_ connector.FilteredCounter = (*Source)(nil)
	_ connector.SourceFactory   = Open
)

// Open opens src.Path read-only and checks that the three tables have the
// expected columns.
func Open(ctx context.Context, src dsl.Source) (connector.Source, error) {
	return OpenFile(ctx, src.Path, "source "+src.Name)
}

// OpenFile opens a DuckDB file read-only; label prefixes messages.
func OpenFile(ctx context.Context, path, label string) (*Source, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s: DuckDB file: %w", label, err)
	}
	// Timestamps without zone are UTC, whatever the machine's zone.
	c, err := duckdb.NewConnector(path+"?access_mode=read_only", func(ex driver.ExecerContext) error {
		_, err := ex.ExecContext(ctx, "SET TimeZone = 'UTC'", nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: opening DuckDB file %s: %w", label, path, err)
	}
	s := &Source{db: sql.OpenDB(c), dir: filepath.Dir(path), label: label}
	if err := s.checkTables(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// checkTables reports every missing table or column at once.
func (s *Source) checkTables(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'`)
	if err != nil {
		return fmt.Errorf("%s: reading the file's tables: %w", s.label, err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return fmt.Errorf("%s: reading the file's tables: %w", s.label, err)
		}
		have[t+"."+c] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: reading the file's tables: %w", s.label, err)
	}
	var missing []string
	for _, t := range []string{"agents", "calls", "business_data"} {
		for _, c := range tables[t] {
			if !have[t+"."+c] {
				missing = append(missing, t+"."+c)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: the DuckDB file lacks %s (it must hold tables agents, calls and business_data with the snapshot's columns)", s.label, strings.Join(missing, ", "))
	}
	return nil
}

// Close closes the file.
func (s *Source) Close() error { return s.db.Close() }

// MediaFile resolves a media_path against the file's folder; a path that
// is absolute or climbs out of it resolves to "" (no media).
func (s *Source) MediaFile(mediaPath string) string {
	p := filepath.FromSlash(mediaPath)
	if mediaPath == "" || !filepath.IsLocal(p) {
		return ""
	}
	return filepath.Join(s.dir, p)
}

func selectList(alias string, cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = alias + `."` + c + `"`
	}
	return strings.Join(out, ", ")
}

// ReadAgents reads agents in table order (rowid: the order they were
// loaded, i.e. the CSV's).
func (s *Source) ReadAgents(ctx context.Context, emit func(*connector.AgentRecord) error) error {
	rows, err := s.db.QueryContext(ctx, "SELECT "+selectList("a", agentColumns)+" FROM agents AS a ORDER BY a.rowid")
	if err != nil {
		return fmt.Errorf("%s: reading agents: %w", s.label, err)
	}
	defer rows.Close()
	vals, ptrs := sqlrow.ScanTargets(len(agentColumns))
	var r connector.AgentRecord
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("%s: reading agents: %w", s.label, err)
		}
		agentMapper.Map(&r, vals)
		r.Pos = "agents user_id=" + r.UserID
		if err := emit(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: reading agents: %w", s.label, err)
	}
	return nil
}

// startExpr is start_time as a timestamp whatever the column's type; NULL
// when it cannot be read, and such rows are kept (as bad rows).
const startExpr = `TRY_CAST(c."start_time" AS TIMESTAMP)`

// pushdown is the window and tenant predicates of a query, with their
// arguments; a row whose start_time or tenant_id cannot be read passes (it
// is then reported as a bad row, as the snapshot source does).
type pushdown struct {
	window, tenant string // "" when not pushed
	args           []any
}

func newPushdown(q connector.CallQuery) pushdown {
	var p pushdown
	if !q.From.IsZero() {
		p.args = append(p.args, q.From.UTC())
		p.window = fmt.Sprintf("(%s >= $%d OR %s IS NULL)", startExpr, len(p.args), startExpr)
	}
	if q.TenantEquals != nil {
		p.args = append(p.args, *q.TenantEquals)
		p.tenant = fmt.Sprintf(`(TRY_CAST(c."tenant_id" AS BIGINT) = $%d OR TRY_CAST(c."tenant_id" AS BIGINT) IS NULL)`, len(p.args))
	}
	return p
}

// where renders the pushed-down window and tenant, with the arguments.
func where(q connector.CallQuery) (string, []any) {
	p := newPushdown(q)
	var conds []string
	for _, c := range []string{p.window, p.tenant} {
		if c != "" {
			conds = append(conds, c)
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return "\nWHERE " + strings.Join(conds, " AND "), p.args
}

// CountFiltered implements connector.FilteredCounter: the rows the pushed-down
// tenant (first, as the rules order them) and window left out.
func (s *Source) CountFiltered(ctx context.Context, q connector.CallQuery) (map[connector.StateReason]int, error) {
	p := newPushdown(q)
	if p.window == "" && p.tenant == "" {
		return nil, nil
	}
	tenantIn, windowIn := orTrue(p.tenant), orTrue(p.window)
	var other, before int
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FILTER (WHERE NOT "+tenantIn+"), count(*) FILTER (WHERE "+tenantIn+" AND NOT "+windowIn+")\nFROM calls AS c", p.args...).Scan(&other, &before)
	if err != nil {
		return nil, fmt.Errorf("%s: counting the calls filtered in the database: %w", s.label, err)
	}
	return map[connector.StateReason]int{
		{State: connector.StateExcluded, Reason: connector.ReasonOtherTenant}:  other,
		{State: connector.StateExcluded, Reason: connector.ReasonBeforeWindow}: before,
	}, nil
}

func orTrue(cond string) string {
	if cond == "" {
		return "TRUE"
	}
	return cond
}

const order = "\nORDER BY " + startExpr + ` NULLS FIRST, CAST(c."call_id" AS VARCHAR), c.rowid`

// ReadCalls streams calls with their business data, merge-joining two
// queries sorted alike.
func (s *Source) ReadCalls(ctx context.Context, q connector.CallQuery, emit func(*connector.CallRecord) error) error {
	names := q.Names
	if names == nil {
		names = connector.NewNames()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, args := where(q)
	calls, err := s.db.QueryContext(ctx, "SELECT "+selectList("c", callColumns)+"\nFROM calls AS c"+w+order, args...)
	if err != nil {
		return fmt.Errorf("%s: reading calls: %w", s.label, err)
	}
	defer calls.Close()
	bd, err := s.db.QueryContext(ctx, `SELECT CAST(c."call_id" AS VARCHAR), CAST(b."name" AS VARCHAR), CAST(b."value" AS VARCHAR)`+
		"\nFROM calls AS c JOIN business_data AS b ON CAST(b.\"call_id\" AS VARCHAR) = CAST(c.\"call_id\" AS VARCHAR)"+w+order+", b.rowid", args...)
	if err != nil {
		return fmt.Errorf("%s: reading business data: %w", s.label, err)
	}
	defer bd.Close()

	vals, ptrs := sqlrow.ScanTargets(len(callColumns))
	var rec connector.CallRecord
	var bdID, bdName, bdValue sql.NullString
	bdOK := bd.Next()
	if bdOK {
		if err := bd.Scan(&bdID, &bdName, &bdValue); err != nil {
			return fmt.Errorf("%s: reading business data: %w", s.label, err)
		}
	}
	for calls.Next() {
		if err := calls.Scan(ptrs...); err != nil {
			return fmt.Errorf("%s: reading calls: %w", s.label, err)
		}
		callMapper.Map(&rec, vals)
		rec.Pos = "calls call_id=" + rec.Call.CallID
		rec.BD = rec.BD[:0]
		for bdOK && bdID.String == rec.Call.CallID {
			rec.BD = append(rec.BD, connector.BDField{Name: names.ID([]byte(bdName.String)), Value: []byte(bdValue.String)})
			if bdOK = bd.Next(); bdOK {
				if err := bd.Scan(&bdID, &bdName, &bdValue); err != nil {
					return fmt.Errorf("%s: reading business data: %w", s.label, err)
				}
			}
		}
		if err := emit(&rec); err != nil {
			return err
		}
	}
	if err := errors.Join(calls.Err(), bd.Err()); err != nil {
		return fmt.Errorf("%s: reading calls: %w", s.label, err)
	}
	if bdOK {
		// Both streams share one order: a leftover means a duplicate
		// call_id in calls took the same rows twice. Report, not drop.
		return fmt.Errorf("%s: business data of call %s left after its call: duplicate call_id in table calls?", s.label, bdID.String)
	}
	return s.orphans(ctx, emit)
}

// orphans emits business-data rows whose call is not in calls, as bad rows.
func (s *Source) orphans(ctx context.Context, emit func(*connector.CallRecord) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT CAST(b."call_id" AS VARCHAR) AS id, COUNT(*) FROM business_data AS b
WHERE NOT EXISTS (SELECT 1 FROM calls AS c WHERE CAST(c."call_id" AS VARCHAR) = CAST(b."call_id" AS VARCHAR))
GROUP BY id ORDER BY id`)
	if err != nil {
		return fmt.Errorf("%s: reading business data: %w", s.label, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id sql.NullString
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return fmt.Errorf("%s: reading business data: %w", s.label, err)
		}
		rec := connector.CallRecord{Pos: "business_data call_id=" + id.String,
			Err: fmt.Errorf("%d business-data rows of call_id %q, which is not in table calls", n, id.String)}
		if err := emit(&rec); err != nil {
			return err
		}
	}
	return rows.Err()
}
