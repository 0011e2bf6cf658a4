package mssql

import (
	"strconv"
	"strings"
	"time"

	"github.com/golang-sql/civil"
)

// Dialect is the SQL flavour a query is rendered in. The same query plan is
// rendered for SQL Server (production) and DuckDB (tests that execute it).
type Dialect int

const (
	// TSQL is SQL Server's dialect: @p1 parameters, TOP (n), [identifiers].
	TSQL Dialect = iota
	// DuckDB is DuckDB's dialect: $1 parameters, LIMIT n, "identifiers".
	DuckDB
)

func (d Dialect) String() string {
	if d == DuckDB {
		return "duckdb"
	}
	return "tsql"
}

// Ident quotes an identifier. Names never come from row data; quoting is for
// names that collide with keywords (e.g. the output column "name", "value").
func (d Dialect) Ident(name string) string {
	if d == DuckDB {
		return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
	}
	return "[" + strings.ReplaceAll(name, "]", "]]") + "]"
}

// Day truncates a timestamp expression to its calendar day.
func (d Dialect) Day(expr string) string {
	if d == DuckDB {
		return "CAST(date_trunc('day', " + expr + ") AS DATE)"
	}
	return "CONVERT(date, " + expr + ")"
}

// MillisBetween is the number of milliseconds from one timestamp
// expression to another, as a 64-bit integer.
func (d Dialect) MillisBetween(from, to string) string {
	if d == DuckDB {
		return "date_diff('millisecond', " + from + ", " + to + ")"
	}
	return "DATEDIFF_BIG(millisecond, " + from + ", " + to + ")"
}

// Count is the 64-bit COUNT of the dialect.
func (d Dialect) Count(expr string) string {
	if d == DuckDB {
		return "COUNT(" + expr + ")"
	}
	return "COUNT_BIG(" + expr + ")"
}

// FirstRow joins the first row of a correlated subquery (ordered by
// orderBy) as alias, keeping the outer row when there is none. SQL Server
// needs OUTER APPLY with TOP 1 to seek per call; DuckDB spells it LATERAL.
func (d Dialect) FirstRow(selectList, fromWhere, orderBy, alias string) string {
	if d == DuckDB {
		return "LEFT JOIN LATERAL (SELECT " + selectList + " " + fromWhere + " ORDER BY " + orderBy + " LIMIT 1) AS " + alias + " ON TRUE"
	}
	return "OUTER APPLY (SELECT TOP (1) " + selectList + " " + fromWhere + " ORDER BY " + orderBy + ") AS " + alias
}

// timeArg converts a time to the parameter type that compares with the
// dialect's timestamp columns without an implicit conversion of the column:
// go-mssqldb sends time.Time as datetimeoffset, which would make SQL Server
// convert every datetime2 row; civil.DateTime is sent as datetime2.
func (d Dialect) timeArg(t time.Time) any {
	if d == TSQL {
		return civil.DateTimeOf(t.UTC())
	}
	return t.UTC()
}

// Query is rendered SQL with its arguments, in placeholder order.
type Query struct {
	SQL  string
	Args []any
}

// builder accumulates SQL text and parameters. Every value goes through Arg:
// no value is ever spliced into the text.
type builder struct {
	d    Dialect
	sb   strings.Builder
	args []any
}

// Arg adds a parameter and returns its placeholder.
func (b *builder) Arg(v any) string {
	b.args = append(b.args, v)
	n := strconv.Itoa(len(b.args))
	if b.d == DuckDB {
		return "$" + n
	}
	return "@p" + n
}

// TimeArg adds a timestamp parameter in the dialect's type.
func (b *builder) TimeArg(t time.Time) string { return b.Arg(b.d.timeArg(t)) }

// W writes SQL text.
func (b *builder) W(parts ...string) *builder {
	for _, p := range parts {
		b.sb.WriteString(p)
	}
	return b
}

func (b *builder) Query() Query { return Query{SQL: b.sb.String(), Args: b.args} }
