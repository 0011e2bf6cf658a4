package migrations

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing/fstest"
	"text/template"
)

//go:embed *.sql.tmpl
var files embed.FS

// Dialect is what differs between the drivers' DDL.
type Dialect struct {
	Postgres bool
}

// The dialects.
var (
	DuckDB   = Dialect{}
	Postgres = Dialect{Postgres: true}
)

// T is a table's name: PostgreSQL's carry an applink_ prefix (the database
// may be shared with other applications), DuckDB's file is applink's own.
func (d Dialect) T(name string) string {
	if d.Postgres {
		return "applink_" + name
	}
	return name
}

// U64 is the type of a 64-bit key or fingerprint: DuckDB has unsigned
// integers, PostgreSQL keeps the same bits in a signed bigint.
func (d Dialect) U64() string {
	if d.Postgres {
		return "bigint"
	}
	return "UBIGINT"
}

// Spec is the spec column of a table shared by several specs (PostgreSQL).
func (d Dialect) Spec() string {
	if d.Postgres {
		return "\n    spec   text    NOT NULL,"
	}
	return ""
}

// SpecKey starts a primary key with the spec column (PostgreSQL).
func (d Dialect) SpecKey() string {
	if d.Postgres {
		return "spec, "
	}
	return ""
}

// FS renders the migrations for d: goose's NNNNN_name.sql files.
func FS(d Dialect) (fs.FS, error) {
	names, err := fs.Glob(files, "*.sql.tmpl")
	if err != nil {
		return nil, err
	}
	out := fstest.MapFS{}
	for _, n := range names {
		t, err := template.ParseFS(files, n)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", n, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, d); err != nil {
			return nil, fmt.Errorf("migration %s: %w", n, err)
		}
		out[strings.TrimSuffix(path.Base(n), ".tmpl")] = &fstest.MapFile{Data: b.Bytes(), Mode: 0o444}
	}
	return out, nil
}

// Latest is the newest migration's version: the schema version this build
// writes.
func Latest() int64 {
	names, _ := fs.Glob(files, "*.sql.tmpl")
	var v int64
	for _, n := range names {
		var x int64
		fmt.Sscanf(n, "%d", &x)
		v = max(v, x)
	}
	return v
}
