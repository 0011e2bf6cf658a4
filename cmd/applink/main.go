package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"

	"github.com/agext/levenshtein"
)

// Exit codes (shared/README.md §6).
const (
	exitOK       = 0
	exitFindings = 1
	exitUsage    = 2
)

func main() {
	// APPLINK_CPUPROFILE=FILE profiles a whole command (for the performance
	// work in README; not a user feature).
	if path := os.Getenv("APPLINK_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
				pprof.StopCPUProfile()
				f.Close()
				os.Exit(code)
			}
		}
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// verb is one subcommand.
type verb struct {
	summary string
	run     func(ctx context.Context, args []string, io stdio) int
}

type stdio struct {
	in       io.Reader
	out, err io.Writer
}

func verbs() map[string]verb {
	return map[string]verb{
		"validate":    {"check a spec folder and report every problem", cmdValidate},
		"fmt":         {"rewrite spec files in canonical format", cmdFmt},
		"plan":        {"print what a run of the spec would do", cmdPlan},
		"run":         {"run the spec: read Engage, apply the rules, send to the sink", cmdRun},
		"demo":        {"make demo Engage data (and a spec), or run the whole demo", cmdDemo},
		"check":       {"connect to every source and check a run could read it", cmdCheck},
		"preview":     {"dry-run the plan into a DuckDB file and diff it against the last run", cmdPreview},
		"tui":         {"step through a plan, its preview and diff, then apply it", cmdTui},
		"test":        {"run a spec folder's own fixture tests (tests/*.txtar)", cmdTest},
		"conformance": {"run the conformance suite (built in, or a folder of cases)", cmdConformance},
		"report":      {"report a run from the state: counts, exclusions, failures, drift, loss", cmdReport},
		"restore":     {"resend a run's staged rows to the sink", cmdRestore},
		"purge":       {"delete staged data (by date, by call, or all)", cmdPurge},
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	std := stdio{in: stdin, out: stdout, err: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		usage(w)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	v, ok := verbs()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "applink: unknown command %q%s\n\n", args[0], didYouMean(args[0], verbNames()))
		usage(stderr)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return v.run(ctx, args[1:], std)
}

func verbNames() []string {
	var names []string
	for n := range verbs() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "applink moves recording data from NICE Engage into NICE CXone, driven by an HCL spec folder.")
	fmt.Fprintln(w, "\nUsage: applink COMMAND [flags] [DIR]\n\nCommands:")
	for _, n := range verbNames() {
		fmt.Fprintf(w, "  %-12s %s\n", n, verbs()[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'applink COMMAND --help' for a command's flags. Exit codes: 0 success, 1 findings, 2 usage error.")
}

// newFlags makes a verb's flag set: errors and --help go to stderr/stdout
// with the verb's synopsis.
func newFlags(name, synopsis string, std stdio) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(std.err)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: applink %s\n\n%s\n", synopsis, verbs()[name].summary)
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, allowing flags after positional arguments
// (`applink run DIR --out X`), and returns the positional ones. ok=false
// means the verb should return code.
func parseFlags(fs *flag.FlagSet, args []string, std stdio) (pos []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(std.out)
				fs.Usage()
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, 0, true
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// oneDir checks that exactly one DIR was given.
func oneDir(fs *flag.FlagSet, pos []string, std stdio) (string, bool) {
	if len(pos) != 1 {
		fmt.Fprintf(std.err, "applink %s: expected one spec folder, got %d arguments\n", fs.Name(), len(pos))
		fs.Usage()
		return "", false
	}
	return pos[0], true
}

func didYouMean(s string, options []string) string {
	best, bestD := "", 3
	for _, o := range options {
		if d := levenshtein.Distance(strings.ToLower(s), o, nil); d < bestD {
			best, bestD = o, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
