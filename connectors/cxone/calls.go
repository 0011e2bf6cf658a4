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
	"strings"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// IdempotencyKey is the key of a call's writes: stable across retries and
// reruns, distinct per Engage system.
func IdempotencyKey(systemID, callID string) string {
	h := sha256.Sum256([]byte(systemID + "\x00" + callID))
	return hex.EncodeToString(h[:])
}

// ReasonBDContactNotFound is the Business Data API's 404: the contact does
// not exist yet, or is not closed yet (the API works only on closed
// contacts). The call fails with it and the next run retries it; its
// interaction and media are then answered from the receiver's idempotency
// store, so only the business data is written again.
const ReasonBDContactNotFound = "bd_contact_not_found"

// delivery is one call ready to send: everything copied out of the
// engine's OutCall (whose buffers are reused), the business-data body
// already encoded.
type delivery struct {
	it        *Interaction
	mediaFile string // read and hashed when sent, not when queued
	bd        []byte // the Business Data API body; nil when the call has none
}

// newDelivery copies what it needs of call. agentUserID is the CXone user
// id of the call's agent ("" when unknown or none).
func newDelivery(call *connector.OutCall, fields []dsl.Field, agentUserID string) (*delivery, error) {
	it := &Interaction{
		ID:             strings.Clone(call.CallID),
		SystemID:       strings.Clone(call.SystemID),
		IdempotencyKey: IdempotencyKey(call.SystemID, call.CallID),
		DirectionType:  DirectionType(call.Direction),
		Start:          call.StartTime,
		End:            endOf(call.StartTime, call.DurationMS),
		AgentUserID:    strings.Clone(agentUserID),
		EngageUserID:   strings.Clone(call.AgentUserID),
		ANI:            strings.Clone(call.ANI),
		DNIS:           strings.Clone(call.DNIS),
		MediaPath:      strings.Clone(call.Media),
	}
	// CXone's Business Data API takes an array of one-key objects.
	var bd []map[string]any
	for _, v := range call.Values {
		if v.Field < 0 || v.Field >= len(fields) {
			return nil, connector.Failure{Code: "encode", Detail: fmt.Sprintf("value for field #%d, but the plan has %d fields", v.Field, len(fields)), Permanent: true}
		}
		f := fields[v.Field]
		var val any
		switch f.Type {
		case dsl.TypeText:
			val = string(v.Text)
		case dsl.TypeNumber:
			val = v.Number
		case dsl.TypeBoolean:
			val = v.Bool
		default:
			return nil, connector.Failure{Code: "encode", Detail: fmt.Sprintf("field %s has unknown type %q", f.Name, f.Type), Permanent: true}
		}
		it.BusinessData = append(it.BusinessData, BusinessValue{ID: f.Name, Value: val})
		bd = append(bd, map[string]any{f.Name: val})
	}
	d := &delivery{it: it, mediaFile: strings.Clone(call.MediaFile)}
	if len(bd) > 0 {
		var err error
		if d.bd, err = json.Marshal(bd); err != nil {
			return nil, connector.Failure{Code: "encode", Detail: fmt.Sprintf("call %s: %v", call.CallID, err), Permanent: true}
		}
	}
	return d, nil
}

// DeliverCall sends one call: the interaction and its media through the
// ingestion adapter, then its business data. agentUserID is the CXone user
// id of its agent ("" when it has none); fields are what call.Values
// index. It makes no user search: with media and business data it is
// three requests. It returns what was sent of the media (nil: none or not
// yet). A refusal is a connector.Failure; a rate_limited one also a
// *RateLimitedError (RetryAfter); other errors (*AuthError, a cancelled
// context) are not the call's.
func (c *Client) DeliverCall(ctx context.Context, call *connector.OutCall, fields []dsl.Field, agentUserID string) (*connector.MediaSent, error) {
	if err := c.Connect(ctx); err != nil {
		return nil, err
	}
	d, err := newDelivery(call, fields, agentUserID)
	if err != nil {
		return nil, err
	}
	return c.deliver(ctx, d)
}

// deliver sends one call: interaction, media, business data. Each step is
// safe to repeat, so a retry or rerun resumes where it broke.
func (c *Client) deliver(ctx context.Context, d *delivery) (*connector.MediaSent, error) {
	if d.mediaFile != "" && d.it.Media == nil {
		m, err := readMedia(d.mediaFile, c.red)
		if err != nil {
			return nil, err
		}
		d.it.Media = m
	}
	contactID, err := c.ingest.Ingest(ctx, d.it)
	if err != nil {
		return nil, err
	}
	var sent *connector.MediaSent
	if m := d.it.Media; m != nil {
		sent = &connector.MediaSent{ContentType: m.ContentType, Size: m.Size, SHA256: m.SHA256}
	}
	if d.bd == nil {
		return sent, nil
	}
	if contactID == "" {
		return sent, connector.Failure{Code: "cxone_no_contact_id", Detail: "the call was accepted without a contactId, so its business data cannot be sent"}
	}
	if _, err := c.send(ctx, &request{method: "PUT", url: c.bdURL(contactID), family: FamilyBusinessData,
		contentType: "application/json", body: d.bd, bearer: true}); err != nil {
		var f connector.Failure
		if errors.As(err, &f) && f.Code == fmt.Sprintf("http_%d", http.StatusNotFound) {
			return sent, connector.Failure{Code: ReasonBDContactNotFound,
				Detail: fmt.Sprintf("contact %s: %s (the Business Data API accepts only closed contacts; the next run retries)", contactID, f.Detail)}
		}
		return sent, err
	}
	return sent, nil
}

func (c *Client) bdURL(contactID string) string {
	return c.apiURL() + strings.ReplaceAll(BusinessDataPath, "{contact_id}", url.PathEscape(contactID))
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
