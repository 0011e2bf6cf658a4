// Package migrations is the one source of the state's schema, for both
// drivers: goose SQL migrations written once as templates and rendered per
// dialect (table names, the 64-bit key's type, PostgreSQL's spec column and
// indexes). duckstate and pgstate run them with goose; this package links
// neither.
package migrations
