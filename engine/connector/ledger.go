package connector

// Ledger states and reasons (shared/README.md §2 and §5).
const (
	StateImported = "imported"
	StateExcluded = "excluded"
	StateFailed   = "failed"
	// StateQueued: an imported call handed to the delivery workers (PostgreSQL
	// state), not delivered yet; a worker turns it imported or failed.
	StateQueued = "queued"
)

// StateReason is a ledger state with its reason ("" for plain imported).
type StateReason struct{ State, Reason string }

// Reason codes of the seed (shared/README.md §2), plus bad_row for rows a
// source could not read and the run-level codes of failures.
const (
	ReasonNotAgent          = "not_agent"
	ReasonNoEmail           = "no_email"
	ReasonDuplicateEmail    = "duplicate_email"
	ReasonOtherTenant       = "other_tenant"
	ReasonFilteredOut       = "filtered_out"
	ReasonBeforeWindow      = "before_window"
	ReasonNoAgentInfo       = "no_agent_info"
	ReasonNotArchived       = "not_archived"
	ReasonInvalid           = "invalid"
	ReasonException         = "exception"
	ReasonNoAudio           = "no_audio"
	ReasonTooShort          = "too_short"
	ReasonAgentWithoutEmail = "agent_without_email"
	ReasonAgentFiltered     = "agent_filtered"
	ReasonMappingError      = "mapping_error"
	ReasonAgentUnmapped     = "agent_unmapped"
	ReasonBadRow            = "bad_row"
	// ReasonMediaUnreadable: an imported call whose media file its source
	// (a MediaLocator) could not read; the call is failed, not sent without it.
	ReasonMediaUnreadable = "media_unreadable"
	// ReasonRateLimited: a call (or agent) the sink did not send because
	// CXone asked it to wait longer than a run waits (a 429's Retry-After);
	// it stays excluded, never failed, and the next run sends it.
	ReasonRateLimited = "rate_limited"
)
