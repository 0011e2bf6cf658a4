package sqlrow

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
)

// Positions of the canonical columns in dsl.CallColumns and dsl.AgentColumns.
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

// positions maps each canonical column to its index in a row of cols, -1
// when the row does not have it. Every name of cols must be canonical.
func positions(canonical, cols []string) ([]int, error) {
	pos := make([]int, len(canonical))
	for i := range pos {
		pos[i] = -1
	}
	for i, c := range cols {
		j := slices.Index(canonical, c)
		if j < 0 {
			return nil, fmt.Errorf("unknown canonical column %q (known: %s)", c, strings.Join(canonical, ", "))
		}
		pos[j] = i
	}
	return pos, nil
}

// CallMapper maps rows whose columns are canonical call columns, in any
// order; a column a row lacks (an mssql row has no site) stays zero.
type CallMapper struct{ pos []int }

// NewCallMapper returns the mapper of rows with columns cols. call_id and
// start_time are required: a call without them cannot be ordered.
func NewCallMapper(cols []string) (*CallMapper, error) {
	pos, err := positions(dsl.CallColumns, cols)
	if err != nil {
		return nil, err
	}
	if pos[cCallID] < 0 || pos[cStartTime] < 0 {
		return nil, errors.New("a calls row needs call_id and start_time")
	}
	return &CallMapper{pos: pos}, nil
}

// Map fills r.Call and r.Err from a row (Pos and BD are the caller's).
func (m *CallMapper) Map(r *engine.CallRecord, v []any) {
	c := &r.Call
	*c = dsl.Call{}
	var errs []error
	conv := func(col int, f func(x any) error) {
		if i := m.pos[col]; i >= 0 {
			if err := f(v[i]); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", dsl.CallColumns[col], err))
			}
		}
	}
	conv(cCallID, func(x any) (err error) { c.CallID, err = String(x); return })
	conv(cTenantID, func(x any) (err error) { c.TenantID, err = Int64(x); return })
	conv(cSite, func(x any) (err error) { c.Site, err = String(x); return })
	conv(cAgentID, func(x any) (err error) { c.AgentID, err = String(x); return })
	conv(cStartTime, func(x any) (err error) {
		if x == nil || x == "" {
			return ErrMissing
		}
		c.StartTime, err = Time(x)
		return
	})
	conv(cDurationMS, func(x any) (err error) { c.DurationMS, err = Int64(x); return })
	conv(cDirection, func(x any) (err error) { c.Direction, err = Enum(x, engine.Directions); return })
	conv(cANI, func(x any) (err error) { c.ANI, err = String(x); return })
	conv(cDNIS, func(x any) (err error) { c.DNIS, err = String(x); return })
	conv(cArchived, func(x any) (err error) { c.Archived, err = Bool(x); return })
	conv(cAudioPackets, func(x any) (err error) { c.AudioPackets, err = Int64(x); return })
	conv(cStatus, func(x any) (err error) { c.Status, err = Enum(x, engine.Statuses); return })
	conv(cExceptionCode, func(x any) (err error) { c.ExceptionCode, err = Int64(x); return })
	conv(cMediaPath, func(x any) (err error) { c.MediaPath, err = String(x); return })
	conv(cSkill, func(x any) (err error) { c.Skill, err = String(x); return })
	if c.CallID == "" {
		errs = append(errs, errors.New("call_id is empty"))
	}
	r.Err = errors.Join(errs...)
}

// AgentMapper maps rows whose columns are canonical agent columns, in any
// order.
type AgentMapper struct{ pos []int }

// NewAgentMapper returns the mapper of rows with columns cols; user_id is
// required.
func NewAgentMapper(cols []string) (*AgentMapper, error) {
	pos, err := positions(dsl.AgentColumns, cols)
	if err != nil {
		return nil, err
	}
	if pos[aUserID] < 0 {
		return nil, errors.New("an agents row needs user_id")
	}
	return &AgentMapper{pos: pos}, nil
}

// Map fills r (all but Pos) from a row.
func (m *AgentMapper) Map(r *engine.AgentRecord, v []any) {
	pos := r.Pos
	*r = engine.AgentRecord{Pos: pos}
	var errs []error
	conv := func(col int, f func(x any) error) {
		if i := m.pos[col]; i >= 0 {
			if err := f(v[i]); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", dsl.AgentColumns[col], err))
			}
		}
	}
	conv(aUserID, func(x any) (err error) { r.UserID, err = String(x); return })
	conv(aAgentID, func(x any) (err error) { r.AgentID, err = String(x); return })
	conv(aFirstName, func(x any) (err error) { r.FirstName, err = String(x); return })
	conv(aLastName, func(x any) (err error) { r.LastName, err = String(x); return })
	conv(aEmail, func(x any) (err error) { r.Email, err = String(x); return })
	conv(aActive, func(x any) (err error) { r.Active, err = Bool(x); return })
	conv(aIsAgent, func(x any) (err error) { r.IsAgent, err = Bool(x); return })
	conv(aTenantID, func(x any) (err error) { r.TenantID, err = Int64(x); return })
	conv(aCreatedAt, func(x any) (err error) { r.CreatedAt, err = Time(x); return })
	if r.UserID == "" {
		errs = append(errs, errors.New("user_id is empty"))
	}
	r.Err = errors.Join(errs...)
}
