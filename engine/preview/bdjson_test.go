package preview

import (
	"encoding/json"
	"math"
	"testing"
	"unicode/utf8"

	"github.com/applink-dev/applink/dsl"
)

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{"", "plain", `q"uote`, `back\slash`, "new\nline\ttab\rcr", "\b\f", "\x00\x1f\x7f", "Zoë 王 Nguyễn",
		"bad \xff utf8", "\xe2\x80\xa8 line sep \xe2\x80\xa9", "<html>&amp;", "trunc \xe4\xb8"}
	for _, s := range cases {
		got := string(appendJSONString(nil, s))
		want := marshalString(t, s)
		if got != want {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

// marshalString is json.Marshal's string encoding, HTML escaping included:
// the preview shows what the outbox writes, and the outbox matches
// json.Marshal.
func marshalString(t testing.TB, s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAppendJSONFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 12.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, -0.000001234, math.MaxFloat64, math.SmallestNonzeroFloat64, 3} {
		want, _ := json.Marshal(f)
		if got := string(appendJSONFloat(nil, f)); got != string(want) {
			t.Errorf("%v: got %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := string(appendJSONFloat(nil, f)); got != "null" {
			t.Errorf("%v: got %s", f, got)
		}
	}
}

func TestAppendBusinessData(t *testing.T) {
	fields := []dsl.Field{{Type: "text", Name: "A"}, {Type: "number", Name: "N"}, {Type: "boolean", Name: "B"}, {Type: "text", Name: "C\"x"}}
	arena := []byte("helloworld")
	cases := []struct {
		name string
		vals []bdValue
		want string
	}{
		{"none", nil, `{"text":{},"number":{},"boolean":{}}`},
		{"all", []bdValue{{field: 0, lo: 0, hi: 5}, {field: 1, number: 2.5}, {field: 2, boolean: true}, {field: 3, lo: 5, hi: 10}},
			`{"text":{"A":"hello","C\"x":"world"},"number":{"N":2.5},"boolean":{"B":true}}`},
		{"plan order", []bdValue{{field: 3, lo: 5, hi: 10}, {field: 0, lo: 0, hi: 5}},
			`{"text":{"C\"x":"world","A":"hello"},"number":{},"boolean":{}}`},
		{"unknown field ignored", []bdValue{{field: 9}}, `{"text":{},"number":{},"boolean":{}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := appendBusinessData(nil, fields, c.vals, arena)
			if string(got) != c.want {
				t.Errorf("got %s\nwant %s", got, c.want)
			}
			if !json.Valid(got) {
				t.Error("invalid JSON")
			}
		})
	}
}

// FuzzAppendJSONString: any bytes render as valid JSON that decodes back to
// the input (with invalid UTF-8 replaced, as encoding/json does).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", `"\`, "\x00\n", "Zoë", "\xff\xfe", "\u2028", "\xe4\xb8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q rendered as invalid JSON %s: %v", s, b, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("%q came back as %q", s, back)
		}
		if want := marshalString(t, s); string(b) != want {
			t.Fatalf("%q: got %s, encoding/json %s", s, b, want)
		}
	})
}

func FuzzAppendJSONFloat(f *testing.F) {
	for _, v := range []float64{0, 1.5, -2, 1e21, 1e-7, 123456.789} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		got := appendJSONFloat(nil, v)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			if string(got) != "null" {
				t.Fatalf("%v: %s", v, got)
			}
			return
		}
		want, _ := json.Marshal(v)
		if string(got) != string(want) {
			t.Fatalf("%v: got %s, want %s", v, got, want)
		}
	})
}
