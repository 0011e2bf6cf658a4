package cxone

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// annAgent is the Engage agent of TestAgentSync: untrimmed, mixed-case email,
// unsorted agent IDs.
func annAgent() *connector.OutAgent {
	return &connector.OutAgent{UserID: "u7", FirstName: "Ann", LastName: "Smith", Email: " Ann@Acme.example ", AgentIDs: []string{"1002", "1001"}, Active: true}
}

// annInCXone is Ann as a CXone admin set her up: fields applink does not
// own are all set.
func annInCXone() cxonetest.User {
	return cxonetest.User{FirstName: "Ann", LastName: "Smyth", EmailAddress: "ann@acme.EXAMPLE", Role: "Supervisor",
		UserName: "ann.smith", AssignedGroup: "Sales EU", TeamID: "team-7", ExternalIdentity: "sso|ann",
		ACDLoginIDs: []string{"1001"}, Other: map[string]any{"timeZone": "Europe/Brussels", "middleName": "Q", "rank": 3.0}}
}

func sameAsEngage(u cxonetest.User) cxonetest.User {
	u.LastName = "Smith"
	u.ACDLoginIDs = []string{"1002", "1001"}
	return u
}

// TestAgentSync: each way an Engage agent meets CXone user management.
func TestAgentSync(t *testing.T) {
	tests := []struct {
		name  string
		fake  cxonetest.Config
		seed  func(*cxonetest.Server) []string // returns the seeded ids
		block func(*dsl.Sink)
		agent *connector.OutAgent
		// want is "created", "matched", "updated" or the failure reason's
		// regexp; check inspects the tenant afterwards.
		want  string
		check func(t *testing.T, srv *cxonetest.Server, ids []string, got string)
	}{
		{name: "create", want: "created", check: func(t *testing.T, srv *cxonetest.Server, _ []string, got string) {
			u := only(t, srv)
			if u.ID != got || u.EmailAddress != "Ann@Acme.example" || u.Role != DefaultAgentRole || strings.Join(u.ACDLoginIDs, ",") != "1001,1002" ||
				u.ExternalIdentity != "" || u.FirstName != "Ann" || u.LastName != "Smith" {
				t.Errorf("registered %+v (agent mapped to %q)", u, got)
			}
		}},
		{name: "create with the block's role and external identity", block: func(c *dsl.Sink) { c.Role = "Agent Plus"; c.ExternalIdentity = true },
			want: "created", check: func(t *testing.T, srv *cxonetest.Server, _ []string, _ string) {
				if u := only(t, srv); u.Role != "Agent Plus" || u.ExternalIdentity != "u7" {
					t.Errorf("registered %+v", u)
				}
			}},
		{name: "match by email, any case", seed: seed(sameAsEngage(annInCXone())), want: "matched",
			check: func(t *testing.T, srv *cxonetest.Server, ids []string, got string) {
				if got != ids[0] || len(srv.UserUpdates()) != 0 || len(srv.UserCreates()) != 0 {
					t.Errorf("agent %q, updates %v, creates %v", got, srv.UserUpdates(), srv.UserCreates())
				}
				if u := only(t, srv); u.ExternalIdentity != "sso|ann" {
					t.Errorf("externalIdentity touched without external_identity: %+v", u)
				}
			}},
		{name: "update changes only names and agent IDs", seed: seed(annInCXone()), want: "updated",
			check: func(t *testing.T, srv *cxonetest.Server, ids []string, got string) {
				u := only(t, srv)
				want := annInCXone()
				if got != ids[0] || u.LastName != "Smith" || strings.Join(u.ACDLoginIDs, ",") != "1001,1002" {
					t.Errorf("not updated: %+v", u)
				}
				// Kept as CXone had them:
				if u.AssignedGroup != want.AssignedGroup || u.UserName != want.UserName || u.TeamID != want.TeamID ||
					u.Role != want.Role || u.ExternalIdentity != want.ExternalIdentity || u.EmailAddress != want.EmailAddress ||
					u.Other["timeZone"] != "Europe/Brussels" || u.Other["middleName"] != "Q" || u.Other["rank"] != 3.0 || u.Status != "ACTIVE" {
					t.Errorf("a field applink does not own changed: %+v", u)
				}
				if u.EmailToBeVerified != want.EmailAddress {
					t.Errorf("emailToBeVerified %q, want the current address", u.EmailToBeVerified)
				}
			}},
		{name: "update with external_identity writes the Engage user id", block: func(c *dsl.Sink) { c.ExternalIdentity = true },
			seed: seed(sameAsEngage(annInCXone())), want: "updated",
			check: func(t *testing.T, srv *cxonetest.Server, _ []string, _ string) {
				if u := only(t, srv); u.ExternalIdentity != "u7" || u.AssignedGroup != "Sales EU" {
					t.Errorf("after update %+v", u)
				}
			}},
		{name: "duplicate hit", seed: seed(annInCXone(), cxonetest.User{FirstName: "A", LastName: "S", EmailAddress: "ANN@acme.example", Role: "Agent"}),
			want: `^cxone_duplicate_user: 2 CXone users have the email Ann@Acme.example \(11eb\S+, 11eb\S+\); applink does not guess`,
			check: func(t *testing.T, srv *cxonetest.Server, _ []string, _ string) {
				if len(srv.UserUpdates())+len(srv.UserCreates()) != 0 || len(srv.Users()) != 2 {
					t.Errorf("a duplicate hit wrote: updates %v, creates %v", srv.UserUpdates(), srv.UserCreates())
				}
			}},
		{name: "only a deleted user", seed: seed(cxonetest.User{FirstName: "Ann", LastName: "Smith", EmailAddress: "ann@acme.example", Role: "Agent", Status: "DELETED"}),
			want: `^cxone_user_deleted: the CXone user with the email Ann@Acme.example \(11eb\S+\) is DELETED`},
		{name: "a deleted and a live user", seed: seed(cxonetest.User{EmailAddress: "ann@acme.example", Role: "Agent", Status: "DELETED"}, sameAsEngage(annInCXone())),
			want: "matched", check: func(t *testing.T, _ *cxonetest.Server, ids []string, got string) {
				if got != ids[1] {
					t.Errorf("matched %q, want the live user %q", got, ids[1])
				}
			}},
		{name: "a loose search hit is not a match", seed: seed(cxonetest.User{FirstName: "Jo", LastName: "Ann", EmailAddress: "joann@acme.example", Role: "Agent"}),
			want: "created", check: func(t *testing.T, srv *cxonetest.Server, _ []string, _ string) {
				if len(srv.Users()) != 2 || srv.UserCreates()["ann@acme.example"] != 1 {
					t.Errorf("users %+v", srv.Users())
				}
			}},
		{name: "a user lacking a field the update requires", seed: func(s *cxonetest.Server) []string {
			return []string{s.AddUserDoc(map[string]any{"firstName": "Ann", "lastName": "Smyth", "emailAddress": "ann@acme.example", "role": "Agent", "userName": "ann", "status": "ACTIVE"})}
		}, want: `^cxone_user_incomplete: CXone user 11eb\S+ has no assignedGroup in its read, and the published update requires it`,
			check: func(t *testing.T, srv *cxonetest.Server, _ []string, _ string) {
				if len(srv.UserUpdates()) != 0 {
					t.Error("an update was sent anyway")
				}
			}},
		{name: "exact search: the lower-cased spelling is found", fake: cxonetest.Config{ExactSearch: true},
			seed: seed(func() cxonetest.User { u := sameAsEngage(annInCXone()); u.EmailAddress = "ann@acme.example"; return u }()), want: "matched"},
		{name: "exact search: another spelling fails, never duplicates", fake: cxonetest.Config{ExactSearch: true},
			seed: seed(annInCXone()), want: `^http_409: user Ann@Acme.example reported as existing but not found by email$`,
			check: func(t *testing.T, srv *cxonetest.Server, _ []string, _ string) {
				if len(srv.Users()) != 1 {
					t.Errorf("users %+v", srv.Users())
				}
			}},
		{name: "no email", agent: &connector.OutAgent{UserID: "u7", FirstName: "No", LastName: "Mail", AgentIDs: []string{"1"}}, want: `^no_email$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := cxonetest.New(tt.fake)
			defer srv.Close()
			var ids []string
			if tt.seed != nil {
				ids = tt.seed(srv)
			}
			h := newHarness(t, srv, func(c *dsl.Sink, _ *Options) {
				if tt.block != nil {
					tt.block(c)
				}
			})
			ctx := context.Background()
			if err := h.open(ctx); err != nil {
				t.Fatal(err)
			}
			a := tt.agent
			if a == nil {
				a = annAgent()
			}
			if err := h.sink.Agent(ctx, a); err != nil {
				t.Fatal(err)
			}
			if err := h.sink.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			st := h.sink.Stats()
			outcome := map[string]int64{"created": st.AgentsCreated, "matched": st.AgentsMatched, "updated": st.AgentsUpdated}
			reason, failed := h.fail["agent:u7"]
			if n, ok := outcome[tt.want]; ok {
				if failed || n != 1 || st.AgentsCreated+st.AgentsMatched+st.AgentsUpdated != 1 {
					t.Fatalf("want %s; stats %+v, failure %q", tt.want, st, reason)
				}
			} else if !failed || !regexp.MustCompile(tt.want).MatchString(reason) {
				t.Fatalf("failure %q (failed %v), want /%s/", reason, failed, tt.want)
			}
			if tt.check != nil {
				tt.check(t, srv, ids, h.sink.agents["u7"])
			}
			publishedOnly(t, srv)
			h.noSecrets()
		})
	}
}

func seed(users ...cxonetest.User) func(*cxonetest.Server) []string {
	return func(s *cxonetest.Server) []string {
		var ids []string
		for _, u := range users {
			ids = append(ids, s.AddUser(u).ID)
		}
		return ids
	}
}

func only(t *testing.T, srv *cxonetest.Server) cxonetest.User {
	t.Helper()
	users := srv.Users()
	if len(users) != 1 {
		t.Fatalf("users %+v, want one", users)
	}
	return users[0]
}

// publishedOnly fails when the sink sent a user-management request the
// published API does not have, or a body the fake's schemas refused.
func publishedOnly(t *testing.T, srv *cxonetest.Server) {
	t.Helper()
	allowed := []string{"POST " + UsersSearchPath, "POST " + UsersPath, "PUT " + UsersPath}
	for _, r := range srv.Requests() {
		if !strings.HasPrefix(r.Path, "/user-management/") {
			continue
		}
		if !slices.Contains(allowed, r.Method+" "+r.Path) && !(r.Method == "GET" && strings.HasPrefix(r.Path, "/user-management/v3/users/")) {
			t.Errorf("unpublished request %s %s", r.Method, r.Path)
		}
		if r.Status == 400 || r.Status == 404 {
			t.Errorf("%s %s refused %d: %s", r.Method, r.Path, r.Status, r.Body)
		}
	}
}

func TestUpdateBody(t *testing.T) {
	read := map[string]json.RawMessage{
		"id": json.RawMessage(`"x"`), "firstName": json.RawMessage(`"Old"`), "lastName": json.RawMessage(`"Name"`),
		"emailAddress": json.RawMessage(`"a@b.example"`), "assignedGroup": json.RawMessage(`"G"`), "role": json.RawMessage(`"Agent"`),
		"userName": json.RawMessage(`"a"`), "teamId": json.RawMessage(`null`), "status": json.RawMessage(`"ACTIVE"`),
		"customAttributes": json.RawMessage(`{"k":{"id":"k","values":[{"value":"v"}]}}`), "middleName": json.RawMessage(`"M"`),
	}
	body, err := updateBody("x", read, wantUser{userID: "u1", firstName: "New", lastName: "Name", loginIDs: []string{"7"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"acdInfos":[{"loginId":"7"}],"assignedGroup":"G","customAttributes":{"k":{"id":"k","values":[{"value":"v"}]}},` +
		`"emailAddress":"a@b.example","emailToBeVerified":"a@b.example","firstName":"New","id":"x","lastName":"Name","role":"Agent","userName":"a"}`
	if string(body) != want {
		t.Errorf("update body\n%s\nwant\n%s", body, want)
	}
}
