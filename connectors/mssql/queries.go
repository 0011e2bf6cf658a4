package mssql

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Names of the overridable queries (`queries { calls = <<-SQL … SQL }`).
const (
	QueryAgents       = "agents"
	QueryCalls        = "calls"
	QueryBusinessData = "business_data"
)

// QueryNames lists the overridable queries in a stable order.
var QueryNames = []string{QueryAgents, QueryCalls, QueryBusinessData}

// Canonical output columns of each base query. An override must return
// these names (any extra column is ignored); the wrapper selects them in
// this order and the reader scans them by position.
var (
	agentColumns = []string{"user_id", "agent_id", "first_name", "last_name", "email", "active", "is_agent", "tenant_id", "created_at"}
	callColumns  = []string{"call_id", "tenant_id", "agent_id", "start_time", "duration_ms", "direction", "ani", "dnis", "archived", "audio_packets", "status", "exception_code", "media_path", "skill"}
	bdColumns    = []string{"call_id", "name", "value"}
)

// Engage codes the default queries interpret (MAPPING.md says where each
// comes from and which are guesses).
const (
	subExceptionNoAudio = 1702 // sub-exception of 12 "voice recording failed": no VoIP audio
	archiveStatusDone   = 1    // tiVoiceArchiveStatus of an archived recording (assumption)
)

// DefaultQuery returns the base SELECT of a query in a dialect: the SQL
// that maps Engage tables to canonical rows. The builder wraps it with the
// window, tenant and keyset predicates, so an override only has to produce
// the canonical columns.
func DefaultQuery(d Dialect, name string) (string, error) {
	switch name {
	case QueryAgents:
		return defaultAgents, nil
	case QueryCalls:
		return defaultCalls(d), nil
	case QueryBusinessData:
		return defaultBusinessData, nil
	}
	return "", fmt.Errorf("unknown query %q (known: %s)", name, strings.Join(QueryNames, ", "))
}

// One row per agent ID of a user; users without an agent profile appear
// once with is_agent 0 and a NULL agent_id (the LEFT JOIN).
const defaultAgents = `SELECT
  u.iUserID AS user_id,
  a.nvcSwitchAgentId AS agent_id,
  u.nvcFirstName AS first_name,
  u.nvcLastName AS last_name,
  u.vcEmailAddress AS email,
  u.bitActive AS active,
  CASE WHEN a.iAgentId IS NULL THEN 0 ELSE 1 END AS is_agent,
  u.iTenantID AS tenant_id,
  u.dtCreatedGMT AS created_at
FROM tblUser AS u
LEFT JOIN tblAgent AS a ON a.iUserID = u.iUserID`

const defaultBusinessData = `SELECT
  b.iInteractionID AS call_id,
  b.nvcFieldName AS name,
  b.nvcFieldValue AS value
FROM tblBusinessData AS b`

// defaultCalls reads one row per interaction. Participants, recordings and
// exceptions have several rows per interaction: each is reduced to its
// first row (by ID) so a call is never duplicated.
func defaultCalls(d Dialect) string {
	return fmt.Sprintf(`SELECT
  i.iInteractionID AS call_id,
  i.iTenantID AS tenant_id,
  ag.nvcAgentId AS agent_id,
  i.dtInteractionGMTStartTime AS start_time,
  i.biInteractionDuration AS duration_ms,
  CASE i.tiCallDirectionTypeID WHEN 1 THEN 'in' WHEN 2 THEN 'out' WHEN 3 THEN 'internal' ELSE 'unknown' END AS direction,
  ini.nvcPhoneNumber AS ani,
  i.nvcDialedNumber AS dnis,
  CASE WHEN r.tiVoiceArchiveStatus = %d THEN 1 ELSE 0 END AS archived,
  CASE WHEN na.iExceptionNumber IS NOT NULL THEN 0 ELSE r.iAudioPackets END AS audio_packets,
  CASE i.tiInteractionStatusID WHEN 1 THEN 'invalid' WHEN 2 THEN 'error' ELSE 'ok' END AS status,
  ex.iExceptionNumber AS exception_code,
  r.vcArchivePath AS media_path,
  i.nvcSkillName AS skill
FROM tblInteraction AS i
%s
%s
%s
%s
%s`,
		archiveStatusDone,
		d.FirstRow("p.nvcAgentId", "FROM tblParticipant AS p WHERE p.iInteractionID = i.iInteractionID AND p.nvcAgentId <> ''", "p.iParticipantID", "ag"),
		d.FirstRow("p.nvcPhoneNumber", "FROM tblParticipant AS p WHERE p.iInteractionID = i.iInteractionID AND p.bitIsInteractionInitiator = 1", "p.iParticipantID", "ini"),
		d.FirstRow("rc.tiVoiceArchiveStatus, rc.iAudioPackets, rc.vcArchivePath", "FROM tblRecording AS rc WHERE rc.iInteractionID = i.iInteractionID", "rc.iRecordingID", "r"),
		d.FirstRow("e.iExceptionNumber", fmt.Sprintf("FROM tblInteractionException AS e WHERE e.iInteractionID = i.iInteractionID AND e.iExceptionNumber <> %d", subExceptionNoAudio), "e.dtExceptionTimeStamp, e.iExceptionID", "ex"),
		d.FirstRow("e.iExceptionNumber", fmt.Sprintf("FROM tblInteractionException AS e WHERE e.iInteractionID = i.iInteractionID AND e.iExceptionNumber = %d", subExceptionNoAudio), "e.iExceptionID", "na"),
	)
}

// key is a keyset position: the (start_time, call_id) of the last call
// emitted. id is int64 for Engage's numeric interaction IDs, string when an
// override returns textual IDs.
type key struct {
	t  time.Time
	id any
}

// callWindow is what a calls query is restricted to.
type callWindow struct {
	from   time.Time // zero: no lower bound
	after  *key      // resume strictly after this key
	tenant *int64
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
// start_time even though the keyset comparison is an OR.
func (b *builder) where(w callWindow, upTo *key) {
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
}

func (b *builder) from(base string) {
	b.W("\nFROM (\n", strings.TrimRight(base, " \t\r\n;"), "\n) AS q")
}

// callsBatch renders one page of calls: at most limit rows after the window's
// key, in keyset order.
func callsBatch(d Dialect, base string, w callWindow, limit int) Query {
	b := &builder{d: d}
	b.W("SELECT ")
	if d == TSQL {
		b.W("TOP (", b.Arg(limit), ") ")
	}
	b.columns("q", callColumns)
	b.from(base)
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
func bdBatch(d Dialect, bdBase, callsBase string, w callWindow, upTo key) Query {
	b := &builder{d: d}
	b.W("SELECT ")
	b.columns("b", bdColumns)
	b.W("\nFROM (\n", strings.TrimRight(bdBase, " \t\r\n;"), "\n) AS b")
	b.W("\nWHERE b.", d.Ident("call_id"), " IN (SELECT q.", d.Ident("call_id"))
	b.from(callsBase)
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
func probeQuery(d Dialect, name, base string) Query {
	cols := map[string][]string{QueryAgents: agentColumns, QueryCalls: callColumns, QueryBusinessData: bdColumns}[name]
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
func dailyCountsQuery(d Dialect, base string, w callWindow) Query {
	b := &builder{d: d}
	day := d.Day("q." + d.Ident("start_time"))
	b.W("SELECT ", day, " AS ", d.Ident("day"), ", COUNT(*) AS ", d.Ident("calls"))
	b.from(base)
	b.where(w, nil)
	b.W("\nGROUP BY ", day, "\nORDER BY ", day)
	return b.Query()
}

// resolveQueries returns the base query of every name: the default unless
// the spec overrides it. An unknown override name is an error, not ignored:
// a typo would silently read the default.
func resolveQueries(d Dialect, overrides map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for name, q := range overrides {
		if !slices.Contains(QueryNames, name) {
			return nil, fmt.Errorf("queries: unknown query %q (known: %s)", name, strings.Join(QueryNames, ", "))
		}
		if strings.TrimSpace(q) == "" {
			return nil, fmt.Errorf("queries: %s is empty", name)
		}
		out[name] = q
	}
	for _, name := range QueryNames {
		if _, ok := out[name]; !ok {
			out[name], _ = DefaultQuery(d, name)
		}
	}
	return out, nil
}

// noStartQuery counts the calls a keyset cannot reach.
func noStartQuery(d Dialect, base string) Query {
	b := &builder{d: d}
	b.W("SELECT COUNT(*) AS ", d.Ident("calls"))
	b.from(base)
	b.W("\nWHERE q.", d.Ident("start_time"), " IS NULL")
	return b.Query()
}
