package demogen

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Options says what to generate. The zero value of every field means its
// default (see WithDefaults).
type Options struct {
	Calls               int       // default 2000
	BDFields            int       // business-data fields per call, 0..50, default 8; negative: none
	Agents              int       // users, default 300 (includes non-agents and duplicates)
	Seed                uint64    // default 1; same seed => byte-identical files
	InstalledAt         time.Time // default 2026-11-01T00:00:00Z
	BackfillRequestedAt time.Time // default InstalledAt + 2 days (demo spec requests a backfill)
	Days                int       // calls spread over this many days from (window start − 2 days), default 10
	TenantIDs           []int64   // default {1}; agents and calls spread over them
	Sites               []string  // default {"dc1","dc2"}: the `site` column
	CallIDPrefix        string    // default "C"
	MediaFiles          bool      // also write small placeholder media files under media/ (only for small N)
}

// Stats counts what Generate wrote. Bytes is the size of the three CSV
// files (media files not included).
type Stats struct {
	Users, AgentRows, Calls, BDRows int
	Bytes                           int64
}

// Defaults of Options.
const (
	DefaultCalls    = 2000
	DefaultBDFields = 8
	DefaultAgents   = 300
	DefaultDays     = 10
	// MaxMediaCalls bounds MediaFiles: placeholder files are for demos and
	// tests, not for the million-call benchmark.
	MaxMediaCalls = 100_000
)

// DefaultInstalledAt is the demo's installation instant.
var DefaultInstalledAt = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// backfillDays is how far before backfill_requested_at the window reaches
// (dsl.DefaultBackfillDays; the demo spec does not set backfill_days).
const backfillDays = 7

// preWindowDays is how long before the window the generated calls start, so
// that some are before_window.
const preWindowDays = 2

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.Calls == 0 {
		o.Calls = DefaultCalls
	}
	if o.BDFields == 0 {
		o.BDFields = DefaultBDFields
	}
	if o.Agents == 0 {
		o.Agents = DefaultAgents
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.InstalledAt.IsZero() {
		o.InstalledAt = DefaultInstalledAt
	}
	o.InstalledAt = o.InstalledAt.UTC()
	if o.BackfillRequestedAt.IsZero() {
		o.BackfillRequestedAt = o.InstalledAt.Add(2 * 24 * time.Hour)
	}
	o.BackfillRequestedAt = o.BackfillRequestedAt.UTC()
	if o.Days == 0 {
		o.Days = DefaultDays
	}
	if len(o.TenantIDs) == 0 {
		o.TenantIDs = []int64{1}
	}
	if len(o.Sites) == 0 {
		o.Sites = []string{"dc1", "dc2"}
	}
	if o.CallIDPrefix == "" {
		o.CallIDPrefix = "C"
	}
	return o
}

// validate checks defaulted options.
func (o Options) validate() error {
	var errs []error
	if o.Calls < 0 {
		errs = append(errs, fmt.Errorf("calls %d: must not be negative", o.Calls))
	}
	if o.BDFields > MaxBDFields {
		errs = append(errs, fmt.Errorf("business-data fields %d: at most %d", o.BDFields, MaxBDFields))
	}
	if o.Agents < 0 {
		errs = append(errs, fmt.Errorf("agents %d: must not be negative", o.Agents))
	}
	if o.Days <= preWindowDays {
		errs = append(errs, fmt.Errorf("days %d: must be more than %d (calls start %d days before the window)", o.Days, preWindowDays, preWindowDays))
	}
	if o.BackfillRequestedAt.Before(o.InstalledAt) {
		errs = append(errs, fmt.Errorf("backfill requested at %s: before installed_at %s", o.BackfillRequestedAt.Format(time.RFC3339), o.InstalledAt.Format(time.RFC3339)))
	}
	// The prefix becomes part of file names (media paths), so keep it plain.
	for _, c := range o.CallIDPrefix {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			errs = append(errs, fmt.Errorf("call ID prefix %q: only letters, digits, '-' and '_'", o.CallIDPrefix))
			break
		}
	}
	for _, s := range o.Sites {
		if s == "" || strings.ContainsAny(s, ",\"\r\n") {
			errs = append(errs, fmt.Errorf("site %q: must be non-empty, without commas, quotes or newlines", s))
		}
	}
	if o.MediaFiles && o.Calls > MaxMediaCalls {
		errs = append(errs, fmt.Errorf("media files for %d calls: at most %d", o.Calls, MaxMediaCalls))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("demogen: bad options: %w", err)
	}
	return nil
}

// windowStart is the first instant of the demo spec's import window
// (dsl.Spec.WindowStart with the default backfill_days).
func (o Options) windowStart() time.Time {
	from := o.BackfillRequestedAt.Add(-backfillDays * 24 * time.Hour)
	if from.After(o.InstalledAt) {
		return o.InstalledAt
	}
	return from
}
