package mssql

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/applink-dev/applink/dsl"
)

// The Engage-shaped schema the tests build, in the public layout
// (shared/engage-schema.md) plus the ASSUMED tables of MAPPING.md: three
// databases, an interaction catalog with per-set tables, storage-center
// tables and storage units. Tables only, no keys: Engage's constraints are
// not public and the queries must not rely on them. The T-SQL rendering is
// testdata/engage_schema.tsql.sql, a script with sqlcmd variables
// $(interactions), $(storage), $(admin) that the SQL Server integration
// test runs.

type dbCol struct{ name, typ string }

type dbTable struct {
	db    dbRole
	name  string
	cols  []dbCol
	index []string // the columns the default queries seek on
}

// fixtureSets and fixtureStorage are the interaction sets and
// storage-center tables of the fixture.
var (
	fixtureSets    = []string{"1", "2", "3"}
	fixtureStorage = []string{"tblStorageCenter01", "tblStorageCenter02"}
)

func engageTables(sets, storage []string) []dbTable {
	out := []dbTable{{dbInteractions, "tblInteractionCatalog", []dbCol{
		{"vcSetNumber", "VARCHAR(10)"}, {"dtMinStartTime", "DATETIME2"}, {"dtMaxStartTime", "DATETIME2"},
	}, []string{"vcSetNumber"}}}
	for _, n := range sets {
		out = append(out,
			dbTable{dbInteractions, "tblInteraction" + n, []dbCol{
				{"iInteractionID", "BIGINT"}, {"iCompoundID", "BIGINT"},
				{"dtInteractionGMTStartTime", "DATETIME2"}, {"dtInteractionGMTStopTime", "DATETIME2"}, {"dtInteractionLocalStartTime", "DATETIME2"},
				{"biInteractionDuration", "BIGINT"}, {"iSwitchID", "INT"}, {"tiInteractionTypeID", "TINYINT"},
				{"tiCallDirectionTypeID", "TINYINT"}, {"nvcDialedNumber", "NVARCHAR(64)"}, {"iSetNumber", "INT"},
				{"nvcBusinessData", "NVARCHAR(4000)"}, {"iTenantID", "INT"}, {"tiInteractionStatusID", "TINYINT"}, {"nvcSkillName", "NVARCHAR(128)"},
			}, []string{"dtInteractionGMTStartTime", "iInteractionID"}},
			dbTable{dbInteractions, "tblParticipant" + n, []dbCol{
				{"iParticipantID", "BIGINT"}, {"iInteractionID", "BIGINT"}, {"iUserID", "INT"}, {"nvcAgentId", "NVARCHAR(64)"},
				{"nvcStation", "NVARCHAR(64)"}, {"nvcPhoneNumber", "NVARCHAR(64)"}, {"tiParticipantTypeID", "TINYINT"},
				{"bitIsInteractionInitiator", "BIT"},
			}, []string{"iInteractionID", "iParticipantID"}},
			dbTable{dbInteractions, "tblCallInteraction" + n, []dbCol{{"iCompoundID", "BIGINT"}, {"iInteractionID", "BIGINT"}}, []string{"iCompoundID"}},
		)
	}
	out = append(out,
		dbTable{dbInteractions, "tblInteractionException", []dbCol{
			{"iExceptionID", "BIGINT"}, {"iInteractionID", "BIGINT"}, {"iExceptionTypeID", "INT"}, {"iExceptionNumber", "INT"},
			{"dtExceptionTimeStamp", "DATETIME2"}, {"vcExceptionDetail", "NVARCHAR(400)"},
		}, []string{"iInteractionID", "iExceptionID"}},
		dbTable{dbInteractions, "tblBusinessData", []dbCol{
			{"iInteractionID", "BIGINT"}, {"nvcFieldName", "NVARCHAR(128)"}, {"nvcFieldValue", "NVARCHAR(4000)"},
		}, []string{"iInteractionID"}},
	)
	for _, s := range storage {
		out = append(out, dbTable{dbStorage, s, []dbCol{
			{"iRecordingID", "BIGINT"}, {"iInteractionID", "BIGINT"}, {"dtRecordingGMTStartTime", "DATETIME2"},
			{"dtRecordingGMTStopTime", "DATETIME2"}, {"tiRecordingRecordedTypeID", "TINYINT"},
			{"vcArchivePath", "NVARCHAR(400)"}, {"siUnitID", "SMALLINT"},
		}, []string{"iInteractionID", "dtRecordingGMTStartTime"}})
	}
	out = append(out,
		dbTable{dbAdmin, "tblScSamUnit", []dbCol{{"siUnitID", "SMALLINT"}, {"nvcUnitPath", "NVARCHAR(400)"}}, []string{"siUnitID"}},
		dbTable{dbAdmin, "tblUser", []dbCol{
			{"iUserID", "INT"}, {"nvcFirstName", "NVARCHAR(100)"}, {"nvcLastName", "NVARCHAR(100)"},
			{"vcEmailAddress", "NVARCHAR(320)"}, {"nvcLoginName", "NVARCHAR(100)"}, {"bitActive", "BIT"},
			{"iTenantID", "INT"}, {"dtCreatedGMT", "DATETIME2"},
		}, []string{"iUserID"}},
		dbTable{dbAdmin, "tblAgent", []dbCol{
			{"iAgentId", "INT"}, {"iUserID", "INT"}, {"nvcSwitchAgentId", "NVARCHAR(64)"}, {"nvcExtension", "NVARCHAR(32)"},
		}, []string{"iUserID"}},
	)
	return out
}

// sqlType renders a SQL Server type in a dialect.
func sqlType(d Dialect, t string) string {
	if d == TSQL {
		return t
	}
	switch {
	case t == "DATETIME2":
		return "TIMESTAMP"
	case t == "BIT":
		return "BOOLEAN"
	case t == "TINYINT":
		return "UTINYINT" // SQL Server's TINYINT is 0..255
	case strings.HasPrefix(t, "NVARCHAR"), strings.HasPrefix(t, "VARCHAR"):
		return "VARCHAR"
	}
	return t
}

// sqlcmdVars are the variables of the T-SQL script, by database role.
var sqlcmdVars = [...]string{dbInteractions: "$(interactions)", dbStorage: "$(storage)", dbAdmin: "$(admin)"}

// schemaDDL returns the CREATE statements, and separately the indexes
// (created after loading), naming the databases dbs (for T-SQL the
// script's variables, see sqlcmdVars).
func schemaDDL(d Dialect, dbs [3]string, ts []dbTable) (tables, indexes []string) {
	name := func(t dbTable) string {
		return d.Ident(dbs[t.db]) + "." + d.Ident(DefaultSchema) + "." + d.Ident(t.name)
	}
	if d == DuckDB {
		for _, db := range dbs {
			tables = append(tables, "CREATE SCHEMA IF NOT EXISTS "+d.Ident(db)+"."+d.Ident(DefaultSchema))
		}
	}
	for _, t := range ts {
		var sb strings.Builder
		sb.WriteString("CREATE TABLE " + name(t) + " (\n")
		for i, c := range t.cols {
			sb.WriteString("  " + c.name + " " + sqlType(d, c.typ) + " NULL")
			if i < len(t.cols)-1 {
				sb.WriteString(",")
			}
			sb.WriteString("\n")
		}
		sb.WriteString(")")
		tables = append(tables, sb.String())
		indexes = append(indexes, "CREATE INDEX "+d.Ident("ix_"+t.name)+" ON "+name(t)+" ("+strings.Join(t.index, ", ")+")")
	}
	return tables, indexes
}

// sqlcmdScript is the T-SQL script of the fixture's schema.
func sqlcmdScript() string {
	tables, indexes := schemaDDL(TSQL, [3]string{sqlcmdVars[0], sqlcmdVars[1], sqlcmdVars[2]}, engageTables(fixtureSets, fixtureStorage))
	var b strings.Builder
	b.WriteString("-- The public Engage layout (shared/engage-schema.md) with the ASSUMED tables of\n")
	b.WriteString("-- connectors/mssql/MAPPING.md, as TestIntegrationSQLServer creates it. sqlcmd\n")
	b.WriteString("-- variables: $(interactions), $(storage), $(admin) name the three databases.\n")
	b.WriteString("-- Generated by TestSchemaGolden (go test -run SchemaGolden -update).\n\n")
	for _, s := range tables {
		b.WriteString(s + ";\nGO\n\n")
	}
	b.WriteString("-- After loading:\n")
	for _, s := range indexes {
		b.WriteString(s + ";\nGO\n")
	}
	return b.String()
}

// scriptBatches splits the script into its GO batches, with the variables
// set, tables and indexes apart.
func scriptBatches(script string, dbs [3]string) (tables, indexes []string) {
	for _, v := range []int{0, 1, 2} {
		script = strings.ReplaceAll(script, sqlcmdVars[v], dbs[v])
	}
	head, tail, _ := strings.Cut(script, "-- After loading:\n")
	split := func(s string) []string {
		var out []string
		for _, b := range strings.Split(s, "\nGO\n") {
			var lines []string
			for _, l := range strings.Split(b, "\n") {
				if !strings.HasPrefix(l, "--") {
					lines = append(lines, l)
				}
			}
			if b := strings.TrimSpace(strings.Join(lines, "\n")); b != "" {
				out = append(out, b)
			}
		}
		return out
	}
	return split(head), split(tail)
}

// TestSchemaGolden pins the script README.md and the integration test use.
func TestSchemaGolden(t *testing.T) {
	golden(t, "../engage_schema.tsql.sql", sqlcmdScript())
	tables, indexes := schemaDDL(DuckDB, [3]string{DefaultInteractionsDatabase, DefaultStorageDatabase, DefaultAdminDatabase}, engageTables(fixtureSets, fixtureStorage))
	golden(t, "engage_schema.duckdb.sql", strings.Join(append(tables, indexes...), ";\n\n")+";\n")
	// The script is what the integration test runs: it parses back.
	got, ix := scriptBatches(sqlcmdScript(), [3]string{"a", "b", "c"})
	if len(got) != len(engageTables(fixtureSets, fixtureStorage)) || len(ix) != len(got) {
		t.Fatalf("script: %d tables, %d indexes", len(got), len(ix))
	}
	if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "CREATE TABLE [a].[dbo].[tblInteraction2]") }) {
		t.Errorf("script lacks tblInteraction2 of database a:\n%s", strings.Join(got, "\n"))
	}
}

// loadEngage fills the fixture's databases (default names) from a snapshot
// folder with the inverse of the default mapping, adding the noise real
// Engage has: several participants, recordings and exceptions per
// interaction, recordings spread over two storage-center tables and two
// units (one root written with another case and a trailing backslash),
// the direction codes 4–6, sub-exception 1702, interactions without a
// recording. Calls are split into three interaction sets by start time:
// set 1 ends a day before the window (a run never reads it), set 2 starts
// a day before it (the window predicate filters inside it), set 3 is the
// newest. Each noise row is one the queries must see through; comparing
// with the snapshot source proves they do.
func loadEngage(window string) []string {
	ni, ns, na := "nice_interactions.dbo.", "nice_storage_center.dbo.", "nice_admin.dbo."
	st := []string{
		`CREATE MACRO num(s) AS CAST(regexp_replace(s, '^[^0-9]*', '') AS BIGINT)`,
		`CREATE TEMP TABLE src_calls AS SELECT * FROM read_csv(%[1]s, header = true, all_varchar = true)`,
		`CREATE TEMP TABLE src_agents AS SELECT * FROM read_csv(%[2]s, header = true, all_varchar = true)`,
		`CREATE TEMP TABLE src_bd AS SELECT * FROM read_csv(%[3]s, header = true, all_varchar = true)`,
		fmt.Sprintf(`CREATE TEMP TABLE c AS SELECT *, num(call_id) AS n, CAST(start_time AS TIMESTAMP) AS ts,
		   CAST(duration_ms AS BIGINT) AS dur,
		   COALESCE(CAST(audio_packets AS BIGINT), 0) AS ap,
		   COALESCE(CAST(exception_code AS BIGINT), 0) AS ex,
		   (archived = 'false' AND num(call_id) %% 3 = 0) AS norec,
		   CASE WHEN CAST(start_time AS TIMESTAMP) < TIMESTAMP '%[1]s' - INTERVAL 1 DAY THEN 1
		        WHEN CAST(start_time AS TIMESTAMP) < TIMESTAMP '%[1]s' + INTERVAL 3 DAY THEN 2 ELSE 3 END AS setno,
		   -- the recording's archive path: the snapshot's media path, or one
		   -- for an archived call without audio (its file is never read)
		   CASE WHEN archived = 'true' THEN replace(COALESCE(media_path, 'media/noaudio/' || call_id || '.nmf'), '/', '\') ELSE '' END AS arch
		 FROM src_calls`, window),
		`INSERT INTO ` + ni + `tblInteractionCatalog SELECT CAST(setno AS VARCHAR), min(ts), max(ts) FROM c GROUP BY setno`,
	}
	for _, n := range fixtureSets {
		st = append(st,
			`INSERT INTO `+ni+`tblInteraction`+n+` (iInteractionID, iCompoundID, dtInteractionGMTStartTime, dtInteractionGMTStopTime,
			   dtInteractionLocalStartTime, biInteractionDuration, iSwitchID, tiInteractionTypeID, tiCallDirectionTypeID, nvcDialedNumber,
			   iSetNumber, nvcBusinessData, iTenantID, tiInteractionStatusID, nvcSkillName)
			 SELECT n, n, ts, ts + to_milliseconds(dur), ts, dur * 10000, 1, 1,
			   CASE direction WHEN 'in' THEN 1 WHEN 'out' THEN 2 WHEN 'internal' THEN 3 ELSE [0, 4, 5, 6][n % 4 + 1] END,
			   dnis, setno, NULL, CAST(tenant_id AS INTEGER),
			   CASE status WHEN 'invalid' THEN 1 WHEN 'error' THEN 2 ELSE CASE WHEN n % 2 = 0 THEN 0 END END,
			   skill
			 FROM c WHERE setno = `+n,
			// The caller, who initiated the call: its number is the ANI.
			`INSERT INTO `+ni+`tblParticipant`+n+` SELECT n * 10 + 1, n, NULL, CASE WHEN n % 3 = 0 THEN '' END, NULL, ani, 1, TRUE FROM c WHERE setno = `+n,
			`INSERT INTO `+ni+`tblParticipant`+n+` SELECT n * 10 + 2, n, NULL, agent_id, 'ST1', '+100', 2, FALSE FROM c WHERE agent_id <> '' AND setno = `+n,
			// A later transfer target: the first agent is the call's agent.
			`INSERT INTO `+ni+`tblParticipant`+n+` SELECT n * 10 + 3, n, NULL, 'transfer-' || agent_id, 'ST2', '+101', 2, FALSE FROM c WHERE agent_id <> '' AND n % 7 = 0 AND setno = `+n,
			`INSERT INTO `+ni+`tblCallInteraction`+n+` SELECT n, n FROM c WHERE setno = `+n,
		)
	}
	st = append(st,
		// Recordings: odd calls in tblStorageCenter01 on unit 1, even ones
		// in 02 on unit 2; a non-archived call has no recording or one
		// without an archive path.
		`INSERT INTO `+ns+`tblStorageCenter01 SELECT n * 10 + 1, n, ts, NULL, 1, arch, 1 FROM c WHERE NOT norec AND n % 2 = 1`,
		`INSERT INTO `+ns+`tblStorageCenter02 SELECT n * 10 + 1, n, ts, NULL, 1, arch, 2 FROM c WHERE NOT norec AND n % 2 = 0`,
		// A later recording of some archived calls, in the other table: the
		// first by start time is the call's.
		`INSERT INTO `+ns+`tblStorageCenter01 SELECT n * 10 + 5, n, ts + INTERVAL 1 MINUTE, NULL, 1, 'later\' || n || '.nmf', 1 FROM c WHERE arch <> '' AND n % 10 = 0`,
		`INSERT INTO `+na+`tblScSamUnit VALUES (1, '\\nas01\NICE\Archive'), (2, '\\NAS02\rec\')`,
		`INSERT INTO `+ni+`tblInteractionException SELECT n * 10 + 1, n, 1, ex, ts, 'demo' FROM c WHERE ex <> 0`,
		`INSERT INTO `+ni+`tblInteractionException SELECT n * 10 + 2, n, 1, 7, ts + INTERVAL 1 SECOND, 'later' FROM c WHERE ex <> 0 AND n % 4 = 0`,
		// No VoIP audio: sub-exception 1702 on every archived call without audio.
		`INSERT INTO `+ni+`tblInteractionException SELECT n * 10 + 3, n, 12, 1702, ts, 'no VoIP audio' FROM c WHERE ap = 0 AND arch <> ''`,
		`INSERT INTO `+na+`tblUser SELECT DISTINCT ON (user_id) num(user_id), first_name, last_name, email, 'login' || user_id,
		   active = 'true', CAST(tenant_id AS INTEGER), CAST(created_at AS TIMESTAMP)
		 FROM src_agents ORDER BY user_id`,
		`INSERT INTO `+na+`tblAgent SELECT row_number() OVER (), num(user_id), agent_id, NULL FROM src_agents WHERE is_agent = 'true'`,
		`INSERT INTO `+ni+`tblBusinessData SELECT num(call_id), name, value FROM src_bd`,
		`DROP TABLE c`, `DROP TABLE src_calls`, `DROP TABLE src_agents`, `DROP TABLE src_bd`, `DROP MACRO num`,
	)
	return st
}

// TestMappingDoc keeps MAPPING.md in step with the code: every canonical
// column has a row saying public or ASSUMED, as `applink plan` does, and
// every default table is listed with its status.
func TestMappingDoc(t *testing.T) {
	b, err := os.ReadFile("MAPPING.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		cells := strings.Split(l, "|")
		if len(cells) >= 4 {
			rows[strings.TrimSpace(cells[1])] = l
		}
	}
	m, err := newMapping(TSQL, dsl.Source{})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range QueryNames {
		for _, c := range m.columns[q] {
			name := q + "." + c.name
			row, ok := rows[name]
			if !ok {
				t.Errorf("MAPPING.md has no row for %s", name)
				continue
			}
			status := row[strings.LastIndex(row[:len(row)-1], "|"):]
			want := columnStatus(m, q, c.name)
			if strings.HasPrefix(want, statusAssumed) != strings.Contains(status, statusAssumed) {
				t.Errorf("MAPPING.md says %q for %s; the code says %s", strings.TrimSpace(status), name, want)
			}
		}
	}
	for _, td := range tables {
		name := strings.ReplaceAll(td.name, setToken, "<N>")
		if td.key == tStorage {
			name = "tblStorageCenter01"
		}
		if !strings.Contains(string(b), name) {
			t.Errorf("MAPPING.md does not name table %s", name)
		}
	}
}
