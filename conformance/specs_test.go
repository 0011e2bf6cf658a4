package conformance

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/applink-dev/applink/connectors/outbox"
	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
)

// specsDir holds the customer spec folders (data, not Go code).
const specsDir = "../specs"

// TestCustomerSpecs holds every folder of specs/ to what CI asks of it:
// valid with no warning, fmt-clean, its fixture tests pass (-update records
// them), and a run on its own data/ completes with every row accounted for.
func TestCustomerSpecs(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(specsDir, "*", "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range dirs {
		seen[filepath.Dir(f)] = true
	}
	if len(seen) < 3 {
		t.Fatalf("%d spec folders under %s, want at least 3", len(seen), specsDir)
	}
	ctx := context.Background()
	for dir := range seen {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			spec, diags := dsl.Load(dir)
			if len(diags) > 0 {
				t.Fatalf("diagnostics:\n%s", DiagnosticLines(dir, diags))
			}
			changed, err := dsl.FormatDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for name := range changed {
				t.Errorf("%s is not formatted (applink fmt %s)", name, dir)
			}
			tests, err := ReadDir(filepath.Join(dir, "tests"))
			if err != nil {
				t.Fatal(err)
			}
			if len(tests) == 0 {
				t.Fatal("no tests/*.txtar")
			}
			for _, c := range tests {
				t.Run(c.Name, func(t *testing.T) {
					if c.Comment() == "" {
						t.Error("the test has no comment saying what it shows")
					}
					res := RunSpecTest(ctx, spec, c)
					if *update {
						if err := res.WriteUpdate(); err != nil {
							t.Fatal(err)
						}
						return
					}
					if res.Err != nil {
						t.Fatal(res.Err)
					}
					if res.Diff != "" {
						t.Errorf("differs (go test ./conformance -run CustomerSpecs -update to record):\n%s", res.Diff)
					}
				})
			}
			t.Run("own data", func(t *testing.T) { runOwnData(t, spec) })
		})
	}
}

// runOwnData runs a spec on the data its sources name, as `applink run`
// would, and checks that every source row got exactly one verdict.
func runOwnData(t *testing.T, spec *dsl.Spec) {
	for _, s := range spec.Sources {
		if s.Driver != "snapshot" {
			t.Skipf("source %q reads a live %s server; its tests/ cover the rules", s.Name, s.Driver)
		}
	}
	plan, err := engine.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	reg := engine.Registry{Sources: []connector.SourceDescriptor{snapshot.Descriptor()}}
	sum, err := engine.Run(context.Background(), plan, engine.Options{Registry: reg, Sink: outbox.New(out), RunID: runID, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if sum.BadRows != 0 {
		t.Errorf("%d bad rows in the spec's own data: %v", sum.BadRows, sum.BadRowSamples)
	}
	if got := sum.Calls.Total + sum.DuplicateSeen; got != sum.SourceRows {
		t.Errorf("%d call verdicts + %d duplicates for %d source rows", sum.Calls.Total, sum.DuplicateSeen, sum.SourceRows)
	}
	if sum.Calls.Count(connector.StateImported) == 0 || sum.Calls.Count(connector.StateExcluded) == 0 {
		t.Errorf("the demo data should show imports and exclusions: %+v", sum.Calls.By)
	}
	if _, err := os.Stat(filepath.Join(out, "ledger.csv")); err != nil {
		t.Error(err)
	}
}
