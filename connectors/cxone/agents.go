package cxone

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/applink-dev/applink/engine"
)

// userDoc is a CXone user as we send and read it. The path is CXone user
// management's; the field names are our assumption (see doc.go).
type userDoc struct {
	ID               json.RawMessage `json:"id,omitempty"`
	FirstName        string          `json:"firstName"`
	LastName         string          `json:"lastName"`
	EmailAddress     string          `json:"emailAddress"`
	Role             string          `json:"role,omitempty"`
	ExternalIdentity string          `json:"externalIdentity"` // the Engage user_id
	ACDLoginIDs      []string        `json:"acdLoginIds"`      // the Engage agent IDs
}

type userList struct {
	Users []userDoc `json:"users"`
}

// Agent finds the CXone user with a's email (matched, never duplicated),
// creates it when absent and updates it when its name or agent IDs changed.
// A refusal fails the agent through RunInfo.Fail and the run goes on; only
// a fatal error (authentication, cancellation) is returned.
func (s *Sink) Agent(ctx context.Context, a *engine.OutAgent) error {
	if !s.opened || s.done.Load() {
		return fmt.Errorf("cxone: Agent outside Open..Commit")
	}
	email := strings.ToLower(strings.TrimSpace(a.Email))
	want := userDoc{
		FirstName:        a.FirstName,
		LastName:         a.LastName,
		EmailAddress:     strings.TrimSpace(a.Email),
		ExternalIdentity: a.UserID,
		ACDLoginIDs:      slices.Sorted(slices.Values(a.AgentIDs)),
	}
	if s.opts.DryRun != nil {
		s.dryAgent(a, email, want)
		return nil
	}
	if email == "" {
		s.failAgent(a.UserID, "no_email")
		return nil
	}
	id, err := s.syncAgent(ctx, email, want)
	if err != nil {
		if isFatal(err) || ctx.Err() != nil {
			return err
		}
		s.failAgent(a.UserID, reason(err, s.red))
		return nil
	}
	s.mu.Lock()
	s.agents[strings.Clone(a.UserID)] = id
	s.mu.Unlock()
	return nil
}

func (s *Sink) failAgent(userID, why string) {
	s.stats.agentsFailed.Add(1)
	s.info.Fail("agent", userID, why)
}

func (s *Sink) usersURL() string { return s.cfg.APIURL + UsersPath }

func (s *Sink) syncAgent(ctx context.Context, email string, want userDoc) (string, error) {
	found, err := s.findUser(ctx, email)
	if err != nil {
		return "", err
	}
	if found == nil {
		create := want
		create.Role = s.opts.AgentRole
		body, err := json.Marshal(&create)
		if err != nil {
			return "", fmt.Errorf("encode user: %w", err)
		}
		resp, err := s.send(ctx, &request{method: "POST", url: s.usersURL(), contentType: "application/json", body: body, bearer: true})
		if err != nil {
			return "", err
		}
		var got userDoc
		_ = json.Unmarshal(resp.body, &got)
		if id := rawID(got.ID); id != "" && resp.status != 409 {
			s.stats.agentsCreated.Add(1)
			return id, nil
		}
		// 409: created meanwhile (a retried POST whose first answer was lost,
		// or another writer): look it up again and treat it as matched.
		if found, err = s.findUser(ctx, email); err != nil {
			return "", err
		}
		if found == nil {
			return "", fmt.Errorf("http_%d: user %s reported as existing but not found by email", resp.status, email)
		}
	}
	id := rawID(found.ID)
	if found.FirstName == want.FirstName && found.LastName == want.LastName &&
		found.ExternalIdentity == want.ExternalIdentity &&
		slices.Equal(slices.Sorted(slices.Values(found.ACDLoginIDs)), want.ACDLoginIDs) {
		s.stats.agentsMatched.Add(1)
		return id, nil
	}
	upd := want
	upd.EmailAddress = found.EmailAddress // keep CXone's spelling of the address
	body, err := json.Marshal(&upd)
	if err != nil {
		return "", fmt.Errorf("encode user: %w", err)
	}
	if _, err := s.send(ctx, &request{method: "PUT", url: s.usersURL() + "/" + url.PathEscape(id), contentType: "application/json", body: body, bearer: true}); err != nil {
		return "", err
	}
	s.stats.agentsUpdated.Add(1)
	return id, nil
}

// findUser returns the user whose email matches (trimmed, case-insensitive),
// or nil.
func (s *Sink) findUser(ctx context.Context, email string) (*userDoc, error) {
	resp, err := s.send(ctx, &request{method: "GET", url: s.usersURL() + "?email=" + url.QueryEscape(email), bearer: true})
	if err != nil {
		return nil, err
	}
	var list userList
	if err := json.Unmarshal(resp.body, &list); err != nil {
		return nil, fmt.Errorf("http_%d: user search answer is not JSON", resp.status)
	}
	for i := range list.Users {
		if strings.EqualFold(strings.TrimSpace(list.Users[i].EmailAddress), email) && rawID(list.Users[i].ID) != "" {
			return &list.Users[i], nil
		}
	}
	return nil, nil
}

func (s *Sink) dryAgent(a *engine.OutAgent, email string, want userDoc) {
	s.stats.agentsMatched.Add(1) // counted as a lookup
	fmt.Fprint(s.opts.DryRun, s.red.dumpRequest("GET", s.usersURL()+"?email="+url.QueryEscape(email), dryHeaders("", ""), "", nil, ""))
	want.Role = s.opts.AgentRole
	body, _ := json.Marshal(&want)
	fmt.Fprint(s.opts.DryRun, s.red.dumpRequest("POST", s.usersURL(), dryHeaders("application/json", ""), "application/json", body,
		""))
	fmt.Fprintf(s.opts.DryRun, "  # only when the email is not found; a found user is updated (PUT %s/{id}) if it differs\n", UsersPath)
	// Calls of this agent name a placeholder CXone id in the dry run.
	s.mu.Lock()
	s.agents[strings.Clone(a.UserID)] = "(cxone id of " + a.UserID + ")"
	s.mu.Unlock()
}
