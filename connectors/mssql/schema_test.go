package mssql

import (
	"strings"
	"testing"
)

// The Engage-shaped schema the tests build (DuckDB here, SQL Server in the
// gated integration test): names and types of shared/engage-schema.md plus
// the ASSUMED names of MAPPING.md. Tables only, no keys: Engage's own
// constraints are not public and the queries must not rely on them.
type column struct{ name, typ string }

type table struct {
	name string
	cols []column
	// index lists the columns of the index the default queries seek on.
	index []string
}

var engageSchema = []table{
	{"tblInteraction", []column{
		{"iInteractionID", "BIGINT"}, {"iCompoundID", "BIGINT"},
		{"dtInteractionGMTStartTime", "DATETIME2"}, {"dtInteractionGMTStopTime", "DATETIME2"}, {"dtInteractionLocalStartTime", "DATETIME2"},
		{"biInteractionDuration", "BIGINT"}, {"iSwitchID", "INT"}, {"tiInteractionTypeID", "TINYINT"},
		{"tiCallDirectionTypeID", "TINYINT"}, {"nvcDialedNumber", "NVARCHAR(64)"}, {"iSetNumber", "INT"},
		{"iTenantID", "INT"}, {"tiInteractionStatusID", "TINYINT"}, {"nvcSkillName", "NVARCHAR(128)"},
	}, []string{"dtInteractionGMTStartTime", "iInteractionID"}},
	{"tblParticipant", []column{
		{"iParticipantID", "BIGINT"}, {"iInteractionID", "BIGINT"}, {"iUserID", "INT"}, {"nvcAgentId", "NVARCHAR(64)"},
		{"nvcStation", "NVARCHAR(64)"}, {"nvcPhoneNumber", "NVARCHAR(64)"}, {"tiParticipantTypeID", "TINYINT"},
		{"bitIsInteractionInitiator", "BIT"},
	}, []string{"iInteractionID", "iParticipantID"}},
	{"tblRecording", []column{
		{"iRecordingID", "BIGINT"}, {"iInteractionID", "BIGINT"}, {"dtRecordingGMTStartTime", "DATETIME2"},
		{"dtRecordingGMTStopTime", "DATETIME2"}, {"tiRecordingRecordedTypeID", "TINYINT"}, {"tiVoiceArchiveStatus", "TINYINT"},
		{"vcArchivePath", "NVARCHAR(400)"}, {"siUnitID", "SMALLINT"}, {"iAudioPackets", "BIGINT"},
	}, []string{"iInteractionID", "iRecordingID"}},
	{"tblInteractionException", []column{
		{"iExceptionID", "BIGINT"}, {"iInteractionID", "BIGINT"}, {"iExceptionTypeID", "INT"}, {"iExceptionNumber", "INT"},
		{"dtExceptionTimeStamp", "DATETIME2"}, {"vcExceptionDetail", "NVARCHAR(400)"},
	}, []string{"iInteractionID", "iExceptionID"}},
	{"tblUser", []column{
		{"iUserID", "INT"}, {"nvcFirstName", "NVARCHAR(100)"}, {"nvcLastName", "NVARCHAR(100)"},
		{"vcEmailAddress", "NVARCHAR(320)"}, {"nvcLoginName", "NVARCHAR(100)"}, {"bitActive", "BIT"},
		{"iTenantID", "INT"}, {"dtCreatedGMT", "DATETIME2"},
	}, []string{"iUserID"}},
	{"tblAgent", []column{
		{"iAgentId", "INT"}, {"iUserID", "INT"}, {"nvcSwitchAgentId", "NVARCHAR(64)"}, {"nvcExtension", "NVARCHAR(32)"},
	}, []string{"iUserID"}},
	{"tblBusinessData", []column{
		{"iInteractionID", "BIGINT"}, {"nvcFieldName", "NVARCHAR(128)"}, {"nvcFieldValue", "NVARCHAR(4000)"},
	}, []string{"iInteractionID"}},
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
	case strings.HasPrefix(t, "NVARCHAR"):
		return "VARCHAR"
	}
	return t
}

// schemaDDL returns the CREATE TABLE statements, and separately the
// indexes (created after loading).
func schemaDDL(d Dialect) (tables, indexes []string) {
	for _, t := range engageSchema {
		var sb strings.Builder
		sb.WriteString("CREATE TABLE " + t.name + " (\n")
		for i, c := range t.cols {
			sb.WriteString("  " + c.name + " " + sqlType(d, c.typ) + " NULL")
			if i < len(t.cols)-1 {
				sb.WriteString(",")
			}
			sb.WriteString("\n")
		}
		sb.WriteString(")")
		tables = append(tables, sb.String())
		indexes = append(indexes, "CREATE INDEX ix_"+t.name+" ON "+t.name+" ("+strings.Join(t.index, ", ")+")")
	}
	return tables, indexes
}

// TestSchemaGolden pins the DDL README.md tells a developer to run.
func TestSchemaGolden(t *testing.T) {
	for _, d := range []Dialect{TSQL, DuckDB} {
		tables, indexes := schemaDDL(d)
		golden(t, "engage_schema."+d.String()+".sql", strings.Join(append(tables, indexes...), ";\n\n")+";\n")
	}
}
