package cxonetest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file is the fake's half that implements applink's own call-import
// contract (connectors/cxone/CONTRACT.md, sections 4 and 5), with CXone's
// published names: the interaction is created (idempotent on its
// interactionId and its Idempotency-Key), then its media is attached,
// directly or through a signed upload URL. It refuses a payload field it
// does not know, as the published endpoints do.

// uploadPrefix is where the signed upload URLs point, on the API host.
const uploadPrefix = "/uploads/"

// Directions are the published directionType values.
var directionTypes = []string{"INBOUND", "OUTBOUND", "INTERNAL", "UNKNOWN"}

var (
	callFields        = []string{"interactionId", "systemId", "directionType", "startTime", "endTime", "ani", "dnis", "participants", "dynamicBusinessData", "media"}
	callRequired      = []string{"interactionId", "systemId", "directionType", "startTime", "endTime", "participants", "dynamicBusinessData", "media"}
	participantFields = []string{"participantType", "userId", "engageUserId", "phoneNumber"}
	mediaFields       = []string{"fileName", "contentType", "size", "sha256"}
)

// MediaDecl is the media a call's payload declares.
type MediaDecl struct {
	FileName, ContentType string
	Size                  int64
	SHA256                string
}

// notAcceptable is CXone's answer to a request without
// Accept: application/json, as practitioners report it.
func notAcceptable() result {
	return result{status: http.StatusNotAcceptable, header: http.Header{"Content-Type": {"text/plain"}}, body: []byte("No known way to render data")}
}

func acceptsJSON(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
			if mt == "application/json" || mt == "application/*" || mt == "*/*" {
				return true
			}
		}
	}
	return false
}

func unknownField(d map[string]any, allowed []string, where string) *result {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			r := badRequest("unrecognized field %q in %s: it is not in the contract", k, where)
			return &r
		}
	}
	return nil
}

// checkCall validates a payload; it returns the media it declares and the
// agent's CXone user id.
func checkCall(meta map[string]any) (*MediaDecl, string, *result) {
	if bad := unknownField(meta, callFields, "the call"); bad != nil {
		return nil, "", bad
	}
	for _, k := range callRequired {
		if _, ok := meta[k]; !ok {
			r := jsonResult(422, map[string]string{"message": k + " is required"})
			return nil, "", &r
		}
	}
	fail := func(format string, args ...any) (*MediaDecl, string, *result) {
		r := jsonResult(422, map[string]string{"message": fmt.Sprintf(format, args...)})
		return nil, "", &r
	}
	if id, _ := meta["interactionId"].(string); id == "" {
		return fail("interactionId must be a non-empty string")
	}
	if d, _ := meta["directionType"].(string); !slices.Contains(directionTypes, d) {
		return fail("directionType must be one of %s, not %v", strings.Join(directionTypes, ", "), meta["directionType"])
	}
	var start, end time.Time
	for k, dst := range map[string]*time.Time{"startTime": &start, "endTime": &end} {
		v, _ := meta[k].(string)
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil || !strings.HasSuffix(v, "Z") {
			return fail("%s must be ISO 8601 in UTC (…Z), not %q", k, v)
		}
		*dst = t
	}
	if end.Before(start) {
		return fail("endTime is before startTime")
	}
	parts, ok := meta["participants"].([]any)
	if !ok {
		return fail("participants must be an array")
	}
	agent := ""
	for _, p := range parts {
		m, ok := p.(map[string]any)
		if !ok {
			return fail("a participant must be an object")
		}
		if bad := unknownField(m, participantFields, "a participant"); bad != nil {
			return nil, "", bad
		}
		switch m["participantType"] {
		case "AGENT":
			agent, _ = m["userId"].(string)
		case "CUSTOMER":
		default:
			return fail("participantType must be AGENT or CUSTOMER, not %v", m["participantType"])
		}
	}
	bd, ok := meta["dynamicBusinessData"].([]any)
	if !ok {
		return fail("dynamicBusinessData must be an array of {id, value}")
	}
	for _, it := range bd {
		m, ok := it.(map[string]any)
		if !ok || len(m) != 2 {
			return fail("dynamicBusinessData items are {id, value}, not %v", it)
		}
		if bad := unknownField(m, []string{"id", "value"}, "dynamicBusinessData"); bad != nil {
			return nil, "", bad
		}
	}
	if meta["media"] == nil {
		return nil, agent, nil
	}
	m, ok := meta["media"].(map[string]any)
	if !ok {
		return fail("media must be an object or null")
	}
	if bad := unknownField(m, mediaFields, "media"); bad != nil {
		return nil, "", bad
	}
	decl := &MediaDecl{}
	decl.FileName, _ = m["fileName"].(string)
	decl.ContentType, _ = m["contentType"].(string)
	decl.SHA256, _ = m["sha256"].(string)
	size, _ := m["size"].(float64)
	decl.Size = int64(size)
	if decl.ContentType == "" || len(decl.SHA256) != 64 || size < 0 {
		return fail("media needs contentType, size and sha256 (hex)")
	}
	return decl, agent, nil
}

func (s *Server) postCall(r *http.Request, body []byte) result {
	var meta map[string]any
	if err := json.Unmarshal(body, &meta); err != nil {
		return jsonResult(400, map[string]string{"message": "body is not a JSON object: " + err.Error()})
	}
	decl, agent, bad := checkCall(meta)
	if bad != nil {
		return *bad
	}
	id := meta["interactionId"].(string)
	if s.cfg.Reject != nil {
		if st, text := s.cfg.Reject(id); st != 0 {
			return jsonResult(st, map[string]string{"message": text})
		}
	}
	key := r.Header.Get("Idempotency-Key")
	s.writes["call:"+key]++
	if c, ok := s.calls[id]; ok {
		// Same interaction under another key: it exists already.
		return jsonResult(409, s.created(c, "call already exists"))
	}
	s.nextCall++
	c := &Call{CallID: id, ContactID: strconv.Itoa(100000 + s.nextCall), IdempotencyKey: key, Meta: meta, MediaDeclared: decl, AgentUserID: agent}
	s.calls[id] = c
	s.contacts[c.ContactID] = id
	if s.cfg.ContactsStayOpen {
		s.open[c.ContactID] = true
	}
	return jsonResult(201, s.created(c, ""))
}

// created is the answer to a call's creation: its contact, and with
// SignedUploads the URL its media goes to.
func (s *Server) created(c *Call, msg string) map[string]string {
	out := map[string]string{"contactId": c.ContactID}
	if msg != "" {
		out["message"] = msg
	}
	if s.cfg.SignedUploads && c.MediaDeclared != nil {
		out["mediaUploadUrl"] = s.APIURL + uploadPrefix + url.PathEscape(c.CallID) + "?sig=" + s.sign(c.CallID)
	}
	return out
}

func (s *Server) sign(callID string) string {
	m := hmac.New(sha256.New, []byte(s.cfg.ClientSecret))
	m.Write([]byte(callID))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// putMedia attaches a call's media: it must match what the call declared
// (content type, size, SHA-256). The same bytes again are acknowledged
// without a second write: attaching is idempotent on the interaction.
func (s *Server) putMedia(callID string, r *http.Request, body []byte) result {
	c, ok := s.calls[callID]
	if !ok {
		return jsonResult(404, map[string]string{"message": "unknown interaction " + callID})
	}
	d := c.MediaDeclared
	if d == nil {
		return jsonResult(409, map[string]string{"message": "the interaction declared no media"})
	}
	if ct := r.Header.Get("Content-Type"); ct != d.ContentType {
		return jsonResult(415, map[string]string{"message": "media is " + d.ContentType + " as declared, not " + ct})
	}
	sum := sha256.Sum256(body)
	if int64(len(body)) != d.Size || hex.EncodeToString(sum[:]) != d.SHA256 {
		return jsonResult(422, map[string]string{"message": fmt.Sprintf("media of %d bytes does not match the declared size %d and sha256", len(body), d.Size)})
	}
	if c.Media != nil && bytes.Equal(c.Media, body) {
		return result{status: 200, header: http.Header{}}
	}
	s.writes["media:"+c.IdempotencyKey]++
	c.Media = bytes.Clone(body)
	return result{status: 204, header: http.Header{}}
}

// signedUpload is a PUT to a mediaUploadUrl: no bearer token (a signed URL
// refuses a second authorisation, as object stores do), a valid signature.
func (s *Server) signedUpload(r *http.Request, body []byte) (result, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := url.PathUnescape(strings.TrimPrefix(r.URL.Path, uploadPrefix))
	switch {
	case err != nil || r.Method != "PUT":
		return jsonResult(400, map[string]string{"message": "bad upload request"}), false
	case r.Header.Get("Authorization") != "":
		return jsonResult(400, map[string]string{"message": "a signed upload URL takes no Authorization header"}), false
	case !hmac.Equal([]byte(r.URL.Query().Get("sig")), []byte(s.sign(id))):
		return jsonResult(403, map[string]string{"message": "bad signature"}), false
	}
	return s.putMedia(id, r, body), false
}
