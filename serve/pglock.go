package serve

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGLock is a PostgreSQL session advisory lock on a spec's key, held on a
// dedicated connection: PostgreSQL releases it when that session ends, so
// when the holder dies (its connection is lost) a standby's next
// pg_try_advisory_lock succeeds.
//
// Until the PostgreSQL state lands, its DSN comes from serve --lock-dsn
// (APPLINK_LOCK_DSN); then from the spec's state block.
type PGLock struct {
	cfg  *pgx.ConnConfig
	key  int64
	poll time.Duration
	addr string // host:port/database, for messages (never the DSN)

	mu     sync.Mutex
	conn   *pgx.Conn
	held   bool
	lost   chan struct{}
	stopCh chan struct{}
	done   chan struct{}
}

// NewPGLock prepares the advisory lock key on the database of dsn. poll is
// how often the holder checks its connection (and a standby retries): a
// dead holder's lock is released by PostgreSQL when its connection closes
// (at once for a killed process, within about 12 s of keepalives for a
// dead machine), and the standby takes it at its next poll.
func NewPGLock(dsn string, key int64, poll time.Duration) (*PGLock, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors can quote the DSN: say only that it is wrong.
		return nil, fmt.Errorf("lock: the PostgreSQL DSN does not parse (expected postgres://USER@HOST:PORT/DB or key=value pairs)")
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > 10*time.Second {
		cfg.ConnectTimeout = 10 * time.Second
	}
	host, _ := os.Hostname()
	cfg.RuntimeParams["application_name"] = fmt.Sprintf("applink serve %s pid %d", host, os.Getpid())
	// The server side notices a holder machine that vanished without
	// closing its connection within ~12 s (idle 3 s + 3 probes of 3 s, or
	// unacknowledged data for 12 s) instead of the system default of
	// hours: with a 5 s poll and the takeover grace (2 polls + 1 s) a
	// standby runs the spec within 30 s of the holder's death.
	for k, v := range map[string]string{"tcp_keepalives_idle": "3", "tcp_keepalives_interval": "3", "tcp_keepalives_count": "3", "tcp_user_timeout": "12000"} {
		if _, set := cfg.RuntimeParams[k]; !set {
			cfg.RuntimeParams[k] = v
		}
	}
	if poll <= 0 {
		poll = 5 * time.Second
	}
	return &PGLock{cfg: cfg, key: key, poll: poll, addr: fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)}, nil
}

// Key is the advisory lock key.
func (l *PGLock) Key() int64 { return l.key }

func (l *PGLock) String() string {
	return fmt.Sprintf("postgres advisory lock %d on %s", l.key, l.addr)
}

// connect opens the dedicated connection when there is none (caller holds mu).
func (l *PGLock) connect(ctx context.Context) error {
	if l.conn != nil && !l.conn.IsClosed() {
		return nil
	}
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		// pgx lists each address it tried on its own line: one line for logs.
		return fmt.Errorf("lock database %s: %s", l.addr, oneLine(err.Error()))
	}
	l.conn = conn
	return nil
}

func (l *PGLock) TryLock(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		return true, nil
	}
	if err := l.connect(ctx); err != nil {
		return false, err
	}
	var ok bool
	if err := l.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&ok); err != nil {
		l.closeConn()
		return false, fmt.Errorf("lock database %s: %w", l.addr, err)
	}
	if !ok {
		return false, nil
	}
	// Name the holder in its session (host, pid, since when) for a
	// standby's status; the lock holds whether or not this succeeds.
	_, _ = l.conn.Exec(ctx, `SELECT set_config('application_name', $1, false)`, truncate(pgHolderName(time.Now()), 63))
	l.held = true
	l.lost = make(chan struct{})
	l.stopCh = make(chan struct{})
	l.done = make(chan struct{})
	go l.watch(l.conn, l.lost, l.stopCh, l.done)
	return true, nil
}

// watch pings the holder's connection every poll: when a ping fails the
// lock may be gone (PostgreSQL ends a dead session's locks), so the holder
// is told to stop before a standby can have taken over: the ping times out
// after one poll, well before the server gives the session up.
func (l *PGLock) watch(conn *pgx.Conn, lost, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(l.poll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		ctx, cancel := context.WithTimeout(context.Background(), l.poll)
		err := conn.Ping(ctx)
		cancel()
		if err != nil {
			l.held = false
			l.closeConn()
			close(lost)
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
	}
}

func (l *PGLock) Lost() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Holder names the session holding the key (its application_name carries
// host and pid), from pg_locks.
func (l *PGLock) Holder(ctx context.Context) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		return ""
	}
	if err := l.connect(ctx); err != nil {
		return ""
	}
	var app, addr string
	var pid int
	err := l.conn.QueryRow(ctx, `
		SELECT coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), a.pid
		FROM pg_locks k JOIN pg_stat_activity a ON a.pid = k.pid
		WHERE k.locktype = 'advisory' AND k.granted AND k.objsubid = 1
		  AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND k.classid::bigint = $1 AND k.objid::bigint = $2`,
		int64(uint64(l.key)>>32), int64(uint64(l.key)&0xffffffff)).Scan(&app, &addr, &pid)
	if err != nil {
		return ""
	}
	if app == "" {
		app = "a session"
	}
	return fmt.Sprintf("%s (from %s, backend pid %d)", app, addr, pid)
}

func (l *PGLock) Unlock() error {
	l.mu.Lock()
	stop, done := l.stopCh, l.done
	wasHeld := l.held
	l.held, l.stopCh, l.done = false, nil, nil
	l.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	var err error
	if wasHeld {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, l.key)
		cancel()
	}
	l.closeConn() // ending the session releases the lock anyway
	return err
}

// closeConn closes the dedicated connection (caller holds mu).
func (l *PGLock) closeConn() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = l.conn.Close(ctx)
	cancel()
	l.conn = nil
}

// pgHolderName is holderName in the 63 bytes of an application_name:
// host last, as it is the part that may be cut.
func pgHolderName(now time.Time) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("applink serve pid %d since %s on %s", os.Getpid(), now.UTC().Format(time.RFC3339), host)
}

// truncate cuts s to at most n bytes (PostgreSQL keeps 63 of an
// application_name).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// oneLine joins a multi-line error ("…:\n\taddr1: …\n\taddr2: …") into
// one line.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, ":\n\t", ": ")
	s = strings.ReplaceAll(s, "\n\t", "; ")
	return strings.Join(strings.Fields(s), " ")
}
