package cxone

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/applink-dev/applink/engine/connector"
)

// User Management as published (developer portal, User Hub, "User
// Management API", document cxone-usermanagement-api-docs).
const (
	UsersSearchPath = "/user-management/v2/users/search" // POST: find by email
	UsersPath       = "/user-management/v1/users"        // POST: register; PUT: update (id in the body)
	UserPathV3      = "/user-management/v3/users/{userId}"
)

// updateFields are the properties of the published UserUpdateRequest.
// An update sends back every one of them that the v3 read returned, so
// that what applink does not own stays as CXone has it.
var updateFields = []string{"id", "firstName", "lastName", "emailAddress", "customAttributes", "mobileNumber",
	"assignedGroup", "rank", "timeZone", "role", "teamId", "hireDate", "acdInfos", "groupIds", "userName",
	"applicationAttributes", "emailToBeVerified", "externalIdentity", "billable", "secondaryRoleIds", "views"}

// updateRequired are the UserUpdateRequest's required properties.
var updateRequired = []string{"id", "firstName", "lastName", "emailAddress", "assignedGroup", "role", "userName", "emailToBeVerified"}

// searchPageSize is top of a user search; searchMaxPages bounds how far a
// search pages through loose matches before giving up.
const (
	searchPageSize = 100
	searchMaxPages = 20
)

type acdInfo struct {
	LoginID string `json:"loginId"`
}

// registration is the published UserRegistrationRequest, with the fields
// applink sets (required: firstName, lastName, emailAddress, role).
type registration struct {
	FirstName        string    `json:"firstName"`
	LastName         string    `json:"lastName"`
	EmailAddress     string    `json:"emailAddress"`
	Role             string    `json:"role"`
	ACDInfos         []acdInfo `json:"acdInfos"`
	ExternalIdentity string    `json:"externalIdentity,omitempty"`
}

// registered is the published RegisterUserResponse.
type registered struct {
	Success *bool  `json:"success"`
	Message string `json:"message"`
	Error   string `json:"error"`
	UUID    string `json:"uuid"`
}

type searchRequest struct {
	Filter map[string][]string `json:"filter"`
	Fields []string            `json:"fields"`
	Skip   int                 `json:"skip"`
	Top    int                 `json:"top"`
}

// searchFields are what a search asks back: enough to match and to tell
// whether the user differs, without a read.
var searchFields = []string{"id", "emailAddress", "firstName", "lastName", "status", "acdInfos", "externalIdentity"}

type searchedUser struct {
	ID               string    `json:"id"`
	EmailAddress     string    `json:"emailAddress"`
	FirstName        string    `json:"firstName"`
	LastName         string    `json:"lastName"`
	Status           string    `json:"status"`
	ACDInfos         []acdInfo `json:"acdInfos"`
	ExternalIdentity string    `json:"externalIdentity"`
}

type searchResponse struct {
	TotalRecords int            `json:"totalRecords"`
	Users        []searchedUser `json:"users"`
}

// wantUser is what applink owns in a CXone user.
type wantUser struct {
	userID, firstName, lastName, email string
	loginIDs                           []string // sorted
}

// AgentOutcome is what SyncAgent did.
type AgentOutcome int

const (
	AgentMatched AgentOutcome = iota // found, already as Engage has it
	AgentCreated                     // registered
	AgentUpdated                     // found and updated
)

// SyncAgent finds the CXone user with a's email (matched, never
// duplicated), registers it when absent and updates it when its name or
// agent IDs changed; it returns the CXone user id. A refusal is an
// connector.Failure (the agent fails, the run goes on); other errors
// (*AuthError, a cancelled context) are not the agent's.
func (c *Client) SyncAgent(ctx context.Context, a *connector.OutAgent) (string, AgentOutcome, error) {
	want := wantOf(a)
	if want.email == "" {
		return "", 0, connector.Failure{Code: connector.ReasonNoEmail, Permanent: true}
	}
	if err := c.Connect(ctx); err != nil {
		return "", 0, err
	}
	return c.syncAgent(ctx, want)
}

func wantOf(a *connector.OutAgent) wantUser {
	return wantUser{
		userID:    a.UserID,
		firstName: a.FirstName,
		lastName:  a.LastName,
		email:     strings.TrimSpace(a.Email),
		loginIDs:  slices.Sorted(slices.Values(a.AgentIDs)),
	}
}

func loginIDs(infos []acdInfo) []string {
	ids := make([]string, 0, len(infos))
	for _, i := range infos {
		ids = append(ids, i.LoginID)
	}
	slices.Sort(ids)
	return ids
}

func acdInfos(ids []string) []acdInfo {
	out := make([]acdInfo, 0, len(ids))
	for _, id := range ids {
		out = append(out, acdInfo{LoginID: id})
	}
	return out
}

func (c *Client) syncAgent(ctx context.Context, want wantUser) (string, AgentOutcome, error) {
	found, err := c.findUser(ctx, want.email)
	if err != nil {
		return "", 0, err
	}
	if found == nil {
		id, conflict, err := c.registerUser(ctx, want)
		if err != nil || !conflict {
			return id, AgentCreated, err
		}
		// 409: registered meanwhile (a retried POST whose first answer was
		// lost, or another writer): look it up again, then as if found.
		if found, err = c.findUser(ctx, want.email); err != nil {
			return "", 0, err
		}
		if found == nil {
			return "", 0, connector.Failure{Code: "http_409", Detail: fmt.Sprintf("user %s reported as existing but not found by email", want.email), Permanent: true}
		}
	}
	if found.FirstName == want.firstName && found.LastName == want.lastName &&
		slices.Equal(loginIDs(found.ACDInfos), want.loginIDs) &&
		(!c.cfg.ExternalIdentity || found.ExternalIdentity == want.userID) {
		return found.ID, AgentMatched, nil
	}
	if err := c.updateUser(ctx, found.ID, want); err != nil {
		return "", 0, err
	}
	return found.ID, AgentUpdated, nil
}

// searchBody asks for the users whose emailAddress is email. How CXone
// compares a filter value is not published: the list carries the address
// as Engage spells it and lower-cased, so that an exact, case-sensitive
// comparison still finds the usual spellings.
func searchBody(email string, skip int) []byte {
	values := []string{email}
	if low := strings.ToLower(email); low != email {
		values = append(values, low)
	}
	b, _ := json.Marshal(&searchRequest{
		Filter: map[string][]string{"emailAddress": values},
		Fields: searchFields,
		Skip:   skip,
		Top:    searchPageSize,
	})
	return b
}

// findUser returns the one live CXone user whose email is email (trimmed,
// case-insensitive), or nil. The search's own matching is not published,
// so the exact match is picked here from what it returns. Two live users
// with the email, or only a deleted one, are refusals: applink never
// guesses which user an agent is.
func (c *Client) findUser(ctx context.Context, email string) (*searchedUser, error) {
	key := strings.ToLower(email)
	var hits, deleted []searchedUser
	seen := 0
	for page := 0; ; page++ {
		if page == searchMaxPages {
			return nil, connector.Failure{Code: "cxone_search_too_broad", Permanent: true, Detail: fmt.Sprintf("the user search for %s returned more than %d users", email, seen)}
		}
		resp, err := c.send(ctx, &request{method: "POST", url: c.api(UsersSearchPath), family: FamilyUserManagement, contentType: "application/json", body: searchBody(email, seen), bearer: true})
		if err != nil {
			return nil, err
		}
		var ans searchResponse
		if err := json.Unmarshal(resp.body, &ans); err != nil {
			return nil, connector.Failure{Code: fmt.Sprintf("http_%d", resp.status), Detail: "user search answer is not JSON"}
		}
		for _, u := range ans.Users {
			if strings.ToLower(strings.TrimSpace(u.EmailAddress)) != key || u.ID == "" {
				continue
			}
			if strings.EqualFold(u.Status, "DELETED") {
				deleted = append(deleted, u)
			} else {
				hits = append(hits, u)
			}
		}
		seen += len(ans.Users)
		if len(ans.Users) == 0 || seen >= ans.TotalRecords {
			break
		}
	}
	switch {
	case len(hits) > 1:
		ids := make([]string, 0, len(hits))
		for _, h := range hits {
			ids = append(ids, h.ID)
		}
		return nil, connector.Failure{Code: "cxone_duplicate_user", Permanent: true, Detail: fmt.Sprintf("%d CXone users have the email %s (%s); applink does not guess which is the agent: merge them or change one email in CXone",
			len(hits), email, strings.Join(ids, ", "))}
	case len(hits) == 1:
		return &hits[0], nil
	case len(deleted) > 0:
		return nil, connector.Failure{Code: "cxone_user_deleted", Permanent: true, Detail: fmt.Sprintf("the CXone user with the email %s (%s) is DELETED; revive it in CXone or change the agent's email", email, deleted[0].ID)}
	}
	return nil, nil
}

// registerUser creates the user; conflict reports a 409 (already there).
func (c *Client) registerUser(ctx context.Context, want wantUser) (id string, conflict bool, err error) {
	reg := registration{
		FirstName:    want.firstName,
		LastName:     want.lastName,
		EmailAddress: want.email,
		Role:         c.cfg.Role,
		ACDInfos:     acdInfos(want.loginIDs),
	}
	if c.cfg.ExternalIdentity {
		reg.ExternalIdentity = want.userID
	}
	body, err := json.Marshal(&reg)
	if err != nil {
		return "", false, connector.Failure{Code: "encode", Detail: "user: " + err.Error(), Permanent: true}
	}
	resp, err := c.send(ctx, &request{method: "POST", url: c.api(UsersPath), family: FamilyUserManagement, contentType: "application/json", body: body, bearer: true})
	if err != nil {
		return "", false, err
	}
	if resp.status == 409 {
		return "", true, nil
	}
	var ans registered
	_ = json.Unmarshal(resp.body, &ans)
	if ans.UUID == "" || (ans.Success != nil && !*ans.Success) {
		text := ans.Error
		if text == "" {
			text = ans.Message
		}
		return "", false, connector.Failure{Code: fmt.Sprintf("http_%d", resp.status), Detail: "the registration answered no uuid: " + c.red.clean(errorText([]byte(text), resp.status))}
	}
	return ans.UUID, false, nil
}

// updateUser reads the user (v3) and PUTs it back with applink's fields
// changed: names, acdInfos and, with external_identity, externalIdentity.
// Every other field of the update schema goes back exactly as read; one
// the update requires but the read lacks is a refusal, never invented,
// except emailToBeVerified (see CONTRACT.md).
func (c *Client) updateUser(ctx context.Context, id string, want wantUser) error {
	resp, err := c.send(ctx, &request{method: "GET", url: c.api(strings.ReplaceAll(UserPathV3, "{userId}", url.PathEscape(id))), family: FamilyUserManagement, bearer: true})
	if err != nil {
		return err
	}
	var read struct {
		User map[string]json.RawMessage `json:"user"`
	}
	if err := json.Unmarshal(resp.body, &read); err != nil || read.User == nil {
		return connector.Failure{Code: fmt.Sprintf("http_%d", resp.status), Detail: "the user read answered no user"}
	}
	body, err := updateBody(id, read.User, want, c.cfg.ExternalIdentity)
	if err != nil {
		return err
	}
	_, err = c.send(ctx, &request{method: "PUT", url: c.api(UsersPath), family: FamilyUserManagement, contentType: "application/json", body: body, bearer: true})
	return err
}

func isNull(m json.RawMessage) bool {
	m = bytes.TrimSpace(m)
	return len(m) == 0 || string(m) == "null"
}

// updateBody builds the UserUpdateRequest from the user as read.
func updateBody(id string, read map[string]json.RawMessage, want wantUser, externalIdentity bool) ([]byte, error) {
	out := make(map[string]json.RawMessage, len(updateFields))
	for _, k := range updateFields {
		if v, ok := read[k]; ok && !isNull(v) {
			out[k] = v
		}
	}
	set := func(k string, v any) {
		b, _ := json.Marshal(v)
		out[k] = b
	}
	set("id", id)
	set("firstName", want.firstName)
	set("lastName", want.lastName)
	set("acdInfos", acdInfos(want.loginIDs))
	if externalIdentity {
		set("externalIdentity", want.userID)
	}
	if _, ok := out["emailToBeVerified"]; !ok {
		// No pending change of address: the current one (assumed; the
		// schema requires the field without saying what "none" is).
		if e, ok := out["emailAddress"]; ok {
			out["emailToBeVerified"] = e
		}
	}
	for _, k := range updateRequired {
		if _, ok := out[k]; !ok {
			return nil, connector.Failure{Code: "cxone_user_incomplete", Permanent: true, Detail: fmt.Sprintf("CXone user %s has no %s in its read, and the published update requires it; applink does not invent it: set it in CXone", id, k)}
		}
	}
	return json.Marshal(out)
}

func (s *Sink) dryAgent(a *connector.OutAgent, want wantUser) {
	s.stats.agentsMatched.Add(1) // counted as a lookup
	h := dryHeaders("application/json", "")
	fmt.Fprint(s.opts.DryRun, s.c.red.dumpRequest("POST", s.dryAPI(UsersSearchPath), h, "application/json", searchBody(want.email, 0), ""))
	reg := registration{FirstName: want.firstName, LastName: want.lastName, EmailAddress: want.email, Role: s.c.cfg.Role, ACDInfos: acdInfos(want.loginIDs)}
	if s.c.cfg.ExternalIdentity {
		reg.ExternalIdentity = want.userID
	}
	body, _ := json.Marshal(&reg)
	fmt.Fprint(s.opts.DryRun, s.c.red.dumpRequest("POST", s.dryAPI(UsersPath), h, "application/json", body, ""))
	fmt.Fprintf(s.opts.DryRun, "  # only when no user has this email; a found user that differs is read (GET %s) and written back (PUT %s) with only its names and acdInfos changed\n", UserPathV3, UsersPath)
	// Calls of this agent name a placeholder CXone id in the dry run.
	s.mu.Lock()
	s.agents[strings.Clone(a.UserID)] = "(cxone id of " + a.UserID + ")"
	s.mu.Unlock()
}
