package serve

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// healthz: the process is up and answering.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// readyz: 200 when every spec's state is reachable and its last run did
// not fail; 503 otherwise. The body says, spec by spec, why. A standby is
// ready (it is what a standby should be); a spec whose state is in use by
// another process (an `applink run` on the folder) is not, until its retry
// gets through.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	ready := true
	var lines []string
	for _, r := range s.specs {
		ok, why := r.readiness()
		if !ok {
			ready = false
		}
		lines = append(lines, fmt.Sprintf("%s: %s", r.name, why))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready")
	} else {
		fmt.Fprintln(w, "ready")
	}
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

// readiness is one spec's verdict and its reason.
func (r *specRunner) readiness() (bool, string) {
	st := r.snapshot()
	switch {
	case st.LockErr != "":
		return false, "cannot reach its lock (" + r.lock.String() + "): " + st.LockErr
	case st.Role == roleStandby:
		h := st.Holder
		if h == "" {
			h = "another process"
		}
		return true, "standby: run by " + h + "; takes over when it stops"
	case st.Role == roleStarting:
		return true, "starting"
	case st.Role == roleStopped:
		return false, "stopped"
	case st.StateErr != "":
		return false, "state not reachable, retrying every " + min(r.every, r.poll).String() + ": " + st.StateErr
	}
	var last *runView
	for _, v := range st.Runs {
		if !v.FromState {
			last = v
			break
		}
	}
	running := ""
	if st.Running {
		running = fmt.Sprintf("; running since %s", st.RunSince.UTC().Format(time.RFC3339))
	}
	if last == nil {
		return true, "no run yet" + running
	}
	if last.Outcome == OutcomeFailed {
		return false, fmt.Sprintf("last run failed at %s: %s%s", last.Ended.UTC().Format(time.RFC3339), last.Err, running)
	}
	return true, fmt.Sprintf("last run %s at %s%s", last.Outcome, last.Ended.UTC().Format(time.RFC3339), running)
}
