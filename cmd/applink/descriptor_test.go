package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/applink-dev/applink/dsl"
)

var updateReference = flag.Bool("update-reference", false, "rewrite docs/connectors.md from the connectors' descriptors")

// referencePage is the generated reference of the connectors' attributes.
// settingsOnly are "connector.attribute" settings that only a descriptor
// declares: the language decodes them into dsl.Sink.Settings when loaded
// with the connectors.
var settingsOnly = map[string]bool{
	"cxone.user_management_requests_per_second": true, "cxone.ingestion_requests_per_second": true,
	"cxone.max_length": true, "cxone.rate_limit_max_wait": true,
}

var referencePage = filepath.Join("..", "..", "docs", "connectors.md")

// TestConnectorReference: the checked-in reference page is what the
// descriptors say, byte for byte (issue 18.3): a setting added to a
// descriptor without regenerating the page fails here.
func TestConnectorReference(t *testing.T) {
	var b bytes.Buffer
	if err := dsl.WriteReference(&b, registry().Connectors()); err != nil {
		t.Fatal(err)
	}
	if *updateReference {
		if err := os.MkdirAll(filepath.Dir(referencePage), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(referencePage, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(referencePage)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/applink -run TestConnectorReference -update-reference writes it)", err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Errorf("%s is not what the descriptors say: go test ./cmd/applink -run TestConnectorReference -update-reference", referencePage)
	}
	for _, want := range []string{"### source `snapshot`", "### source `mssql`", "### sink `cxone`", "| `media_path` | string |", "### state `postgres`"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the reference lacks %q", want)
		}
	}
}

// TestDescriptorsMatchTheLanguage: the build's connectors are the drivers
// the spec language knows without them (dsl.Load, conformance), and every
// attribute a descriptor declares is one the language decodes in its block
// (a descriptor-only setting, read from dsl.Sink.Settings, is listed in
// settingsOnly).
func TestDescriptorsMatchTheLanguage(t *testing.T) {
	conns := registry().Connectors()
	if got := conns.Names(dsl.BlockSource); !slices.Equal(got, dsl.Drivers) {
		t.Errorf("source connectors %v, the language's drivers %v", got, dsl.Drivers)
	}
	if got := conns.Names(dsl.BlockState); !slices.Equal(got, dsl.StateDrivers) {
		t.Errorf("state connectors %v, the language's state drivers %v", got, dsl.StateDrivers)
	}
	for _, c := range conns {
		if c.Doc == "" || len(c.Attrs) == 0 {
			t.Errorf("%s %s: no doc or no attributes", c.Block, c.Name)
		}
		for _, a := range c.Attrs {
			if a.Doc == "" || a.Type == "" {
				t.Errorf("%s %s: attribute %s has no doc or type", c.Block, c.Name, a.Name)
			}
			// Written in its block, the attribute is known (a value of the
			// wrong type may be an error; an unknown attribute may not).
			var blk string
			switch c.Block {
			case dsl.BlockSource:
				blk = "source \"engage\" \"dc1\" {\n  driver = \"" + c.Name + "\"\n  system_id = \"s\"\n  " + a.Name + " = \"x\"\n}\n"
			case dsl.BlockSink:
				blk = "source \"engage\" \"dc1\" {\n  driver = \"mssql\"\n  system_id = \"s\"\n  dsn = env(\"X\")\n}\nsink \"" + c.Name + "\" {\n  " + a.Name + " = \"x\"\n}\n"
			case dsl.BlockState:
				if a.Name == "driver" {
					continue
				}
				blk = "source \"engage\" \"dc1\" {\n  driver = \"mssql\"\n  system_id = \"s\"\n  dsn = env(\"X\")\n}\nstate {\n  driver = \"" + c.Name + "\"\n  " + a.Name + " = \"x\"\n}\n"
			}
			src := "spec {\n  customer = \"c\"\n  cxone_tenant = \"t\"\n  installed_at = \"2026-11-01T00:00:00Z\"\n}\n" + blk
			if settingsOnly[c.Name+"."+a.Name] {
				continue
			}
			_, diags := dsl.Parse("s", map[string][]byte{"main.hcl": []byte(src)})
			for _, d := range diags {
				if d.Summary == "Unsupported argument" {
					t.Errorf("%s %s: attribute %s: %s", c.Block, c.Name, a.Name, d.Detail)
				}
			}
		}
	}
}
