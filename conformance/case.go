package conformance

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/tools/txtar"
)

// builtin is the suite shipped in the binary: `applink conformance` runs it
// without a checkout.
//
//go:embed cases/*.txtar
var builtin embed.FS

// Prefixes of a case's file names. Any other name is an error, so a typo
// such as "expected/ledger.csv" cannot silently turn into "no expectation".
const (
	specPrefix   = "spec/"
	dataPrefix   = "data/"
	expectPrefix = "expect/"
)

// Expectation file names.
const (
	ExpectDiagnostics = "expect/diagnostics"
	ExpectAgents      = "expect/agents.csv"
	ExpectCalls       = "expect/calls.jsonl"
	ExpectLedger      = "expect/ledger.csv"
	ExpectSummary     = "expect/summary"
)

// outboxFiles maps the outbox's files to their expectation, in the order
// they are compared and written.
var outboxFiles = []struct{ out, expect string }{
	{"agents.csv", ExpectAgents},
	{"calls.jsonl", ExpectCalls},
	{"ledger.csv", ExpectLedger},
}

// Case is one conformance case or spec test.
type Case struct {
	Name    string // file name without .txtar
	Path    string // the file it was read from; "" for a built-in case
	Archive *txtar.Archive
}

// Comment is the case's description: the archive's comment, trimmed.
func (c *Case) Comment() string { return strings.TrimSpace(string(c.Archive.Comment)) }

// file returns the named section, or nil.
func (c *Case) file(name string) *txtar.File {
	for i := range c.Archive.Files {
		if c.Archive.Files[i].Name == name {
			return &c.Archive.Files[i]
		}
	}
	return nil
}

// expectations lists the expect/ sections the case has.
func (c *Case) expectations() map[string][]byte {
	out := map[string][]byte{}
	for _, f := range c.Archive.Files {
		if strings.HasPrefix(f.Name, expectPrefix) {
			out[f.Name] = f.Data
		}
	}
	return out
}

// ParseCase reads a case from txtar bytes.
func ParseCase(name string, data []byte) *Case {
	return &Case{Name: name, Archive: txtar.Parse(data)}
}

// Builtin returns the embedded suite, sorted by name.
func Builtin() ([]*Case, error) {
	return readFS(builtin, "cases", "")
}

// ReadDir returns the cases (*.txtar) of dir, sorted by name. Their Path is
// set, so Update can write them back.
func ReadDir(dir string) ([]*Case, error) {
	cases, err := readFS(os.DirFS(dir), ".", dir)
	if err != nil {
		return nil, err
	}
	return cases, nil
}

func readFS(fsys fs.FS, dir, osDir string) ([]*Case, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read cases: %w", err)
	}
	var cases []*Case
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".txtar") {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read case: %w", err)
		}
		c := ParseCase(strings.TrimSuffix(e.Name(), ".txtar"), b)
		if osDir != "" {
			c.Path = filepath.Join(osDir, e.Name())
		}
		cases = append(cases, c)
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Name < cases[j].Name })
	return cases, nil
}

// check rejects archives the runner would misread: unknown sections, names
// escaping the case's folder, duplicates, and spec files in a spec test.
func (c *Case) check(specTest bool) error {
	seen := map[string]bool{}
	for _, f := range c.Archive.Files {
		name := f.Name
		if seen[name] {
			return fmt.Errorf("section %q appears twice", name)
		}
		seen[name] = true
		if !filepath.IsLocal(filepath.FromSlash(name)) || strings.Contains(name, `\`) {
			return fmt.Errorf("section %q: names are relative paths inside the case", name)
		}
		switch {
		case strings.HasPrefix(name, specPrefix):
			if specTest {
				return fmt.Errorf("section %q: a spec test runs the folder's own spec; remove spec/ sections", name)
			}
		case strings.HasPrefix(name, dataPrefix):
		case strings.HasPrefix(name, expectPrefix):
			switch name {
			case ExpectDiagnostics:
				if specTest {
					return fmt.Errorf("section %q: a spec test runs a valid spec; expect its outbox or ledger", name)
				}
			case ExpectAgents, ExpectCalls, ExpectLedger, ExpectSummary:
			default:
				return fmt.Errorf("section %q: unknown expectation; want one of %s", name,
					strings.Join([]string{ExpectDiagnostics, ExpectAgents, ExpectCalls, ExpectLedger, ExpectSummary}, ", "))
			}
		default:
			return fmt.Errorf("section %q: names start with spec/, data/ or expect/", name)
		}
	}
	if seen[ExpectDiagnostics] {
		for _, o := range outboxFiles {
			if seen[o.expect] {
				return fmt.Errorf("both %s and %s: a case expects diagnostics or a run, not both", ExpectDiagnostics, o.expect)
			}
		}
	}
	return nil
}

// extract writes the case's spec/ and data/ sections under dir.
func (c *Case) extract(dir string) error {
	for _, f := range c.Archive.Files {
		if strings.HasPrefix(f.Name, expectPrefix) {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("extract %s: %w", f.Name, err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return fmt.Errorf("extract %s: %w", f.Name, err)
		}
	}
	return nil
}

// hasSpec reports whether the case carries a spec folder.
func (c *Case) hasSpec() bool {
	for _, f := range c.Archive.Files {
		if strings.HasPrefix(f.Name, specPrefix) {
			return true
		}
	}
	return false
}
