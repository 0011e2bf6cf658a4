package preview

import (
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
)

// Stages of results.stage, in plan order.
const (
	StageSource  = "source"  // a bad source row
	StageRules   = "rules"   // excluded by seed rules 1–10
	StageFilters = "filters" // excluded by the spec's call filter
	StageMapping = "mapping" // excluded by a field mapping (on_error = exclude)
	StageMapped  = "mapped"  // imported
)

// Change kinds of the diff against the state ledger.
const (
	ChangeNew       = engine.ChangeNew
	ChangeChanged   = engine.ChangeChanged
	ChangeUnchanged = engine.ChangeUnchanged
	ChangeRemoved   = "removed" // in the ledger, no longer in the source
)

// stageOf is where a call with this ledger row left the pipeline.
func stageOf(state, reason string) string {
	switch {
	case state == connector.StateImported:
		return StageMapped
	case reason == connector.ReasonBadRow:
		return StageSource
	case reason == connector.ReasonFilteredOut:
		return StageFilters
	case reason == connector.ReasonMappingError:
		return StageMapping
	}
	return StageRules
}

// ddl creates the tables the Appender fills. No keys or indexes: they would
// slow the appends, and a source may repeat a call_id (a bad row, say).
var ddl = []string{
	`CREATE TABLE calls (
		pos            BIGINT,
		source         VARCHAR,
		call_id        VARCHAR,
		tenant_id      BIGINT,
		site           VARCHAR,
		agent_id       VARCHAR,
		start_time     TIMESTAMPTZ,
		duration_ms    BIGINT,
		direction      VARCHAR,
		ani            VARCHAR,
		dnis           VARCHAR,
		archived       BOOLEAN,
		audio_packets  BIGINT,
		status         VARCHAR,
		exception_code BIGINT,
		media_path     VARCHAR,
		skill          VARCHAR)`,
	// results_raw becomes results once the diff is known (CREATE TABLE AS
	// over a join is cheaper than updating a million rows).
	`CREATE TABLE results_raw (
		pos           BIGINT,
		call_id       VARCHAR,
		state         VARCHAR,
		reason        VARCHAR,
		detail        VARCHAR,
		stage         VARCHAR,
		agent_user_id VARCHAR,
		fp            UBIGINT)`,
	`CREATE TABLE mapped (
		pos           BIGINT,
		call_id       VARCHAR,
		business_data VARCHAR)`,
	`CREATE TABLE agents_raw (
		user_id    VARCHAR,
		state      VARCHAR,
		reason     VARCHAR,
		detail     VARCHAR,
		fp         UBIGINT,
		active     BOOLEAN,
		is_agent   BOOLEAN,
		agent_ids  VARCHAR,
		first_name VARCHAR,
		last_name  VARCHAR,
		email      VARCHAR,
		tenant_id  BIGINT)`,
	`CREATE TABLE bd (
		pos     BIGINT,
		call_id VARCHAR,
		name    VARCHAR,
		value   VARCHAR)`,
	`CREATE TABLE summary (json VARCHAR)`,
}

// priorLedger is the state ledger when a state file is attached as prior,
// else an empty relation of the same shape.
const (
	priorAttached = `prior.ledger`
	priorEmpty    = `(SELECT NULL::VARCHAR AS entity, NULL::VARCHAR AS id, NULL::VARCHAR AS state, NULL::VARCHAR AS reason,
		NULL::VARCHAR AS detail, NULL::UBIGINT AS fp, NULL::BOOLEAN AS active, NULL::VARCHAR AS run_id WHERE false)`
)

// diffSQL turns the raw tables into the final ones against the prior ledger
// ({prior}). A row is new when its (entity, id) is not in the ledger, changed
// when its fingerprint differs, unchanged otherwise.
var diffSQL = []string{
	`CREATE TABLE results AS
	SELECT r.*,
		CASE WHEN l.id IS NULL THEN 'new' WHEN l.fp = r.fp THEN 'unchanged' ELSE 'changed' END AS change,
		coalesce(l.state, '') AS prev_state, coalesce(l.reason, '') AS prev_reason, coalesce(l.detail, '') AS prev_detail
	FROM results_raw r LEFT JOIN (SELECT * FROM {prior} WHERE entity = 'call') l ON l.id = r.call_id`,
	`DROP TABLE results_raw`,
	`CREATE TABLE agents AS
	SELECT a.*,
		CASE WHEN l.id IS NULL THEN 'new' WHEN l.fp = a.fp THEN 'unchanged' ELSE 'changed' END AS change,
		coalesce(l.state, '') AS prev_state, coalesce(l.reason, '') AS prev_reason,
		l.active AS prev_active
	FROM agents_raw a LEFT JOIN (SELECT * FROM {prior} WHERE entity = 'agent') l ON l.id = a.user_id`,
	`DROP TABLE agents_raw`,
	`CREATE TABLE removed AS
	SELECT l.entity, l.id, l.state, l.reason, l.detail, l.run_id FROM {prior} l
	WHERE (l.entity = 'call' AND NOT EXISTS (SELECT 1 FROM results r WHERE r.call_id = l.id))
	   OR (l.entity = 'agent' AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.user_id = l.id))`,
}

// views over the final tables, for the TUI and for people with a DuckDB shell.
var views = []string{
	`CREATE VIEW after_rules AS
	SELECT c.*, r.state, r.reason, r.detail, r.stage, r.agent_user_id, r.change
	FROM calls c JOIN results r USING (pos) WHERE r.stage IN ('filters', 'mapping', 'mapped')`,
	`CREATE VIEW after_filters AS
	SELECT c.*, r.state, r.reason, r.detail, r.stage, r.agent_user_id, r.change
	FROM calls c JOIN results r USING (pos) WHERE r.stage IN ('mapping', 'mapped')`,
	`CREATE VIEW mapped_calls AS
	SELECT c.*, r.agent_user_id, r.reason, r.change, m.business_data
	FROM calls c JOIN results r USING (pos) JOIN mapped m USING (pos) WHERE r.stage = 'mapped'`,
	`CREATE VIEW rejects AS
	SELECT c.*, r.state, r.reason, r.detail, r.stage, r.change
	FROM calls c JOIN results r USING (pos) WHERE r.state <> 'imported'`,
	`CREATE VIEW diff AS
	SELECT 'call' AS entity, call_id AS id, change, state, reason, prev_state, prev_reason FROM results
	UNION ALL
	SELECT 'agent', user_id, change, state, reason, prev_state, prev_reason FROM agents
	UNION ALL
	SELECT entity, id, 'removed', '', '', state, reason FROM removed`,
}
