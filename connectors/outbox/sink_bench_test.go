package outbox

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// BenchmarkCall encodes calls with 50 business-data fields (35 text, 10
// number, 5 boolean) and writes them to calls.jsonl.
func BenchmarkCall(b *testing.B) { benchCall(b, true) }

// BenchmarkEncode is the JSON encoding alone, without the file writes.
func BenchmarkEncode(b *testing.B) { benchCall(b, false) }

func benchCall(b *testing.B, write bool) {
	var fields []dsl.Field
	var values []connector.Value
	for i := range 50 {
		f := dsl.Field{Type: dsl.TypeText, Name: fmt.Sprintf("Text%02d", i)}
		v := connector.Value{Field: i, Text: []byte("value-" + strconv.Itoa(i*7919))}
		switch {
		case i >= 45:
			f = dsl.Field{Type: dsl.TypeBoolean, Name: fmt.Sprintf("Flag%02d", i)}
			v = connector.Value{Field: i, Bool: i%2 == 0}
		case i >= 35:
			f = dsl.Field{Type: dsl.TypeNumber, Name: fmt.Sprintf("Number%02d", i)}
			v = connector.Value{Field: i, Number: float64(i*12345) / 100}
		case i%10 == 9:
			v.Text = []byte(`Smith, "Jr" <x>`)
		}
		fields = append(fields, f)
		values = append(values, v)
	}
	ctx := context.Background()
	s := New(b.TempDir())
	if err := s.Open(ctx, connector.RunInfo{RunID: "bench", Fields: fields}); err != nil {
		b.Fatal(err)
	}
	defer s.Abort()
	c := &connector.OutCall{
		CallID: "c-10000001", AgentUserID: "u-42", StartTime: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC),
		DurationMS: 65000, Direction: "in", ANI: "+32470123456", DNIS: "1000", Media: "media/c-10000001.wav", Values: values,
	}
	line, err := s.appendCall(nil, c)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		if write {
			err = s.Call(ctx, c)
		} else {
			line, err = s.appendCall(line[:0], c)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/call")
}
