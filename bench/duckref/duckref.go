package duckref

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the reference is DuckDB
)

// Run is the equivalent of the demo spec in DuckDB SQL: the agent rules
// (not_agent, no_email, duplicate_email, the agents filter), the call rules
// as WHERE, business data pivoted per call, joined; it stores the imported calls
// in a DuckDB file at dbPath (replaced) and returns how many there are.
func Run(ctx context.Context, dataDir, dbPath string, from time.Time) (int, error) {
	os.Remove(dbPath)
	os.Remove(dbPath + ".wal")
	db, err := sql.Open("duckdb", dbPath)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	f := func(name string) string { return sqlString(filepath.Join(dataDir, name)) }
	q := `CREATE TABLE imported AS
	WITH ag AS (
		SELECT * FROM read_csv(` + f("agents.csv") + `, header = true, columns = {'user_id': 'VARCHAR', 'agent_id': 'VARCHAR',
			'first_name': 'VARCHAR', 'last_name': 'VARCHAR', 'email': 'VARCHAR', 'active': 'BOOLEAN', 'is_agent': 'BOOLEAN',
			'tenant_id': 'BIGINT', 'created_at': 'TIMESTAMPTZ'})),
	users AS (
		SELECT user_id, first(trim(coalesce(email, ''))) AS em, first(created_at) AS created_at, bool_or(is_agent) AS is_agent,
			list(DISTINCT trim(agent_id)) FILTER (WHERE trim(coalesce(agent_id, '')) <> '') AS ids
		FROM ag GROUP BY user_id),
	r0 AS (
		SELECT *, CASE WHEN NOT is_agent OR ids IS NULL THEN 'not_agent' WHEN em = '' THEN 'no_email' END AS r0 FROM users),
	ru AS (
		SELECT *, CASE WHEN r0 IS NOT NULL THEN r0
			WHEN row_number() OVER (PARTITION BY r0 IS NULL, lower(em) ORDER BY created_at, user_id) > 1 THEN 'duplicate_email'
			WHEN lower(em) LIKE '%@test.example' THEN 'filtered_out' END AS reason
		FROM r0),
	agent_ids AS (SELECT unnest(ids) AS agent_id, user_id, reason FROM ru WHERE ids IS NOT NULL),
	bd AS (
		SELECT call_id, map(list(name), list(value)) AS bd
		FROM read_csv(` + f("business_data.csv") + `, header = true, columns = {'call_id': 'VARCHAR', 'name': 'VARCHAR', 'value': 'VARCHAR'})
		GROUP BY call_id),
	calls AS (
		SELECT * FROM read_csv(` + f("calls.csv") + `, header = true, columns = {'call_id': 'VARCHAR', 'tenant_id': 'BIGINT',
			'site': 'VARCHAR', 'agent_id': 'VARCHAR', 'start_time': 'TIMESTAMPTZ', 'duration_ms': 'BIGINT', 'direction': 'VARCHAR',
			'ani': 'VARCHAR', 'dnis': 'VARCHAR', 'archived': 'BOOLEAN', 'audio_packets': 'BIGINT', 'status': 'VARCHAR',
			'exception_code': 'BIGINT', 'media_path': 'VARCHAR', 'skill': 'VARCHAR'}))
	SELECT c.*, CASE WHEN a.reason IS NULL THEN a.user_id END AS agent_user_id, bd.bd
	FROM calls c
	LEFT JOIN agent_ids a ON a.agent_id = trim(c.agent_id)
	LEFT JOIN bd USING (call_id)
	WHERE c.start_time >= TIMESTAMPTZ ` + sqlString(from.UTC().Format(time.RFC3339)) + `
		AND trim(coalesce(c.agent_id, '')) <> '' AND c.archived AND c.status <> 'invalid'
		AND c.exception_code = 0 AND c.status <> 'error' AND c.audio_packets > 0 AND c.duration_ms > 2000
		AND coalesce(a.reason, '') NOT IN ('no_email', 'filtered_out')
		AND c.direction <> 'internal'`
	if _, err := db.ExecContext(ctx, q); err != nil {
		return 0, fmt.Errorf("duckdb sql: %w", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM imported`).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
