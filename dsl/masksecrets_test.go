package dsl

import "testing"

func TestMaskSecrets(t *testing.T) {
	tests := []struct {
		name, in string
		known    []string
		want     string
	}{
		{"url user info", "dial postgres://app:S3cret@db:5432/x failed", nil, "dial postgres://app:****@db:5432/x failed"},
		{"query key", "sqlserver://sa@h?database=x&password=abc123", nil, "sqlserver://sa@h?database=x&password=****"},
		{"ado key", "server=h;user id=sa;Password=abc;;database=x", nil, "server=h;user id=sa;Password=****;;database=x"},
		{"authorization header", "Authorization: Bearer eyJhbGci.abc", nil, "Authorization: Bearer ****"},
		{"basic header", `"Authorization": "Basic dXNlcjpwdw=="`, nil, `"Authorization": "Basic ****"`},
		{"known secret quoted by a driver", "login failed near T0pS3cret", []string{"T0pS3cret"}, "login failed near ****"},
		{"escaped form", "sqlserver://sa:P%40ss@h:1433", DSNSecrets("sqlserver://sa:P%40ss@h:1433"), "sqlserver://sa:****@h:1433"},
		{"nothing secret", "source dc1: cannot connect to 10.0.0.1:1433", nil, "source dc1: cannot connect to 10.0.0.1:1433"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskSecrets(tt.in, tt.known...); got != tt.want {
				t.Errorf("MaskSecrets(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
