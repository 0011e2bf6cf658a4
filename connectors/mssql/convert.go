package mssql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Conversions from the values drivers return (go-mssqldb and duckdb-go
// differ: BIT is bool in one, an integer CASE is int32 in the other), to
// canonical fields. NULL reads as the zero value, as an empty CSV cell does.

func asString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case fmt.Stringer:
		return x.String(), nil
	}
	if n, ok := intOf(v); ok {
		return strconv.FormatInt(n, 10), nil
	}
	return fmt.Sprint(v), nil
}

func intOf(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case int:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

func asInt64(v any) (int64, error) {
	if v == nil {
		return 0, nil
	}
	if n, ok := intOf(v); ok {
		return n, nil
	}
	switch x := v.(type) {
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			return int64(x), nil
		}
		return 0, fmt.Errorf("%v is not an integer", x)
	}
	s, _ := asString(v) // decimals arrive as []byte or a Stringer
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		return int64(f), nil
	}
	return 0, fmt.Errorf("%q is not an integer", s)
}

func asBool(v any) (bool, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	}
	if n, ok := intOf(v); ok {
		return n != 0, nil
	}
	s, _ := asString(v)
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, fmt.Errorf("%q is not a boolean", s)
}

func asTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return x.UTC(), nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", x)
		}
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%T is not a time", v)
}

func asEnum(v any, allowed ...string) (string, error) {
	s, err := asString(v)
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if s == a {
			return a, nil // the constant: no per-row string kept
		}
	}
	return s, fmt.Errorf("%q: want %s", s, strings.Join(allowed, "|"))
}

// keyID is the keyset form of a call_id: integers compare as integers
// (Engage's iInteractionID), anything else as text.
func keyID(v any) (any, error) {
	if n, ok := intOf(v); ok {
		return n, nil
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	}
	return nil, fmt.Errorf("unsupported call_id type %T", v)
}
