package mssql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/applink-dev/applink/connectors/sqlrow"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	mssqldb "github.com/microsoft/go-mssqldb"
)

// Defaults of a source block's tuning attributes.
const (
	DefaultBatchSize    = 5000
	DefaultQueryTimeout = 60 * time.Second
)

// Source reads one Engage site. It is a connector.Source.
type Source struct {
	db      *sql.DB
	d       Dialect
	label   string // "source dc1", prefix of messages
	site    string
	m       *mapping
	media   *pathMapper
	batch   int
	timeout time.Duration
	retry   RetryPolicy
	secrets []string

	// fetch reads one page of calls; a field so tests can inject failures
	// at the page boundary, where resumption is decided.
	fetch func(ctx context.Context, w callWindow, names *connector.Names) (*page, error)
	// window resolves the base queries of a run against the catalog (nil:
	// the window's queries are already set, as tests do).
	window func(ctx context.Context, w *callWindow) (bool, error)
}

var (
	_ connector.Source          = (*Source)(nil)
	_ connector.MediaLocator    = (*Source)(nil)
	_ connector.FilteredCounter = (*Source)(nil)

	agentMapper = must(sqlrow.NewAgentMapper(agentColumns))
	callMapper  = must(sqlrow.NewCallMapper(callColumns))
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Open connects to the Engage SQL Server of a source block (driver
// "mssql"). It is a connector.SourceFactory. It pings the server so that a
// wrong host or login fails here with a one-line message, not mid-run.
func Open(ctx context.Context, src dsl.Source) (connector.Source, error) {
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
	m, err := newMapping(d, src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	s := &Source{
		db: db, d: d, label: label, site: src.Site, m: m, media: newPathMapper(label, src.Media),
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
	s.window = s.resolveWindow
	return s, nil
}

// resolveWindow reads the catalog and sets the window's base queries to
// the interaction sets it reaches. It reports false when there is nothing
// to read.
func (s *Source) resolveWindow(ctx context.Context, w *callWindow) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	c, err := s.m.readCatalog(ctx, s.db)
	if err != nil {
		return false, err
	}
	sets := numbers(c.inWindow(w.from))
	if s.m.needsCatalog() && len(sets) == 0 {
		return false, nil
	}
	if w.calls, err = s.m.callsBase(sets, c.storage, nil); err != nil {
		return false, &permanentError{err}
	}
	if w.keys, err = s.m.callsBase(sets, c.storage, keyColumns); err != nil {
		return false, &permanentError{err}
	}
	return true, nil
}

// Close closes the database handle.
func (s *Source) Close() error { return s.db.Close() }

// ReadAgents reads every user. Agents are few (thousands), so they are read
// whole (with retries) before the first emit: a retry never re-emits.
func (s *Source) ReadAgents(ctx context.Context, emit func(*connector.AgentRecord) error) error {
	recs, err := withRetry(ctx, s.retry, func(ctx context.Context) ([]connector.AgentRecord, error) {
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

func (s *Source) readAgents(ctx context.Context) ([]connector.AgentRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	q := agentsQuery(s.d, s.m.agentsBase(nil))
	rows, err := s.db.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	vals, ptrs := sqlrow.ScanTargets(len(agentColumns))
	var out []connector.AgentRecord
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, s.agentRecord(vals))
	}
	return out, rows.Err()
}

func (s *Source) agentRecord(v []any) connector.AgentRecord {
	var r connector.AgentRecord
	agentMapper.Map(&r, v)
	if !r.IsAgent {
		r.AgentID = "" // the contract: a non-agent user has no agent ID
	}
	r.Pos = s.label + " user " + r.UserID
	return r
}

// page is one keyset page of calls with their business data. BD slices and
// values live until the next page is fetched, as CallRecord allows.
type page struct {
	calls []connector.CallRecord
	keys  []key // keys[i] is the position of calls[i]
}

// ReadCalls streams calls in (start_time, call_id) order, one page of
// batch_size calls at a time from q.From / q.After. A page that fails to
// load (e.g. an Always On failover dropped the connection) is fetched again
// from the last key emitted, so no call is emitted twice or skipped; memory
// holds one page.
func (s *Source) ReadCalls(ctx context.Context, q connector.CallQuery, emit func(*connector.CallRecord) error) error {
	names := q.Names
	if names == nil {
		names = connector.NewNames()
	}
	w := callWindow{from: q.From, tenant: q.TenantEquals}
	if q.After != "" {
		w.after = &key{t: q.From, id: parseID(q.After)}
	}
	if s.window != nil {
		more, err := withRetry(ctx, s.retry, func(ctx context.Context) (bool, error) { return s.window(ctx, &w) })
		if err != nil {
			return fmt.Errorf("%s: reading the Engage catalog: %w", s.label, scrubbed(err, s.secrets))
		}
		if !more {
			return nil // no interaction set reaches the window
		}
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
func (s *Source) fetchPage(ctx context.Context, w callWindow, names *connector.Names) (*page, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	q := callsBatch(s.d, w, s.batch)
	p, err := s.readCallRows(ctx, q)
	if err != nil || len(p.calls) == 0 {
		return p, err
	}
	bq := bdBatch(s.d, s.m.bdBase(nil), w, p.keys[len(p.keys)-1])
	return p, s.readBD(ctx, bq, p, names)
}

func (s *Source) readCallRows(ctx context.Context, q Query) (*page, error) {
	rows, err := s.db.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	p := &page{calls: make([]connector.CallRecord, 0, min(s.batch, 1024))}
	vals, ptrs := sqlrow.ScanTargets(len(callColumns))
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

func (s *Source) callRecord(v []any) (connector.CallRecord, key, error) {
	var r connector.CallRecord
	if v[0] == nil || v[3] == nil {
		return r, key{}, errors.New("the calls query returned a row without call_id or start_time; both are needed to page through calls")
	}
	id, err := keyID(v[0])
	if err != nil {
		return r, key{}, fmt.Errorf("call_id: %w", err)
	}
	start, err := sqlrow.Time(v[3])
	if err != nil {
		return r, key{}, fmt.Errorf("start_time of call %v: %w", id, err)
	}
	callMapper.Map(&r, v)
	r.Call.Site = s.site
	r.Pos = s.label + " call " + r.Call.CallID
	return r, key{t: start, id: id}, nil
}

// keyID is the keyset form of a call_id: integers compare as integers
// (Engage's iInteractionID), anything else as text.
func keyID(v any) (any, error) {
	if n, ok := sqlrow.Integer(v); ok {
		return n, nil
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	}
	return nil, fmt.Errorf("unsupported call_id type %T", v)
}

// readBD attaches the page's business data to its calls. Values are copied
// into one arena per page, so a page costs a few allocations, not one per
// value.
func (s *Source) readBD(ctx context.Context, q Query, p *page, names *connector.Names) error {
	idx := make(map[string]int, len(p.calls))
	for i := range p.calls {
		idx[p.calls[i].Call.CallID] = i
	}
	rows, err := s.db.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals, ptrs := sqlrow.ScanTargets(len(bdColumns))
	var arena []byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		id, err := sqlrow.String(vals[0])
		if err != nil {
			return &permanentError{fmt.Errorf("business data call_id: %w", err)}
		}
		i, ok := idx[id]
		if !ok {
			continue // the range join only returns the page's calls; be safe anyway
		}
		name, err1 := sqlrow.String(vals[1])
		value, err2 := sqlrow.String(vals[2])
		if err := errors.Join(err1, err2); err != nil {
			rec := &p.calls[i]
			rec.Err = errors.Join(rec.Err, fmt.Errorf("business data: %w", err))
			continue
		}
		start := len(arena)
		arena = append(arena, value...)
		p.calls[i].BD = append(p.calls[i].BD, connector.BDField{
			Name:  names.ID([]byte(name)),
			Value: arena[start:len(arena):len(arena)],
		})
	}
	return rows.Err()
}

// CountFiltered implements connector.FilteredCounter: the rows of every
// interaction set (those outside the window too) that the window and
// tenant predicates of ReadCalls left out, by the reason each would have
// had. A call without start_time no keyset reaches is a failed bad_row.
func (s *Source) CountFiltered(ctx context.Context, q connector.CallQuery) (map[connector.StateReason]int, error) {
	w := callWindow{from: q.From, tenant: q.TenantEquals}
	if w.from.IsZero() && w.tenant == nil {
		return nil, nil
	}
	counts, err := withRetry(ctx, s.retry, func(ctx context.Context) ([]int64, error) {
		ctx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		c, err := s.m.readCatalog(ctx, s.db)
		if err != nil {
			return nil, err
		}
		if s.m.needsCatalog() && len(c.sets) == 0 {
			return nil, nil
		}
		keys, err := s.m.callsBase(numbers(c.sets), c.storage, keyColumns)
		if err != nil {
			return nil, &permanentError{err}
		}
		cq := countFilteredQuery(s.d, keys, w)
		vals, ptrs := sqlrow.ScanTargets(len(filteredReasons))
		if err := s.db.QueryRowContext(ctx, cq.SQL, cq.Args...).Scan(ptrs...); err != nil {
			return nil, err
		}
		out := make([]int64, len(vals))
		for i, v := range vals {
			if out[i], err = sqlrow.Int64(v); err != nil {
				return nil, &permanentError{err}
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: counting the calls filtered in the database: %w", s.label, scrubbed(err, s.secrets))
	}
	if counts == nil {
		return nil, nil
	}
	return map[connector.StateReason]int{
		{State: connector.StateExcluded, Reason: connector.ReasonOtherTenant}:  int(counts[0]),
		{State: connector.StateExcluded, Reason: connector.ReasonBeforeWindow}: int(counts[1]),
		{State: connector.StateFailed, Reason: connector.ReasonBadRow}:         int(counts[2]),
	}, nil
}
