package cxone

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/applink-dev/applink/engine/connector"
)

// This file is the one to replace when NICE publishes the Store & Forward
// Generic Ingestion API: it is our call-import contract (CONTRACT.md,
// sections 4 and 5), which a receiver on the CXone side implements.
//
//  1. POST {api}{calls_path} with the interaction (Idempotency-Key, and
//     idempotent on interactionId): 201, or 409 for an interaction already
//     there, with {contactId, mediaUploadUrl?}.
//  2. With media: PUT the bytes to mediaUploadUrl when the answer names
//     one (a signed URL: no bearer token), else PUT {api}{media_path} with
//     the token and the same Idempotency-Key. The receiver checks size and
//     SHA-256 against what step 1 declared; a repeat of the same bytes is
//     acknowledged without a second write.

type applinkIngestion struct{ c *Client }

func newApplinkIngestion(c *Client) Ingestion { return &applinkIngestion{c: c} }

// callPayload is the body of step 1: CXone's published names where CXone
// has one (Media Playback's read side), ours (marked) where not.
type callPayload struct {
	InteractionID       string          `json:"interactionId"` // ours: the Engage call id
	SystemID            string          `json:"systemId"`      // ours: the Engage system
	DirectionType       string          `json:"directionType"`
	StartTime           string          `json:"startTime"`
	EndTime             string          `json:"endTime"`
	ANI                 string          `json:"ani"`  // ours
	DNIS                string          `json:"dnis"` // ours
	Participants        []participant   `json:"participants"`
	DynamicBusinessData []BusinessValue `json:"dynamicBusinessData"`
	Media               *mediaPayload   `json:"media"`
}

type participant struct {
	ParticipantType string `json:"participantType"`        // AGENT | CUSTOMER
	UserID          string `json:"userId,omitempty"`       // AGENT: the CXone user id
	EngageUserID    string `json:"engageUserId,omitempty"` // AGENT, ours: the Engage user
	PhoneNumber     string `json:"phoneNumber,omitempty"`  // CUSTOMER
}

// mediaPayload declares the media step 2 attaches.
type mediaPayload struct {
	FileName    string `json:"fileName"` // the Engage media_path
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// created is the answer of step 1.
type created struct {
	ContactID      json.RawMessage `json:"contactId"`
	MediaUploadURL string          `json:"mediaUploadUrl"`
}

// isoUTC is ISO 8601 in UTC with milliseconds, as CXone's APIs write times.
const isoUTC = "2006-01-02T15:04:05.000Z"

func payloadOf(it *Interaction) ([]byte, error) {
	p := callPayload{
		InteractionID:       it.ID,
		SystemID:            it.SystemID,
		DirectionType:       it.DirectionType,
		StartTime:           it.Start.UTC().Format(isoUTC),
		EndTime:             it.End.UTC().Format(isoUTC),
		ANI:                 it.ANI,
		DNIS:                it.DNIS,
		Participants:        []participant{},
		DynamicBusinessData: it.BusinessData,
	}
	if p.DynamicBusinessData == nil {
		p.DynamicBusinessData = []BusinessValue{}
	}
	if it.AgentUserID != "" || it.EngageUserID != "" {
		p.Participants = append(p.Participants, participant{ParticipantType: "AGENT", UserID: it.AgentUserID, EngageUserID: it.EngageUserID})
	}
	// The customer is the caller of an inbound call and the called party
	// of an outbound one; an internal call has none.
	phone := ""
	switch it.DirectionType {
	case "OUTBOUND":
		phone = it.DNIS
	case "INTERNAL":
	default:
		phone = it.ANI
	}
	if phone != "" {
		p.Participants = append(p.Participants, participant{ParticipantType: "CUSTOMER", PhoneNumber: phone})
	}
	if m := it.Media; m != nil {
		p.Media = &mediaPayload{FileName: it.MediaPath, ContentType: m.ContentType, Size: m.Size, SHA256: m.SHA256}
	}
	return json.Marshal(&p)
}

func (a *applinkIngestion) mediaPath(id string) string {
	return strings.ReplaceAll(a.c.cfg.MediaPath, "{call_id}", url.PathEscape(id))
}

func (a *applinkIngestion) Ingest(ctx context.Context, it *Interaction) (string, error) {
	c := a.c
	body, err := payloadOf(it)
	if err != nil {
		return "", connector.Failure{Code: "encode", Detail: fmt.Sprintf("call %s: %v", it.ID, err), Permanent: true}
	}
	resp, err := c.send(ctx, &request{method: "POST", url: c.api(c.cfg.CallsPath), family: FamilyIngestion,
		contentType: "application/json", body: body, idemKey: it.IdempotencyKey, bearer: true})
	if err != nil {
		return "", err
	}
	var ans created
	_ = json.Unmarshal(resp.body, &ans) // absence is checked by the caller, when needed
	contactID := rawID(ans.ContactID)
	if it.Media == nil {
		return contactID, nil
	}
	up := &request{method: "PUT", family: FamilyIngestion, contentType: it.Media.ContentType, file: it.Media.Path}
	if ans.MediaUploadURL != "" {
		u, err := checkBaseURL("mediaUploadUrl", ans.MediaUploadURL)
		if err != nil {
			return "", connector.Failure{Code: "bad_upload_url", Detail: c.red.clean(err.Error())}
		}
		up.url = u // signed: it carries its own authorisation
		if pu, err := url.Parse(u); err == nil {
			c.red.add(pu.RawQuery) // the signature is a credential: never in a trace or a log
		}
	} else {
		up.url, up.idemKey, up.bearer = c.api(a.mediaPath(it.ID)), it.IdempotencyKey, true
	}
	if _, err := c.send(ctx, up); err != nil {
		return "", err
	}
	return contactID, nil
}

func (a *applinkIngestion) Plan(it *Interaction) []PlannedRequest {
	body, _ := payloadOf(it)
	out := []PlannedRequest{{Method: "POST", Path: a.c.cfg.CallsPath, ContentType: "application/json", IdempotencyKey: it.IdempotencyKey, Body: body}}
	if m := it.Media; m != nil {
		out = append(out, PlannedRequest{Method: "PUT", Path: a.mediaPath(it.ID), ContentType: m.ContentType, IdempotencyKey: it.IdempotencyKey,
			Note: fmt.Sprintf("%d bytes from %s (or to the signed mediaUploadUrl the call's answer names)", m.Size, m.Path)})
	}
	return out
}

// endOf is a call's end: its start plus its Engage duration (a negative
// duration ends it at its start).
func endOf(start time.Time, durationMS int64) time.Time {
	return start.Add(time.Duration(max(durationMS, 0)) * time.Millisecond)
}
