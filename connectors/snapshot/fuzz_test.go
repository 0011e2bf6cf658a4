package snapshot

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/applink-dev/applink/engine"
)

// FuzzReadCalls reads random calls.csv and business_data.csv bodies (after
// valid headers) through both join paths: no error, every record of either
// file accounted for as a call, a business-data value or a bad row, and the
// two paths agree.
func FuzzReadCalls(f *testing.F) {
	f.Add([]byte(mixedCalls), []byte(mixedBD))
	f.Add([]byte(mixedCalls), []byte("c2,Tier,late\n"+mixedBD))
	f.Add([]byte("a\nb\nc\n"), []byte("b,x,1\na,y,2\nb,x,3\n"))
	f.Add([]byte("\"a\n\"\"\",b\r\n"), []byte("\"a\n\"\"\",n,v\r\n\"\n"))
	f.Fuzz(func(t *testing.T, calls, bd []byte) {
		dir := t.TempDir()
		write := func(name, head string, body []byte) {
			if err := os.WriteFile(filepath.Join(dir, name), append([]byte(head), body...), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write(CallsFile, callsHead, calls)
		write(BDFile, "call_id,name,value\n", bd)
		write(AgentsFile, strings.Join(agentsHeader, ",")+"\n", calls)

		callRecs, callIDs := countRecords(calls)
		bdRecs, _ := countRecords(bd)
		var outs [3][]string
		for i, mode := range []string{"parallel", "sort", "sequential"} {
			force := mode == "sort"
			s := New(dir)
			s.forceSort, s.SortMemory, s.Sequential = force, 256, mode == "sequential"
			names := engine.NewNames()
			nCalls, nBD, nBad := 0, 0, 0
			err := s.ReadCalls(context.Background(), engine.CallQuery{Names: names}, func(r *engine.CallRecord) error {
				switch {
				case strings.HasPrefix(r.Pos, CallsFile+":"):
					nCalls++
					nBD += len(r.BD)
				case strings.HasPrefix(r.Pos, BDFile+":") && r.Err != nil && r.Call.CallID == "":
					nBad++
				default:
					t.Fatalf("unexpected record %+v", r)
				}
				outs[i] = append(outs[i], render(r, names))
				return nil
			})
			if err != nil {
				t.Fatalf("forceSort=%v: %v", force, err)
			}
			if nCalls != callRecs || nBD+nBad != bdRecs {
				t.Fatalf("forceSort=%v: %d call records of %d, %d values + %d bad of %d bd records", force, nCalls, callRecs, nBD, nBad, bdRecs)
			}
			// Agents share the reader: no error, one record per row.
			nAgents := 0
			if err := s.ReadAgents(context.Background(), func(*engine.AgentRecord) error { nAgents++; return nil }); err != nil || nAgents != callRecs {
				t.Fatalf("ReadAgents: %d of %d, %v", nAgents, callRecs, err)
			}
		}
		if hasDup(callIDs) {
			return // which duplicate gets the business data is path-dependent
		}
		norm := func(lines []string) []string {
			var c, b []string
			for _, l := range lines {
				if strings.HasPrefix(l, BDFile) {
					b = append(b, l)
				} else {
					c = append(c, l)
				}
			}
			slices.Sort(b)
			return append(c, b...)
		}
		if d := diffLines(norm(outs[0]), norm(outs[1])); d != "" {
			t.Fatalf("sort path differs:\n%s", d)
		}
		if d := diffLines(norm(outs[0]), norm(outs[2])); d != "" {
			t.Fatalf("sequential merge differs:\n%s", d)
		}
	})
}

// countRecords counts records (parse errors included) of a body and
// collects the first fields.
func countRecords(body []byte) (int, []string) {
	s := NewScanner(bytes.NewReader(body))
	n := 0
	var ids []string
	for {
		f, err := s.Next()
		if err == io.EOF {
			return n, ids
		}
		n++
		if err == nil {
			ids = append(ids, string(f[0]))
		}
	}
}

func hasDup(ids []string) bool {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return true
		}
		seen[id] = true
	}
	return false
}
