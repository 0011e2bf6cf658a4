package mssql

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/applink-dev/applink/dsl"
	"github.com/microsoft/go-mssqldb/msdsn"
)

// connConfig is a parsed DSN with its secrets, so every message built from
// it can be scrubbed.
type connConfig struct {
	cfg     msdsn.Config
	secrets []string
	label   string // "source dc1", prefix of every error
}

// addr is host:port (or host\instance) for messages.
func (c connConfig) addr() string {
	host := c.cfg.Host
	if c.cfg.Instance != "" {
		return host + `\` + c.cfg.Instance
	}
	port := c.cfg.Port
	if port == 0 {
		port = 1433
	}
	return net.JoinHostPort(host, strconv.FormatUint(port, 10))
}

// parseSource resolves a source block's DSN into a driver configuration.
// ApplicationIntent=ReadOnly is applied on the parsed configuration rather
// than by editing the DSN text, so it works for URL, ADO and ODBC forms.
func parseSource(src dsl.Source) (connConfig, error) {
	c := connConfig{label: "source " + src.Name}
	if src.DSN == "" {
		if src.DSNEnv != "" {
			return c, fmt.Errorf("%s: environment variable %s is not set", c.label, src.DSNEnv)
		}
		return c, fmt.Errorf("%s: dsn is required for driver mssql", c.label)
	}
	c.secrets = dsnSecrets(src.DSN)
	cfg, err := msdsn.Parse(src.DSN)
	if err != nil {
		// The parse error may quote the DSN (net/url does): scrub it.
		return c, fmt.Errorf("%s: invalid dsn %s: %w", c.label, redactDSN(src.DSN), scrubbed(err, c.secrets))
	}
	switch strings.ToLower(src.ApplicationIntent) {
	case "":
	case "readonly":
		cfg.ReadOnlyIntent = true
	case "readwrite":
		cfg.ReadOnlyIntent = false
	default:
		return c, fmt.Errorf("%s: application_intent %q: want ReadOnly or ReadWrite", c.label, src.ApplicationIntent)
	}
	if cfg.ReadOnlyIntent && cfg.Database == "" {
		return c, fmt.Errorf("%s: application_intent ReadOnly needs a database in the dsn (e.g. sqlserver://host:1433?database=nice_interactions): go-mssqldb routes read-only connections per database", c.label)
	}
	c.cfg = cfg
	return c, nil
}

// dsnSecrets returns the password values a DSN holds in any of the forms
// go-mssqldb accepts: URL userinfo, `password=`/`pwd=` in a URL query, ADO
// `key=value;` pairs and ODBC `{…}` values. Raw and unescaped forms both.
func dsnSecrets(dsn string) []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s == "" {
			return
		}
		out = append(out, s)
		if u, err := url.QueryUnescape(s); err == nil && u != s {
			out = append(out, u)
		}
		if u, err := url.PathUnescape(s); err == nil && u != s {
			out = append(out, u)
		}
		if len(s) >= 2 && s[0] == '{' && s[len(s)-1] == '}' {
			out = append(out, strings.ReplaceAll(s[1:len(s)-1], "}}", "}"))
		}
	}
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		// The userinfo ends at the last '@' of the authority; a malformed
		// DSN may have '?' or '@' in odd places, so take both readings
		// (over-redacting is harmless, leaking is not).
		ends := []int{strings.LastIndex(rest, "@")}
		if q := strings.IndexByte(rest, '?'); q >= 0 {
			ends = append(ends, strings.LastIndex(rest[:q], "@"))
		}
		for _, at := range ends {
			if at < 0 {
				continue
			}
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
				add(pw)
			}
		}
	}
	for _, part := range strings.FieldsFunc(dsn, func(r rune) bool { return r == ';' || r == '&' || r == '?' }) {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "password", "pwd":
			add(v)
		}
	}
	return out
}

// redactDSN returns the DSN with every password replaced by xxxxx.
func redactDSN(dsn string) string { return scrub(dsn, dsnSecrets(dsn)) }

func scrub(s string, secrets []string) string {
	// Longest first, so a secret containing another is replaced whole.
	secrets = slices.Clone(secrets)
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "xxxxx")
		}
	}
	return s
}

// scrubbedError keeps the chain for errors.Is/As but never prints a secret.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func scrubbed(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	var se *scrubbedError
	if errors.As(err, &se) && len(secrets) == 0 {
		return err
	}
	return &scrubbedError{msg: scrub(err.Error(), secrets), err: err}
}
