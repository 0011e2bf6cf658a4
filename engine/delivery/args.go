package delivery

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
)

// Args is one delivery job: a call as the run would have sent it, and where
// its ledger row is.
type Args struct {
	Spec  string `json:"spec"`
	RunID string `json:"run_id"`
	// Key and FP are the ledger row's key and fingerprint as PostgreSQL
	// stores them (the 64 bits as a signed integer): the worker settles the
	// row only while it is still this delivery's (a later run may have
	// queued a newer version of the call).
	Key int64 `json:"key"`
	FP  int64 `json:"fp"`
	// Reason is the imported row's reason (agent_unmapped or none).
	Reason string `json:"reason,omitempty"`
	// Seq is the call's ledger row's position among the rows the run sent
	// (an outbox's segments order their union by run and Seq).
	Seq   int64     `json:"seq,omitempty"`
	Call  CallDoc   `json:"call"`
	Agent *AgentDoc `json:"agent,omitempty"`
	// SinkUserID is the sink's id of the call's agent as the run resolved
	// it (CXone: the user it found, created or updated), so a delivery
	// needs no user search; empty when the run did not send the agent (an
	// unchanged agent): the worker resolves it once for its life.
	SinkUserID string `json:"sink_user_id,omitempty"`
}

// Jobs are the River jobs of call deliveries: their kind and queue, and
// how many times one is tried (with River's backoff, attempt⁴ s, about 3
// hours in all) before the row ends failed. The state stores and counts
// them (cmd gives them to its drivers).
var Jobs = state.Jobs{Kind: "applink_delivery", Queue: "applink_delivery", MaxAttempts: 10}

// Kind implements river.JobArgs.
func (Args) Kind() string { return Jobs.Kind }

// CallDoc is connector.OutCall in JSON.
type CallDoc struct {
	CallID      string     `json:"call_id"`
	SystemID    string     `json:"system_id"`
	AgentUserID string     `json:"agent_user_id,omitempty"`
	StartTime   time.Time  `json:"start_time"`
	DurationMS  int64      `json:"duration_ms"`
	Direction   string     `json:"direction"`
	ANI         string     `json:"ani"`
	DNIS        string     `json:"dnis"`
	Media       string     `json:"media,omitempty"`
	MediaFile   string     `json:"media_file,omitempty"`
	Values      []ValueDoc `json:"values,omitempty"`
	Hash        uint64     `json:"hash"`
}

// ValueDoc is one business-data value: F indexes Target.Fields; one of T,
// N (a float in Go syntax, so NaN and ±Inf survive JSON) and B is set, per
// the field's type.
type ValueDoc struct {
	F int    `json:"f"`
	T string `json:"t,omitempty"`
	N string `json:"n,omitempty"`
	B bool   `json:"b,omitempty"`
}

// AgentDoc is the call's agent, so a sink that maps agents (CXone: the
// user it created for the Engage user) can resolve it at delivery.
type AgentDoc struct {
	UserID    string   `json:"user_id"`
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	Email     string   `json:"email"`
	AgentIDs  []string `json:"agent_ids"`
	Active    bool     `json:"active"`
	TenantID  int64    `json:"tenant_id"`
}

// Target is where a run's deliveries go, recorded once with the run: the
// spec's sink block, or (no sink block) the outbox folder, and the fields
// the calls' values index.
type Target struct {
	Sink     *dsl.Sink  `json:"sink,omitempty"`
	Outbox   string     `json:"outbox,omitempty"`
	Fields   []FieldDoc `json:"fields"`
	PlanHash string     `json:"plan_hash"`
}

// FieldDoc is a field as a sink needs it.
type FieldDoc struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

func (t *Target) fields() []dsl.Field {
	out := make([]dsl.Field, len(t.Fields))
	for i, f := range t.Fields {
		out[i] = dsl.Field{Type: f.Type, Name: f.Name}
	}
	return out
}

func newCallDoc(c *connector.OutCall, fields []dsl.Field) CallDoc {
	d := CallDoc{CallID: c.CallID, SystemID: c.SystemID, AgentUserID: c.AgentUserID, StartTime: c.StartTime, DurationMS: c.DurationMS,
		Direction: c.Direction, ANI: c.ANI, DNIS: c.DNIS, Media: c.Media, MediaFile: c.MediaFile, Hash: c.Hash}
	for _, v := range c.Values {
		vd := ValueDoc{F: v.Field}
		switch fields[v.Field].Type {
		case dsl.TypeNumber:
			vd.N = strconv.FormatFloat(v.Number, 'g', -1, 64)
		case dsl.TypeBoolean:
			vd.B = v.Bool
		default:
			vd.T = string(v.Text)
		}
		d.Values = append(d.Values, vd)
	}
	return d
}

func (d *CallDoc) outCall(fields []dsl.Field) (*connector.OutCall, error) {
	c := &connector.OutCall{CallID: d.CallID, SystemID: d.SystemID, AgentUserID: d.AgentUserID, StartTime: d.StartTime, DurationMS: d.DurationMS,
		Direction: d.Direction, ANI: d.ANI, DNIS: d.DNIS, Media: d.Media, MediaFile: d.MediaFile, Hash: d.Hash}
	for _, v := range d.Values {
		if v.F < 0 || v.F >= len(fields) {
			return nil, fmt.Errorf("call %s: value of field %d, the run has %d fields", d.CallID, v.F, len(fields))
		}
		val := connector.Value{Field: v.F, Bool: v.B}
		switch fields[v.F].Type {
		case dsl.TypeNumber:
			n, err := strconv.ParseFloat(v.N, 64)
			if err != nil {
				return nil, fmt.Errorf("call %s: field %s: %w", d.CallID, fields[v.F].Name, err)
			}
			val.Number = n
		case dsl.TypeText:
			val.Text = []byte(v.T)
		}
		c.Values = append(c.Values, val)
	}
	return c, nil
}

func newAgentDoc(a *connector.OutAgent) *AgentDoc {
	return &AgentDoc{UserID: a.UserID, FirstName: a.FirstName, LastName: a.LastName, Email: a.Email,
		AgentIDs: append([]string(nil), a.AgentIDs...), Active: a.Active, TenantID: a.TenantID}
}

func (a *AgentDoc) outAgent() *connector.OutAgent {
	return &connector.OutAgent{UserID: a.UserID, FirstName: a.FirstName, LastName: a.LastName, Email: a.Email,
		AgentIDs: a.AgentIDs, Active: a.Active, TenantID: a.TenantID}
}

// encode is Args as the run writes it to the deliveries file.
func (a *Args) encode() ([]byte, error) { return json.Marshal(a) }
