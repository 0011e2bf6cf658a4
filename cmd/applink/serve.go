package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/workspace"
	"github.com/applink-dev/applink/serve"
)

// lockDSNEnv names the variable holding the PostgreSQL DSN of the standby
// lock for specs whose state is a DuckDB file (a DSN on the command line
// shows in ps); a spec with a PostgreSQL state block locks in that database.
const lockDSNEnv = "APPLINK_LOCK_DSN"

var logFormats = []string{"text", "json"}

// cmdServe runs specs on their schedules with health, metrics and a status
// page; the logic is in package serve.
func cmdServe(ctx context.Context, args []string, std stdio) int {
	c := newCommand("serve", "DIR…", std)
	every := c.fs.Duration("every", 0, "run every spec each `DURATION` (30s, 5m, 1h), overriding the specs' schedule { every } blocks")
	listen := c.fs.String("listen", "127.0.0.1:8470", "`ADDR` (host:port) of /healthz, /readyz, /metrics and the status page at /")
	logFormat := c.fs.String("log-format", "text", "log lines on stderr as `text|json`")
	lockDSN := c.fs.String("lock-dsn", "", "PostgreSQL `DSN` of the standby lock: an advisory lock per spec lets one of several serve processes run it (default $"+lockDSNEnv+"; without one, a file lock in DIR/.applink makes a second serve on this machine a standby)")
	poll := c.fs.Duration("poll", 5*time.Second, "how often a standby tries the lock, the holder checks it and a run retries a state in use (`DURATION`)")
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		fmt.Fprintln(std.err, "applink serve: give one or more spec folders")
		c.usageLine(std.err)
		return exitUsage
	}
	if !slices.Contains(logFormats, *logFormat) {
		fmt.Fprintf(std.err, "applink serve: --log-format must be %s, not %q\n", orList(logFormats), *logFormat)
		return exitUsage
	}
	if *every < 0 || *poll <= 0 {
		fmt.Fprintln(std.err, "applink serve: --every and --poll must be positive durations")
		return exitUsage
	}
	dsn := *lockDSN
	if dsn == "" {
		dsn = os.Getenv(lockDSNEnv)
	}

	// Every spec is loaded and checked before any runs: all problems at once.
	var specs []serve.Spec
	failed, usage := false, false
	for _, dir := range pos {
		plan, code := compile(dir, "text", std)
		if plan == nil {
			failed = true
			usage = usage || code == exitUsage
			continue
		}
		sp := serve.Spec{Name: filepath.Clean(dir), Every: *every}
		if sp.Every == 0 {
			// The schedule is not part of the plan's hash (it changes
			// nothing a run does), but the plan carries it.
			sp.Every = plan.Schedule.Every
		}
		if sp.Every == 0 {
			fmt.Fprintf(std.err, "applink serve: %s has no schedule: add `schedule { every = \"5m\" }` to the spec or pass --every\n", dir)
			failed, usage = true, true
			continue
		}
		ws := newWorkspace(plan, workspace.DefaultPaths(dir, "", ""))
		sp.Workspace = ws
		sp.Info = serve.SpecInfo{Customer: plan.Customer, Tenant: plan.CXoneTenant, State: ws.State.String(), SentTo: ws.Where()}
		lockDSN := dsn
		if ws.State.Driver == state.DriverPostgres {
			// The spec's PostgreSQL state holds the standby lock and the
			// delivery queue whose depth /metrics shows.
			lockDSN = ws.State.DSN
			st, err := ws.OpenState(ctx)
			if err != nil {
				fmt.Fprintf(std.err, "applink serve: %s: %v\n", dir, err)
				failed = true
				continue
			}
			defer st.Close()
			sp.Queue = serve.StateQueue(st)
		}
		if lockDSN != "" {
			l, err := serve.NewPGLock(lockDSN, serve.LockKey(plan.Customer, plan.CXoneTenant, plan.SystemID), *poll)
			if err != nil {
				fmt.Fprintf(std.err, "applink serve: %v\n", err)
				return exitUsage
			}
			sp.Lock = l
		} else {
			sp.Lock = serve.NewFileLock(filepath.Join(dir, ".applink", "serve.lock"))
		}
		specs = append(specs, sp)
	}
	if failed {
		if usage {
			return exitUsage
		}
		return exitFindings
	}

	var h slog.Handler = slog.NewTextHandler(std.err, nil)
	if *logFormat == "json" {
		// Durations as "1.5s", as in the text format, not nanoseconds.
		h = slog.NewJSONHandler(std.err, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() == slog.KindDuration {
				a.Value = slog.StringValue(a.Value.Duration().String())
			}
			return a
		}})
	}
	srv, err := serve.New(serve.Options{Specs: specs, Listen: *listen, Logger: slog.New(h), Poll: *poll, Version: buildVersion().Version})
	if err != nil {
		fmt.Fprintf(std.err, "applink %v\n", err)
		return exitUsage
	}
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintf(std.err, "applink %v\n", err)
		return exitFindings
	}
	return exitOK
}
