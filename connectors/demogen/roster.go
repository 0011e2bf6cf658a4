package demogen

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// userKind is what makes a user interesting to the seed's agent rules.
type userKind uint8

const (
	kindNormal   userKind = iota
	kindNonAgent          // is_agent=false, no agent ID: not_agent
	kindNoEmail           // agent without email: no_email, its calls agent_without_email
	kindDupEmail          // an earlier user's email in another case with spaces: duplicate_email
	kindInactive          // active=false
	kindTest              // @test.example email: the demo spec's agent filter drops it
)

// Rates of the special users, per mille of users. A roster of at least
// minSpecialUsers users holds at least one of each.
var kindPerMille = [...]struct {
	kind userKind
	pm   int
}{
	{kindNonAgent, 50},
	{kindNoEmail, 30},
	{kindDupEmail, 30},
	{kindInactive, 50},
	{kindTest, 10},
}

const (
	minSpecialUsers    = 10
	multiAgentPerMille = 100 // users with 2 or 3 agent IDs
	agentIDBase        = 20001
	userIDBase         = 1001
	emailDomain        = "demo.example"
)

// name is a name as shown and its ASCII form for emails.
type name struct{ shown, ascii string }

var firstNames = []name{
	{"Zoë", "zoe"}, {"José", "jose"}, {"Łukasz", "lukasz"}, {"伟", "wei"}, {"Anna", "anna"},
	{"Mohammed", "mohammed"}, {"Olivia", "olivia"}, {"Liam", "liam"}, {"Sofia", "sofia"},
	{"Lucas", "lucas"}, {"Emma", "emma"}, {"Noah", "noah"}, {"Søren", "soren"}, {"Chloé", "chloe"},
	{"François", "francois"}, {"Ingrid", "ingrid"}, {"Mateo", "mateo"}, {"Aiko", "aiko"},
	{"Priya", "priya"}, {"Oluwaseun", "oluwaseun"}, {"Björn", "bjorn"}, {"Siobhán", "siobhan"},
	{"Jürgen", "jurgen"}, {"Ewa", "ewa"}, {"芳", "fang"}, {"Ahmet", "ahmet"}, {"Maria", "maria"},
}

var lastNames = []name{
	{"Müller", "muller"}, {"García", "garcia"}, {"Nowak", "nowak"}, {"王", "wang"}, {"Smith", "smith"},
	{"Dubois", "dubois"}, {"Rossi", "rossi"}, {"Jensen", "jensen"}, {"O'Brien", "obrien"},
	{"Kowalski", "kowalski"}, {"李", "li"}, {"Silva", "silva"}, {"van der Berg", "vanderberg"},
	{"Brown", "brown"}, {"Schmidt", "schmidt"}, {"Martín", "martin"}, {"Nguyễn", "nguyen"},
	{"Yılmaz", "yilmaz"}, {"Öztürk", "ozturk"}, {"Wójcik", "wojcik"}, {"Patel", "patel"},
}

// user is one Engage user; it becomes one agents.csv row per agent ID.
type user struct {
	id        string
	kind      userKind
	agentIDs  []string
	first     string
	last      string
	email     string
	active    bool
	tenant    int64
	createdAt time.Time
}

// roster is the generated users and the agent IDs calls may carry.
type roster struct {
	users    []user
	agentIDs []string // every agent ID, in agents.csv order
	tenantOf []int64  // tenant of agentIDs[i]
	noEmail  []int    // indexes into agentIDs of users without email
	unknown  []string // agent IDs no user has: calls carrying them are agent_unmapped
	rows     int      // agents.csv rows
}

// newRoster makes n users. Special kinds are placed by a shuffle so their
// counts are exact (rate × n, at least one each from minSpecialUsers users).
func newRoster(r *rand.Rand, n int, tenants []int64, installedAt time.Time) *roster {
	kinds := make([]userKind, n)
	if n >= minSpecialUsers {
		i := 0
		for _, k := range kindPerMille {
			c := max(1, (n*k.pm+500)/1000)
			for j := 0; j < c && i < n; j++ {
				kinds[i] = k.kind
				i++
			}
		}
		r.Shuffle(n, func(a, b int) { kinds[a], kinds[b] = kinds[b], kinds[a] })
	}

	// Users were created over the three years before installation, in
	// user_id order, so a later user_id always has a later created_at.
	from := installedAt.AddDate(-3, 0, 0)
	step := installedAt.AddDate(0, 0, -30).Sub(from) / time.Duration(max(n, 1))

	ro := &roster{users: make([]user, n)}
	nextAgent := agentIDBase
	var normals []int // indexes of users whose email a duplicate may copy
	for i := range ro.users {
		u := &ro.users[i]
		u.id = strconv.Itoa(userIDBase + i)
		u.kind = kinds[i]
		fn := firstNames[r.IntN(len(firstNames))]
		ln := lastNames[r.IntN(len(lastNames))]
		u.first, u.last = fn.shown, ln.shown
		u.active = u.kind != kindInactive
		u.tenant = tenants[r.IntN(len(tenants))]
		u.createdAt = from.Add(time.Duration(i)*step + time.Duration(r.Int64N(int64(max(step, time.Second))))).Truncate(time.Second)
		if u.kind == kindDupEmail && len(normals) == 0 {
			u.kind = kindNormal // nothing earlier to duplicate
		}
		switch u.kind {
		case kindNoEmail, kindNonAgent:
			// Non-agent users often have an email; it does not matter to the rules.
			if u.kind == kindNonAgent {
				u.email = ascii(fn.ascii, ln.ascii, u.id, emailDomain)
			}
		case kindDupEmail:
			orig := ro.users[normals[r.IntN(len(normals))]].email
			u.email = disguise(orig, r)
		case kindTest:
			u.email = "qa.agent" + u.id + "@test.example"
		default:
			u.email = ascii(fn.ascii, ln.ascii, u.id, emailDomain)
			if u.kind == kindNormal {
				normals = append(normals, i)
			}
		}
		if u.kind == kindNonAgent {
			ro.rows++
			continue
		}
		ids := 1
		if r.IntN(1000) < multiAgentPerMille {
			ids = 2 + r.IntN(2)
		}
		for range ids {
			id := strconv.Itoa(nextAgent)
			nextAgent++
			u.agentIDs = append(u.agentIDs, id)
			ro.agentIDs = append(ro.agentIDs, id)
			ro.tenantOf = append(ro.tenantOf, u.tenant)
			if u.kind == kindNoEmail {
				ro.noEmail = append(ro.noEmail, len(ro.agentIDs)-1)
			}
		}
		ro.rows += ids
	}
	// Agent IDs that Engage has on calls but no user carries (a deleted or
	// never-configured agent): far above the assigned range.
	for i := range 5 {
		ro.unknown = append(ro.unknown, strconv.Itoa(nextAgent+1000+i*7))
	}
	return ro
}

func ascii(first, last, id, domain string) string {
	return first + "." + last + "." + id + "@" + domain
}

// disguise returns email as a later duplicate would hold it: other case and
// surrounding spaces, equal once trimmed and lower-cased.
func disguise(email string, r *rand.Rand) string {
	var b strings.Builder
	switch r.IntN(3) {
	case 0:
		b.WriteString(strings.ToUpper(email))
	case 1:
		up := true
		for _, c := range email {
			if up && c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			up = c == '.' || c == '@'
			b.WriteRune(c)
		}
	default:
		at := strings.IndexByte(email, '@')
		b.WriteString(email[:at])
		b.WriteString(strings.ToUpper(email[at:]))
	}
	s := b.String()
	if s == email { // e.g. an all-digit local part: force a difference
		s = strings.ToUpper(s)
	}
	return []string{" " + s, s + " ", "  " + s + " "}[r.IntN(3)]
}

// appendAgentRows appends u's agents.csv rows (one per agent ID; one row
// without agent ID for a non-agent).
func (u *user) appendRows(dst []byte) []byte {
	ids := u.agentIDs
	if len(ids) == 0 {
		ids = []string{""}
	}
	for _, id := range ids {
		dst = append(dst, u.id...)
		dst = append(dst, ',')
		dst = append(dst, id...)
		dst = append(dst, ',')
		dst = appendCSV(dst, u.first)
		dst = append(dst, ',')
		dst = appendCSV(dst, u.last)
		dst = append(dst, ',')
		dst = appendCSV(dst, u.email)
		dst = append(dst, ',')
		dst = strconv.AppendBool(dst, u.active)
		dst = append(dst, ',')
		dst = strconv.AppendBool(dst, u.kind != kindNonAgent)
		dst = append(dst, ',')
		dst = strconv.AppendInt(dst, u.tenant, 10)
		dst = append(dst, ',')
		dst = u.createdAt.AppendFormat(dst, time.RFC3339)
		dst = append(dst, '\n')
	}
	return dst
}
