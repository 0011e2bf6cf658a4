package main

import (
	"context"
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
	// inspect, when set (tests), sees each verb's command line before it
	// parses: the help test checks every flag is in the usage.
	inspect func(*command)
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
		"report":      {"report the state: the whole ledger, the runs, exclusions, failures, loss", cmdReport},
		"restore":     {"resend a run's staged rows to the sink", cmdRestore},
		"purge":       {"delete staged data (by date, by call, or all)", cmdPurge},
		"serve":       {"run specs on their schedules, with health, metrics and a status page over HTTP", cmdServe},
		"version":     {"print applink's version, commit and DuckDB version", cmdVersion},
		"worker":      {"deliver the calls runs queued in a PostgreSQL state (any number of machines)", cmdWorker},
		"materialize": {"write an outbox's three files from the segments runs and workers wrote", cmdMaterialize},
		"help":        {"print the help of a command", cmdHelp},
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runWith(args, stdio{in: stdin, out: stdout, err: stderr})
}

func runWith(args []string, std stdio) int {
	if len(args) == 0 {
		usage(std.err)
		return exitUsage
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		usage(std.out)
		return exitOK
	}
	v, ok := verbs()[args[0]]
	if !ok {
		fmt.Fprintf(std.err, "applink: unknown command %q%s\n\n", args[0], didYouMean(args[0], verbNames()))
		usage(std.err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return v.run(ctx, args[1:], std)
}

// cmdHelp prints the general help, or one command's (`applink help run`).
func cmdHelp(ctx context.Context, args []string, std stdio) int {
	c := newCommand("help", "[COMMAND]", std)
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	switch len(pos) {
	case 0:
		usage(std.out)
		return exitOK
	case 1:
		if _, ok := verbs()[pos[0]]; !ok {
			fmt.Fprintf(std.err, "applink help: unknown command %q%s\n", pos[0], didYouMean(pos[0], verbNames()))
			return exitUsage
		}
		return verbs()[pos[0]].run(ctx, []string{"--help"}, std)
	}
	fmt.Fprintln(std.err, "applink help: give one command")
	c.usageLine(std.err)
	return exitUsage
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
	fmt.Fprintln(w, "\nRun 'applink help COMMAND' or 'applink COMMAND --help' for a command's flags.\nExit codes: 0 success, 1 findings, 2 usage error.")
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
