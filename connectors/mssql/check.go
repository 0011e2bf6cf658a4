package mssql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/applink-dev/applink/dsl"
	mssqldb "github.com/microsoft/go-mssqldb"
)

// CheckDialTimeout bounds the TCP connect of `applink check`: a firewall
// that drops packets should fail in seconds, not the driver's 15 s.
const CheckDialTimeout = 5 * time.Second

// CheckError is a one-line diagnosis of a failed check: no stack, no
// password. Kind is one of the Kind* constants.
type CheckError struct {
	Kind string
	Msg  string
	Err  error
}

// Kinds of CheckError.
const (
	KindRefused    = "connection_refused"
	KindDNS        = "dns"
	KindTimeout    = "timeout"
	KindLogin      = "login"
	KindDatabase   = "missing_database"
	KindTable      = "missing_table"
	KindPermission = "permission"
	KindConfig     = "config"
	KindMapping    = "mapping" // the mapping needs what this Engage lacks
	KindOther      = "other"
)

func (e *CheckError) Error() string { return e.Msg }
func (e *CheckError) Unwrap() error { return e.Err }

// Check connects to a source block's server and reports on w what a run
// will need: server version, whether the connection landed on a read-only
// replica, that each query is readable (run with TOP 0), calls per day from
// `from` on, and the round-trip latency. The error, if any, is one line.
func Check(ctx context.Context, src dsl.Source, from time.Time, w io.Writer) error {
	c, err := parseSource(src)
	if err != nil {
		return &CheckError{Kind: KindConfig, Msg: err.Error(), Err: err}
	}
	c.cfg.DialTimeout = CheckDialTimeout
	db := sql.OpenDB(mssqldb.NewConnectorConfig(c.cfg))
	defer db.Close()
	db.SetMaxOpenConns(1)

	pingCtx, cancel := context.WithTimeout(ctx, 3*CheckDialTimeout)
	t0 := time.Now()
	err = db.PingContext(pingCtx)
	cancel()
	if err != nil {
		return classify(c, err)
	}
	fmt.Fprintf(w, "%s: connected to %s, database %s, in %s\n", c.label, c.addr(), orDefault(c.cfg.Database, "(login default)"), ms(time.Since(t0)))
	if err := checkDB(ctx, db, TSQL, src, from, w); err != nil {
		return classify(c, err)
	}
	return nil
}

// checkDB runs the checks that need only a connection; Check runs it on SQL
// Server, tests on DuckDB. It prints what it finds on w; any finding (a
// table or column the mapping needs and Engage lacks, an unreadable media
// file, a query the server refuses) makes it return a CheckError of kind
// KindMapping after all checks ran.
func checkDB(ctx context.Context, db *sql.DB, d Dialect, src dsl.Source, from time.Time, w io.Writer) error {
	label := "source " + src.Name
	m, err := newMapping(d, src)
	if err != nil {
		return &CheckError{Kind: KindConfig, Msg: label + ": " + err.Error(), Err: err}
	}
	timeout := src.QueryTimeout
	if timeout <= 0 {
		timeout = DefaultQueryTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()

	var version, updateability string
	if d == TSQL {
		err = db.QueryRowContext(ctx, `SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) + N' ' + CAST(SERVERPROPERTY('Edition') AS nvarchar(128)), CAST(DATABASEPROPERTYEX(DB_NAME(), 'Updateability') AS nvarchar(32))`).Scan(&version, &updateability)
	} else {
		err = db.QueryRowContext(ctx, `SELECT 'DuckDB ' || version(), 'READ_WRITE'`).Scan(&version, &updateability)
	}
	if err != nil {
		return fmt.Errorf("%s: reading server version: %w", label, err)
	}
	fmt.Fprintf(w, "%s: server %s\n", label, version)
	switch updateability {
	case "READ_ONLY":
		fmt.Fprintf(w, "%s: on a read-only replica (Updateability READ_ONLY)\n", label)
	default:
		fmt.Fprintf(w, "%s: on a writable database (Updateability %s): reads load the primary; set application_intent = \"ReadOnly\" to use a secondary\n", label, orDefault(updateability, "unknown"))
	}

	c := &checker{db: db, d: d, m: m, w: w, label: label, media: newPathMapper(label, src.Media)}
	if err := c.run(ctx, from); err != nil {
		return err
	}

	var lat []time.Duration
	for range 3 {
		t0 := time.Now()
		var one int
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return fmt.Errorf("%s: latency probe: %w", label, err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	fmt.Fprintf(w, "%s: round-trip latency %s (median of 3)\n", label, ms(lat[1]))
	if c.findings > 0 {
		msg := fmt.Sprintf("%s: %d findings: the mapping does not fit this Engage (see the lines marked finding)", label, c.findings)
		if c.findings == 1 {
			msg = label + ": 1 finding: the mapping does not fit this Engage (see the line marked finding)"
		}
		return &CheckError{Kind: KindMapping, Msg: msg}
	}
	fmt.Fprintf(w, "%s: no findings\n", label)
	return nil
}

// classify turns a driver or network error into a one-line CheckError that
// names the address and says what to fix.
func classify(c connConfig, err error) error {
	var ce *CheckError
	if errors.As(err, &ce) {
		return err
	}
	addr := c.addr()
	mk := func(kind, msg string) error {
		return &CheckError{Kind: kind, Msg: c.label + ": " + scrub(msg, c.secrets), Err: scrubbed(err, c.secrets)}
	}
	var dnsErr *net.DNSError
	var se mssqldb.Error
	switch {
	case errors.As(err, &se):
		msg := firstLine(se.Message)
		switch se.Number {
		case 18456, 18452, 18470, 18486, 18487, 18488:
			return mk(KindLogin, fmt.Sprintf("login failed at %s for user %q: %s", addr, c.cfg.User, msg))
		case 4060, 911:
			return mk(KindDatabase, fmt.Sprintf("cannot open database %q at %s (missing, or the login has no access): %s", c.cfg.Database, addr, msg))
		case 208, 207:
			return mk(KindTable, fmt.Sprintf("missing table or column at %s (check the Engage version or override the query in `queries`): %s", addr, msg))
		case 229, 230, 262, 297, 300, 916, 15247:
			return mk(KindPermission, fmt.Sprintf("permission denied at %s (grant SELECT to the login): %s", addr, msg))
		}
		return mk(KindOther, fmt.Sprintf("server error %d at %s: %s", se.Number, addr, msg))
	case errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(err.Error(), "connection refused"):
		return mk(KindRefused, fmt.Sprintf("cannot connect to %s: connection refused (is SQL Server listening there? check host, port and firewall)", addr))
	case errors.As(err, &dnsErr):
		return mk(KindDNS, fmt.Sprintf("cannot resolve host %q: DNS lookup failed (%s)", c.cfg.Host, dnsErr.Err))
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return mk(KindTimeout, fmt.Sprintf("cannot connect to %s: timed out (firewall dropping packets, or wrong host)", addr))
	case strings.Contains(err.Error(), "Login error") || strings.Contains(err.Error(), "login error"):
		return mk(KindLogin, fmt.Sprintf("login failed at %s for user %q: %s", addr, c.cfg.User, firstLine(err.Error())))
	}
	return mk(KindOther, fmt.Sprintf("%s: %s", addr, firstLine(err.Error())))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func ms(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }
