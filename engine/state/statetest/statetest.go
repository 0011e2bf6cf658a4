package statetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable holding the test database's DSN. CI sets it
// (and fails when the tests that need it were skipped).
const EnvDSN = "APPLINK_TEST_PG_DSN"

// SkipMessage is what a test says when it skips for want of PostgreSQL.
const SkipMessage = EnvDSN + " is not set: PostgreSQL tests skipped (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)"

// EnvSkipMarker names a file to which every such skip appends the test's
// name: .ci/run sets it and fails when the file is not empty, so a CI run
// whose PostgreSQL tests did not run cannot pass.
const EnvSkipMarker = "APPLINK_PG_SKIP_MARKER"

// BaseDSN returns the test database's DSN itself (for tests that share it,
// such as advisory locks); the test is skipped, and the skip recorded for
// CI, when EnvDSN is unset.
func BaseDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		if marker := os.Getenv(EnvSkipMarker); marker != "" {
			if f, err := os.OpenFile(marker, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				f.WriteString(t.Name() + "\n")
				f.Close()
			}
		}
		t.Skip(SkipMessage)
	}
	return base
}

// DSN returns the DSN of a fresh, empty schema (its search_path) in the
// test database; the test is skipped when EnvDSN is unset.
func DSN(t testing.TB) string {
	t.Helper()
	base := BaseDSN(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "applink_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvDSN, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: not a URL", EnvDSN)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Schema returns the test database's DSN (no search_path) and the name of
// a fresh schema that does not exist yet, dropped when the test ends; the
// test is skipped when EnvDSN is unset.
func Schema(t testing.TB) (dsn, schema string) {
	t.Helper()
	base := BaseDSN(t)
	var b [6]byte
	rand.Read(b[:])
	schema = "applink_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
	})
	return base, schema
}
