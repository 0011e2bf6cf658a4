package demogen

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// File names and headers of the snapshot format (shared/README.md §4).
const (
	AgentsFile       = "agents.csv"
	CallsFile        = "calls.csv"
	BusinessDataFile = "business_data.csv"

	AgentsHeader       = "user_id,agent_id,first_name,last_name,email,active,is_agent,tenant_id,created_at"
	CallsHeader        = "call_id,tenant_id,site,agent_id,start_time,duration_ms,direction,ani,dnis,archived,audio_packets,status,exception_code,media_path,skill"
	BusinessDataHeader = "call_id,name,value"
)

// Streams of the PCG generator, one per concern, so that e.g. the roster
// does not change when the number of calls or fields does.
const (
	streamRoster = 0x5eed_a6e7
	streamCalls  = 0x5eed_ca11
	streamBD     = 0x5eed_bd00
)

// fate is the single defect a call is given (or none); the seed's rules turn
// it into an exclusion reason.
type fate uint8

const (
	fateGood        fate = iota
	fateNoAgent          // no_agent_info
	fateNotArchived      // not_archived
	fateInvalid          // invalid
	fateException        // exception
	fateNoAudio          // no_audio
	fateShort            // too_short
	fateUnmapped         // agent ID no agent has: imported, agent_unmapped
	fateNoEmail          // agent without email: agent_without_email
)

// fatePerMille are the rates of call defects besides before_window (placed
// by time) and the ones that follow from the roster (agents dropped by the
// agent filter, duplicates, inactive agents).
var fatePerMille = [...]struct {
	f  fate
	pm int
}{
	{fateNoAgent, 20},
	{fateNotArchived, 30},
	{fateInvalid, 20},
	{fateException, 30},
	{fateNoAudio, 30},
	{fateShort, 40},
	{fateUnmapped, 30},
	{fateNoEmail, 10}, // on top of the calls that land on such agents by chance
}

const (
	beforeWindowPerMille = 30
	noBDPerMille         = 5  // calls without business data
	missingBDPerMille    = 10 // fields left out of a call that has some
)

var (
	exceptionCodes = []int64{7, 12, 15, 20, 34}
	skills         = []string{"Billing", "Sales", "Support", "Retention", "Collections", "Technical", "VIP Care"}
	countryCodes   = []string{"44", "49", "33", "34", "31", "48", "1", "86"}
	// Company numbers: DNIS of inbound calls, ANI of outbound ones.
	serviceNumbers = []string{"+448001234567", "+442079460000", "+4930120450", "+33180001234", "+18005550100"}
)

// Generate writes agents.csv, calls.csv and business_data.csv (and media
// placeholders when asked) at dir's root, creating dir. The same options
// give byte-identical files.
func Generate(dir string, opt Options) (Stats, error) {
	o := opt.WithDefaults()
	if err := o.validate(); err != nil {
		return Stats{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Stats{}, fmt.Errorf("demogen: %w", err)
	}
	ro := newRoster(rand.New(rand.NewPCG(o.Seed, streamRoster)), o.Agents, o.TenantIDs, o.InstalledAt)
	var st Stats
	st.Users = len(ro.users)
	n, err := writeAgents(filepath.Join(dir, AgentsFile), ro)
	if err != nil {
		return st, err
	}
	st.AgentRows = ro.rows
	st.Bytes += n
	g := newCallGen(o, ro)
	if err := g.run(dir, &st); err != nil {
		return st, err
	}
	return st, nil
}

func writeAgents(path string, ro *roster) (int64, error) {
	f, err := createCSV(path, AgentsHeader)
	if err != nil {
		return 0, err
	}
	for i := range ro.users {
		if err := f.write(ro.users[i].appendRows(f.buf())); err != nil {
			f.close()
			return 0, err
		}
	}
	if err := f.close(); err != nil {
		return 0, err
	}
	return f.cw.n, nil
}

// callGen makes calls in start_time order.
type callGen struct {
	o      Options
	ro     *roster
	r      *rand.Rand // calls.csv
	rbd    *rand.Rand // business_data.csv
	fields []bdField
	// Per field, ",NAME," to follow the call ID.
	nameSeps [][]byte
	idWidth  int
}

func newCallGen(o Options, ro *roster) *callGen {
	g := &callGen{
		o:       o,
		ro:      ro,
		r:       rand.New(rand.NewPCG(o.Seed, streamCalls)),
		rbd:     rand.New(rand.NewPCG(o.Seed, streamBD)),
		fields:  fieldsFor(o.BDFields),
		idWidth: max(7, len(strconv.Itoa(o.Calls))),
	}
	for _, f := range g.fields {
		g.nameSeps = append(g.nameSeps, []byte(","+f.name+","))
	}
	return g
}

// segment is a stretch of time holding n calls, spread by a daily profile.
type segment struct {
	from, to time.Time
	n        int
}

// hourWeight is a contact centre's day: busy office hours, a lunch dip,
// quiet nights; weekends at 40 %.
func hourWeight(t time.Time) float64 {
	w := [24]float64{1, 1, 1, 1, 1, 1, 2, 4, 10, 10, 10, 10, 8, 8, 10, 10, 10, 10, 6, 6, 3, 3, 2, 1}[t.Hour()]
	if d := t.Weekday(); d == time.Saturday || d == time.Sunday {
		w *= 0.4
	}
	return w
}

// times calls emit(t) for s.n increasing instants in s: call i is placed at
// the (i+u)/n quantile of the weighted day profile, u uniform in [0,1), so
// the instants come out sorted without a sort and memory stays flat.
func (s segment) times(r *rand.Rand, emit func(time.Time) error) error {
	if s.n == 0 {
		return nil
	}
	type slot struct {
		start  time.Time
		dur    time.Duration
		cum, w float64
	}
	var slots []slot
	var total float64
	for t := s.from; t.Before(s.to); {
		next := t.Truncate(time.Hour).Add(time.Hour)
		if next.After(s.to) {
			next = s.to
		}
		w := hourWeight(t) * next.Sub(t).Hours()
		slots = append(slots, slot{start: t, dur: next.Sub(t), cum: total, w: w})
		total += w
		t = next
	}
	k := 0
	for i := range s.n {
		v := (float64(i) + r.Float64()) / float64(s.n) * total
		for k+1 < len(slots) && slots[k+1].cum <= v {
			k++
		}
		sl := slots[k]
		frac := math.Min((v-sl.cum)/sl.w, 1)
		t := sl.start.Add(time.Duration(frac * float64(sl.dur))).Truncate(time.Second)
		if err := emit(t); err != nil {
			return err
		}
	}
	return nil
}

// callRow is the columns of one call.
type callRow struct {
	tenant      int64
	site        string
	agentID     string
	durationMS  int64
	direction   string
	ani, dnis   []byte
	archived    bool
	packets     int64
	status      string
	exception   int64
	skill       string
	media       bool
	numScratch1 [20]byte
	numScratch2 [20]byte
}

func (g *callGen) run(dir string, st *Stats) (err error) {
	calls, err := createCSV(filepath.Join(dir, CallsFile), CallsHeader)
	if err != nil {
		return err
	}
	bd, err := createCSV(filepath.Join(dir, BusinessDataFile), BusinessDataHeader)
	if err != nil {
		calls.close()
		return err
	}
	defer func() {
		err = errors.Join(err, calls.close(), bd.close())
		st.Bytes += calls.cw.n + bd.cw.n
	}()

	ws := g.o.windowStart()
	start := ws.Add(-preWindowDays * 24 * time.Hour)
	end := start.Add(time.Duration(g.o.Days) * 24 * time.Hour)
	nBefore := (g.o.Calls*beforeWindowPerMille + 500) / 1000
	if nBefore == 0 && g.o.Calls >= 10 {
		nBefore = 1
	}
	segs := []segment{{start, ws, nBefore}, {ws, end, g.o.Calls - nBefore}}

	var (
		seq      int
		id       []byte
		day      = time.Time{}
		dayStamp []byte // "2026-11-02T"
		dayMedia []byte // "media/2026/11/02/"
		row      callRow
	)
	for _, s := range segs {
		err := s.times(g.r, func(t time.Time) error {
			seq++
			id = g.appendCallID(id[:0], seq)
			if d := t.Truncate(24 * time.Hour); !d.Equal(day) {
				day = d
				dayStamp = d.AppendFormat(dayStamp[:0], "2006-01-02T")
				dayMedia = d.AppendFormat(dayMedia[:0], "media/2006/01/02/")
			}
			g.fill(&row)
			b := calls.buf()
			b = append(b, id...)
			b = append(b, ',')
			b = strconv.AppendInt(b, row.tenant, 10)
			b = append(b, ',')
			b = append(b, row.site...)
			b = append(b, ',')
			b = append(b, row.agentID...)
			b = append(b, ',')
			b = append(b, dayStamp...)
			b = append2(b, t.Hour())
			b = append(b, ':')
			b = append2(b, t.Minute())
			b = append(b, ':')
			b = append2(b, t.Second())
			b = append(b, 'Z', ',')
			b = strconv.AppendInt(b, row.durationMS, 10)
			b = append(b, ',')
			b = append(b, row.direction...)
			b = append(b, ',')
			b = append(b, row.ani...)
			b = append(b, ',')
			b = append(b, row.dnis...)
			b = append(b, ',')
			b = strconv.AppendBool(b, row.archived)
			b = append(b, ',')
			b = strconv.AppendInt(b, row.packets, 10)
			b = append(b, ',')
			b = append(b, row.status...)
			b = append(b, ',')
			b = strconv.AppendInt(b, row.exception, 10)
			b = append(b, ',')
			if row.media {
				b = append(b, dayMedia...)
				b = append(b, id...)
				b = append(b, ".wav"...)
			}
			b = append(b, ',')
			b = append(b, row.skill...)
			b = append(b, '\n')
			if err := calls.write(b); err != nil {
				return err
			}
			st.Calls++
			if row.media && g.o.MediaFiles {
				if err := writeMedia(dir, string(dayMedia)+string(id)+".wav"); err != nil {
					return err
				}
			}
			return g.writeBD(bd, id, st)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// writeBD writes the business-data rows of one call.
func (g *callGen) writeBD(bd *csvFile, id []byte, st *Stats) error {
	if len(g.fields) == 0 || g.rbd.IntN(1000) < noBDPerMille {
		return nil
	}
	// All rows of the call go in one write: bufio's per-call overhead,
	// not per-row.
	b := bd.buf()
	for i := range g.fields {
		if g.rbd.IntN(1000) < missingBDPerMille {
			continue
		}
		b = append(b, id...)
		b = append(b, g.nameSeps[i]...)
		b = g.fields[i].appendValue(b, g.rbd)
		b = append(b, '\n')
		st.BDRows++
	}
	return bd.write(b)
}

func (g *callGen) appendCallID(dst []byte, seq int) []byte {
	dst = append(dst, g.o.CallIDPrefix...)
	var tmp [20]byte
	d := strconv.AppendInt(tmp[:0], int64(seq), 10)
	for range g.idWidth - len(d) {
		dst = append(dst, '0')
	}
	return append(dst, d...)
}

func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

// fill draws the columns of the next call.
func (g *callGen) fill(c *callRow) {
	r := g.r
	f := fateGood
	p := r.IntN(1000)
	for _, fp := range fatePerMille {
		if p < fp.pm {
			f = fp.f
			break
		}
		p -= fp.pm
	}

	// Agent and tenant.
	ro := g.ro
	switch {
	case f == fateNoAgent || len(ro.agentIDs) == 0:
		c.agentID = ""
		c.tenant = g.o.TenantIDs[r.IntN(len(g.o.TenantIDs))]
	case f == fateUnmapped:
		c.agentID = ro.unknown[r.IntN(len(ro.unknown))]
		c.tenant = g.o.TenantIDs[r.IntN(len(g.o.TenantIDs))]
	case f == fateNoEmail && len(ro.noEmail) > 0:
		i := ro.noEmail[r.IntN(len(ro.noEmail))]
		c.agentID = ro.agentIDs[i]
		c.tenant = ro.tenantOf[i]
	default:
		i := r.IntN(len(ro.agentIDs))
		c.agentID = ro.agentIDs[i]
		c.tenant = ro.tenantOf[i]
	}
	c.site = g.o.Sites[r.IntN(len(g.o.Sites))]
	c.skill = skills[r.IntN(len(skills))]

	// Direction and numbers.
	d := r.IntN(100)
	cust := appendPhone(c.numScratch1[:0], r)
	svc := serviceNumbers[r.IntN(len(serviceNumbers))]
	switch {
	case d < 10:
		c.direction = "internal"
		c.ani = strconv.AppendInt(c.numScratch1[:0], 2000+r.Int64N(8000), 10)
		c.dnis = strconv.AppendInt(c.numScratch2[:0], 2000+r.Int64N(8000), 10)
	case d < 12:
		c.direction = "unknown"
		c.ani, c.dnis = cust, append(c.numScratch2[:0], svc...)
	case d < 67:
		c.direction = "in"
		c.ani, c.dnis = cust, append(c.numScratch2[:0], svc...)
	default:
		c.direction = "out"
		c.ani, c.dnis = append(c.numScratch2[:0], svc...), cust
	}

	// Duration: log-normal around 4 minutes, above 2 s, below 2 h.
	ms := int64(240_000 * math.Exp(0.8*r.NormFloat64()))
	c.durationMS = min(max(ms, 2001), 7_200_000)
	c.archived = true
	c.status = "ok"
	c.exception = 0
	c.packets = c.durationMS / 20 // 50 RTP packets a second

	switch f {
	case fateNotArchived:
		c.archived = false
	case fateInvalid:
		c.status = "invalid"
	case fateException:
		c.exception = exceptionCodes[r.IntN(len(exceptionCodes))]
		if r.IntN(3) == 0 {
			c.status = "error"
		}
		switch c.exception {
		case 12: // voice recording failed, often no VoIP audio at all
			c.packets = 0
		case 20: // logger did not respond: a very short call
			c.durationMS = 1000 + r.Int64N(1001)
			c.packets = c.durationMS / 20
		default: // partly recorded
			c.packets /= 2
		}
	case fateNoAudio:
		c.packets = 0
	case fateShort:
		if r.IntN(4) == 0 {
			c.durationMS = 2000 // the boundary is "2 seconds or less"
		} else {
			c.durationMS = 200 + r.Int64N(1800)
		}
		c.packets = c.durationMS / 20
	}
	c.media = c.packets > 0
}

// appendPhone appends an E.164 number: + country code and 9 or 10 digits.
func appendPhone(dst []byte, r *rand.Rand) []byte {
	cc := countryCodes[r.IntN(len(countryCodes))]
	dst = append(dst, '+')
	dst = append(dst, cc...)
	return appendDigits(dst, r, 11-len(cc)+r.IntN(2))
}

// wavPlaceholder is a valid WAV file of 0.1 s of silence (8 kHz, 16-bit mono).
var wavPlaceholder = func() []byte {
	const data = 1600
	b := make([]byte, 0, 44+data)
	le32 := func(v uint32) { b = append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24)) }
	le16 := func(v uint16) { b = append(b, byte(v), byte(v>>8)) }
	b = append(b, "RIFF"...)
	le32(36 + data)
	b = append(b, "WAVEfmt "...)
	le32(16)
	le16(1)    // PCM
	le16(1)    // mono
	le32(8000) // sample rate
	le32(16000)
	le16(2)
	le16(16)
	b = append(b, "data"...)
	le32(data)
	return append(b, make([]byte, data)...)
}()

func writeMedia(dir, rel string) error {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("demogen: media: %w", err)
	}
	if err := os.WriteFile(p, wavPlaceholder, 0o644); err != nil {
		return fmt.Errorf("demogen: media: %w", err)
	}
	return nil
}
