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

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/duckdb/duckdb-go/v2"
)

// Table and column names of the file (shared/README.md §4).
var (
	agentColumns = []string{"user_id", "agent_id", "first_name", "last_name", "email", "active", "is_agent", "tenant_id", "created_at"}
	callColumns  = []string{"call_id", "tenant_id", "site", "agent_id", "start_time", "duration_ms", "direction", "ani", "dnis", "archived", "audio_packets", "status", "exception_code", "media_path", "skill"}
	bdColumns    = []string{"call_id", "name", "value"}
	tables       = map[string][]string{"agents": agentColumns, "calls": callColumns, "business_data": bdColumns}
)

// Source reads one DuckDB file.
type Source struct {
	db    *sql.DB
	dir   string // the file's folder, media paths are relative to it
	label string
}

var (
	_ engine.Source        = (*Source)(nil)
	_ engine.MediaResolver = (*Source)(nil)
	_ engine.SourceFactory = Open
)

// Open opens src.Path read-only and checks that the three tables have the
// expected columns.
func Open(ctx context.Context, src dsl.Source) (engine.Source, error) {
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
func (s *Source) ReadAgents(ctx context.Context, emit func(*engine.AgentRecord) error) error {
	rows, err := s.db.QueryContext(ctx, "SELECT "+selectList("a", agentColumns)+" FROM agents AS a ORDER BY a.rowid")
	if err != nil {
		return fmt.Errorf("%s: reading agents: %w", s.label, err)
	}
	defer rows.Close()
	vals, ptrs := scanTargets(len(agentColumns))
	var r engine.AgentRecord
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("%s: reading agents: %w", s.label, err)
		}
		agentRecord(&r, vals)
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

func agentRecord(r *engine.AgentRecord, v []any) {
	*r = engine.AgentRecord{}
	var errs []error
	conv := func(col int, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", agentColumns[col], err))
		}
	}
	var err error
	r.UserID, err = asString(v[0])
	conv(0, err)
	r.AgentID, err = asString(v[1])
	conv(1, err)
	r.FirstName, err = asString(v[2])
	conv(2, err)
	r.LastName, err = asString(v[3])
	conv(3, err)
	r.Email, err = asString(v[4])
	conv(4, err)
	r.Active, err = asBool(v[5])
	conv(5, err)
	r.IsAgent, err = asBool(v[6])
	conv(6, err)
	r.TenantID, err = asInt64(v[7])
	conv(7, err)
	r.CreatedAt, err = asTime(v[8], false)
	conv(8, err)
	r.Err = errors.Join(errs...)
}

// startExpr is start_time as a timestamp whatever the column's type; NULL
// when it cannot be read, and such rows are kept (as bad rows).
const startExpr = `TRY_CAST(c."start_time" AS TIMESTAMP)`

// where renders the pushed-down window and tenant, with the arguments.
func where(q engine.CallQuery) (string, []any) {
	var conds []string
	var args []any
	if !q.From.IsZero() {
		args = append(args, q.From.UTC())
		conds = append(conds, fmt.Sprintf("(%s >= $%d OR %s IS NULL)", startExpr, len(args), startExpr))
	}
	if q.TenantEquals != nil {
		args = append(args, *q.TenantEquals)
		conds = append(conds, fmt.Sprintf(`(TRY_CAST(c."tenant_id" AS BIGINT) = $%d OR TRY_CAST(c."tenant_id" AS BIGINT) IS NULL)`, len(args)))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return "\nWHERE " + strings.Join(conds, " AND "), args
}

const order = "\nORDER BY " + startExpr + ` NULLS FIRST, CAST(c."call_id" AS VARCHAR), c.rowid`

// ReadCalls streams calls with their business data, merge-joining two
// queries sorted alike.
func (s *Source) ReadCalls(ctx context.Context, q engine.CallQuery, emit func(*engine.CallRecord) error) error {
	names := q.Names
	if names == nil {
		names = engine.NewNames()
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

	vals, ptrs := scanTargets(len(callColumns))
	var rec engine.CallRecord
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
		callRecord(&rec, vals)
		rec.Pos = "calls call_id=" + rec.Call.CallID
		rec.BD = rec.BD[:0]
		for bdOK && bdID.String == rec.Call.CallID {
			rec.BD = append(rec.BD, engine.BDField{Name: names.ID([]byte(bdName.String)), Value: []byte(bdValue.String)})
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
func (s *Source) orphans(ctx context.Context, emit func(*engine.CallRecord) error) error {
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
		rec := engine.CallRecord{Pos: "business_data call_id=" + id.String,
			Err: fmt.Errorf("%d business-data rows of call_id %q, which is not in table calls", n, id.String)}
		if err := emit(&rec); err != nil {
			return err
		}
	}
	return rows.Err()
}

func callRecord(r *engine.CallRecord, v []any) {
	c := &r.Call
	*c = dsl.Call{}
	r.Err = nil
	var errs []error
	conv := func(col int, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", callColumns[col], err))
		}
	}
	var err error
	c.CallID, err = asString(v[0])
	conv(0, err)
	c.TenantID, err = asInt64(v[1])
	conv(1, err)
	c.Site, err = asString(v[2])
	conv(2, err)
	c.AgentID, err = asString(v[3])
	conv(3, err)
	c.StartTime, err = asTime(v[4], true)
	conv(4, err)
	c.DurationMS, err = asInt64(v[5])
	conv(5, err)
	c.Direction, err = asEnum(v[6], "in", "out", "internal", "unknown")
	conv(6, err)
	c.ANI, err = asString(v[7])
	conv(7, err)
	c.DNIS, err = asString(v[8])
	conv(8, err)
	c.Archived, err = asBool(v[9])
	conv(9, err)
	c.AudioPackets, err = asInt64(v[10])
	conv(10, err)
	c.Status, err = asEnum(v[11], "ok", "invalid", "error")
	conv(11, err)
	c.ExceptionCode, err = asInt64(v[12])
	conv(12, err)
	c.MediaPath, err = asString(v[13])
	conv(13, err)
	c.Skill, err = asString(v[14])
	conv(14, err)
	if c.CallID == "" {
		errs = append(errs, errors.New("call_id is empty"))
	}
	r.Err = errors.Join(errs...)
}

func scanTargets(n int) ([]any, []any) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, ptrs
}
