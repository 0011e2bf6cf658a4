package mssql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	mssqldb "github.com/microsoft/go-mssqldb"
)

// Defaults of a source block's tuning attributes.
const (
	DefaultBatchSize    = 5000
	DefaultQueryTimeout = 60 * time.Second
)

// Source reads one Engage site. It is an engine.Source.
type Source struct {
	db      *sql.DB
	d       Dialect
	label   string // "source dc1", prefix of messages
	site    string
	queries map[string]string
	batch   int
	timeout time.Duration
	retry   RetryPolicy
	secrets []string

	// fetch reads one page of calls; a field so tests can inject failures
	// at the page boundary, where resumption is decided.
	fetch func(ctx context.Context, w callWindow, names *engine.Names) (*page, error)
}

var _ engine.Source = (*Source)(nil)

// Open connects to the Engage SQL Server of a source block (driver
// "mssql"). It is an engine.SourceFactory. It pings the server so that a
// wrong host or login fails here with a one-line message, not mid-run.
func Open(ctx context.Context, src dsl.Source) (engine.Source, error) {
	c, err := parseSource(src)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(mssqldb.NewConnectorConfig(c.cfg))
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, classify(c, err)
	}
	s, err := New(db, TSQL, src)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.secrets = c.secrets
	return s, nil
}

// New reads Engage through db in dialect d. Close closes db. Tests use it
// with DuckDB to execute the very queries SQL Server would get.
func New(db *sql.DB, d Dialect, src dsl.Source) (*Source, error) {
	label := "source " + src.Name
	qs, err := resolveQueries(d, src.Queries)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	s := &Source{
		db: db, d: d, label: label, site: src.Site, queries: qs,
		batch: src.BatchSize, timeout: src.QueryTimeout, retry: DefaultRetry,
	}
	if s.site == "" {
		s.site = src.Name
	}
	if s.batch <= 0 {
		s.batch = DefaultBatchSize
	}
	if s.timeout <= 0 {
		s.timeout = DefaultQueryTimeout
	}
	s.fetch = s.fetchPage
	return s, nil
}

// Close closes the database handle.
func (s *Source) Close() error { return s.db.Close() }

// ReadAgents reads every user. Agents are few (thousands), so they are read
// whole (with retries) before the first emit: a retry never re-emits.
func (s *Source) ReadAgents(ctx context.Context, emit func(*engine.AgentRecord) error) error {
	recs, err := withRetry(ctx, s.retry, func(ctx context.Context) ([]engine.AgentRecord, error) {
		return s.readAgents(ctx)
	})
	if err != nil {
		return fmt.Errorf("%s: reading agents: %w", s.label, scrubbed(err, s.secrets))
	}
	for i := range recs {
		if err := emit(&recs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Source) readAgents(ctx context.Context) ([]engine.AgentRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	q := agentsQuery(s.d, s.queries[QueryAgents])
	rows, err := s.db.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	vals, ptrs := scanTargets(len(agentColumns))
	var out []engine.AgentRecord
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, s.agentRecord(vals))
	}
	return out, rows.Err()
}

func (s *Source) agentRecord(v []any) engine.AgentRecord {
	var r engine.AgentRecord
	var errs []error
	conv := func(col int, f func(any) error) {
		if err := f(v[col]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", agentColumns[col], err))
		}
	}
	conv(0, func(x any) (err error) { r.UserID, err = asString(x); return })
	conv(1, func(x any) (err error) { r.AgentID, err = asString(x); return })
	conv(2, func(x any) (err error) { r.FirstName, err = asString(x); return })
	conv(3, func(x any) (err error) { r.LastName, err = asString(x); return })
	conv(4, func(x any) (err error) { r.Email, err = asString(x); return })
	conv(5, func(x any) (err error) { r.Active, err = asBool(x); return })
	conv(6, func(x any) (err error) { r.IsAgent, err = asBool(x); return })
	conv(7, func(x any) (err error) { r.TenantID, err = asInt64(x); return })
	conv(8, func(x any) (err error) { r.CreatedAt, err = asTime(x); return })
	if !r.IsAgent {
		r.AgentID = "" // the contract: a non-agent user has no agent ID
	}
	r.Pos = s.label + " user " + r.UserID
	if r.UserID == "" {
		errs = append(errs, errors.New("user_id is empty"))
	}
	r.Err = errors.Join(errs...)
	return r
}

// page is one keyset page of calls with their business data. BD slices and
// values live until the next page is fetched, as CallRecord allows.
type page struct {
	calls []engine.CallRecord
	keys  []key // keys[i] is the position of calls[i]
}

// ReadCalls streams calls in (start_time, call_id) order, one page of
// batch_size calls at a time from q.From / q.After. A page that fails to
// load (e.g. an Always On failover dropped the connection) is fetched again
// from the last key emitted, so no call is emitted twice or skipped; memory
// holds one page.
func (s *Source) ReadCalls(ctx context.Context, q engine.CallQuery, emit func(*engine.CallRecord) error) error {
	names := q.Names
	if names == nil {
		names = engine.NewNames()
	}
	w := callWindow{from: q.From, tenant: q.TenantEquals}
	if q.After != "" {
		w.after = &key{t: q.From, id: parseID(q.After)}
	}
	for {
		p, err := withRetry(ctx, s.retry, func(ctx context.Context) (*page, error) {
			return s.fetch(ctx, w, names)
		})
		if err != nil {
			return fmt.Errorf("%s: reading calls %s: %w", s.label, describe(w), scrubbed(err, s.secrets))
		}
		for i := range p.calls {
			if err := emit(&p.calls[i]); err != nil {
				return err
			}
			w.after = &p.keys[i]
		}
		if len(p.calls) < s.batch {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func describe(w callWindow) string {
	if w.after != nil {
		return fmt.Sprintf("after (%s, %v)", w.after.t.UTC().Format(time.RFC3339Nano), w.after.id)
	}
	if !w.from.IsZero() {
		return "from " + w.from.UTC().Format(time.RFC3339)
	}
	return "from the start"
}

// parseID turns a resume call_id into the key type of Engage's numeric
// interaction IDs; a textual ID (from an override) stays a string.
func parseID(id string) any {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return n
	}
	return id
}

// fetchPage runs the page's calls query, then one business-data query over
// the same key range, and merges them.
func (s *Source) fetchPage(ctx context.Context, w callWindow, names *engine.Names) (*page, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	q := callsBatch(s.d, s.queries[QueryCalls], w, s.batch)
	p, err := s.readCallRows(ctx, q)
	if err != nil || len(p.calls) == 0 {
		return p, err
	}
	bq := bdBatch(s.d, s.queries[QueryBusinessData], s.queries[QueryCalls], w, p.keys[len(p.keys)-1])
	return p, s.readBD(ctx, bq, p, names)
}

func (s *Source) readCallRows(ctx context.Context, q Query) (*page, error) {
	rows, err := s.db.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	p := &page{calls: make([]engine.CallRecord, 0, min(s.batch, 1024))}
	vals, ptrs := scanTargets(len(callColumns))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		rec, k, err := s.callRecord(vals)
		if err != nil {
			// Without its key a row cannot be resumed after: stop.
			return nil, &permanentError{err}
		}
		p.calls = append(p.calls, rec)
		p.keys = append(p.keys, k)
	}
	return p, rows.Err()
}

func (s *Source) callRecord(v []any) (engine.CallRecord, key, error) {
	var r engine.CallRecord
	c := &r.Call
	if v[0] == nil || v[3] == nil {
		return r, key{}, errors.New("the calls query returned a row without call_id or start_time; both are needed to page through calls")
	}
	id, err := keyID(v[0])
	if err != nil {
		return r, key{}, fmt.Errorf("call_id: %w", err)
	}
	start, err := asTime(v[3])
	if err != nil {
		return r, key{}, fmt.Errorf("start_time of call %v: %w", id, err)
	}
	c.CallID, _ = asString(id)
	c.StartTime = start.UTC()
	c.Site = s.site
	var errs []error
	conv := func(col int, f func(any) error) {
		if err := f(v[col]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", callColumns[col], err))
		}
	}
	conv(1, func(x any) (err error) { c.TenantID, err = asInt64(x); return })
	conv(2, func(x any) (err error) { c.AgentID, err = asString(x); return })
	conv(4, func(x any) (err error) { c.DurationMS, err = asInt64(x); return })
	conv(5, func(x any) (err error) { c.Direction, err = asEnum(x, "in", "out", "internal", "unknown"); return })
	conv(6, func(x any) (err error) { c.ANI, err = asString(x); return })
	conv(7, func(x any) (err error) { c.DNIS, err = asString(x); return })
	conv(8, func(x any) (err error) { c.Archived, err = asBool(x); return })
	conv(9, func(x any) (err error) { c.AudioPackets, err = asInt64(x); return })
	conv(10, func(x any) (err error) { c.Status, err = asEnum(x, "ok", "invalid", "error"); return })
	conv(11, func(x any) (err error) { c.ExceptionCode, err = asInt64(x); return })
	conv(12, func(x any) (err error) { c.MediaPath, err = asString(x); return })
	conv(13, func(x any) (err error) { c.Skill, err = asString(x); return })
	r.Err = errors.Join(errs...)
	r.Pos = s.label + " call " + c.CallID
	return r, key{t: start, id: id}, nil
}

// readBD attaches the page's business data to its calls. Values are copied
// into one arena per page, so a page costs a few allocations, not one per
// value.
func (s *Source) readBD(ctx context.Context, q Query, p *page, names *engine.Names) error {
	idx := make(map[string]int, len(p.calls))
	for i := range p.calls {
		idx[p.calls[i].Call.CallID] = i
	}
	rows, err := s.db.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals, ptrs := scanTargets(len(bdColumns))
	var arena []byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		id, err := asString(vals[0])
		if err != nil {
			return &permanentError{fmt.Errorf("business data call_id: %w", err)}
		}
		i, ok := idx[id]
		if !ok {
			continue // the range join only returns the page's calls; be safe anyway
		}
		name, err1 := asString(vals[1])
		value, err2 := asString(vals[2])
		if err := errors.Join(err1, err2); err != nil {
			rec := &p.calls[i]
			rec.Err = errors.Join(rec.Err, fmt.Errorf("business data: %w", err))
			continue
		}
		start := len(arena)
		arena = append(arena, value...)
		p.calls[i].BD = append(p.calls[i].BD, engine.BDField{
			Name:  names.ID([]byte(name)),
			Value: arena[start:len(arena):len(arena)],
		})
	}
	return rows.Err()
}

func scanTargets(n int) ([]any, []any) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, ptrs
}
