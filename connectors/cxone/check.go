package cxone

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/applink-dev/applink/dsl"
)

// Check tells, on w, whether a run could reach CXone with this sink block
// and environment: each credential variable that is not set, the token
// endpoint, whether the access key authenticates and the tenant its
// id_token names, the API endpoint (api_url or discovered), whether user
// search answers; then the spec's business-data fields, each of which must
// already exist in CXone. It never prints a secret. The error says how
// many problems it found.
func Check(ctx context.Context, cfg dsl.Sink, fields []dsl.Field, w io.Writer, opts Options) error {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 2 // a check reports, it does not wait out an outage
	}
	problems := 0
	missing := MissingEnv(opts.Getenv)
	for _, name := range missing {
		fmt.Fprintf(w, "cxone: environment variable %s is not set (the CXone credentials come only from the environment)\n", name)
		problems++
	}
	if len(missing) == 0 {
		problems += checkTenant(ctx, cfg, w, opts)
	}
	if len(fields) == 0 {
		fmt.Fprintln(w, "cxone: the spec maps no business-data field")
	} else {
		fmt.Fprintln(w, "cxone: business-data fields of the spec; each must already exist in CXone under this exact name (the Business Data API cannot create fields), and the access key's user needs the Update Business Data permission:")
		for _, f := range fields {
			fmt.Fprintf(w, "  %-24s %s\n", f.Name, f.Type)
		}
		fmt.Fprintln(w, "cxone: note: "+PlanWarning(fields))
	}
	if problems > 0 {
		return fmt.Errorf("cxone: %d problem(s), see above", problems)
	}
	return nil
}

// checkTenant walks discovery, authentication and a user search, printing
// each step; it returns the number of problems. A 429 is reported at once,
// never waited out: a check must answer, and it names the wait.
func checkTenant(ctx context.Context, cfg dsl.Sink, w io.Writer, opts Options) int {
	opts.MaxRateLimitWait = -1
	c, err := NewClient(cfg, opts)
	if err != nil {
		fmt.Fprintf(w, "cxone: %s\n", strings.TrimPrefix(err.Error(), "cxone: "))
		return 1
	}
	defer c.Close()
	say := func(format string, args ...any) {
		fmt.Fprint(w, c.red.clean(fmt.Sprintf("cxone: "+format+"\n", args...)))
	}
	sayErr := func(err error) { say("%s", strings.TrimPrefix(err.Error(), "cxone: ")) }
	if c.tokenURL == "" {
		if c.tokenURL, err = c.discoverTokenEndpoint(ctx); err != nil {
			sayErr(err)
			return 1
		}
		say("token endpoint: %s (from %s%s)", c.tokenURL, c.issuer, OpenIDConfigPath)
	} else {
		say("token endpoint: %s (auth_url)", c.tokenURL)
	}
	if _, err := c.tok.get(ctx); err != nil {
		sayErr(err)
		return 1
	}
	tenant := c.tok.tenantID()
	if tenant == "" {
		say("authenticated with the access key; the id_token names no tenant")
	} else {
		say("authenticated with the access key; tenant %s (the id_token's tenantId, read without verification)", tenant)
	}
	if cfg := c.cfg; cfg.APIURL != "" {
		say("API endpoint: %s (api_url)", cfg.APIURL)
	} else {
		conf, err := c.discoverAPI(ctx, tenant)
		if err != nil {
			sayErr(err)
			return 1
		}
		c.tenant.APIEndpoint, c.tenant.Area, c.tenant.Cluster = conf.APIEndpoint, conf.Area, conf.Cluster
		say("API endpoint: %s (from %s%s); area %s, cluster %s", conf.APIEndpoint, c.issuer, CXoneConfigPath, orNone(conf.Area), orNone(conf.Cluster))
	}
	c.tenant.TenantID = tenant
	c.connected.Store(true)
	body, _ := json.Marshal(map[string]any{"fields": []string{"id"}, "skip": 0, "top": 1})
	resp, err := c.send(ctx, &request{method: "POST", url: c.api(UsersSearchPath), family: FamilyUserManagement, contentType: "application/json", body: body, bearer: true})
	if err != nil {
		say("user search (POST %s) does not answer: %s", UsersSearchPath, c.red.clean(err.Error()))
		return 1
	}
	var ans searchResponse
	if err := json.Unmarshal(resp.body, &ans); err != nil {
		say("user search (POST %s) answered %d, not JSON", UsersSearchPath, resp.status)
		return 1
	}
	say("user search answers (POST %s: %d, %d users in the tenant)", UsersSearchPath, resp.status, ans.TotalRecords)
	rates := familyRates(c.cfg, opts.Extra)
	say("rate limits (requests per second, the tenant's, shared by every worker): user management %g, ingestion %g, business data %g", rates[FamilyUserManagement], rates[FamilyIngestion], rates[FamilyBusinessData])
	return 0
}

func orNone(s string) string {
	if s == "" {
		return "(none named)"
	}
	return s
}
