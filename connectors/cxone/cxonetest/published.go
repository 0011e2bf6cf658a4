package cxonetest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// This file is the fake's half that follows what NICE publishes:
// discovery and the token endpoint (developer portal, "Getting Started"
// and "API Authentication and Authorization"), User Management (the User
// Hub OpenAPI document cxone-usermanagement-api-docs) and the Business
// Data API (CXone help, "Business Data API"). The schemas below are that
// document's, field by field; they are written out here again, apart from
// the sink's, on purpose: a fake that shared the sink's idea of the schema
// could not catch the sink's mistakes.

const (
	tokenPath     = "/auth/token"
	usersV1       = "/user-management/v1/users"
	usersSearchV2 = "/user-management/v2/users/search"
	usersV3       = "/user-management/v3/users"
	bdPrefix      = "/business-data-manager/v1/business-data/contact/"
)

// Defaults the fake gives a registered user for the fields CXone fills in
// itself. Which values a real tenant uses is not published (assumed).
const (
	DefaultGroup  = "Default Group"
	DefaultTeamID = "11eb0000-0000-4000-8000-0000000d7ea0"
)

// UserRegistrationRequest (POST /user-management/v1/users).
var (
	registerFields = []string{"firstName", "lastName", "emailAddress", "customAttributes", "mobileNumber", "assignedGroup",
		"rank", "timeZone", "role", "teamId", "hireDate", "acdInfos", "groupIds", "userName", "applicationAttributes",
		"emailToBeVerified", "externalIdentity", "billable", "secondaryRoleIds", "views"}
	registerRequired = []string{"firstName", "lastName", "emailAddress", "role"}

	// UserUpdateRequest (PUT /user-management/v1/users): the registration
	// fields and id.
	updateFields   = append(slices.Clone(registerFields), "id")
	updateRequired = []string{"id", "firstName", "lastName", "emailAddress", "assignedGroup", "role", "userName", "emailToBeVerified"}

	// UserV3 (GET /user-management/v3/users/{userId} → {user}).
	userV3Fields = []string{"id", "userName", "firstName", "middleName", "displayName", "lastName", "emailAddress",
		"customAttributes", "type", "mobileNumber", "mobileNumber2", "assignedGroup", "rank", "country", "timeZone", "role",
		"roleUUID", "hireDate", "status", "acdInfos", "groupIds", "deletedDate", "impersonated", "billable", "teamId",
		"externalIdentity", "emailToBeVerified", "secondaryRoleIds", "views", "fullName", "loginAuthenticatorId"}

	// SearchedUser (POST /user-management/v2/users/search → {users}).
	searchedUserFields = []string{"id", "userName", "firstName", "lastName", "middleName", "displayName", "emailAddress",
		"customAttributes", "mobileNumber", "mobileNumber2", "assignedGroup", "rank", "country", "timeZone", "role",
		"roleUUID", "type", "hireDate", "status", "invitationExpired", "acdUserMappings", "acdInfos", "groupIds",
		"deletedDate", "impersonated", "billable", "modifiable", "passwordPolicyUpdated", "teamId", "externalIdentity",
		"creationDate", "emailToBeVerified", "secondaryRoleIds", "fullName", "views", "divisionId"}

	// SearchRequest.
	searchFields = []string{"filter", "fields", "operations", "skip", "top", "orderBy"}

	// Fields typed string in the request schemas; acdInfos and the arrays
	// of ids are checked on their own, the rest (customAttributes,
	// applicationAttributes, views) is passed through.
	stringFields = []string{"id", "firstName", "lastName", "emailAddress", "mobileNumber", "assignedGroup", "timeZone",
		"role", "teamId", "hireDate", "userName", "emailToBeVerified", "externalIdentity"}
)

// User is a CXone user as tests seed and inspect it: the fields of the
// published user that matter here; Other holds any further published field.
type User struct {
	ID, UserName, FirstName, LastName, EmailAddress string
	Role, AssignedGroup, TeamID, Status             string
	ExternalIdentity, EmailToBeVerified             string
	ACDLoginIDs                                     []string
	Other                                           map[string]any
}

func (u User) doc() map[string]any {
	d := map[string]any{}
	for k, v := range u.Other {
		d[k] = v
	}
	for k, v := range map[string]string{"id": u.ID, "userName": u.UserName, "firstName": u.FirstName, "lastName": u.LastName,
		"emailAddress": u.EmailAddress, "role": u.Role, "assignedGroup": u.AssignedGroup, "teamId": u.TeamID, "status": u.Status,
		"externalIdentity": u.ExternalIdentity, "emailToBeVerified": u.EmailToBeVerified} {
		if v != "" {
			d[k] = v
		}
	}
	if u.ACDLoginIDs != nil {
		infos := []any{}
		for _, id := range u.ACDLoginIDs {
			infos = append(infos, map[string]any{"loginId": id})
		}
		d["acdInfos"] = infos
	}
	return d
}

func userOf(d map[string]any) User {
	str := func(k string) string { s, _ := d[k].(string); return s }
	u := User{ID: str("id"), UserName: str("userName"), FirstName: str("firstName"), LastName: str("lastName"),
		EmailAddress: str("emailAddress"), Role: str("role"), AssignedGroup: str("assignedGroup"), TeamID: str("teamId"),
		Status: str("status"), ExternalIdentity: str("externalIdentity"), EmailToBeVerified: str("emailToBeVerified"), Other: map[string]any{}}
	if infos, ok := d["acdInfos"].([]any); ok {
		u.ACDLoginIDs = []string{}
		for _, it := range infos {
			if m, ok := it.(map[string]any); ok {
				s, _ := m["loginId"].(string)
				u.ACDLoginIDs = append(u.ACDLoginIDs, s)
			}
		}
	}
	for k, v := range d {
		switch k {
		case "id", "userName", "firstName", "lastName", "emailAddress", "role", "assignedGroup", "teamId", "status",
			"externalIdentity", "emailToBeVerified", "acdInfos":
		default:
			u.Other[k] = v
		}
	}
	return u
}

// AddUser seeds an existing CXone user. Empty ID, UserName, AssignedGroup,
// TeamID and Status get what a registration would give them.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := u.doc()
	s.defaults(d)
	s.users[d["id"].(string)] = d
	return userOf(d)
}

// AddUserDoc seeds a user exactly as given (no defaults): for users that
// lack a field the update requires. It returns the id.
func (s *Server) AddUserDoc(doc map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := map[string]any{}
	for k, v := range doc {
		d[k] = v
	}
	if id, _ := d["id"].(string); id == "" {
		d["id"] = s.newUserID()
	}
	s.users[d["id"].(string)] = d
	return d["id"].(string)
}

// Users returns the users, by ID order.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []User
	for _, d := range s.users {
		out = append(out, userOf(d))
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// UserCreates counts applied registrations by lower-cased email.
func (s *Server) UserCreates() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyCounts(s.userWrite)
}

// UserUpdates counts applied updates by user id.
func (s *Server) UserUpdates() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyCounts(s.updates)
}

func (s *Server) newUserID() string {
	s.nextUser++
	return fmt.Sprintf("11eb0000-0000-4000-8000-%012d", s.nextUser)
}

func (s *Server) defaults(d map[string]any) {
	if id, _ := d["id"].(string); id == "" {
		d["id"] = s.newUserID()
	}
	for k, v := range map[string]string{"userName": fmt.Sprint(d["emailAddress"]), "assignedGroup": DefaultGroup, "teamId": DefaultTeamID, "status": "ACTIVE"} {
		if x, _ := d[k].(string); x == "" {
			d[k] = v
		}
	}
}

// --- discovery and tokens ---

func (s *Server) openIDConfiguration() result {
	return jsonResult(200, map[string]any{
		"issuer":                                s.URL,
		"authorization_endpoint":                s.URL + "/auth/authorize",
		"token_endpoint":                        s.URL + tokenPath,
		"jwks_uri":                              s.URL + "/auth/jwks",
		"response_types_supported":              []string{"code", "id_token", "token id_token"},
		"grant_types_supported":                 []string{"authorization_code", "password", "refresh_token", "client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (s *Server) cxoneConfiguration(q url.Values) result {
	t := q.Get("tenantId")
	switch {
	case t == "":
		return jsonResult(400, map[string]string{"message": "tenantId is required"})
	case t != s.cfg.TenantID:
		return jsonResult(404, map[string]string{"message": "tenant " + t + " not found"})
	}
	return jsonResult(200, map[string]any{
		"private":       false,
		"area":          "fake1",
		"cluster":       "F1",
		"domain":        "niceincontact.com",
		"acdDomain":     "nice-incontact.com",
		"uhDomain":      "niceincontact.com",
		"ui_endpoint":   "https://fake1.niceincontact.com",
		"auth_endpoint": s.URL,
		"api_endpoint":  s.APIURL,
		"tenantId":      s.cfg.TenantID,
	})
}

func (s *Server) token(r *http.Request, body []byte) result {
	if r.ProtoMajor != 1 {
		// Practitioners report the token call fails over HTTP/2.
		return jsonResult(400, map[string]string{"error": "invalid_request", "error_description": "the token endpoint speaks HTTP/1.1"})
	}
	if id, secret, ok := basicCredentials(r); r.Method != "POST" || !ok || id != s.cfg.ClientID || secret != s.cfg.ClientSecret {
		return jsonResult(401, map[string]string{"error": "invalid_client", "error_description": "bad client credentials"})
	}
	// Practitioners report that an access key holding '=' must be
	// form-encoded (%3D): a raw one is refused, as a lenient parser would
	// not notice.
	for _, pair := range strings.Split(string(body), "&") {
		if _, v, _ := strings.Cut(pair, "="); strings.ContainsAny(v, "= ") {
			return jsonResult(400, map[string]string{"error": "invalid_request", "error_description": "malformed form body: a value is not form-encoded"})
		}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("grant_type") != "password" {
		return jsonResult(400, map[string]string{"error": "unsupported_grant_type"})
	}
	if form.Get("username") != s.cfg.AccessKeyID || form.Get("password") != s.cfg.AccessKeySecret {
		return jsonResult(400, map[string]string{"error": "invalid_grant", "error_description": "bad access key"})
	}
	now := time.Now()
	tok, refresh := "tok-"+randHex(16), "rt-"+randHex(16)
	id := s.idToken(now)
	s.mu.Lock()
	s.tokens[tok] = now.Add(s.cfg.TokenTTL)
	s.secrets = append(s.secrets, refresh, id)
	s.issued++
	s.mu.Unlock()
	return jsonResult(200, map[string]any{
		"access_token": tok, "token_type": "bearer", "expires_in": int(s.cfg.TokenTTL / time.Second),
		"refresh_token": refresh, "id_token": id, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
	})
}

// basicCredentials reads HTTP Basic client credentials. RFC 6749 §2.3.1
// has the client form-encode id and secret before Basic: both spellings
// of a secret without reserved characters are the same.
func basicCredentials(r *http.Request) (id, secret string, ok bool) {
	id, secret, ok = r.BasicAuth()
	if !ok {
		return "", "", false
	}
	uid, err1 := url.QueryUnescape(id)
	usec, err2 := url.QueryUnescape(secret)
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	return uid, usec, true
}

// idToken is a JWT whose payload carries the tenantId claim. Its signature
// is random bytes: the sink reads the claim as a hint and does not verify.
func (s *Server) idToken(now time.Time) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "fake"})
	p, _ := json.Marshal(map[string]any{"iss": s.URL, "sub": "user:" + s.cfg.AccessKeyID[:4], "aud": s.cfg.ClientID,
		"iat": now.Unix(), "exp": now.Add(s.cfg.TokenTTL).Unix(), "tenantId": s.cfg.TenantID, "name": "applink"})
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "." + enc.EncodeToString([]byte(randHex(32)))
}

// --- user management ---

// badRequest is the published ErrorResponse (code, details, errors).
func badRequest(format string, args ...any) result {
	return jsonResult(400, map[string]any{"code": "BAD_REQUEST", "details": fmt.Sprintf(format, args...), "entityType": "user"})
}

// checkUserBody decodes a registration or update body: it refuses a field
// the schema does not have, a required field missing or null, and a value
// of the wrong type for the fields the fake knows the type of.
func checkUserBody(body []byte, allowed, required []string) (map[string]any, *result) {
	var d map[string]any
	if err := json.Unmarshal(body, &d); err != nil {
		r := badRequest("body is not a JSON object: %v", err)
		return nil, &r
	}
	var keys []string
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			r := badRequest("unrecognized field %q: it is not in the schema", k)
			return nil, &r
		}
	}
	for _, k := range required {
		if v, ok := d[k]; !ok || v == nil {
			r := badRequest("%s is required", k)
			return nil, &r
		}
	}
	for _, k := range keys {
		v := d[k]
		if v == nil {
			continue
		}
		switch {
		case slices.Contains(stringFields, k):
			if _, ok := v.(string); !ok {
				r := badRequest("%s must be a string", k)
				return nil, &r
			}
		case k == "acdInfos":
			items, ok := v.([]any)
			if !ok {
				r := badRequest("acdInfos must be an array of {loginId}")
				return nil, &r
			}
			for _, it := range items {
				m, ok := it.(map[string]any)
				_, isStr := m["loginId"].(string)
				if !ok || len(m) != 1 || !isStr {
					r := badRequest("acdInfos items are {\"loginId\": string}, not %v", it)
					return nil, &r
				}
			}
		case k == "groupIds" || k == "secondaryRoleIds":
			items, ok := v.([]any)
			for _, it := range items {
				_, ok2 := it.(string)
				ok = ok && ok2
			}
			if !ok {
				r := badRequest("%s must be an array of strings", k)
				return nil, &r
			}
		}
	}
	return d, nil
}

func emailKey(v any) string {
	s, _ := v.(string)
	return strings.ToLower(strings.TrimSpace(s))
}

func (s *Server) emailTaken(email, except string) bool {
	for id, d := range s.users {
		if id != except && d["status"] != "DELETED" && emailKey(d["emailAddress"]) == email {
			return true
		}
	}
	return false
}

func (s *Server) registerUser(body []byte) result {
	d, bad := checkUserBody(body, registerFields, registerRequired)
	if bad != nil {
		return *bad
	}
	email := emailKey(d["emailAddress"])
	if email == "" {
		return badRequest("emailAddress must not be empty")
	}
	if s.emailTaken(email, "") {
		return jsonResult(409, map[string]any{"code": "CONFLICT", "details": "a user with this email address already exists"})
	}
	for k, v := range d {
		if v == nil {
			delete(d, k)
		}
	}
	s.defaults(d)
	s.users[d["id"].(string)] = d
	s.userWrite[email]++
	return jsonResult(201, map[string]any{"success": true, "message": "user registered", "uuid": d["id"]})
}

// updateUser replaces every field of the update schema with the body's: a
// field the body leaves out is cleared (the strictest reading of a PUT),
// so a client that drops what it does not own loses it here.
func (s *Server) updateUser(body []byte) result {
	d, bad := checkUserBody(body, updateFields, updateRequired)
	if bad != nil {
		return *bad
	}
	id := d["id"].(string)
	old, ok := s.users[id]
	if !ok {
		return jsonResult(404, map[string]any{"code": "NOT_FOUND", "details": "user " + id + " not found"})
	}
	if email := emailKey(d["emailAddress"]); email == "" || s.emailTaken(email, id) {
		return jsonResult(409, map[string]any{"code": "CONFLICT", "details": "emailAddress is empty or used by another user"})
	}
	for _, k := range updateFields {
		if v, ok := d[k]; ok && v != nil {
			old[k] = v
		} else {
			delete(old, k)
		}
	}
	s.updates[id]++
	return jsonResult(200, map[string]any{"success": true, "message": "user updated"})
}

func project(d map[string]any, fields []string) map[string]any {
	out := map[string]any{}
	for _, k := range fields {
		if v, ok := d[k]; ok {
			out[k] = v
		}
	}
	return out
}

func (s *Server) getUser(id string) result {
	d, ok := s.users[id]
	if !ok {
		return jsonResult(404, map[string]any{"code": "NOT_FOUND", "details": "user " + id + " not found"})
	}
	return jsonResult(200, map[string]any{"user": project(d, userV3Fields)})
}

// listUsers is GET /user-management/v1/users: it has no email parameter,
// so every user of the tenant comes back whatever the query says.
func (s *Server) listUsers() result {
	list := []any{}
	for _, id := range s.userIDs() {
		list = append(list, s.users[id])
	}
	return jsonResult(200, map[string]any{"users": list})
}

func (s *Server) userIDs() []string {
	ids := make([]string, 0, len(s.users))
	for id := range s.users {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// searchUsers is POST /user-management/v2/users/search. How CXone matches
// a filter value is not published; by default the fake takes the loosest
// reading (a case-insensitive substring, any of the values), so a client
// must pick its exact match from the answer itself, and with
// Config.ExactSearch the strictest (equal, case-sensitive). operations and
// orderBy are accepted and ignored.
func (s *Server) searchUsers(body []byte) result {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return badRequest("body is not a JSON object: %v", err)
	}
	for k := range req {
		if !slices.Contains(searchFields, k) {
			return badRequest("unrecognized field %q: it is not in the schema", k)
		}
	}
	var filter map[string]any
	if raw, ok := req["filter"]; ok {
		if err := json.Unmarshal(raw, &filter); err != nil {
			return badRequest("filter must be an object: %v", err)
		}
	}
	want := map[string][]string{}
	for k, v := range filter {
		if !slices.Contains(searchedUserFields, k) {
			return badRequest("cannot filter on %q: it is not a field of a user", k)
		}
		switch x := v.(type) {
		case string:
			want[k] = []string{x}
		case []any:
			for _, it := range x {
				s, ok := it.(string)
				if !ok {
					return badRequest("filter %s: values must be strings", k)
				}
				want[k] = append(want[k], s)
			}
		default:
			return badRequest("filter %s: a string or an array of strings", k)
		}
	}
	var fields []string
	if raw, ok := req["fields"]; ok {
		if err := json.Unmarshal(raw, &fields); err != nil {
			return badRequest("fields must be an array of strings")
		}
		for _, f := range fields {
			if !slices.Contains(searchedUserFields, f) {
				return badRequest("unknown field %q in fields", f)
			}
		}
	}
	skip, top := 0, 100
	for k, dst := range map[string]*int{"skip": &skip, "top": &top} {
		if raw, ok := req[k]; ok {
			if err := json.Unmarshal(raw, dst); err != nil || *dst < 0 {
				return badRequest("%s must be a non-negative integer", k)
			}
		}
	}
	var hits []map[string]any
	for _, id := range s.userIDs() {
		d := s.users[id]
		ok := true
		for k, vals := range want {
			got := fmt.Sprint(d[k])
			ok = ok && slices.ContainsFunc(vals, func(v string) bool {
				if s.cfg.ExactSearch {
					return got == v
				}
				return strings.Contains(strings.ToLower(got), strings.ToLower(v))
			})
		}
		if ok {
			hits = append(hits, d)
		}
	}
	page := []any{}
	for i := skip; i < len(hits) && i < skip+top; i++ {
		if fields != nil {
			page = append(page, project(hits[i], fields))
		} else {
			page = append(page, project(hits[i], searchedUserFields))
		}
	}
	return jsonResult(200, map[string]any{"totalRecords": len(hits), "skip": skip, "top": top, "users": page})
}

// --- business data ---

// putBD is the published PUT: 404 when the contact is unknown or not yet
// closed (the API works only on closed contacts), 400 for a body that is
// not an array of one-key objects or names a field the tenant lacks, 204
// when applied.
func (s *Server) putBD(contactID string, body []byte) result {
	if _, ok := s.contacts[contactID]; !ok || s.open[contactID] {
		return jsonResult(404, map[string]string{"message": "Requested contact was not found"})
	}
	var items []map[string]any
	if err := json.Unmarshal(body, &items); err != nil {
		return jsonResult(400, map[string]string{"message": "body must be an array of objects"})
	}
	m := map[string]any{}
	for _, it := range items {
		if len(it) != 1 {
			return jsonResult(400, map[string]string{"message": "each item must have exactly one field"})
		}
		for k, v := range it {
			if s.cfg.BusinessDataFields != nil && !slices.Contains(s.cfg.BusinessDataFields, k) {
				return jsonResult(400, map[string]string{"message": "business data field " + k + " does not exist"})
			}
			switch v.(type) {
			case string, float64, bool:
				m[k] = v
			default:
				return jsonResult(400, map[string]string{"message": "field " + k + " must be text, number or boolean"})
			}
		}
	}
	s.bd[contactID] = m
	s.bdWrites[contactID]++
	return result{status: 204, header: http.Header{}}
}
