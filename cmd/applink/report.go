package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"

	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/workspace"
)

func cmdReport(ctx context.Context, args []string, std stdio) int {
	c := newCommand("report", "DIR", std)
	runID := c.fs.String("run", "", "the `RUN_ID` to report (default: the latest)")
	format := c.withFormat("text", reportFormats, "report format (html: one self-contained file to mail)")
	statePath := c.fs.String("state", "", "state `FILE` (default DIR/.applink/state.duckdb)")
	dir, code, ok := c.oneDir(args)
	if !ok {
		return code
	}
	cfg := workspace.SpecState(dir, *statePath)
	if !cfg.Exists() {
		fmt.Fprintf(std.err, "applink report: no state at %s: run the spec first\n", cfg)
		return exitFindings
	}
	st, err := state.OpenConfig(ctx, cfg)
	if err != nil {
		fmt.Fprintf(std.err, "applink report: %v\n", err)
		return exitFindings
	}
	defer st.Close()
	r, err := st.Report(ctx, *runID)
	if err != nil {
		fmt.Fprintf(std.err, "applink report: %v\n", err)
		return exitFindings
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	case "html":
		err = reportHTML.Execute(std.out, reportView(r))
	default:
		writeReportText(std.out, r)
	}
	if err != nil {
		fmt.Fprintf(std.err, "applink report: %v\n", err)
		return exitFindings
	}
	if r.Unexplained != 0 {
		return exitFindings
	}
	return exitOK
}

type countLine struct {
	State, Reason string
	N             int
}

func sortedCounts(m map[string]int) []countLine {
	var out []countLine
	for k, n := range m {
		st, reason, _ := strings.Cut(k, "/")
		out = append(out, countLine{st, reason, n})
	}
	order := map[string]int{"imported": 0, "queued": 1, "excluded": 2, "failed": 3}
	sort.Slice(out, func(i, j int) bool {
		if out[i].State != out[j].State {
			return order[out[i].State] < order[out[j].State]
		}
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

func writeReportText(w io.Writer, r *state.Report) {
	fmt.Fprintf(w, "run %s (plan %.12s), %s → %s\n", r.RunID, r.PlanHash, r.Started.UTC().Format("2006-01-02 15:04:05Z"), r.Ended.UTC().Format("15:04:05Z"))
	for _, part := range []struct {
		name string
		m    map[string]int
	}{{"agents", r.Agents}, {"calls", r.Calls}} {
		fmt.Fprintf(w, "%s:\n", part.name)
		for _, c := range sortedCounts(part.m) {
			reason := c.Reason
			if reason == "" {
				reason = "-"
			}
			fmt.Fprintf(w, "  %-9s %-20s %8d\n", c.State, reason, c.N)
		}
	}
	for _, l := range r.CountedLines() {
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprintf(w, "sent this run: %d agents, %d calls\n", r.Sent.Agents, r.Sent.Calls)
	if len(r.Excluded) > 0 {
		fmt.Fprintln(w, "excluded by this run, with examples:")
		for _, e := range r.Excluded {
			fmt.Fprintf(w, "  %-5s %-20s %6d  e.g. %s\n", e.Entity, e.Reason, e.Count, strings.Join(e.Examples, ", "))
		}
	}
	if len(r.Failures) > 0 {
		fmt.Fprintln(w, "failures:")
		for _, f := range r.Failures {
			fmt.Fprintf(w, "  %s %s: %s: %s\n", f.Entity, f.ID, f.Reason, f.Detail)
		}
	}
	for _, d := range r.Drift {
		fmt.Fprintf(w, "drift: agent %s was %s in Engage: not synced, act on it in CXone by hand\n", d.UserID, d.Change)
	}
	if q := r.Queue; q != nil {
		fmt.Fprintf(w, "delivery queue now: %d calls queued, %d being delivered, %d waiting for a worker (%d of them retrying)\n",
			q.Queued, q.InFlight, q.Waiting, q.Retrying)
	}
	fmt.Fprintf(w, "accounted for: %d of %d source call rows; unexplained: %d\n", r.Accounted, r.SourceRows, r.Unexplained)
}

type reportPage struct {
	*state.Report
	AgentLines, CallLines []countLine
}

func reportView(r *state.Report) reportPage {
	return reportPage{Report: r, AgentLines: sortedCounts(r.Agents), CallLines: sortedCounts(r.Calls)}
}

var reportHTML = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>applink run {{.RunID}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}td.n{text-align:right}.ok{color:#060}.bad{color:#a00}
</style></head><body>
<h1>applink run {{.RunID}}</h1>
<p>Plan {{printf "%.12s" .PlanHash}} · started {{.Started.UTC.Format "2006-01-02 15:04:05Z"}} · ended {{.Ended.UTC.Format "2006-01-02 15:04:05Z"}}</p>
<p class="{{if eq .Unexplained 0}}ok{{else}}bad{{end}}">Accounted for {{.Accounted}} of {{.SourceRows}} source call rows; unexplained: {{.Unexplained}}.</p>
<p>Sent this run: {{.Sent.Agents}} agents, {{.Sent.Calls}} calls.</p>
{{with .Queue}}<p>Delivery queue now: {{.Queued}} calls queued, {{.InFlight}} being delivered, {{.Waiting}} waiting for a worker ({{.Retrying}} of them retrying).</p>{{end}}
<h2>Agents</h2><table><tr><th>state</th><th>reason</th><th>rows</th></tr>
{{range .AgentLines}}<tr><td>{{.State}}</td><td>{{.Reason}}</td><td class="n">{{.N}}</td></tr>{{end}}</table>
<h2>Calls</h2><table><tr><th>state</th><th>reason</th><th>rows</th></tr>
{{range .CallLines}}<tr><td>{{.State}}</td><td>{{.Reason}}</td><td class="n">{{.N}}</td></tr>{{end}}</table>
{{range .CountedLines}}<p>{{.}}</p>{{end}}
{{if .Excluded}}<h2>Excluded by this run</h2><table><tr><th>entity</th><th>reason</th><th>rows</th><th>examples</th></tr>
{{range .Excluded}}<tr><td>{{.Entity}}</td><td>{{.Reason}}</td><td class="n">{{.Count}}</td><td>{{range $i, $e := .Examples}}{{if $i}}, {{end}}{{$e}}{{end}}</td></tr>{{end}}</table>{{end}}
{{if .Failures}}<h2>Failures</h2><table><tr><th>entity</th><th>id</th><th>reason</th><th>error</th></tr>
{{range .Failures}}<tr><td>{{.Entity}}</td><td>{{.ID}}</td><td>{{.Reason}}</td><td>{{.Detail}}</td></tr>{{end}}</table>{{end}}
{{if .Drift}}<h2>Drift (act on it by hand in both systems)</h2><table><tr><th>agent</th><th>change in Engage</th></tr>
{{range .Drift}}<tr><td>{{.UserID}}</td><td>{{.Change}}</td></tr>{{end}}</table>{{end}}
</body></html>
`))
