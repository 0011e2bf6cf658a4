package state

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/applink-dev/applink/engine"
)

// RunRecord is one line of the run history: a run with its record, or a
// restore or a purge with its event. The stored JSON is read through the
// engine's converters only (engine.DecodeRunRecord), so older forms are
// converted in one place.
type RunRecord struct {
	RunID    string
	Kind     string // run | restore | purge | failed (a run that did not commit)
	PlanHash string
	SpecHash string
	Started  time.Time
	Ended    time.Time
	Record   *engine.RunRecord   // Kind run
	Event    *engine.EventRecord // Kind restore, purge or failed
}

// DecodeHistory fills a history line's record or event from its stored JSON.
func DecodeHistory(r *RunRecord, stored []byte) error {
	var err error
	if r.Kind == "run" {
		r.Record, err = engine.DecodeRunRecord(stored, r.Started)
	} else {
		r.Event, err = engine.DecodeEventRecord(stored)
	}
	if err != nil {
		return fmt.Errorf("state: run history %s %s: %w", r.Kind, r.RunID, err)
	}
	return nil
}

// EncodeEvent is an event's stored JSON.
func EncodeEvent(ev *engine.EventRecord) (string, error) {
	if ev == nil {
		ev = &engine.EventRecord{}
	}
	b, err := json.Marshal(ev)
	return string(b), err
}
