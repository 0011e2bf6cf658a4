package jsonenc

import (
	"encoding/json"
	"math"
	"testing"
)

// The encoder must write what json.Marshal writes.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"u\o`, "\n\t\r\b\f\x00\x1f", "<&>", "Zoë 王", "bad \xff", "\u2028\u2029", "trunc \xe4\xb8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

func FuzzAppendFloat(f *testing.F) {
	for _, x := range []float64{0, -0.0, 1, 0.1, 1e-7, 1e21, 123456789.125, -3.5e-9, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		got, err := AppendFloat(nil, x)
		want, werr := json.Marshal(x)
		if (err != nil) != (werr != nil) {
			t.Fatalf("%v: error %v, json.Marshal error %v", x, err, werr)
		}
		if err == nil && string(got) != string(want) {
			t.Fatalf("%v: got %s, want %s", x, got, want)
		}
	})
}
