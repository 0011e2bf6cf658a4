package mssql

import (
	"errors"
	"fmt"
	"net"
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

// dsnSecrets and scrub are the spec language's: one way to mask secrets
// (dsl.MaskSecrets) for every connector.
func dsnSecrets(dsn string) []string { return dsl.DSNSecrets(dsn) }

// redactDSN returns the DSN with every password replaced by ****.
func redactDSN(dsn string) string { return dsl.MaskSecrets(dsn, dsl.DSNSecrets(dsn)...) }

func scrub(s string, secrets []string) string { return dsl.MaskSecrets(s, secrets...) }

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
