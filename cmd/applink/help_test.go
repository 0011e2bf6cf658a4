package main

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

// TestEveryVerbHelpListsItsFlags runs each verb's --help and checks it prints
// once, on stdout, exit 0, with a usage line and a flags list naming every
// flag the verb defines (taken from the verb's own flag set, so a flag added
// without help fails here).
func TestEveryVerbHelpListsItsFlags(t *testing.T) {
	for _, name := range verbNames() {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			var seen *command
			code := runWith([]string{name, "--help"}, stdio{in: strings.NewReader(""), out: &out, err: &errb,
				inspect: func(c *command) { seen = c }})
			if code != exitOK {
				t.Fatalf("exit %d, want 0; stderr: %s", code, errb.String())
			}
			if errb.Len() != 0 {
				t.Errorf("help wrote to stderr too: %q", errb.String())
			}
			if seen == nil {
				t.Fatal("the verb never parsed its flags")
			}
			help := out.String()
			usage, rest, _ := strings.Cut(help, "\n")
			if !strings.HasPrefix(usage, "Usage: applink "+name) {
				t.Errorf("first line %q, want the usage line", usage)
			}
			if strings.Count(help, "Usage: applink") != 1 {
				t.Errorf("usage printed %d times:\n%s", strings.Count(help, "Usage: applink"), help)
			}
			if !strings.Contains(rest, verbs()[name].summary) {
				t.Errorf("help lacks the verb's summary %q", verbs()[name].summary)
			}
			n := 0
			seen.fs.VisitAll(func(f *flag.Flag) {
				n++
				if !strings.Contains(usage, "[--"+f.Name) {
					t.Errorf("usage line lacks --%s: %s", f.Name, usage)
				}
				if !strings.Contains(rest, "\n  --"+f.Name) {
					t.Errorf("flags list lacks --%s", f.Name)
				}
				if f.Usage == "" {
					t.Errorf("--%s has no help text", f.Name)
				}
			})
			if n > 0 && !strings.Contains(rest, "\nFlags:\n") {
				t.Errorf("no Flags: section:\n%s", help)
			}
			// `applink help VERB` prints the same.
			var out2 bytes.Buffer
			if code := runWith([]string{"help", name}, stdio{out: &out2, err: &errb}); code != exitOK || out2.String() != help {
				t.Errorf("applink help %s: exit %d, output differs from --help:\n%s", name, code, out2.String())
			}
		})
	}
}

// TestFormatValuesPerVerb: --format names the output format everywhere,
// with the values each verb accepts; a wrong one is a usage error that
// lists them.
func TestFormatValuesPerVerb(t *testing.T) {
	tests := []struct {
		verb   string
		values []string
	}{
		{"validate", diagFormats},
		{"plan", diagFormats},
		{"run", diagFormats},
		{"preview", diagFormats},
		{"test", diagFormats},
		{"check", []string{"text", "json"}},
		{"report", reportFormats},
		{"version", []string{"text", "json"}},
	}
	for _, tt := range tests {
		t.Run(tt.verb, func(t *testing.T) {
			var out, errb bytes.Buffer
			var seen *command
			runWith([]string{tt.verb, "--help"}, stdio{out: &out, err: &errb, inspect: func(c *command) { seen = c }})
			if seen == nil || strings.Join(seen.formats, "|") != strings.Join(tt.values, "|") {
				t.Fatalf("--format accepts %v, want %v", seen.formats, tt.values)
			}
			errb.Reset()
			if code := runWith([]string{tt.verb, "--format", "yaml", "x"}, stdio{out: &out, err: &errb}); code != exitUsage {
				t.Errorf("--format yaml: exit %d, want 2", code)
			}
			if !strings.Contains(errb.String(), "--format must be "+orList(tt.values)) {
				t.Errorf("stderr %q does not list the values", errb.String())
			}
		})
	}
}
