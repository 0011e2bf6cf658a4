package preview

import (
	"strconv"
	"unsafe"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/jsonenc"
)

// bdValue is a mapped value as the collector keeps it past the engine's
// callback: text lives in the batch's arena.
type bdValue struct {
	field   int32
	lo, hi  int32
	number  float64
	boolean bool
}

// appendBusinessData renders a call's mapped values like the outbox's
// business_data object: {"text":{…},"number":{…},"boolean":{…}}, keys in
// the plan's field order. Hand-written because it runs once per imported
// call (0.5 M at the reference workload) and encoding/json would build and
// sort three maps each time.
func appendBusinessData(b []byte, fields []dsl.Field, vals []bdValue, arena []byte) []byte {
	b = append(b, `{"text":{`...)
	b = appendOfType(b, dsl.TypeText, fields, vals, arena)
	b = append(b, `},"number":{`...)
	b = appendOfType(b, dsl.TypeNumber, fields, vals, arena)
	b = append(b, `},"boolean":{`...)
	b = appendOfType(b, dsl.TypeBoolean, fields, vals, arena)
	return append(b, "}}"...)
}

func appendOfType(b []byte, typ string, fields []dsl.Field, vals []bdValue, arena []byte) []byte {
	first := true
	for i := range vals {
		v := &vals[i]
		if int(v.field) >= len(fields) || fields[v.field].Type != typ {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, fields[v.field].Name)
		b = append(b, ':')
		switch typ {
		case dsl.TypeText:
			b = appendJSONString(b, bytesView(arena[v.lo:v.hi]))
		case dsl.TypeNumber:
			b = appendJSONFloat(b, v.number)
		default:
			b = strconv.AppendBool(b, v.boolean)
		}
	}
	return b
}

// The preview renders numbers and strings with engine/jsonenc, the outbox's
// encoder, so it shows exactly what the outbox writes.

// appendJSONFloat: non-finite values, which the engine never maps, become
// null rather than invalid JSON.
func appendJSONFloat(b []byte, f float64) []byte {
	out, err := jsonenc.AppendFloat(b, f)
	if err != nil {
		return append(b, "null"...)
	}
	return out
}

func appendJSONString(b []byte, s string) []byte { return jsonenc.AppendString(b, s) }

// bytesView reads b as a string without copying; only for the duration of a
// call that does not keep it.
func bytesView(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
