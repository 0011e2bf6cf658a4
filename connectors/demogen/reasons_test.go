package demogen

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// classify applies the seed's rules (shared/README.md §2) with the demo
// spec's filters to a generated snapshot, the way the engine should, and
// returns the reason of every user and call ("" for imported).
func classify(t *testing.T, s *snapshot, o Options) (users, calls map[string]string) {
	t.Helper()
	type u struct {
		id, email string
		isAgent   bool
		created   time.Time
	}
	byID := map[string]*u{}
	var order []*u
	agentUser := map[string]string{}
	for _, a := range s.agents {
		x := byID[a["user_id"]]
		if x == nil {
			created, err := time.Parse(time.RFC3339, a["created_at"])
			if err != nil {
				t.Fatal(err)
			}
			x = &u{id: a["user_id"], email: a["email"], isAgent: a["is_agent"] == "true", created: created}
			byID[x.id] = x
			order = append(order, x)
		}
		if a["agent_id"] != "" {
			agentUser[a["agent_id"]] = x.id
		}
	}
	users = map[string]string{}
	owner := map[string]*u{} // normalised email -> earliest agent
	for _, x := range order {
		norm := strings.ToLower(strings.TrimSpace(x.email))
		switch {
		case !x.isAgent:
			users[x.id] = "not_agent"
		case norm == "":
			users[x.id] = "no_email"
		default:
			if prev := owner[norm]; prev == nil || x.created.Before(prev.created) {
				owner[norm] = x
			}
		}
	}
	for _, x := range order {
		if _, done := users[x.id]; done {
			continue
		}
		norm := strings.ToLower(strings.TrimSpace(x.email))
		switch {
		case owner[norm] != x:
			users[x.id] = "duplicate_email"
		case strings.HasSuffix(norm, "@test.example"):
			users[x.id] = "filtered_out"
		default:
			users[x.id] = ""
		}
	}

	window := o.windowStart()
	calls = map[string]string{}
	for _, c := range s.calls {
		st, _ := time.Parse(time.RFC3339, c["start_time"])
		dur, _ := strconv.ParseInt(c["duration_ms"], 10, 64)
		uid, known := agentUser[c["agent_id"]]
		ur := users[uid]
		var r string
		switch {
		case st.Before(window):
			r = "before_window"
		case c["agent_id"] == "":
			r = "no_agent_info"
		case c["archived"] != "true":
			r = "not_archived"
		case c["status"] == "invalid":
			r = "invalid"
		case c["exception_code"] != "0" || c["status"] == "error":
			r = "exception"
		case c["audio_packets"] == "0":
			r = "no_audio"
		case dur <= 2000:
			r = "too_short"
		case known && ur == "no_email":
			r = "agent_without_email"
		case known && ur == "filtered_out":
			r = "agent_filtered"
		case c["direction"] == "internal":
			r = "filtered_out"
		case !known || ur != "":
			r = "agent_unmapped" // imported without an agent
		}
		calls[c["call_id"]] = r
	}
	return users, calls
}

func count(m map[string]string) map[string]int {
	n := map[string]int{}
	for _, v := range m {
		n[v]++
	}
	return n
}

func TestEveryReasonAt2000Calls(t *testing.T) {
	wantUsers := []string{"", "not_agent", "no_email", "duplicate_email", "filtered_out"}
	wantCalls := []string{"", "before_window", "no_agent_info", "not_archived", "invalid", "exception",
		"no_audio", "too_short", "agent_without_email", "agent_filtered", "filtered_out", "agent_unmapped"}
	for _, seed := range []uint64{1, 2, 3, 42, 1 << 40} {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			opt := Options{Seed: seed}
			dir, _ := generate(t, opt)
			o := opt.WithDefaults()
			s := readSnapshot(t, dir)
			users, calls := classify(t, s, o)
			uc, cc := count(users), count(calls)
			for _, r := range wantUsers {
				if uc[r] == 0 {
					t.Errorf("no user with reason %q (have %v)", r, uc)
				}
			}
			for _, r := range wantCalls {
				if cc[r] == 0 {
					t.Errorf("no call with reason %q (have %v)", r, cc)
				}
			}
			if extra := slices.DeleteFunc(slices.Collect(maps.Keys(cc)), func(r string) bool { return slices.Contains(wantCalls, r) }); len(extra) > 0 {
				t.Errorf("unexpected call reasons %v", extra)
			}
			// Rates (doc.go): exact for before_window, roughly otherwise.
			if got, want := cc["before_window"], (o.Calls*beforeWindowPerMille+500)/1000; got != want {
				t.Errorf("before_window = %d, want %d", got, want)
			}
			if got := cc[""] + cc["agent_unmapped"]; got < o.Calls*55/100 || got > o.Calls*80/100 {
				t.Errorf("imported %d of %d calls", got, o.Calls)
			}
			checkFeatures(t, s)
		})
	}
}

// checkFeatures looks for the details of doc.go that no reason shows.
func checkFeatures(t *testing.T, s *snapshot) {
	t.Helper()
	has := map[string]bool{}
	codes := map[string]bool{}
	internal := 0
	for _, c := range s.calls {
		if c["duration_ms"] == "2000" {
			has["duration exactly 2000"] = true
		}
		if c["status"] == "error" {
			has["status error"] = true
		}
		if c["exception_code"] != "0" {
			codes[c["exception_code"]] = true
		}
		if c["direction"] == "internal" {
			internal++
		}
		if c["direction"] == "unknown" {
			has["direction unknown"] = true
		}
		if c["site"] == "dc2" {
			has["second site"] = true
		}
		if strings.HasPrefix(c["ani"], "+") && len(c["ani"]) >= 10 {
			has["E.164 ANI"] = true
		}
	}
	if got := slices.Sorted(maps.Keys(codes)); !slices.Equal(got, []string{"12", "15", "20", "34", "7"}) {
		t.Errorf("exception codes %v", got)
	}
	if n := len(s.calls); internal < n*7/100 || internal > n*13/100 {
		t.Errorf("%d internal calls of %d", internal, n)
	}

	ids := map[string]int{}
	emails := map[string][]string{}
	for _, a := range s.agents {
		ids[a["user_id"]]++
		if a["active"] == "false" {
			has["inactive user"] = true
		}
		if strings.ContainsFunc(a["first_name"]+a["last_name"], func(r rune) bool { return r > 0x7f }) {
			has["unicode name"] = true
		}
		if a["email"] != "" {
			n := strings.ToLower(strings.TrimSpace(a["email"]))
			if !slices.Contains(emails[n], a["email"]) {
				emails[n] = append(emails[n], a["email"])
			}
		}
	}
	for _, n := range ids {
		if n >= 2 {
			has["user with several agent IDs"] = true
		}
	}
	for _, forms := range emails {
		if len(forms) > 1 {
			for _, f := range forms[1:] {
				if f != strings.TrimSpace(f) && strings.TrimSpace(f) != forms[0] {
					has["duplicate email with spaces and case"] = true
				}
			}
		}
	}

	perCall := map[string]int{}
	for _, row := range s.bd {
		perCall[row[0]]++
		v := row[2]
		if strings.ContainsAny(v, ",\"\n") {
			has["business data needing quotes"] = true
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r > 0x7f }) {
			has["unicode business data"] = true
		}
		if v == "n/a" || v == "12,50" || v == "unknown" || v == "N/A" {
			has["invalid number"] = true
		}
	}
	for _, c := range s.calls {
		if perCall[c["call_id"]] == 0 {
			has["call without business data"] = true
		}
		if n := perCall[c["call_id"]]; n > 0 && n < DefaultBDFields {
			has["call with fields missing"] = true
		}
	}
	for _, want := range []string{"duration exactly 2000", "status error", "direction unknown", "second site",
		"E.164 ANI", "inactive user", "unicode name", "user with several agent IDs",
		"duplicate email with spaces and case", "business data needing quotes", "unicode business data",
		"invalid number", "call without business data", "call with fields missing"} {
		if !has[want] {
			t.Errorf("no %s", want)
		}
	}
}
