package duckdbsource

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Conversions of what duckdb-go returns to canonical fields, with the
// snapshot's rules: NULL or "" reads as the zero value, booleans are
// true|false, times RFC 3339. A column may be typed or VARCHAR. (The mssql
// source has its own set: the drivers' value types differ, and a shared
// helper package is what STYLE.md asks us to avoid.)

func asString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case []byte:
		return string(x), nil
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
	if n, ok := intOf(v); ok {
		return n, nil
	}
	s, _ := asString(v)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return n, nil
}

func asBool(v any) (bool, error) {
	if b, ok := v.(bool); ok {
		return b, nil
	}
	s, _ := asString(v)
	switch s {
	case "":
		return false, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q: want true|false", s)
}

var errNoTime = errors.New("missing")

func asTime(v any, required bool) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), nil
	case nil:
	case string:
		if x != "" {
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", x)
			}
			return t.UTC(), nil
		}
	default:
		return time.Time{}, fmt.Errorf("%T is not a time", v)
	}
	if required {
		return time.Time{}, errNoTime
	}
	return time.Time{}, nil
}

func asEnum(v any, allowed ...string) (string, error) {
	s, _ := asString(v)
	for _, a := range allowed {
		if s == a {
			return a, nil
		}
	}
	return s, fmt.Errorf("%q: want %s", s, strings.Join(allowed, "|"))
}
