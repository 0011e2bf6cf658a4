package preview

import (
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/applink-dev/applink/dsl"
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

// appendJSONFloat formats like encoding/json (ES6 number to string), so the
// preview shows what the outbox writes. Non-finite values, which the engine
// never maps, become null rather than invalid JSON.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as a JSON string. Invalid UTF-8 becomes U+FFFD
// (as encoding/json does), so the stored text is always valid JSON.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript readers.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// bytesView reads b as a string without copying; only for the duration of a
// call that does not keep it.
func bytesView(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
