package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/applink-dev/applink/dsl"
)

// AgentRecord is one row of Engage's user/agent data: one per agent ID of a
// user; a user without an agent profile has IsAgent false and no AgentID.
type AgentRecord struct {
	UserID    string
	AgentID   string
	FirstName string
	LastName  string
	Email     string
	Active    bool
	IsAgent   bool
	TenantID  int64
	CreatedAt time.Time

	Pos string // where it came from, e.g. "agents.csv:12", for messages
	Err error  // non-nil: a bad row; UserID is set when it could be read
}

// BDField is one business-data value of a call. Name is an ID in the Names
// table the engine handed to the source; Value is only valid during the emit
// callback that carries it.
type BDField struct {
	Name  int32
	Value []byte
}

// CallRecord is one call with its business data, as a source emits it. The
// strings in Call may be kept; BD and its values are only valid during the
// emit callback (sources reuse their buffers).
type CallRecord struct {
	Call dsl.Call
	BD   []BDField

	Pos string // where it came from, e.g. "calls.csv:12"
	Err error  // non-nil: a bad row; Call.CallID is set when it could be read
}

// ErrBDWithoutCall marks a business-data row whose call the source does not
// have. A source emits such a row as a CallRecord whose Err wraps it (Pos set,
// Call empty): it is counted on its own line, never as a call row, so the
// accounting of call rows stays exact.
var ErrBDWithoutCall = errors.New("business-data row without a call")

// Source reads one Engage site. ReadAgents and ReadCalls stream: they call
// emit once per row and stop at the first error emit returns. Bad rows are
// emitted with Err set, never dropped.
type Source interface {
	ReadAgents(ctx context.Context, emit func(*AgentRecord) error) error
	ReadCalls(ctx context.Context, q CallQuery, emit func(*CallRecord) error) error
	Close() error
}

// CallQuery is what the engine asks of a source, for push-down: a source may
// ignore it (the engine applies every rule itself), but must not return fewer
// rows than it asks for.
type CallQuery struct {
	From  time.Time // calls that started at or after From; zero: all
	After string    // keyset: resume after this call_id at From (incremental runs); "" none
	Names *Names    // intern business-data names here
	// TenantEquals is set when the spec's tenant filter is `tenant_id == N`.
	TenantEquals *int64
}

// SourceFactory opens a source from its spec block.
type SourceFactory func(ctx context.Context, src dsl.Source) (Source, error)

// Names interns business-data field names so that the per-call path deals in
// small integers. Lookups of a known name do not allocate. Safe for
// concurrent use, but each source gets its own table in practice.
type Names struct {
	mu   sync.RWMutex
	ids  map[string]int32
	list []string
}

// NewNames returns an empty table.
func NewNames() *Names { return &Names{ids: map[string]int32{}} }

// OutAgent is an agent as sent to the sink.
type OutAgent struct {
	UserID    string
	FirstName string
	LastName  string
	Email     string
	AgentIDs  []string // sorted
	Active    bool
	TenantID  int64
}

// Value is one mapped business-data value of a call, for field Field of the
// plan. Exactly one of Text/Number/Bool is meaningful, per the field's type.
type Value struct {
	Field  int // index into Plan.Fields
	Text   []byte
	Number float64
	Bool   bool
}

// OutCall is an imported call as sent to the sink. It and its slices are
// only valid during the Sink.Call callback.
type OutCall struct {
	CallID      string
	SystemID    string
	AgentUserID string // "" when the call is imported without an agent
	StartTime   time.Time
	DurationMS  int64
	Direction   string
	ANI         string
	DNIS        string
	Media       string // media_path as recorded in Engage; "" when none
	MediaFile   string // where to read the media from (Media resolved by the source); "" when none
	Values      []Value
	Hash        uint64 // content hash of what is sent, for incremental runs
}

// Canonical values of dsl.Call's enumerated columns (shared/README.md §4).
// Sources map Engage's codes onto these and nothing else; the rules compare
// with them.
const (
	DirectionIn       = "in"
	DirectionOut      = "out"
	DirectionInternal = "internal"
	DirectionUnknown  = "unknown"

	StatusOK      = "ok"
	StatusInvalid = "invalid"
	StatusError   = "error"
)

// Directions and Statuses list the canonical values in the contract's order.
var (
	Directions = []string{DirectionIn, DirectionOut, DirectionInternal, DirectionUnknown}
	Statuses   = []string{StatusOK, StatusInvalid, StatusError}
)

// LedgerRow is the final state of one source row in this run.
type LedgerRow struct {
	Entity string // agent | call
	ID     string // user_id for agents, call_id for calls
	State  string
	Reason string
	Detail string // free text for failures and bad rows; not in the outbox ledger
}

// RunInfo is what a sink learns when a run opens.
type RunInfo struct {
	RunID    string
	PlanHash string
	Fields   []dsl.Field // Value.Field indexes this
	// Fail lets a sink that sends asynchronously report that a row it accepted
	// was refused (entity "agent" or "call", id, and why). The engine records
	// the row as failed with f.Code as its reason. Safe for concurrent use;
	// must be called before Commit returns.
	Fail func(entity, id string, f Failure)
	// MediaSent, when set, lets a sink report what it sent of a call's media
	// (content type, size, SHA-256) so the ledger records it. Safe for
	// concurrent use; must be called before Commit returns. A sink must
	// check it for nil.
	MediaSent func(callID string, m MediaSent)
}

// MediaSent is what a sink sent of one call's media, as the ledger keeps it.
type MediaSent struct {
	ContentType string
	Size        int64
	SHA256      string // hex
}

// Failure is why a sink refused a row, as a value end to end (sink, run,
// worker, ledger): never a "code: detail" string parsed back.
type Failure struct {
	Code      string // the ledger reason: "http_422", "media_unreadable", "encode", …
	Detail    string // free text for people, secrets already removed
	Permanent bool   // no retry can cure it (a 4xx other than 408/429, a call that cannot be encoded)
}

// MediaResolver is implemented by sources whose media_path is relative to a
// folder of theirs: it turns a recorded media_path into a readable file path.
type MediaResolver interface {
	MediaFile(mediaPath string) string
}

// MediaLocator is implemented by sources whose calls must never be sent
// without their media (a live Engage). The engine asks it for every call
// the rules import, several at a time (it must be safe for concurrent use):
// LocateMedia returns the readable file of a media_path, or why it cannot
// be read, and the call then ends failed with reason media_unreadable, to
// be retried by the next run. A source implementing it is not asked
// MediaResolver.MediaFile.
type MediaLocator interface {
	LocateMedia(ctx context.Context, mediaPath string) (file string, err error)
}

// FilteredCounter is implemented by sources that push a CallQuery's window
// or tenant into the database, so rows outside them are never read. After
// ReadCalls returned, the engine asks it how many rows the same query left
// out, by the ledger state and reason each would have had (other_tenant
// before before_window, the rules' order); the summary and the report show
// them as counted by the database, so no row goes unaccounted.
type FilteredCounter interface {
	CountFiltered(ctx context.Context, q CallQuery) (map[StateReason]int, error)
}

// SourceMapping says how a source fills the canonical columns, for
// `applink plan`: every item with where it came from (the connector's
// default, public or assumed, or the spec line that overrides it).
type SourceMapping struct {
	Notes    []string      // sentences on how the source reads (sets, pagination)
	Settings []MappingItem // Name = setting, Value = its value
	Tables   []MappingItem // Name = SQL alias, Value = table
	Columns  []MappingItem // Name = canonical column ("calls.duration_ms"), Value = SQL expression
}

// MappingItem is one line of a SourceMapping.
type MappingItem struct {
	Name, Value string
	Origin      string // e.g. "default, public", "default, ASSUMED", "spec main.hcl:12,7"
}

// SourceDescriber describes a source block's mapping without connecting
// to anything. A connector supplies it through the Registry, so the engine
// prints mappings without importing connectors.
type SourceDescriber func(src dsl.Source) (*SourceMapping, error)

// Sink receives a run's output. The engine calls it from one goroutine, in
// the order Open, Agent*, (Call|Ledger)*, Commit or Abort. Nothing counts as
// sent until Commit returns nil.
type Sink interface {
	Open(ctx context.Context, info RunInfo) error
	Agent(ctx context.Context, a *OutAgent) error
	Call(ctx context.Context, c *OutCall) error
	Ledger(ctx context.Context, r LedgerRow) error
	Commit(ctx context.Context) error
	Abort() error
}

// SinkFactory opens the sink a spec's `sink` block names. A non-nil dryRun
// makes the sink print each request it would make there and send nothing.
type SinkFactory func(cfg dsl.Sink, dryRun io.Writer) (Sink, error)

// StagedRow is one row read back from a staged run: exactly one field is set.
type StagedRow struct {
	Agent  *OutAgent
	Call   *OutCall
	Ledger *LedgerRow
}

// StagingArea is the store-and-forward format: one folder per run holding
// what the run sent, kept for the staging retention.
type StagingArea interface {
	// Writer returns a sink that writes a staged copy into dir.
	Writer(dir string) Sink
	// Read reads a staged run back: agents, then calls (those keep accepts,
	// all when keep is nil), then the ledger rows of what it read.
	Read(dir string, fields []dsl.Field, keep func(callID string) bool, fn func(StagedRow) error) error
	// RemoveCalls rewrites a staged run without the given calls and returns
	// how many rows it removed.
	RemoveCalls(dir string, ids map[string]bool) (int, error)
}

// Labeled is implemented by a sink that can say where it sends, for people
// ("CXone https://api…").
type Labeled interface {
	Label() string
}

// DeliveryCounter is implemented by a sink that can say what it delivered
// in a run, beyond the rows the engine handed it (CXone: users created and
// updated, calls acknowledged, media files, business-data values): the
// summary and the report show it.
type DeliveryCounter interface {
	Delivered() []Delivered
}

// Delivered is one count of what a sink delivered, e.g. {"media files", 200}.
type Delivered struct {
	What string `json:"what"`
	N    int64  `json:"n"`
}

// UnknownFieldError is what StagingArea.Read returns for a staged value whose
// field is not among the fields it was given (the spec dropped or renamed
// it since the run): a caller that only shows the copy may add the field
// and read again.
type UnknownFieldError struct {
	Pos        string // where in the staged copy, e.g. calls.jsonl:12
	Type, Name string
}

// SelfStager is implemented by a sink that keeps the staged copy of a run
// itself (the outbox hard-links its own run files) instead of being teed into
// StagingArea.Writer.
type SelfStager interface {
	StageTo(dir string)
}

// SourceDescriptor is one source connector: its block in the spec language
// (attributes, docs, validate-time checks) and what the engine calls.
type SourceDescriptor struct {
	Spec dsl.Connector
	Open SourceFactory
	// Validate checks a source at validate time without a server (a folder
	// or file exists and reads); optional.
	Validate SourceValidator
	// Check checks a source as `applink check` does for its driver (mssql:
	// version, replica, catalog, counts); without one it is read through.
	Check SourceChecker
	// Describe is the mapping `applink plan` prints; optional.
	Describe SourceDescriber
}

// SinkDescriptor is one sink connector.
type SinkDescriptor struct {
	Spec  dsl.Connector
	Open  SinkFactory
	Check SinkChecker // credentials and endpoint; optional
	// MaxLength, optional, is what the sink's settings say about the
	// mapping: the longest text each field may carry in the sink (cxone's
	// max_length), which the plan applies (Registry.PrepareSink, right after
	// Compile).
	MaxLength func(cfg dsl.Sink) map[string]int
}

// SourceChecker checks one source, writing what it finds for people to w;
// it returns an error when a run could not read the source as planned.
type SourceChecker func(ctx context.Context, src dsl.Source, from time.Time, w io.Writer) error

// SinkChecker checks a sink block (credentials, endpoint, the fields it will
// write), writing what it finds to w, never a secret.
type SinkChecker func(ctx context.Context, cfg dsl.Sink, fields []dsl.Field, w io.Writer) error

// ID returns the ID of name, adding it when new.
func (n *Names) ID(name []byte) int32 {
	n.mu.RLock()
	id, ok := n.ids[string(name)]
	n.mu.RUnlock()
	if ok {
		return id
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if id, ok := n.ids[string(name)]; ok {
		return id
	}
	id = int32(len(n.list))
	s := string(name)
	n.ids[s] = id
	n.list = append(n.list, s)
	return id
}

// Name returns the name of an ID.
func (n *Names) Name(id int32) string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.list[id]
}

// Len is the number of names so far.
func (n *Names) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.list)
}

func (f Failure) Error() string {
	if f.Detail == "" {
		return f.Code
	}
	return f.Code + ": " + f.Detail
}

func (e *UnknownFieldError) Error() string {
	return fmt.Sprintf("%s: %s field %q is not in the spec any more", e.Pos, e.Type, e.Name)
}
