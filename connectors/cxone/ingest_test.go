package cxone

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/dsl"
)

// storeForward is a second ingestion adapter, shaped like a bulk import
// API might be (one multipart request: the interaction as JSON and its
// media): it is what replacing ingest_applink.go looks like. Everything
// else — authentication, rate limits, retries, business data, the sink —
// is the package's, unchanged: the adapter plugs in through
// Options.Ingestion and sends through the client's send.
type storeForward struct{ c *Client }

const sfPath = "/store-and-forward/v1/interactions"

func (a *storeForward) Ingest(ctx context.Context, it *Interaction) (string, error) {
	var body strings.Builder
	w := multipart.NewWriter(&body)
	meta, _ := json.Marshal(it)
	part, _ := w.CreateFormField("interaction")
	part.Write(meta)
	if it.Media != nil {
		data, err := os.ReadFile(it.Media.Path)
		if err != nil {
			return "", mediaFailure(err, a.c.red)
		}
		fp, _ := w.CreateFormFile("media", it.MediaPath)
		fp.Write(data)
	}
	w.Close()
	resp, err := a.c.send(ctx, &request{method: "POST", url: a.c.api(sfPath), family: FamilyIngestion,
		contentType: w.FormDataContentType(), body: []byte(body.String()), idemKey: it.IdempotencyKey, bearer: true})
	if err != nil {
		return "", err
	}
	var ans struct {
		ContactID string `json:"contactId"`
	}
	_ = json.Unmarshal(resp.body, &ans)
	return ans.ContactID, nil
}

func (a *storeForward) Plan(it *Interaction) []PlannedRequest {
	return []PlannedRequest{{Method: "POST", Path: sfPath, ContentType: "multipart/form-data", IdempotencyKey: it.IdempotencyKey}}
}

// TestSecondIngestionAdapter: the sink delivers through another adapter
// with nothing else changed: the adapter's host gets one request per call
// carrying the interaction and its media; business data goes to the
// published API with the contact id the adapter returned.
func TestSecondIngestionAdapter(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{}) // the issuer (tokens)
	defer srv.Close()
	var mu sync.Mutex
	got := map[string]int{} // interaction id -> media bytes
	bd := map[string]string{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-") || r.Header.Get("Accept") != "application/json" {
			w.WriteHeader(401)
			return
		}
		switch {
		case r.Method == "POST" && r.URL.Path == sfPath:
			_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			mr := multipart.NewReader(r.Body, params["boundary"])
			var it Interaction
			n := 0
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				b, _ := io.ReadAll(p)
				if p.FormName() == "interaction" {
					json.Unmarshal(b, &it)
				} else {
					n = len(b)
				}
			}
			mu.Lock()
			got[it.ID] = n
			mu.Unlock()
			w.WriteHeader(201)
			json.NewEncoder(w).Encode(map[string]string{"contactId": "sf-" + it.ID})
		case r.Method == "PUT" && strings.HasPrefix(r.URL.Path, "/business-data-manager/v1/business-data/contact/"):
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bd[strings.TrimPrefix(r.URL.Path, "/business-data-manager/v1/business-data/contact/")] = string(b)
			mu.Unlock()
			w.WriteHeader(204)
		default:
			w.WriteHeader(404)
		}
	}))
	defer api.Close()
	h := newHarness(t, srv, func(c *dsl.Sink, o *Options) {
		c.APIURL = api.URL
		o.Ingestion = func(c *Client) Ingestion { return &storeForward{c: c} }
	})
	ctx := context.Background()
	if err := h.open(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := range 8 {
		if err := h.sink.Call(ctx, testCall(t, dir, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.sink.Commit(ctx); err != nil || len(h.fail) != 0 {
		t.Fatalf("commit %v, failures %v", err, h.fail)
	}
	if len(got) != 8 || got["call-0001"] != 101 || got["call-0003"] != 0 {
		t.Errorf("store-and-forward host got %v", got)
	}
	if bd["sf-call-0001"] != `[{"CustomerID":"C1"},{"OrderTotal":1.5},{"VIP":false}]` || len(bd) != 6 {
		t.Errorf("business data %v", bd)
	}
	if st := h.sink.Stats(); st.CallsAcked != 8 || st.Media != 5 {
		t.Errorf("stats %+v", st)
	}
}
