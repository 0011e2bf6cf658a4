package dsl

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Mask is how a secret reads in every output of applink: renderers,
// connectors, logs (issue 18.4: one way, not four).
const Mask = mask

// MaskSecrets is the one function that masks secrets in text meant for
// people: every password it can recognise (a URL's user info, a
// password=/pwd= key of a DSN or query string, an Authorization header's
// credentials) and every value of known (secrets the caller holds, such as
// a DSN's password quoted by a driver's error, found with DSNSecrets) reads
// "****". Over-masking is harmless; leaking is not.
func MaskSecrets(text string, known ...string) string {
	if len(known) > 0 {
		known = append([]string(nil), known...)
		// Longest first, so a secret containing another is replaced whole.
		sort.Slice(known, func(i, j int) bool { return len(known[i]) > len(known[j]) })
		for _, k := range known {
			if k != "" {
				text = strings.ReplaceAll(text, k, mask)
			}
		}
	}
	text = authHeader.ReplaceAllString(text, "${1}"+mask)
	for _, word := range strings.SplitAfter(text, " ") {
		if !strings.Contains(word, "://") && !strings.Contains(word, "=") {
			continue
		}
		if m := maskSpans(word); m != word {
			text = strings.Replace(text, word, m, 1)
		}
	}
	return text
}

// authHeader is an Authorization header (or its dump) up to its credentials.
var authHeader = regexp.MustCompile(`(?i)(authorization["']?\s*[:=]\s*["']?(?:bearer |basic )?)[^\s"',;]+`)

// maskSpans masks the password spans of one connection string.
func maskSpans(s string) string {
	spans := passwordSpans(s)
	for i := len(spans) - 1; i >= 0; i-- {
		if s[spans[i][0]:spans[i][1]] == mask {
			continue
		}
		s = s[:spans[i][0]] + mask + s[spans[i][1]:]
	}
	return s
}

// DSNSecrets returns the password values a DSN holds in any of the forms
// the drivers accept: URL userinfo, `password=`/`pwd=` in a URL query, ADO
// `key=value;` pairs and ODBC `{…}` values; raw and unescaped forms both,
// for MaskSecrets to find wherever a driver quotes them.
func DSNSecrets(dsn string) []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s == "" {
			return
		}
		out = append(out, s)
		if u, err := url.QueryUnescape(s); err == nil && u != s {
			out = append(out, u)
		}
		if u, err := url.PathUnescape(s); err == nil && u != s {
			out = append(out, u)
		}
		if len(s) >= 2 && s[0] == '{' && s[len(s)-1] == '}' {
			out = append(out, strings.ReplaceAll(s[1:len(s)-1], "}}", "}"))
		}
	}
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		// The userinfo ends at the last '@' of the authority; a malformed
		// DSN may have '?' or '@' in odd places, so take both readings.
		ends := []int{strings.LastIndex(rest, "@")}
		if q := strings.IndexByte(rest, '?'); q >= 0 {
			ends = append(ends, strings.LastIndex(rest[:q], "@"))
		}
		for _, at := range ends {
			if at < 0 {
				continue
			}
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
				add(pw)
			}
		}
	}
	for _, part := range strings.FieldsFunc(dsn, func(r rune) bool { return r == ';' || r == '&' || r == '?' }) {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "password", "pwd":
			add(v)
		}
	}
	return out
}
