package main

import (
	"slices"
	"testing"

	"github.com/applink-dev/applink/connectors/cxone"
	"github.com/applink-dev/applink/dsl"
)

// TestCXoneCredentialEnv: the variables validate tells people to set are
// the ones the cxone sink reads (dsl cannot import the connector).
func TestCXoneCredentialEnv(t *testing.T) {
	want := []string{cxone.EnvAccessKeyID, cxone.EnvAccessKeySecret, cxone.EnvClientID, cxone.EnvClientSecret}
	if !slices.Equal(dsl.CXoneCredentialEnv, want) {
		t.Errorf("dsl.CXoneCredentialEnv = %v, the sink reads %v", dsl.CXoneCredentialEnv, want)
	}
}
