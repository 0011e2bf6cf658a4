package cxone

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/dsl"
)

// TestBusinessDataNotFoundThenSuccess: the contact is not closed yet, so
// the Business Data API answers 404: the call fails bd_contact_not_found
// (its metadata and media are delivered). The next run sends the call
// again: the POST and the media PUT are answered from the idempotency
// store (nothing written twice) and the business data goes through.
func TestBusinessDataNotFoundThenSuccess(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{ContactsStayOpen: true, BusinessDataFields: []string{"CustomerID", "OrderTotal", "VIP"}})
	defer srv.Close()
	dir := t.TempDir()
	for run := range 2 {
		h := newHarness(t, srv, nil)
		ctx := context.Background()
		if err := h.open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := h.sink.Call(ctx, testCall(t, dir, 1)); err != nil { // media and values
			t.Fatal(err)
		}
		if err := h.sink.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		reason, failed := h.fail["call:call-0001"]
		st := h.sink.Stats()
		switch run {
		case 0:
			re := regexp.MustCompile(`^bd_contact_not_found: contact 100001: Requested contact was not found \(the Business Data API accepts only closed contacts; the next run retries\)$`)
			if !failed || !re.MatchString(reason) || st.BusinessDataNotFound != 1 || st.Media != 1 {
				t.Fatalf("run 1: failed %v %q, stats %+v", failed, reason, st)
			}
			if c, ok := srv.Calls()["call-0001"]; !ok || len(c.Media) != 101 {
				t.Fatalf("run 1: the call and its media must be delivered before the business data")
			}
			srv.CloseContacts(false)
		case 1:
			if failed || st.CallsAcked != 1 || st.BusinessData != 1 {
				t.Fatalf("run 2: failed %v %q, stats %+v", failed, reason, st)
			}
		}
	}
	if bd := srv.BusinessData("100001"); bd["CustomerID"] != "C1" || bd["OrderTotal"] != 1.5 || bd["VIP"] != false {
		t.Errorf("business data %v", bd)
	}
	for k, n := range srv.Writes() {
		if n != 1 {
			t.Errorf("%s applied %d times", k[:16], n)
		}
	}
	var replayed []string
	for _, r := range srv.Requests() {
		if r.Replayed {
			replayed = append(replayed, r.Method+" "+r.Path)
		}
	}
	slices.Sort(replayed)
	if strings.Join(replayed, ",") != "POST /applink/v1/calls,PUT /applink/v1/calls/call-0001/media" {
		t.Errorf("replayed on the second run: %v", replayed)
	}
}

// TestBusinessDataRateLimit: business data waits for its own bucket (here
// 10/s) on top of the sink's (here unlimited in practice).
func TestBusinessDataRateLimit(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{})
	defer srv.Close()
	now := time.Now()
	h := newHarness(t, srv, func(c *dsl.Sink, o *Options) {
		c.Concurrency = 1
		c.BusinessDataRequestsPerSecond = 10
		o.Now = func() time.Time { return now } // the limiter's reservations are then exact
	})
	ctx := context.Background()
	if err := h.open(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, i := range []int{1, 2, 3, 5} { // each has values
		if err := h.sink.Call(ctx, testCall(t, dir, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.sink.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if len(h.fail) != 0 {
		t.Fatal(h.fail)
	}
	var long []time.Duration
	for _, d := range h.sleeps() {
		if d >= 50*time.Millisecond {
			long = append(long, d)
		}
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	if !slices.Equal(long, want) {
		t.Errorf("business-data waits %v, want %v", long, want)
	}
}
