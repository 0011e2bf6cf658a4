package serve

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"time"

	"github.com/applink-dev/applink/engine"
)

//go:embed status.html
var statusHTML string

var statusTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"dur": func(d time.Duration) string { return roundDur(d).String() },
}).Parse(statusHTML))

type pageData struct {
	Host, Version string
	PID           int
	Started, Now  time.Time
	Ready         bool
	Specs         []specPage
}

type specPage struct {
	ID, Name, Lock, Holder, Role, RoleText, Why, Lag, Queue string
	Every                                                   time.Duration
	Info                                                    SpecInfo
	Ready, Running                                          bool
	RunSince, Next                                          time.Time
	Progress                                                engine.Progress
	Committed                                               *runView
	Runs                                                    []*runView
	Delivery                                                *deliveryPanel
}

// statusPage renders the page: server-side, no script, readable printed.
func (s *Server) statusPage(w http.ResponseWriter, req *http.Request) {
	host, _ := os.Hostname()
	d := pageData{Host: host, Version: s.opts.Version, PID: os.Getpid(), Started: s.started, Now: s.now(), Ready: true}
	for i, r := range s.specs {
		st := r.snapshot()
		ready, why := r.readiness()
		d.Ready = d.Ready && ready
		p := specPage{ID: fmt.Sprintf("spec-%d", i+1), Name: r.name, Lock: r.lock.String(), Holder: st.Holder, Role: st.Role,
			Why: why, Every: r.every, Info: r.info, Ready: ready, Running: st.Running, RunSince: st.RunSince,
			Progress: st.Progress, Committed: st.Committed, Runs: st.Runs, Lag: "unknown (no imported call yet)"}
		if st.Role == roleStandby && st.Committed == nil {
			p.Lag = "– (see the holder's page)"
		}
		p.RoleText = map[string]string{roleHolder: "runs here", roleStandby: "standby", roleStarting: "starting", roleStopped: "stopped"}[st.Role]
		if st.Role == roleHolder {
			p.Next = st.Next
		}
		if c := st.Committed; c != nil && !c.NewestImported.IsZero() {
			lag := d.Now.Sub(c.NewestImported)
			p.Lag = fmt.Sprintf("%s (newest imported call started %s)", humanDur(lag), c.NewestImported.UTC().Format("2006-01-02 15:04:05 UTC"))
		}
		if r.queue != nil {
			ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
			q, f, err := r.queue.QueueDepth(ctx)
			cancel()
			if err != nil {
				p.Queue = "unknown: " + err.Error()
			} else {
				p.Queue = fmt.Sprintf("%d queued, %d in flight", q, f)
			}
			p.Delivery = r.delivery(req.Context(), d.Now)
		}
		d.Specs = append(d.Specs, p)
	}
	var buf bytes.Buffer
	if err := statusTmpl.Execute(&buf, d); err != nil {
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// humanDur is roundDur, in days and hours past two days.
func humanDur(d time.Duration) string {
	if d < 48*time.Hour {
		return roundDur(d).String()
	}
	days := d / (24 * time.Hour)
	return fmt.Sprintf("%dd %dh", days, (d-days*24*time.Hour)/time.Hour)
}

// roundDur rounds a duration for people: ms under a second, s under an
// hour, minutes beyond.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond)
	case d < time.Hour:
		return d.Round(time.Second)
	}
	return d.Round(time.Minute)
}
