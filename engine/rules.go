package engine

import (
	"strings"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
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
// returns true gives the call its reason. The order is the seed's. Doc is the
// short form `applink plan` prints; Explain says it in a sentence for the
// customer who reads the report.
type CallRule struct {
	Reason   string
	Doc      string
	Explain  string
	Excludes func(f *callFacts) bool
}

// CallRules is the seed's call rule chain, in its order (shared/README.md §2,
// "Calls"). Keep it a table: a reader checks it against the seed line by line.
var CallRules = []CallRule{
	{connector.ReasonOtherTenant, "not in this spec's tenant filter",
		"The call belongs to an Engage tenant that this import does not cover.",
		func(f *callFacts) bool { return !f.tenantOK }},
	{connector.ReasonBeforeWindow, "started before the import window",
		"The call started before the import window (the installation date, or the start of a requested backfill).",
		func(f *callFacts) bool { return f.call.StartTime.Before(f.windowFrom) }},
	{connector.ReasonNoAgentInfo, "no agent ID on the call",
		"The call carries no agent ID, so it cannot be attributed to an agent.",
		func(f *callFacts) bool { return strings.TrimSpace(f.call.AgentID) == "" }},
	{connector.ReasonNotArchived, "not archived",
		"Engage has not archived the call's recording.",
		func(f *callFacts) bool { return !f.call.Archived }},
	{connector.ReasonInvalid, "status invalid",
		"Engage marks the call's recording as invalid.",
		func(f *callFacts) bool { return f.call.Status == connector.StatusInvalid }},
	{connector.ReasonException, "an exception or error code, even if partly recorded",
		"Engage recorded an exception or error code for the call, even if part of it was recorded.",
		func(f *callFacts) bool { return f.call.ExceptionCode != 0 || f.call.Status == connector.StatusError }},
	{connector.ReasonNoAudio, "no valid audio packets",
		"The recording holds no valid audio.",
		func(f *callFacts) bool { return f.call.AudioPackets <= 0 }},
	{connector.ReasonTooShort, "2 seconds or less",
		"The call lasted 2 seconds or less.",
		func(f *callFacts) bool { return f.call.DurationMS <= MinDurationMS }},
	{connector.ReasonAgentWithoutEmail, "its agent has no email",
		"The call's agent has no email address, which CXone needs to identify the agent.",
		func(f *callFacts) bool { return f.agentKnown && f.agentReason == connector.ReasonNoEmail }},
	{connector.ReasonAgentFiltered, "its agent was excluded by the spec's agent filter",
		"The call's agent is left out by this import's agent filter.",
		func(f *callFacts) bool { return f.agentKnown && f.agentReason == connector.ReasonFilteredOut }},
	{connector.ReasonFilteredOut, "the spec's call filter said no",
		"This import's call filter leaves the call out.",
		func(f *callFacts) bool {
			ok, err := f.callFilter()
			return err != nil || !ok
		}},
	{connector.ReasonMappingError, "a field mapping failed and the field's policy excludes the call",
		"A business-data field could not be computed for the call, and that field's policy is to leave such calls out.",
		func(f *callFacts) bool { return !f.mapping() }},
}

// AgentRule is one line of the agent rule table. Unlike call rules, some agent
// rules (duplicate_email) look at all users at once, so the table documents the
// order and agentReasons applies it.
type AgentRule struct {
	Reason  string
	Doc     string
	Explain string // a sentence for the report's reader
}

// AgentRules is the order in which agent reasons apply.
var AgentRules = []AgentRule{
	{connector.ReasonNotAgent, "the user has no agent profile",
		"The Engage user has no agent profile (a team leader, business user or administrator): only agents are imported."},
	{connector.ReasonOtherTenant, "the user is not in this spec's tenant filter",
		"The user belongs to an Engage tenant that this import does not cover."},
	{connector.ReasonNoEmail, "the agent has no email",
		"The agent has no email address, which CXone needs to identify the agent; the agent's calls are not imported."},
	{connector.ReasonDuplicateEmail, "a user created earlier has the same email (trimmed, case-insensitive; active and inactive alike)",
		"A user created earlier in Engage has the same email address and keeps it; this user's calls are imported without an agent."},
	{connector.ReasonFilteredOut, "the spec's agent filter said no",
		"This import's agent filter leaves the user out."},
}

// otherReasons explains the codes that are no rule of the tables above.
var otherReasons = map[string]string{
	connector.ReasonAgentUnmapped:   "The call is imported without an agent: its agent ID belongs to no agent synced to CXone.",
	connector.ReasonBadRow:          "The source row could not be read (a damaged line, a bad date or an unknown value); it is read again on the next run.",
	connector.ReasonMediaUnreadable: "The call's recording file could not be read, so the call was not sent; it is sent again on the next run.",
	connector.ReasonRateLimited:     "CXone asked applink to slow down for longer than a run waits, so the run stopped sending; the row was not sent and the next run sends it.",
	"duplicate":                     "The call was read from more than one site of the Engage system and imported once.",
}

// ExplainReason says in one sentence what a ledger state and reason mean,
// for people who did not write the spec: the rule tables' sentences, then
// the codes that are no rule (agent_unmapped, bad_row, a sink's refusals).
// It is the one place the report and the TUI take these sentences from.
func ExplainReason(entity, state, reason string) string {
	if reason == "" {
		if state == connector.StateImported {
			if entity == "agent" {
				return "Imported: the agent is synced to CXone."
			}
			return "Imported with its agent."
		}
		return ""
	}
	if entity == "agent" {
		for _, r := range AgentRules {
			if r.Reason == reason {
				return r.Explain
			}
		}
	} else {
		for _, r := range CallRules {
			if r.Reason == reason {
				return r.Explain
			}
		}
	}
	if s, ok := otherReasons[reason]; ok {
		return s
	}
	if code, ok := strings.CutPrefix(reason, "http_"); ok {
		return "CXone refused the request with HTTP status " + code + "; the row is sent again on the next run."
	}
	return ""
}

// normEmail is how emails are compared for uniqueness.
func normEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
