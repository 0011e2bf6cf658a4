package dsl

import "time"

// Call is one Engage call in canonical form (shared/README.md §4). It is both
// the row type the engine streams and the `call` of expression environments,
// so no per-row conversion happens between reading and evaluating.
type Call struct {
	CallID        string    `expr:"call_id"`
	TenantID      int64     `expr:"tenant_id"`
	Site          string    `expr:"site"`
	AgentID       string    `expr:"agent_id"`
	StartTime     time.Time `expr:"start_time"`
	DurationMS    int64     `expr:"duration_ms"`
	Direction     string    `expr:"direction"` // in|out|internal|unknown
	ANI           string    `expr:"ani"`
	DNIS          string    `expr:"dnis"`
	Archived      bool      `expr:"archived"`
	AudioPackets  int64     `expr:"audio_packets"`
	Status        string    `expr:"status"` // ok|invalid|error
	ExceptionCode int64     `expr:"exception_code"`
	MediaPath     string    `expr:"media_path"`
	Skill         string    `expr:"skill"`
}

// Agent is one Engage user with an agent profile, all its agent IDs merged.
// It is the `agent` of expression environments.
type Agent struct {
	UserID    string    `expr:"user_id"`
	AgentIDs  []string  `expr:"agent_ids"`
	FirstName string    `expr:"first_name"`
	LastName  string    `expr:"last_name"`
	Email     string    `expr:"email"`
	Active    bool      `expr:"active"`
	TenantID  int64     `expr:"tenant_id"`
	CreatedAt time.Time `expr:"created_at"`
}

// TenantEnv is the environment of the `tenant { where = … }` expression.
type TenantEnv struct {
	TenantID int64 `expr:"tenant_id"`
}

// AgentEnv is the environment of the `agents { where = … }` expression.
type AgentEnv struct {
	Agent *Agent `expr:"agent"`
}

// CallEnv is the environment of `calls { where = … }` and of every `field`
// value. Agent is nil for a call whose agent is unmapped: write `agent?.email`.
// BD holds the call's business data as strings, keyed by Engage field name; a
// missing key reads as "".
type CallEnv struct {
	Call  *Call             `expr:"call"`
	Agent *Agent            `expr:"agent"`
	BD    map[string]string `expr:"bd"`
}
