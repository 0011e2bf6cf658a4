package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/expr-lang/expr/vm"
)

// user is one Engage user, all its agents.csv rows merged.
type user struct {
	rec      connector.AgentRecord // the first readable row
	agentIDs []string
	isAgent  bool
	bad      string // detail of a bad row of this user; the user is then failed
	reason   string // agent-rule reason; "" when synced
	env      dsl.Agent
}

// agentIndex is what the call phase needs from the agent phase.
type agentIndex struct {
	users     []*user          // in order of first appearance
	byAgentID map[string]*user // every agent ID of every agent user
}

// readAgents merges the agents of every source (the sites of one Engage system
// list the same users, so rows are merged by user_id and agent IDs unioned).
func readAgents(ctx context.Context, srcs []connector.Source, sum *RunRecord) (*agentIndex, error) {
	idx := &agentIndex{byAgentID: map[string]*user{}}
	byUser := map[string]*user{}
	for i, src := range srcs {
		err := src.ReadAgents(ctx, func(r *connector.AgentRecord) error {
			if r.Err != nil {
				sum.badRow(r.Pos, r.UserID, r.Err)
				if r.UserID == "" {
					return nil
				}
			}
			u := byUser[r.UserID]
			if u == nil {
				u = &user{rec: *r}
				byUser[r.UserID] = u
				idx.users = append(idx.users, u)
			}
			if r.Err != nil {
				if u.bad == "" {
					u.bad = fmt.Sprintf("%s: %v", r.Pos, r.Err)
				}
				return nil
			}
			if u.rec.Err != nil { // the first row was bad: take this one's data
				u.rec = *r
			}
			if r.IsAgent {
				u.isAgent = true
			}
			if id := strings.TrimSpace(r.AgentID); id != "" && !contains(u.agentIDs, id) {
				u.agentIDs = append(u.agentIDs, id)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read agents of source %d: %w", i+1, err)
		}
	}
	for _, u := range idx.users {
		sort.Strings(u.agentIDs)
		u.env = dsl.Agent{
			UserID: u.rec.UserID, AgentIDs: u.agentIDs, FirstName: u.rec.FirstName, LastName: u.rec.LastName,
			Email: strings.TrimSpace(u.rec.Email), Active: u.rec.Active, TenantID: u.rec.TenantID, CreatedAt: u.rec.CreatedAt,
		}
		if u.isAgent && u.bad == "" {
			for _, id := range u.agentIDs {
				if _, dup := idx.byAgentID[id]; !dup {
					idx.byAgentID[id] = u
				}
			}
		}
	}
	return idx, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// classifyAgents applies AgentRules in order. Duplicate emails are decided
// among the agents that passed the rules before it (agents of this tenant
// with an email), before the spec's agent filter: the earliest created_at
// keeps the email, ties broken by user_id.
// A filter that fails at run time on a user excludes it and is reported as a
// warning, so one odd row never stops a run.
func classifyAgents(idx *agentIndex, agents *dsl.Filter, tenantOK func(int64) (bool, error), warn func(string)) {
	var candidates []*user
	for _, u := range idx.users {
		switch {
		case u.bad != "":
			u.reason = connector.ReasonBadRow
		case !u.isAgent || len(u.agentIDs) == 0:
			u.reason = connector.ReasonNotAgent
		default:
			ok, err := tenantOK(u.rec.TenantID) // err names the filter's place in the spec
			if err != nil {
				warn(fmt.Sprintf("user %s: %v", u.rec.UserID, err))
			}
			switch {
			case !ok:
				u.reason = connector.ReasonOtherTenant
			case u.env.Email == "":
				u.reason = connector.ReasonNoEmail
			default:
				candidates = append(candidates, u)
			}
		}
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		a, b := candidates[i], candidates[j]
		if !a.rec.CreatedAt.Equal(b.rec.CreatedAt) {
			return a.rec.CreatedAt.Before(b.rec.CreatedAt)
		}
		return a.rec.UserID < b.rec.UserID
	})
	owner := map[string]*user{}
	for _, u := range candidates {
		key := normEmail(u.env.Email)
		if _, taken := owner[key]; taken {
			u.reason = connector.ReasonDuplicateEmail
			continue
		}
		owner[key] = u
	}
	if agents == nil {
		return
	}
	var machine vm.VM
	env := &dsl.AgentEnv{}
	for _, u := range candidates {
		if u.reason != "" {
			continue
		}
		env.Agent = &u.env
		out, err := machine.Run(agents.Program, env)
		if err != nil {
			warn(fmt.Sprintf("user %s: %v", u.rec.UserID, agents.RunError(err)))
		}
		if ok, _ := out.(bool); !ok {
			u.reason = connector.ReasonFilteredOut
		}
	}
}

// outAgent is the sink's view of a synced user.
func (u *user) outAgent() *connector.OutAgent {
	return &connector.OutAgent{
		UserID: u.rec.UserID, FirstName: u.rec.FirstName, LastName: u.rec.LastName,
		Email: u.env.Email, AgentIDs: u.agentIDs, Active: u.rec.Active, TenantID: u.rec.TenantID,
	}
}

func (u *user) ledger() connector.LedgerRow {
	switch u.reason {
	case "":
		return connector.LedgerRow{Entity: "agent", ID: u.rec.UserID, State: connector.StateImported}
	case connector.ReasonBadRow:
		return connector.LedgerRow{Entity: "agent", ID: u.rec.UserID, State: connector.StateFailed, Reason: connector.ReasonBadRow, Detail: u.bad}
	default:
		return connector.LedgerRow{Entity: "agent", ID: u.rec.UserID, State: connector.StateExcluded, Reason: u.reason}
	}
}
