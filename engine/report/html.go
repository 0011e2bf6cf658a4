package report

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"time"

	"github.com/applink-dev/applink/engine"
)

//go:embed report.html.tmpl
var files embed.FS

var page = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"stamp":     func(t time.Time) string { return t.UTC().Format(stamp) },
	"day":       func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"dash":      dash,
	"plural":    plural,
	"delivered": engine.DeliveredText,
	"f":         func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"pct": func(n, of int) string {
		if of == 0 {
			return "0 %"
		}
		return fmt.Sprintf("%.1f %%", 100*float64(n)/float64(of))
	},
}).ParseFS(files, "report.html.tmpl"))

// htmlPage is what the template sees: the report and its charts.
type htmlPage struct {
	*Report
	Title         string
	Exclusions    *hbarChart
	AgentExcluded *hbarChart
	Days          *vbarChart
	FirstDay      string
	LastDay       string
}

// WriteHTML writes the report as one self-contained page: inline CSS and
// SVG, no script, no external resource, laid out to print.
func (r *Report) WriteHTML(w io.Writer) error {
	p := htmlPage{Report: r, Title: "applink report", Exclusions: exclusionChart(r.Calls, r.Counted),
		AgentExcluded: exclusionChart(r.Agents, nil), Days: dayChart(r.PerDay)}
	if r.Plan != nil {
		p.Title = fmt.Sprintf("Recording import: %s → CXone %s", r.Plan.Customer, r.Plan.CXoneTenant)
	}
	if d := r.PerDay.Days; len(d) > 0 {
		p.FirstDay, p.LastDay = d[0].Day, d[len(d)-1].Day
	}
	if p.AgentExcluded != nil {
		p.AgentExcluded.Label = "agents excluded, by reason"
	}
	return page.Execute(w, p)
}

type part struct {
	Name string
	S    Section
}

// Parts are the ledger's two tables, agents first.
func (p htmlPage) Parts() []part { return []part{{"agents", p.Agents}, {"calls", p.Calls}} }
