package serve

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Lock is the lease on one spec that makes exactly one serve process run
// it. A standby calls TryLock at every poll; the holder keeps the lock until
// Unlock or until it is lost.
type Lock interface {
	// TryLock takes the lock when it is free, without waiting: true when
	// this process holds it (already held counts). An error means the lock
	// could not be asked for (its database is unreachable): not held.
	TryLock(ctx context.Context) (bool, error)
	// Lost is closed when a lock this process held is lost (its connection
	// died), so another process may take the spec over: the holder stops its
	// run. Nil for a lock that cannot be lost while the process lives.
	// Valid after TryLock returned true, for that hold.
	Lost() <-chan struct{}
	// Holder says who holds the lock when this process does not, for the
	// standby's status ("" when unknown).
	Holder(ctx context.Context) string
	// Unlock releases the lock (shutdown). Safe to call when not held.
	Unlock() error
	// String names the lock for logs and the status page; never a secret.
	String() string
}

// LockKey derives a spec's advisory lock key from what identifies it
// wherever its folder lives: customer, CXone tenant and Engage system. Two
// serve processes on different machines with copies of one spec folder thus
// contend for the same key; two different specs never (64-bit hash).
func LockKey(customer, tenant, systemID string) int64 {
	sum := sha256.Sum256([]byte("applink serve\x00" + customer + "\x00" + tenant + "\x00" + systemID))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// StateLockKey is the advisory lock key of a spec whose state is in
// PostgreSQL: derived from the state's schema and the spec's key in it
// (state { schema, key }), which is what two processes must not write at
// once. Advisory locks are per database, so the same key in another
// database is another lock; the same key in another schema is another
// state, so another lock too.
func StateLockKey(schema, stateKey string) int64 {
	sum := sha256.Sum256([]byte("applink state\x00" + schema + "\x00" + stateKey))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// holderName is what a lock records about its holder: host, pid and since
// when, so a standby can say who runs the spec.
func holderName(now time.Time) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("applink serve on %s pid %d since %s", host, os.Getpid(), now.UTC().Format(time.RFC3339))
}

// fileLock is an exclusive flock(2) on DIR/.applink/serve.lock, held for as
// long as the process holds the spec: the default with the DuckDB state,
// whose file lock alone is taken only during a run (two serve processes on
// one folder would otherwise take turns). The kernel releases it when the
// process dies, however it dies, so a standby on the same machine takes
// over at its next poll.
type fileLock struct {
	path string
	f    *os.File
}

// NewFileLock returns the file lock at path (created when first tried).
func NewFileLock(path string) Lock { return &fileLock{path: path} }

func (l *fileLock) TryLock(context.Context) (bool, error) {
	if l.f != nil {
		return true, nil
	}
	f, err := openLockFile(l.path)
	if err != nil {
		return false, fmt.Errorf("lock %s: %w", l.path, err)
	}
	ok, err := tryFlock(f)
	if err != nil || !ok {
		f.Close()
		if err != nil {
			return false, fmt.Errorf("lock %s: %w", l.path, err)
		}
		return false, nil
	}
	// Who holds it, for a standby's status; the content is advisory, the
	// flock is the lock.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(holderName(time.Now())+"\n"), 0)
	}
	l.f = f
	return true, nil
}

func openLockFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
}

func (l *fileLock) Lost() <-chan struct{} { return nil }

func (l *fileLock) Holder(context.Context) string {
	b, err := os.ReadFile(l.path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (l *fileLock) Unlock() error {
	if l.f == nil {
		return nil
	}
	// The file stays: removing it would let a third process lock a new
	// inode while a standby waits on the old one.
	err := l.f.Close() // closing releases the flock
	l.f = nil
	return err
}

func (l *fileLock) String() string { return "file lock " + l.path }
