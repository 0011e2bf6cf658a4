package sqlrow

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrMissing is the error of a required value that is NULL.
var ErrMissing = errors.New("missing")

// String reads a text column. Typed values print in their canonical form
// (integers in decimal, times RFC 3339 UTC).
func String(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), nil
	case fmt.Stringer: // decimals, UUIDs, big integers
		return x.String(), nil
	}
	if n, ok := Integer(v); ok {
		return strconv.FormatInt(n, 10), nil
	}
	return "", fmt.Errorf("%T is not text", v)
}

// Integer returns v when it is a value of a Go integer type that fits in an
// int64 (what drivers return for TINYINT … BIGINT columns).
func Integer(v any) (int64, bool) {
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
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

// Int64 reads an integer column; NULL and "" read as 0.
func Int64(v any) (int64, error) {
	if n, ok := Integer(v); ok {
		return n, nil
	}
	switch x := v.(type) {
	case nil:
		return 0, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case float64:
		return exactFloat(x)
	case float32:
		return exactFloat(float64(x))
	case string: // a text cell: the snapshot's syntax
		if x == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", x)
		}
		return n, nil
	}
	// Decimals: go-mssqldb returns []byte, duckdb-go a Stringer.
	s, err := String(v)
	if err != nil {
		return 0, fmt.Errorf("%T is not an integer", v)
	}
	return exactDecimal(s)
}

func exactFloat(f float64) (int64, error) {
	if f != math.Trunc(f) || math.IsInf(f, 0) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, fmt.Errorf("%v is not an integer", f)
	}
	return int64(f), nil
}

// exactDecimal reads decimal text whose fraction is zero ("12.000").
func exactDecimal(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	whole, frac, _ := strings.Cut(s, ".")
	if strings.Trim(frac, "0") == "" {
		if n, err := strconv.ParseInt(whole, 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s is not an integer", s)
}

// Bool reads a boolean column: a BIT, an integer 0 or 1 (a CASE in SQL
// Server yields one), or text true|false. NULL and "" read as false.
func Bool(v any) (bool, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	case string:
		switch x {
		case "", "false":
			return false, nil
		case "true":
			return true, nil
		}
		return false, fmt.Errorf("%q: want true|false", x)
	}
	if n, ok := Integer(v); ok {
		switch n {
		case 0:
			return false, nil
		case 1:
			return true, nil
		}
		return false, fmt.Errorf("%d: want 0 or 1", n)
	}
	return false, fmt.Errorf("%T is not a boolean", v)
}

// Time reads a timestamp column (UTC); NULL reads as the zero time, text
// must be RFC 3339.
func Time(v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return x.UTC(), nil
	case string:
		if x == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", x)
		}
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%T is not a time", v)
}

// Enum reads a column that takes one of allowed, and returns the allowed
// constant itself (no per-row string is kept).
func Enum(v any, allowed []string) (string, error) {
	s, err := String(v)
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if s == a {
			return a, nil
		}
	}
	return s, fmt.Errorf("%q: want %s", s, strings.Join(allowed, "|"))
}

// ScanTargets returns n values and pointers to them, for rows.Scan.
func ScanTargets(n int) (vals, ptrs []any) {
	vals = make([]any, n)
	ptrs = make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, ptrs
}
