package engine

import (
	"strings"
	"time"

	"github.com/applink-dev/applink/dsl"
)

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
)

// MinDurationMS: a call of this length or less is too short (the seed's 2 s).
const MinDurationMS = 2000

// AgentStatus is what the agent rules concluded about one Engage user.
type AgentStatus struct {
	Reason string // "" when the agent is synced
}

// callFacts is what a call rule may look at: the call, and what the agent
// rules concluded about the user behind its agent ID.
type callFacts struct {
	call        *dsl.Call
	windowFrom  time.Time
	tenantOK    bool
	agentKnown  bool   // some user has this agent ID
	agentReason string // that user's agent-rule reason ("" when synced)
	callFilter  func() (bool, error)
	mapping     func() bool // false: a field with on_error = exclude failed
}

// CallRule is one line of the call rule table: the first rule whose Excludes
// returns true gives the call its reason. The order is the seed's.
type CallRule struct {
	Reason   string
	Doc      string
	Excludes func(f *callFacts) bool
}

// CallRules is the seed's call rule chain, in its order (shared/README.md §2,
// "Calls"). Keep it a table: a reader checks it against the seed line by line.
var CallRules = []CallRule{
	{ReasonOtherTenant, "not in this spec's tenant filter", func(f *callFacts) bool { return !f.tenantOK }},
	{ReasonBeforeWindow, "started before the import window", func(f *callFacts) bool { return f.call.StartTime.Before(f.windowFrom) }},
	{ReasonNoAgentInfo, "no agent ID on the call", func(f *callFacts) bool { return strings.TrimSpace(f.call.AgentID) == "" }},
	{ReasonNotArchived, "not archived", func(f *callFacts) bool { return !f.call.Archived }},
	{ReasonInvalid, "status invalid", func(f *callFacts) bool { return f.call.Status == StatusInvalid }},
	{ReasonException, "an exception or error code, even if partly recorded", func(f *callFacts) bool {
		return f.call.ExceptionCode != 0 || f.call.Status == StatusError
	}},
	{ReasonNoAudio, "no valid audio packets", func(f *callFacts) bool { return f.call.AudioPackets <= 0 }},
	{ReasonTooShort, "2 seconds or less", func(f *callFacts) bool { return f.call.DurationMS <= MinDurationMS }},
	{ReasonAgentWithoutEmail, "its agent has no email", func(f *callFacts) bool {
		return f.agentKnown && f.agentReason == ReasonNoEmail
	}},
	{ReasonAgentFiltered, "its agent was excluded by the spec's agent filter", func(f *callFacts) bool {
		return f.agentKnown && f.agentReason == ReasonFilteredOut
	}},
	{ReasonFilteredOut, "the spec's call filter said no", func(f *callFacts) bool {
		ok, err := f.callFilter()
		return err != nil || !ok
	}},
	{ReasonMappingError, "a field mapping failed and the field's policy excludes the call", func(f *callFacts) bool {
		return !f.mapping()
	}},
}

// AgentRule is one line of the agent rule table. Unlike call rules, some agent
// rules (duplicate_email) look at all users at once, so the table documents the
// order and agentReasons applies it.
type AgentRule struct {
	Reason string
	Doc    string
}

// AgentRules is the order in which agent reasons apply.
var AgentRules = []AgentRule{
	{ReasonNotAgent, "the user has no agent profile"},
	{ReasonOtherTenant, "the user is not in this spec's tenant filter"},
	{ReasonNoEmail, "the agent has no email"},
	{ReasonDuplicateEmail, "a user created earlier has the same email (trimmed, case-insensitive; active and inactive alike)"},
	{ReasonFilteredOut, "the spec's agent filter said no"},
}

// normEmail is how emails are compared for uniqueness.
func normEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
