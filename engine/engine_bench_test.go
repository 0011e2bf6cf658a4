package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/expr-lang/expr/vm"
)

// benchBatch is a full batch of calls of agent a1 with k business-data fields.
func benchBatch(b *testing.B, names *connector.Names, k int) *batch {
	bt := newBatch(1024)
	for i := range 1024 {
		c := goodCall(fmt.Sprintf("C%07d", i), "a1")
		if i%10 == 0 {
			c.Direction = "internal"
		}
		rec := connector.CallRecord{Call: c}
		for f := range k {
			rec.BD = append(rec.BD, connector.BDField{Name: names.ID([]byte(fmt.Sprintf("F%02d", f))), Value: []byte(fmt.Sprintf("%d.5", i+f))})
		}
		bt.add(&rec)
	}
	return bt
}

func benchEvaluator(b *testing.B, p *Plan) (*evaluator, *connector.Names) {
	sum := &RunRecord{FieldOmitted: map[string]int{}, Watermarks: map[string]Watermark{}}
	ev, _ := newEvaluator(p, sum, nil)
	names := connector.NewNames()
	ev.names = []*connector.Names{names}
	ev.media = []connector.MediaResolver{nil}
	u := &user{rec: agent("u1", "a1", "x@acme.example", t0), agentIDs: []string{"a1"}, isAgent: true}
	ev.agents = &agentIndex{users: []*user{u}, byAgentID: map[string]*user{"a1": u}}
	return ev, names
}

// fieldsSpec is 35 text, 10 number and 5 boolean direct mappings.
func fieldsSpec() string {
	var s strings.Builder
	for i := range 50 {
		switch {
		case i < 35:
			fmt.Fprintf(&s, "field \"text\" \"T%02d\" { value = \"bd.F%02d\" }\n", i, i)
		case i < 45:
			fmt.Fprintf(&s, "field \"number\" \"N%02d\" { value = \"float(bd.F%02d)\" }\n", i, i)
		default:
			fmt.Fprintf(&s, "field \"boolean\" \"B%02d\" { value = \"bd.F%02d == 'true'\" }\n", i, i)
		}
	}
	return s.String()
}

func runEvalBench(b *testing.B, p *Plan, k int) {
	ev, names := benchEvaluator(b, p)
	bt := benchBatch(b, names, k)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		bt.vals = bt.vals[:0]
		ev.evalBatch(bt)
		n += bt.n
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkRuleChain: the seed's rules on calls that pass them all.
func BenchmarkRuleChain(b *testing.B) {
	runEvalBench(b, mustPlan(b, "", ""), 0)
}

// BenchmarkCallFilter: the rule chain plus one compiled calls filter.
func BenchmarkCallFilter(b *testing.B) {
	runEvalBench(b, mustPlan(b, "", `calls { where = "call.direction != 'internal'" }`), 0)
}

// BenchmarkFilterVM: one compiled filter alone, on a reused VM.
func BenchmarkFilterVM(b *testing.B) {
	p := mustPlan(b, "", `calls { where = "call.direction != 'internal' && call.duration_ms > 5000" }`)
	c := goodCall("C1", "a1")
	env := &dsl.CallEnv{Call: &c}
	var machine vm.VM
	b.ReportAllocs()
	for b.Loop() {
		if _, err := machine.Run(p.Calls.Program, env); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkMapping50: the rules plus 50 direct field mappings.
func BenchmarkMapping50(b *testing.B) {
	runEvalBench(b, mustPlan(b, "", fieldsSpec()), 50)
}

// BenchmarkMapping50VM: the same 50 fields through the expr VM (the slow
// path any non-trivial expression takes).
func BenchmarkMapping50VM(b *testing.B) {
	p := mustPlan(b, "", fieldsSpec())
	for i := range p.fields {
		p.fields[i] = fieldPlan{kind: fieldVM}
	}
	runEvalBench(b, p, 50)
}
