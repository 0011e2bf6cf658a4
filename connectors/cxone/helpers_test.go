package cxone

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// testFields is the plan's field list in these tests.
var testFields = []dsl.Field{
	{Type: dsl.TypeText, Name: "CustomerID"},
	{Type: dsl.TypeNumber, Name: "OrderTotal"},
	{Type: dsl.TypeBoolean, Name: "VIP"},
}

// harness is one sink against one fake tenant, with everything it lets out
// captured: logs, failure reasons, errors and sleeps.
type harness struct {
	t    *testing.T
	srv  *cxonetest.Server
	sink *Sink
	log  bytes.Buffer // written by slog under its own lock
	mu   sync.Mutex
	fail map[string]string // "call:id" -> reason
	errs []string
	slps []time.Duration
}

func (h *harness) record(entity, id string, f connector.Failure) {
	reason := f.Error()
	h.mu.Lock()
	defer h.mu.Unlock()
	k := entity + ":" + id
	if _, dup := h.fail[k]; dup {
		h.t.Errorf("%s failed twice", k)
	}
	h.fail[k] = reason
}

func (h *harness) sleeps() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.slps...)
}

// newHarness builds a sink for srv; edit adjusts the block and the options.
func newHarness(t *testing.T, srv *cxonetest.Server, edit func(*dsl.Sink, *Options)) *harness {
	t.Helper()
	h := &harness{t: t, srv: srv, fail: map[string]string{}}
	cfg := dsl.Sink{Kind: "cxone", APIURL: srv.APIURL, AuthURL: srv.URL, Concurrency: 4, RequestsPerSecond: 1e5, Timeout: 2 * time.Second}
	opts := Options{
		Getenv: srv.Getenv,
		Log:    slog.New(slog.NewTextHandler(&lockedWriter{w: &h.log}, nil)),
		// Record sleeps instead of sleeping: backoff and Retry-After are
		// asserted on, not waited for.
		Sleep: func(ctx context.Context, d time.Duration) error {
			h.mu.Lock()
			h.slps = append(h.slps, d)
			h.mu.Unlock()
			return ctx.Err()
		},
	}
	if edit != nil {
		edit(&cfg, &opts)
	}
	s, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.sink = s
	return h
}

func (h *harness) open(ctx context.Context) error {
	return h.sink.Open(ctx, connector.RunInfo{RunID: "r1", Fields: testFields, Fail: h.record})
}

func (h *harness) err(err error) error {
	if err != nil {
		h.mu.Lock()
		h.errs = append(h.errs, err.Error())
		h.mu.Unlock()
	}
	return err
}

// noSecrets fails when any credential or token (or one of extra) appears in
// what the sink let out.
func (h *harness) noSecrets(extra ...string) {
	h.t.Helper()
	h.mu.Lock()
	var all []string
	all = append(all, h.log.String())
	for k, v := range h.fail {
		all = append(all, k+" "+v)
	}
	all = append(all, h.errs...)
	h.mu.Unlock()
	text := strings.Join(all, "\n")
	for _, sec := range append(h.srv.Secrets(), extra...) {
		if strings.Contains(text, sec) {
			h.t.Errorf("secret %.4s… appears in the sink's output", sec)
		}
	}
}

func nan() float64 { return math.NaN() }

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// testCall returns call i; every third has no media, every fourth no values.
func testCall(t testing.TB, dir string, i int) *connector.OutCall {
	c := &connector.OutCall{
		CallID:      fmt.Sprintf("call-%04d", i),
		SystemID:    "engage-acme",
		AgentUserID: fmt.Sprintf("u%d", i%3),
		StartTime:   time.Date(2026, 11, 2, 9, 0, i%60, 0, time.UTC),
		DurationMS:  int64(1000 * (i + 3)),
		Direction:   "in",
		ANI:         "+3215550" + fmt.Sprint(i),
		DNIS:        "+3215551000",
	}
	if i%3 != 0 {
		c.Media = fmt.Sprintf("media/%d.nmf", i)
		c.MediaFile = filepath.Join(dir, fmt.Sprintf("%d.wav", i))
		if err := os.WriteFile(c.MediaFile, bytes.Repeat([]byte{byte(i)}, 100+i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if i%4 != 0 {
		c.Values = []connector.Value{
			{Field: 0, Text: []byte(fmt.Sprintf("C%d", i))},
			{Field: 1, Number: float64(i) + 0.5},
			{Field: 2, Bool: i%2 == 0},
		}
	}
	return c
}

func testAgents() []*connector.OutAgent {
	return []*connector.OutAgent{
		{UserID: "u0", FirstName: "Ann", LastName: "Smith", Email: "ann@acme.example", AgentIDs: []string{"1001"}, Active: true},
		{UserID: "u1", FirstName: "Bob", LastName: "Jones", Email: "Bob@Acme.example", AgentIDs: []string{"1003", "1002"}, Active: true},
		{UserID: "u2", FirstName: "Cy", LastName: "Young", Email: "cy@acme.example", AgentIDs: []string{"1004"}, Active: true},
	}
}
