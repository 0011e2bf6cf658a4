package serve

import (
	"context"
	"fmt"
	"github.com/applink-dev/applink/engine/state/statetest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgDSN is the test database's DSN; the test skips, saying so, only when
// APPLINK_TEST_PG_DSN is unset (CI sets it).
func pgDSN(t *testing.T) string {
	t.Helper()
	dsn := statetest.BaseDSN(t)
	return dsn
}

// TestPGLock: one holder per key; the standby sees who holds it; when the
// holder's session is killed (connection lost) the holder is told and the
// standby takes the lock at its next try.
func TestPGLock(t *testing.T) {
	dsn := pgDSN(t)
	ctx := context.Background()
	key := LockKey("pglock-test", t.Name(), time.Now().String()) // no other test contends
	poll := 100 * time.Millisecond
	a, err := NewPGLock(dsn, key, poll)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewPGLock(dsn, key, poll)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Unlock()
	defer b.Unlock()

	if ok, err := a.TryLock(ctx); !ok || err != nil {
		t.Fatalf("a: %v %v", ok, err)
	}
	if ok, err := a.TryLock(ctx); !ok || err != nil {
		t.Fatalf("a again: %v %v", ok, err)
	}
	if ok, err := b.TryLock(ctx); ok || err != nil {
		t.Fatalf("b while a holds: %v %v", ok, err)
	}
	if h := b.Holder(ctx); !strings.Contains(h, "applink serve") {
		t.Errorf("holder %q, want the holder's application_name", h)
	}
	if s := a.String(); strings.Contains(s, "postgres://") || !strings.Contains(s, "advisory lock") {
		t.Errorf("String() = %q", s)
	}

	// Kill a's session from outside, as a lost connection.
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	a.mu.Lock()
	pid := a.conn.PgConn().PID()
	a.mu.Unlock()
	var killed bool
	if err := admin.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate the holder's session: %v %v", killed, err)
	}
	select {
	case <-a.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("the holder was not told its lock was lost within 5 s")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := b.TryLock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the standby did not get the lock within 5 s of the holder's session ending")
		}
		time.Sleep(poll)
	}
	// a reconnects and is now the standby.
	if ok, err := a.TryLock(ctx); ok || err != nil {
		t.Fatalf("a after losing it: %v %v", ok, err)
	}
	if err := b.Unlock(); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.TryLock(ctx); !ok || err != nil {
		t.Fatalf("a after b released: %v %v", ok, err)
	}
}

func TestPGLockBadDSN(t *testing.T) {
	_, err := NewPGLock("postgres://u:s3cret@[::1", 1, time.Second)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("err %v: want an error that does not echo the DSN", err)
	}
	l, err := NewPGLock("postgres://u:s3cret@127.0.0.1:1/x?connect_timeout=2", 1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.TryLock(context.Background()); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("TryLock on a closed port: %v", err)
	}
}

// Advisory locks are per database: a session of another database on the
// same server holding the same key neither blocks the lock nor is named
// as its holder.
func TestPGLockIgnoresOtherDatabases(t *testing.T) {
	dsn := pgDSN(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	const other = "applink_locktest_other"
	var exists bool
	admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, other).Scan(&exists)
	if !exists {
		if _, err := admin.Exec(ctx, `CREATE DATABASE `+other); err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatal(err)
		}
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = other
	cfg.RuntimeParams["application_name"] = "other database session"
	squatter, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close(ctx)
	key := StateLockKey("applink", "acme-"+time.Now().String())
	if _, err := squatter.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		t.Fatal(err)
	}

	a, _ := NewPGLock(dsn, key, 100*time.Millisecond)
	b, _ := NewPGLock(dsn, key, 100*time.Millisecond)
	defer a.Unlock()
	defer b.Unlock()
	if h := b.Holder(ctx); h != "" {
		t.Errorf("with no holder in this database, Holder = %q", h)
	}
	if ok, err := a.TryLock(ctx); !ok || err != nil {
		t.Fatalf("a: %v %v (the other database's lock must not block)", ok, err)
	}
	if ok, err := b.TryLock(ctx); ok || err != nil {
		t.Fatalf("b while a holds: %v %v", ok, err)
	}
	host, _ := os.Hostname()
	h := b.Holder(ctx)
	if strings.Contains(h, "other database") || !strings.Contains(h, fmt.Sprintf("pid %d since ", os.Getpid())) || !strings.Contains(h, "applink serve") {
		t.Errorf("holder %q, want this process (host %s, pid %d, since)", h, host, os.Getpid())
	}
}

func TestStateLockKeyDiffersBySchemaAndKey(t *testing.T) {
	if StateLockKey("applink", "acme") == StateLockKey("applink", "globex") || StateLockKey("applink", "acme") != StateLockKey("applink", "acme") ||
		StateLockKey("applink", "acme") == StateLockKey("other", "acme") {
		t.Error("state lock keys must differ by schema and state key and be stable")
	}
}
