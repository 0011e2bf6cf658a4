package cxone

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
)

// job is a call as a worker sends it: everything copied out of the OutCall,
// both bodies already encoded.
type job struct {
	callID    string
	key       string
	meta      []byte // the call POST body
	mediaFile string
	bd        []byte // the business-data PUT body; nil when the call has none
}

// IdempotencyKey is the key of a call's writes: stable across retries and
// reruns, distinct per Engage system.
func IdempotencyKey(systemID, callID string) string {
	h := sha256.Sum256([]byte(systemID + "\x00" + callID))
	return hex.EncodeToString(h[:])
}

// callDoc is the call POST body: a calls.jsonl object (shared/README.md §5)
// plus system_id and agent_cxone_user_id.
type callDoc struct {
	CallID           string  `json:"call_id"`
	AgentUserID      *string `json:"agent_user_id"`
	StartTime        string  `json:"start_time"`
	DurationMS       int64   `json:"duration_ms"`
	Direction        string  `json:"direction"`
	ANI              string  `json:"ani"`
	DNIS             string  `json:"dnis"`
	Media            *string `json:"media"`
	BusinessData     bdDoc   `json:"business_data"`
	SystemID         string  `json:"system_id"`
	AgentCXoneUserID *string `json:"agent_cxone_user_id"`
}

type bdDoc struct {
	Text    map[string]string  `json:"text"`
	Number  map[string]float64 `json:"number"`
	Boolean map[string]bool    `json:"boolean"`
}

func (s *Sink) newJob(c *engine.OutCall) (*job, error) {
	doc := callDoc{
		CallID:     c.CallID,
		StartTime:  c.StartTime.UTC().Format(time.RFC3339Nano),
		DurationMS: c.DurationMS,
		Direction:  c.Direction,
		ANI:        c.ANI,
		DNIS:       c.DNIS,
		SystemID:   c.SystemID,
		BusinessData: bdDoc{
			Text: map[string]string{}, Number: map[string]float64{}, Boolean: map[string]bool{},
		},
	}
	if c.AgentUserID != "" {
		doc.AgentUserID = &c.AgentUserID
		s.mu.Lock()
		id, ok := s.agents[c.AgentUserID]
		s.mu.Unlock()
		if ok {
			doc.AgentCXoneUserID = &id
		}
	}
	if c.Media != "" {
		doc.Media = &c.Media
	}
	// CXone's business-data body is an array of one-key objects.
	var bd []map[string]any
	for _, v := range c.Values {
		if v.Field < 0 || v.Field >= len(s.info.Fields) {
			return nil, fmt.Errorf("value for field #%d, but the plan has %d fields", v.Field, len(s.info.Fields))
		}
		f := s.info.Fields[v.Field]
		var val any
		switch f.Type {
		case dsl.TypeText:
			doc.BusinessData.Text[f.Name] = string(v.Text)
			val = string(v.Text)
		case dsl.TypeNumber:
			doc.BusinessData.Number[f.Name] = v.Number
			val = v.Number
		case dsl.TypeBoolean:
			doc.BusinessData.Boolean[f.Name] = v.Bool
			val = v.Bool
		default:
			return nil, fmt.Errorf("field %s has unknown type %q", f.Name, f.Type)
		}
		bd = append(bd, map[string]any{f.Name: val})
	}
	meta, err := json.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", c.CallID, err)
	}
	j := &job{
		callID:    strings.Clone(c.CallID),
		key:       IdempotencyKey(c.SystemID, c.CallID),
		meta:      meta,
		mediaFile: strings.Clone(c.MediaFile),
	}
	if len(bd) > 0 {
		if j.bd, err = json.Marshal(bd); err != nil {
			return nil, fmt.Errorf("call %s business data: %w", c.CallID, err)
		}
	}
	return j, nil
}

func (s *Sink) callURL() string { return s.apiURL + s.cfg.CallsPath }

func (s *Sink) mediaURL(callID string) string {
	return s.apiURL + s.mediaPath(callID)
}

func (s *Sink) mediaPath(callID string) string {
	return strings.ReplaceAll(s.cfg.MediaPath, "{call_id}", url.PathEscape(callID))
}

func (s *Sink) bdURL(contactID string) string {
	return s.apiURL + strings.ReplaceAll(BusinessDataPath, "{contact_id}", url.PathEscape(contactID))
}

// bdNotFound is the Business Data API's 404: the contact does not exist
// yet, or is not closed yet (the API works only on closed contacts). The
// call fails with reason bd_contact_not_found and the next run retries
// it; its POST and media PUT are then answered from the receiver's
// idempotency store, so only the business data is written again.
type bdNotFound struct {
	contactID string
	text      string
}

func (e *bdNotFound) Error() string {
	return fmt.Sprintf("bd_contact_not_found: contact %s: %s (the Business Data API accepts only closed contacts; the next run retries)", e.contactID, e.text)
}

func (s *Sink) worker() {
	defer s.wg.Done()
	for {
		var j *job
		select {
		case <-s.ctx.Done():
			return // aborted or fatal: what is queued is left for a rerun
		case next, ok := <-s.jobs:
			if !ok {
				return
			}
			j = next
		}
		err := s.deliver(s.ctx, j)
		switch {
		case err == nil:
			s.stats.acked.Add(1)
		case s.ctx.Err() != nil:
			// Cancelled mid-flight: neither acknowledged nor failed.
		case isFatal(err):
			s.setFatal(err)
		default:
			s.failCall(j.callID, reason(err, s.red))
		}
	}
}

func isFatal(err error) bool {
	var ae *AuthError
	return errors.As(err, &ae) || errors.Is(err, context.Canceled)
}

// reason is the ledger reason of a failed row: "http_<status>: <text>" for a
// refusal, the error text otherwise, always redacted.
func reason(err error, red *redactor) string {
	var he *HTTPError
	if errors.As(err, &he) {
		return red.clean(he.Error())
	}
	return red.clean(err.Error())
}

// deliver sends one call: metadata, then media, then business data. Each
// step is safe to repeat, so a retry or rerun resumes where it broke.
func (s *Sink) deliver(ctx context.Context, j *job) error {
	resp, err := s.send(ctx, &request{
		method: "POST", url: s.callURL(), contentType: "application/json",
		body: j.meta, idemKey: j.key, bearer: true,
	})
	if err != nil {
		return err
	}
	var created struct {
		ContactID json.RawMessage `json:"contact_id"`
	}
	_ = json.Unmarshal(resp.body, &created) // absence is checked below, when needed
	contactID := rawID(created.ContactID)

	if j.mediaFile != "" {
		if _, err := s.send(ctx, &request{
			method: "PUT", url: s.mediaURL(j.callID), contentType: "application/octet-stream",
			file: j.mediaFile, idemKey: j.key, bearer: true,
		}); err != nil {
			return err
		}
		s.stats.media.Add(1)
	}
	if j.bd != nil {
		if contactID == "" {
			return fmt.Errorf("http_%d: the call was accepted without a contact_id, so its business data cannot be sent", resp.status)
		}
		if _, err := s.send(ctx, &request{
			method: "PUT", url: s.bdURL(contactID), contentType: "application/json",
			body: j.bd, bearer: true, lim: s.bdLim,
		}); err != nil {
			var he *HTTPError
			if errors.As(err, &he) && he.Status == http.StatusNotFound {
				s.stats.bdNotFound.Add(1)
				return &bdNotFound{contactID: contactID, text: he.Text}
			}
			return err
		}
		s.stats.bd.Add(1)
	}
	return nil
}

// rawID accepts an id sent as a JSON string or number.
func rawID(m json.RawMessage) string {
	m = bytes.TrimSpace(m)
	if len(m) == 0 || string(m) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(m, &s) == nil {
		return s
	}
	return string(m)
}

// dryCall prints what deliver would send.
func (s *Sink) dryCall(j *job) {
	h := dryHeaders("application/json", j.key)
	fmt.Fprint(s.opts.DryRun, s.red.dumpRequest("POST", s.dryAPI(s.cfg.CallsPath), h, "application/json", j.meta, ""))
	if j.mediaFile != "" {
		note := "media file " + j.mediaFile
		if fi, err := os.Stat(j.mediaFile); err == nil {
			note = fmt.Sprintf("%d bytes from %s", fi.Size(), j.mediaFile)
		} else {
			note += " (unreadable: the call would fail)"
		}
		s.stats.media.Add(1)
		fmt.Fprint(s.opts.DryRun, s.red.dumpRequest("PUT", s.dryAPI(s.mediaPath(j.callID)), dryHeaders("application/octet-stream", j.key), "", nil, note))
	}
	if j.bd != nil {
		s.stats.bd.Add(1)
		fmt.Fprint(s.opts.DryRun, s.red.dumpRequest("PUT", s.dryAPI(BusinessDataPath), dryHeaders("application/json", ""), "application/json", j.bd, ""))
	}
}

// dryAPI is an API URL in a dry run, which discovers nothing: without
// api_url the host is a placeholder.
func (s *Sink) dryAPI(path string) string {
	if s.apiURL == "" {
		return "{api_endpoint}" + path
	}
	return s.apiURL + path
}

// dryOpen prints how a run would authenticate and find the API.
func (s *Sink) dryOpen() {
	tok := s.tokenURL
	if tok == "" {
		tok = "the token_endpoint of " + s.issuer + OpenIDConfigPath
	}
	s.dryf("# dry run: nothing is authenticated or sent; a run gets a token from %s with the access key\n", tok)
	if s.apiURL == "" {
		s.dryf("# {api_endpoint}: the api_endpoint of %s%s?tenantId=(the tenantId of the id_token)\n", s.issuer, CXoneConfigPath)
	}
}

func dryHeaders(contentType, key string) map[string][]string {
	h := map[string][]string{"Authorization": {"Bearer (token)"}}
	if contentType != "" {
		h["Content-Type"] = []string{contentType}
	}
	if key != "" {
		h["Idempotency-Key"] = []string{key}
	}
	return h
}
