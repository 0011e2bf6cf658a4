package cxone

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/applink-dev/applink/engine/connector"
)

// Ingestion is how a call and its media reach CXone, behind one interface
// so that the transport can change in one file: today our contract
// (ingest_applink.go: create the call, then attach its media); NICE's
// Store & Forward Generic Ingestion API once its reference is published
// (CONTRACT.md). The client builds the Interaction, hashes the media and
// writes the business data through the published Business Data API with
// the contact id Ingest returns. An adapter sends through the client's
// send (rate limits, retries, the token) and returns typed errors:
// connector.Failure for a refusal.
type Ingestion interface {
	// Ingest creates the interaction and attaches its media; both steps
	// must be idempotent on the interaction id (a retry or a rerun after a
	// crash creates nothing twice). It returns the CXone contact id.
	Ingest(ctx context.Context, it *Interaction) (contactID string, err error)
	// Plan lists the requests Ingest would make, for the dry run.
	Plan(it *Interaction) []PlannedRequest
}

// PlannedRequest is one request of a dry run; Path is relative to the API
// endpoint unless it is an absolute URL.
type PlannedRequest struct {
	Method, Path, ContentType, IdempotencyKey string
	Body                                      []byte
	Note                                      string // a body that is a file
}

// Interaction is a call as CXone's published read side names its parts
// (Media Playback: directionType, startTime/endTime, participants with
// participantType, dynamicBusinessData {id, value}).
type Interaction struct {
	ID             string // the Engage call id: the interaction id both steps are idempotent on
	SystemID       string // the Engage system
	IdempotencyKey string // IdempotencyKey(SystemID, ID)
	DirectionType  string // INBOUND | OUTBOUND | INTERNAL | UNKNOWN
	Start, End     time.Time
	// AgentUserID is the CXone user id of the call's agent; EngageUserID
	// the Engage user behind it. Both empty: imported without an agent.
	AgentUserID, EngageUserID string
	ANI, DNIS                 string
	MediaPath                 string     // as Engage recorded it
	Media                     *MediaFile // nil: no media
	BusinessData              []BusinessValue
}

// MediaFile is a call's recording as it is sent.
type MediaFile struct {
	Path        string // where it is read from
	ContentType string
	Size        int64
	SHA256      string // hex
}

// BusinessValue is one business-data value keyed as CXone keys it: the
// field's name in the tenant ({id, value}).
type BusinessValue struct {
	ID    string `json:"id"`
	Value any    `json:"value"` // string, float64 or bool, per the field's type
}

// Directions maps Engage's canonical directions onto CXone's directionType.
var directionTypes = map[string]string{
	connector.DirectionIn:       "INBOUND",
	connector.DirectionOut:      "OUTBOUND",
	connector.DirectionInternal: "INTERNAL",
	connector.DirectionUnknown:  "UNKNOWN",
}

// DirectionType is CXone's directionType of an Engage direction.
func DirectionType(d string) string {
	if t, ok := directionTypes[d]; ok {
		return t
	}
	return "UNKNOWN"
}

// mediaTypes are the content types of the recordings Engage keeps; any
// other extension is sent as application/octet-stream.
var mediaTypes = map[string]string{".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".opus": "audio/opus"}

// readMedia opens, sizes and hashes a call's media file; a failure is the
// call's media_unreadable.
func readMedia(path string, red *redactor) (*MediaFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, mediaFailure(err, red)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, mediaFailure(err, red)
	}
	ct := mediaTypes[strings.ToLower(filepath.Ext(path))]
	if ct == "" {
		ct = "application/octet-stream"
	}
	return &MediaFile{Path: path, ContentType: ct, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
