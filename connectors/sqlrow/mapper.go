package sqlrow

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// callSetters convert one canonical call column into its field.
var callSetters = map[string]func(c *dsl.Call, v any) error{
	"call_id":   func(c *dsl.Call, v any) (err error) { c.CallID, err = String(v); return },
	"tenant_id": func(c *dsl.Call, v any) (err error) { c.TenantID, err = Int64(v); return },
	"site":      func(c *dsl.Call, v any) (err error) { c.Site, err = String(v); return },
	"agent_id":  func(c *dsl.Call, v any) (err error) { c.AgentID, err = String(v); return },
	"start_time": func(c *dsl.Call, v any) (err error) {
		if v == nil || v == "" {
			return ErrMissing // a call without start_time cannot be ordered
		}
		c.StartTime, err = Time(v)
		return
	},
	"duration_ms":    func(c *dsl.Call, v any) (err error) { c.DurationMS, err = Int64(v); return },
	"direction":      func(c *dsl.Call, v any) (err error) { c.Direction, err = Enum(v, connector.Directions); return },
	"ani":            func(c *dsl.Call, v any) (err error) { c.ANI, err = String(v); return },
	"dnis":           func(c *dsl.Call, v any) (err error) { c.DNIS, err = String(v); return },
	"archived":       func(c *dsl.Call, v any) (err error) { c.Archived, err = Bool(v); return },
	"audio_packets":  func(c *dsl.Call, v any) (err error) { c.AudioPackets, err = Int64(v); return },
	"status":         func(c *dsl.Call, v any) (err error) { c.Status, err = Enum(v, connector.Statuses); return },
	"exception_code": func(c *dsl.Call, v any) (err error) { c.ExceptionCode, err = Int64(v); return },
	"media_path":     func(c *dsl.Call, v any) (err error) { c.MediaPath, err = String(v); return },
	"skill":          func(c *dsl.Call, v any) (err error) { c.Skill, err = String(v); return },
}

// agentSetters convert one canonical agent column into its field.
var agentSetters = map[string]func(a *connector.AgentRecord, v any) error{
	"user_id":    func(a *connector.AgentRecord, v any) (err error) { a.UserID, err = String(v); return },
	"agent_id":   func(a *connector.AgentRecord, v any) (err error) { a.AgentID, err = String(v); return },
	"first_name": func(a *connector.AgentRecord, v any) (err error) { a.FirstName, err = String(v); return },
	"last_name":  func(a *connector.AgentRecord, v any) (err error) { a.LastName, err = String(v); return },
	"email":      func(a *connector.AgentRecord, v any) (err error) { a.Email, err = String(v); return },
	"active":     func(a *connector.AgentRecord, v any) (err error) { a.Active, err = Bool(v); return },
	"is_agent":   func(a *connector.AgentRecord, v any) (err error) { a.IsAgent, err = Bool(v); return },
	"tenant_id":  func(a *connector.AgentRecord, v any) (err error) { a.TenantID, err = Int64(v); return },
	"created_at": func(a *connector.AgentRecord, v any) (err error) { a.CreatedAt, err = Time(v); return },
}

// setters returns the setter of each column of a row, in row order.
func setters[T any](known map[string]T, canonical, cols, required []string) ([]T, error) {
	out := make([]T, len(cols))
	for i, c := range cols {
		s, ok := known[c]
		if !ok {
			return nil, fmt.Errorf("unknown canonical column %q (known: %s)", c, strings.Join(canonical, ", "))
		}
		out[i] = s
	}
	for _, r := range required {
		if !slices.Contains(cols, r) {
			return nil, fmt.Errorf("a row needs %s", strings.Join(required, " and "))
		}
	}
	return out, nil
}

// CallMapper maps rows whose columns are canonical call columns, in any
// order; a column a row lacks (an mssql row has no site) stays zero.
type CallMapper struct {
	cols []string
	set  []func(*dsl.Call, any) error
}

// NewCallMapper returns the mapper of rows with columns cols. call_id and
// start_time are required: a call without them cannot be ordered.
func NewCallMapper(cols []string) (*CallMapper, error) {
	set, err := setters(callSetters, dsl.CallColumns, cols, []string{"call_id", "start_time"})
	if err != nil {
		return nil, fmt.Errorf("calls: %w", err)
	}
	return &CallMapper{cols: cols, set: set}, nil
}

// Map fills r.Call and r.Err from a row (Pos and BD are the caller's).
func (m *CallMapper) Map(r *connector.CallRecord, v []any) {
	c := &r.Call
	*c = dsl.Call{}
	var errs []error
	for i, set := range m.set {
		if err := set(c, v[i]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.cols[i], err))
		}
	}
	if c.CallID == "" {
		errs = append(errs, errors.New("call_id is empty"))
	}
	r.Err = errors.Join(errs...)
}

// AgentMapper maps rows whose columns are canonical agent columns, in any
// order.
type AgentMapper struct {
	cols []string
	set  []func(*connector.AgentRecord, any) error
}

// NewAgentMapper returns the mapper of rows with columns cols; user_id is
// required.
func NewAgentMapper(cols []string) (*AgentMapper, error) {
	set, err := setters(agentSetters, dsl.AgentColumns, cols, []string{"user_id"})
	if err != nil {
		return nil, fmt.Errorf("agents: %w", err)
	}
	return &AgentMapper{cols: cols, set: set}, nil
}

// Map fills r (all but Pos) from a row.
func (m *AgentMapper) Map(r *connector.AgentRecord, v []any) {
	*r = connector.AgentRecord{Pos: r.Pos}
	var errs []error
	for i, set := range m.set {
		if err := set(r, v[i]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.cols[i], err))
		}
	}
	if r.UserID == "" {
		errs = append(errs, errors.New("user_id is empty"))
	}
	r.Err = errors.Join(errs...)
}
