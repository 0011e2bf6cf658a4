package mssql

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/applink-dev/applink/dsl"
	mssqldb "github.com/microsoft/go-mssqldb"
)

// TestClassify pins the one-line message of every failure class check
// names; the driver errors are the values go-mssqldb returns for them.
func TestClassify(t *testing.T) {
	c, err := parseSource(dsl.Source{Name: "dc1", DSN: "sqlserver://applink:T0pS3cret@db.acme.example:1433?database=nice_interactions"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		kind string
		msg  string
	}{
		{"other dial error", fmt.Errorf("unable to open tcp connection with host 'db.acme.example:1433': %w", &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{}}), KindOther, "source dc1: db.acme.example:1433: unable to open tcp connection"},
		{"refused errno", fmt.Errorf("unable to open tcp connection: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), KindRefused, "source dc1: cannot connect to db.acme.example:1433: connection refused"},
		{"dns", fmt.Errorf("unable to open tcp connection: %w", &net.DNSError{Err: "no such host", Name: "db.acme.example", IsNotFound: true}), KindDNS, `source dc1: cannot resolve host "db.acme.example": DNS lookup failed (no such host)`},
		{"timeout", context.DeadlineExceeded, KindTimeout, "source dc1: cannot connect to db.acme.example:1433: timed out"},
		{"login", mssqldb.Error{Number: 18456, Message: "login error: Login failed for user 'applink'."}, KindLogin, `source dc1: login failed at db.acme.example:1433 for user "applink": login error: Login failed for user 'applink'.`},
		{"database", mssqldb.Error{Number: 4060, Message: "Cannot open database \"nice_interactions\" requested by the login."}, KindDatabase, `source dc1: cannot open database "nice_interactions" at db.acme.example:1433`},
		{"table", fmt.Errorf("source dc1: query calls: %w", mssqldb.Error{Number: 208, Message: "Invalid object name 'tblInteraction'."}), KindTable, "source dc1: missing table or column at db.acme.example:1433 (check the Engage version or override the query in `queries`): Invalid object name 'tblInteraction'."},
		{"permission", mssqldb.Error{Number: 229, Message: "The SELECT permission was denied on the object 'tblRecording'."}, KindPermission, "source dc1: permission denied at db.acme.example:1433 (grant SELECT to the login): The SELECT permission was denied"},
		{"password in driver text", errors.New("weird failure mentioning T0pS3cret"), KindOther, "source dc1: db.acme.example:1433: weird failure mentioning xxxxx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(c, tt.err)
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("%T, want *CheckError", err)
			}
			if ce.Kind != tt.kind || !strings.HasPrefix(ce.Error(), tt.msg) {
				t.Errorf("kind %s, message %q\nwant kind %s, message starting %q", ce.Kind, ce.Error(), tt.kind, tt.msg)
			}
			if strings.Contains(ce.Error(), "T0pS3cret") || strings.Contains(ce.Error(), "\n") {
				t.Errorf("message has the password or several lines: %q", ce.Error())
			}
		})
	}
}
