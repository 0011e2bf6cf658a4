package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/duckstate"
)

// readCSVFile reads a whole CSV file with encoding/csv (not the snapshot
// scanner under test): the header, then the rows as maps by column.
func readCSVFile(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// directionTypes are CXone's names of calls.csv's directions.
var directionTypes = map[string]string{"in": "INBOUND", "out": "OUTBOUND", "internal": "INTERNAL", "unknown": "UNKNOWN"}

// bdTyping is how the demo spec types one business-data field, read from
// the spec and checked to be one of the forms this test knows, so that a
// changed demo spec fails here instead of being compared wrongly.
type bdTyping struct{ name, typ string }

func (b bdTyping) typed(raw string, ok bool) (any, bool) {
	switch b.typ {
	case dsl.TypeText:
		return raw, ok
	case dsl.TypeNumber:
		v, err := strconv.ParseFloat(raw, 64)
		if !ok || err != nil {
			return nil, false // on_error = "omit": the value is left out
		}
		return v, true
	default:
		return raw == "true", true
	}
}

// TestCXoneMatchesSource runs against cxonetest's receiver and checks what
// it holds against the source files, not against another run: every call
// the ledger imported is there and no other; its media bytes have the
// SHA-256 of the media file on disk (and the payload declares that size
// and hash); its start and end time, direction, ANI and DNIS are
// calls.csv's; its agent is the CXone user with the email agents.csv gives
// the call's agent; its business data (Business Data API) are
// business_data.csv's values typed as the spec's fields type them.
func TestCXoneMatchesSource(t *testing.T) {
	if testing.Short() {
		t.Skip("runs applink against a local server")
	}
	srv := cxonetest.New(cxonetest.Config{AccessKeyID: "AKID-applink", AccessKeySecret: "s3cr3t-access", ClientID: "client-applink", ClientSecret: "s3cr3t-client"})
	defer srv.Close()
	dir := cxoneSpec(t, sinkBlock(srv, true), 600)
	data := filepath.Join(filepath.Dir(dir), "data")
	var out bytes.Buffer
	if err := applinkCmd(applinkBinary(t), dir, srv, &out).Run(); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}

	// The spec's fields and how each types its value.
	spec, diags := dsl.Load(dir)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var fields []bdTyping
	for _, f := range spec.Fields {
		want := map[string]string{
			dsl.TypeText:    "bd." + f.Name,
			dsl.TypeNumber:  "float(bd." + f.Name + ")",
			dsl.TypeBoolean: "bd." + f.Name + " == 'true'",
		}[f.Type]
		if got := strings.TrimSpace(f.Value); got != want {
			t.Fatalf("field %s: expression %q; this test knows %q", f.Name, got, want)
		}
		fields = append(fields, bdTyping{name: f.Name, typ: f.Type})
	}

	calls := map[string]map[string]string{}
	for _, c := range readCSVFile(t, filepath.Join(data, "calls.csv")) {
		calls[c["call_id"]] = c
	}
	bd := map[string]map[string]string{}
	for _, r := range readCSVFile(t, filepath.Join(data, "business_data.csv")) {
		if bd[r["call_id"]] == nil {
			bd[r["call_id"]] = map[string]string{}
		}
		bd[r["call_id"]][r["name"]] = r["value"]
	}
	emailOfAgent := map[string]string{}
	for _, a := range readCSVFile(t, filepath.Join(data, "agents.csv")) {
		if a["agent_id"] != "" {
			emailOfAgent[a["agent_id"]] = strings.ToLower(strings.TrimSpace(a["email"]))
		}
	}
	emailOfUser := map[string]string{}
	for _, u := range srv.Users() {
		emailOfUser[u.ID] = strings.ToLower(u.EmailAddress)
	}

	// What the ledger imported.
	st, err := duckstate.Open(context.Background(), filepath.Join(dir, ".applink", "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	imported := map[string]string{} // call id -> reason
	err = st.Ledger(context.Background(), func(r state.LedgerRow) error {
		if r.Entity == "call" && r.State == "imported" {
			imported[r.ID] = r.Reason
		}
		return nil
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Calls()
	if len(got) != len(imported) || len(got) < 300 {
		t.Fatalf("the receiver holds %d calls, the ledger imported %d (want the same, and ≥ 300)", len(got), len(imported))
	}

	checked := map[string]int{}
	bad := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if bad++; bad <= 20 {
			t.Errorf(format, args...)
		}
	}
	for id, c := range got {
		src, ok := calls[id]
		if _, imp := imported[id]; !ok || !imp {
			fail("the receiver holds call %s, which the source has not or the ledger did not import", id)
			continue
		}
		// Media: the bytes on disk.
		if src["media_path"] == "" {
			fail("call %s: imported without a media path", id)
		} else {
			file, err := os.ReadFile(filepath.Join(data, filepath.FromSlash(src["media_path"])))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(file)
			switch {
			case len(file) == 0 || sum != sha256.Sum256(c.Media):
				fail("call %s: media at the receiver (%d bytes) is not %s (%d bytes)", id, len(c.Media), src["media_path"], len(file))
			case c.MediaDeclared == nil || c.MediaDeclared.SHA256 != hex.EncodeToString(sum[:]) || c.MediaDeclared.Size != int64(len(file)):
				fail("call %s: the payload declares media %+v, the file has %d bytes, SHA-256 %x", id, c.MediaDeclared, len(file), sum)
			default:
				checked["media"]++
			}
		}
		// Metadata, in CXone's published names (connectors/cxone/CONTRACT.md).
		start, err := time.Parse(time.RFC3339, src["start_time"])
		if err != nil {
			t.Fatal(err)
		}
		startText, _ := c.Meta["startTime"].(string)
		endText, _ := c.Meta["endTime"].(string)
		gotStart, err1 := time.Parse(time.RFC3339Nano, startText)
		gotEnd, err2 := time.Parse(time.RFC3339Nano, endText)
		if err1 != nil || !gotStart.Equal(start) {
			fail("call %s: startTime %q, source %s", id, startText, src["start_time"])
		}
		if ms := gotEnd.Sub(gotStart).Milliseconds(); err2 != nil || strconv.FormatInt(ms, 10) != src["duration_ms"] {
			fail("call %s: endTime %q is %d ms after startTime, source duration_ms %s", id, endText, ms, src["duration_ms"])
		}
		if v, _ := c.Meta["directionType"].(string); v != directionTypes[src["direction"]] {
			fail("call %s: directionType %q, source direction %q", id, v, src["direction"])
		}
		for _, k := range []string{"ani", "dnis"} {
			if v, _ := c.Meta[k].(string); v != src[k] {
				fail("call %s: %s %q, source %q", id, k, v, src[k])
			}
		}
		checked["metadata"]++
		// The agent: the CXone user with the email of the call's agent,
		// or none for a call imported without one.
		uid := c.AgentUserID
		switch {
		case imported[id] == "agent_unmapped":
			if uid != "" {
				fail("call %s: imported agent_unmapped but carries user %s", id, uid)
			}
		case uid == "" || emailOfUser[uid] != emailOfAgent[src["agent_id"]]:
			fail("call %s: agent user %q (email %q), source agent %s has email %q", id, uid, emailOfUser[uid], src["agent_id"], emailOfAgent[src["agent_id"]])
		default:
			checked["agent"]++
		}
		// Business data, typed as the spec types it.
		want := map[string]any{}
		for _, f := range fields {
			raw, ok := bd[id][f.name]
			if v, keep := f.typed(raw, ok); keep {
				want[f.name] = v
			}
		}
		gotBD := srv.BusinessData(c.ContactID)
		for k, v := range want {
			if gotBD[k] != v {
				fail("call %s: business data %s = %#v at the receiver, %#v from business_data.csv", id, k, gotBD[k], v)
			}
		}
		for k := range gotBD {
			if _, ok := want[k]; !ok {
				fail("call %s: business data %s = %#v at the receiver, not in business_data.csv", id, k, gotBD[k])
			}
		}
		checked["business data"]++
	}
	t.Logf("checked against the source files: %v of %d calls", checked, len(got))
}
