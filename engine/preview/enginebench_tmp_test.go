package preview

import (
	"context"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/engine"
)

func BenchmarkTmpEngineOnly(b *testing.B) {
	n := benchCalls()
	_, plan := benchWorkload(b, n)
	reg := engine.Registry{Sources: map[string]engine.SourceFactory{"snapshot": snapshot.Open}}
	for i := 0; i < b.N; i++ {
		t := time.Now()
		_, err := engine.Run(context.Background(), plan, engine.Options{Registry: reg, Sink: engine.Discard{}})
		if err != nil {
			b.Fatal(err)
		}
		b.Log("engine only", time.Since(t))
	}
}

func BenchmarkTmpEngineCPU(b *testing.B) {
	n := benchCalls()
	_, plan := benchWorkload(b, n)
	reg := engine.Registry{Sources: map[string]engine.SourceFactory{"snapshot": snapshot.Open}}
	for i := 0; i < b.N; i++ {
		c := cpuTime()
		t := time.Now()
		_, err := engine.Run(context.Background(), plan, engine.Options{Registry: reg, Sink: engine.Discard{}})
		if err != nil {
			b.Fatal(err)
		}
		b.Log("engine only", time.Since(t), "cpu", cpuTime()-c)
	}
}
