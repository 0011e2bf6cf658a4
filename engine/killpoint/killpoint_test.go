package killpoint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// declared reads the package's point constants from killpoint.go: name of
// the constant -> its value.
func declared(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "killpoint.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING || strings.HasPrefix(n.Name, "Env") {
					continue
				}
				v, _ := strconv.Unquote(lit.Value)
				out[n.Name] = v
			}
		}
	}
	return out
}

// callSites finds every killpoint.Hit call in the module's non-test Go
// files: the constant each names, and where.
func callSites(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not at %s: %v", root, err)
	}
	sites := map[string][]string{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		local := "" // the name the file imports this package under
		for _, im := range f.Imports {
			if strings.HasSuffix(im.Path.Value, `/engine/killpoint"`) {
				local = "killpoint"
				if im.Name != nil {
					local = im.Name.Name
				}
			}
		}
		if local == "" {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Hit" {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != local {
				return true
			}
			pos := fset.Position(call.Pos())
			rel, _ := filepath.Rel(root, pos.Filename)
			where := rel + ":" + strconv.Itoa(pos.Line)
			arg, ok := call.Args[0].(*ast.SelectorExpr)
			if x, isIdent := arg.X.(*ast.Ident); !ok || !isIdent || x.Name != local {
				sites["(not a constant)"] = append(sites["(not a constant)"], where)
				return true
			}
			sites[arg.Sel.Name] = append(sites[arg.Sel.Name], where)
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sites
}

// TestEveryPointDeclaredAndPlaced: every Hit in the module names a declared
// constant, every declared point is in Points (which the crash tests walk)
// and has a call site, so no point goes untested and no test kills at a
// point the code lost.
func TestEveryPointDeclaredAndPlaced(t *testing.T) {
	consts := declared(t)
	sites := callSites(t)
	if bad := sites["(not a constant)"]; len(bad) > 0 {
		t.Errorf("killpoint.Hit must name a declared constant: %v", bad)
	}
	var names []string
	for _, p := range Points {
		if slices.Contains(names, p.Name) {
			t.Errorf("point %q listed twice in Points", p.Name)
		}
		names = append(names, p.Name)
	}
	for c, v := range consts {
		if !slices.Contains(names, v) {
			t.Errorf("constant %s (%q) is not in Points: the crash tests would not kill there", c, v)
		}
		if len(sites[c]) == 0 {
			t.Errorf("point %s (%q) has no killpoint.Hit call site", c, v)
		}
	}
	for c, where := range sites {
		if _, ok := consts[c]; !ok && c != "(not a constant)" {
			t.Errorf("killpoint.Hit(%s) at %v: not a declared point", c, where)
		}
	}
	if len(consts) != len(Points) {
		t.Errorf("%d constants, %d Points", len(consts), len(Points))
	}
	for c, where := range sites {
		t.Logf("%s: %s", c, strings.Join(where, ", "))
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		kill    string
		wantErr bool
		name    string
		nth     int64
	}{
		{kill: "", name: ""},
		{kill: CommitBegin, name: CommitBegin, nth: 1},
		{kill: OutboxFileInPlace + ":3", name: OutboxFileInPlace, nth: 3},
		{kill: "no-such-point", wantErr: true},
		{kill: CommitBegin + ":0", wantErr: true},
		{kill: CommitBegin + ":x", wantErr: true},
	} {
		a, err := parse(tc.kill, "")
		if (err != nil) != tc.wantErr {
			t.Errorf("parse(%q): %v", tc.kill, err)
			continue
		}
		if err != nil {
			continue
		}
		if tc.kill == "" {
			if a != nil {
				t.Errorf("parse of nothing armed something")
			}
			continue
		}
		if a.kill != tc.name || a.nth != tc.nth {
			t.Errorf("parse(%q) = %q:%d", tc.kill, a.kill, a.nth)
		}
	}
}

// TestHitInert: with nothing armed, Hit does nothing (the test process
// survives every point).
func TestHitInert(t *testing.T) {
	if cur.Load() != nil {
		t.Skip("the environment arms a point")
	}
	for _, p := range Points {
		Hit(p.Name)
	}
}

// The child half of TestHitKills: run by the test binary itself.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("KILLPOINT_HELPER") == "" {
		t.Skip("helper process")
	}
	for range 3 {
		Hit(OutboxFileInPlace)
	}
	Hit(CommitBegin)
	os.Exit(0)
}

// TestHitKills runs a child armed to die at the second hit of a point: it
// dies by SIGKILL there, and its trace holds the points it reached, the
// fatal one marked.
func TestHitKills(t *testing.T) {
	for _, tc := range []struct {
		kill      string
		wantTrace string
		killed    bool
	}{
		{OutboxFileInPlace + ":2", "outbox-file-in-place\nkill outbox-file-in-place:2\n", true},
		{CommitBegin, "outbox-file-in-place\noutbox-file-in-place\noutbox-file-in-place\nkill commit-begin:1\n", true},
		{StateCommitted, "outbox-file-in-place\noutbox-file-in-place\noutbox-file-in-place\ncommit-begin\n", false},
	} {
		t.Run(tc.kill, func(t *testing.T) {
			trace := filepath.Join(t.TempDir(), "trace")
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
			cmd.Env = append(os.Environ(), "KILLPOINT_HELPER=1", EnvKill+"="+tc.kill, EnvTrace+"="+trace)
			err := cmd.Run()
			ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if killed := ws.Signaled() && ws.Signal() == syscall.SIGKILL; killed != tc.killed {
				t.Fatalf("killed by SIGKILL: %v, want %v (%v)", killed, tc.killed, err)
			}
			got, err := os.ReadFile(trace)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.wantTrace {
				t.Errorf("trace:\n%s\nwant:\n%s", got, tc.wantTrace)
			}
		})
	}
}

// BenchmarkHitInert is the cost of a point in production.
func BenchmarkHitInert(b *testing.B) {
	if cur.Load() != nil {
		b.Skip("the environment arms a point")
	}
	for b.Loop() {
		Hit(BatchWritten)
	}
}
