package snapshot

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/applink-dev/applink/engine/connector"
)

// The snapshot's columns (shared/README.md §4), in order.
var (
	agentsHeader = []string{"user_id", "agent_id", "first_name", "last_name", "email", "active", "is_agent", "tenant_id", "created_at"}
	callsHeader  = []string{"call_id", "tenant_id", "site", "agent_id", "start_time", "duration_ms", "direction", "ani", "dnis", "archived", "audio_packets", "status", "exception_code", "media_path", "skill"}
	bdHeader     = []string{"call_id", "name", "value"}
)

const (
	cCallID = iota
	cTenantID
	cSite
	cAgentID
	cStartTime
	cDurationMS
	cDirection
	cANI
	cDNIS
	cArchived
	cAudioPackets
	cStatus
	cExceptionCode
	cMediaPath
	cSkill
)

const (
	aUserID = iota
	aAgentID
	aFirstName
	aLastName
	aEmail
	aActive
	aIsAgent
	aTenantID
	aCreatedAt
)

// checkHeader compares a header record with the expected columns. A UTF-8
// byte order mark before the first name is tolerated (spreadsheet exports).
func checkHeader(file string, got [][]byte, want []string) error {
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		g := got[i]
		if i == 0 && len(g) >= 3 && string(g[:3]) == "\xEF\xBB\xBF" {
			g = g[3:]
		}
		ok = string(g) == want[i]
	}
	if ok {
		return nil
	}
	gs := make([]string, len(got))
	for i := range got {
		gs[i] = string(got[i])
	}
	if len(gs) > 0 {
		gs[0] = strings.TrimPrefix(gs[0], "\xEF\xBB\xBF")
	}
	// Name the first column that differs, so nobody compares two long
	// headers by eye.
	first := ""
	for i := 0; i < max(len(gs), len(want)); i++ {
		switch {
		case i >= len(gs):
			first = fmt.Sprintf("column %d should be %q but the header ends after %d columns", i+1, want[i], len(gs))
		case i >= len(want):
			first = fmt.Sprintf("column %d %q is one too many (the format has %d columns)", i+1, gs[i], len(want))
		case gs[i] != want[i]:
			first = fmt.Sprintf("column %d is %q, want %q", i+1, gs[i], want[i])
		default:
			continue
		}
		break
	}
	return fmt.Errorf("%s: header %q does not match the snapshot format: %s (want %q)", file, gs, first, want)
}

// callParser turns calls.csv records into CallRecords. The strings of a
// call (and its Pos) are carved out of a block shared by many calls, so
// that reading a call allocates nothing most of the time: the bytes of a
// block, once given out as strings, are never written again (a string kept
// by the engine keeps its block alive, as any substring would).
type callParser struct {
	str []byte // the block: str[:len(str)] given out, the rest free
	rec connector.CallRecord
}

// strBlock is the size of a block of call strings.
const strBlock = 64 << 10

// errEmptyID is a record whose id column is empty: it has no id to be
// known by.
var errEmptyID = errors.New("the id column is empty")

// parse fills p.rec from the fields of the record on line, which has the
// header's width (the scanner sees to it).
func (p *callParser) parse(f [][]byte, line int) *connector.CallRecord {
	r := &p.rec
	*r = connector.CallRecord{}
	if cap(p.str)-len(p.str) < strBlock/16 {
		p.str = make([]byte, 0, strBlock)
	}
	// Appending past the block's capacity moves this call's bytes to a new
	// array and leaves the strings already given out where they are.
	b := append(p.str, "calls.csv:"...)
	start := len(p.str)
	b = strconv.AppendInt(b, int64(line), 10)
	posEnd := len(b) - start
	var ends [cSkill + 1]int
	for _, c := range [...]int{cCallID, cSite, cAgentID, cANI, cDNIS, cMediaPath, cSkill} {
		b = append(b, f[c]...)
		ends[c] = len(b) - start
	}
	p.str = b
	s := unsafe.String(&b[start], len(b)-start) // never written again: see callParser
	r.Pos = s[:posEnd]
	c := &r.Call
	c.CallID = s[posEnd:ends[cCallID]]
	c.Site = s[ends[cCallID]:ends[cSite]]
	c.AgentID = s[ends[cSite]:ends[cAgentID]]
	c.ANI = s[ends[cAgentID]:ends[cANI]]
	c.DNIS = s[ends[cANI]:ends[cDNIS]]
	c.MediaPath = s[ends[cDNIS]:ends[cMediaPath]]
	c.Skill = s[ends[cMediaPath]:ends[cSkill]]

	var err error
	var ok bool
	if len(f[cCallID]) == 0 {
		err = errEmptyID
	}
	if c.TenantID, ok = parseIntOr0(f[cTenantID]); !ok {
		err = badValue(err, "tenant_id", f[cTenantID], "an integer")
	}
	if c.StartTime, ok = parseTime(f[cStartTime]); !ok {
		err = badValue(err, "start_time", f[cStartTime], "an RFC 3339 timestamp")
	}
	if c.DurationMS, ok = parseInt(f[cDurationMS]); !ok {
		err = badValue(err, "duration_ms", f[cDurationMS], "an integer")
	}
	switch string(f[cDirection]) {
	case "in":
		c.Direction = "in"
	case "out":
		c.Direction = "out"
	case "internal":
		c.Direction = "internal"
	case "unknown":
		c.Direction = "unknown"
	default:
		err = badValue(err, "direction", f[cDirection], "in, out, internal or unknown")
	}
	if c.Archived, ok = parseBool(f[cArchived]); !ok {
		err = badValue(err, "archived", f[cArchived], "true or false")
	}
	if c.AudioPackets, ok = parseIntOr0(f[cAudioPackets]); !ok {
		err = badValue(err, "audio_packets", f[cAudioPackets], "an integer")
	}
	switch string(f[cStatus]) {
	case "ok":
		c.Status = "ok"
	case "invalid":
		c.Status = "invalid"
	case "error":
		c.Status = "error"
	default:
		err = badValue(err, "status", f[cStatus], "ok, invalid or error")
	}
	if c.ExceptionCode, ok = parseIntOr0(f[cExceptionCode]); !ok {
		err = badValue(err, "exception_code", f[cExceptionCode], "an integer")
	}
	r.Err = err
	return r
}

// parseAgent turns an agents.csv record of the header's width into an
// AgentRecord. Agents are few, so plain strings are fine here.
func parseAgent(f [][]byte, line int) *connector.AgentRecord {
	r := &connector.AgentRecord{Pos: "agents.csv:" + strconv.Itoa(line)}
	r.UserID = string(f[aUserID])
	r.AgentID = string(f[aAgentID])
	r.FirstName = string(f[aFirstName])
	r.LastName = string(f[aLastName])
	r.Email = string(f[aEmail])
	var err error
	var ok bool
	if r.UserID == "" {
		err = errEmptyID
	}
	if r.Active, ok = parseBool(f[aActive]); !ok {
		err = badValue(err, "active", f[aActive], "true or false")
	}
	if r.IsAgent, ok = parseBool(f[aIsAgent]); !ok {
		err = badValue(err, "is_agent", f[aIsAgent], "true or false")
	}
	if r.TenantID, ok = parseIntOr0(f[aTenantID]); !ok {
		err = badValue(err, "tenant_id", f[aTenantID], "an integer")
	}
	if len(f[aCreatedAt]) > 0 { // empty: unknown creation time
		if r.CreatedAt, ok = parseTime(f[aCreatedAt]); !ok {
			err = badValue(err, "created_at", f[aCreatedAt], "an RFC 3339 timestamp")
		}
	}
	r.Err = err
	return r
}

// badValue joins the message for one bad column to those found before.
func badValue(prev error, col string, v []byte, want string) error {
	e := fmt.Errorf("%s %q is not %s", col, v, want)
	if prev == nil {
		return e
	}
	return errors.Join(prev, e)
}

// parseBool reads true|false; empty is null, read as false.
func parseBool(b []byte) (bool, bool) {
	switch string(b) {
	case "true":
		return true, true
	case "false", "":
		return false, true
	}
	return false, false
}

func parseIntOr0(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, true
	}
	return parseInt(b)
}

// parseInt reads a decimal integer without allocating for up to 18 digits;
// longer ones go through strconv for its overflow checks.
func parseInt(b []byte) (int64, bool) {
	d := b
	neg := false
	if len(d) > 0 && (d[0] == '-' || d[0] == '+') {
		neg = d[0] == '-'
		d = d[1:]
	}
	if len(d) == 0 {
		return 0, false
	}
	if len(d) > 18 {
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return 0, false
		}
		return n, true
	}
	var n int64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// parseTime reads RFC 3339. The common UTC form (with optional fraction) is
// parsed by hand; anything else goes to time.Parse, which decides.
func parseTime(b []byte) (time.Time, bool) {
	if t, ok := parseUTC(b); ok {
		return t, true
	}
	t, err := time.Parse(time.RFC3339, string(b))
	return t, err == nil
}

// parseUTC accepts exactly YYYY-MM-DDTHH:MM:SS[.fraction]Z with valid ranges.
func parseUTC(b []byte) (time.Time, bool) {
	n := len(b)
	if n < 20 || b[n-1] != 'Z' || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(p, w int) int {
		v := 0
		for _, c := range b[p : p+w] {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, d, h, mi, s := num(0, 4), num(5, 2), num(8, 2), num(11, 2), num(14, 2), num(17, 2)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59 {
		return time.Time{}, false
	}
	ns := 0
	if n > 20 {
		frac := b[19 : n-1]
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		f := num(20, len(frac)-1)
		if f < 0 {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			f *= 10
		}
		ns = f
	}
	return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC), true
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
