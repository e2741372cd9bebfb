package app

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/internal/testkit"
)

// TestEachRoleAsItsOwnDatabaseUser runs serve, pelican and emu as separate
// processes would in AWS, each logged in as its own Postgres role with only
// the grants the migrations give it: a product created, changed and deleted
// through the API travels the whole pipeline, and the status page and
// readiness work. A grant that is missing fails here.
func TestEachRoleAsItsOwnDatabaseUser(t *testing.T) {
	t.Parallel()
	base := testConfig(t)
	cfgs := map[string]Config{}
	for _, role := range []string{"emu", "pelican", "serve"} {
		c := base
		c.DatabaseURL = pgtest.AsUser(base.DatabaseURL, "refarch_"+role)
		c.Addr = testkit.FreeAddr(t)
		cfgs[role] = c
	}
	// Every error any role logs (a refused query the code shrugs off, such
	// as the status page's) fails the test.
	var errs errorLog
	defer func() {
		if s := errs.String(); s != "" {
			t.Errorf("the roles logged errors:\n%s", s)
		}
	}()
	// emu first: it creates its model's vector table, which serve reads.
	defer startLogging(t, cfgs["emu"], Roles{Emu: true}, &errs)()
	defer startLogging(t, cfgs["pelican"], Roles{Pelican: true}, &errs)()
	defer startLogging(t, cfgs["serve"], Roles{Serve: true}, &errs)()
	serveAddr := cfgs["serve"].Addr

	for role, c := range cfgs {
		if code, body := get(c.Addr + "/readyz"); code != http.StatusOK {
			t.Errorf("%s /readyz = %d %s", role, code, body)
		}
	}
	do := func(method, path, body string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+serveAddr+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != want {
			t.Fatalf("%s %s = %d %v, want %d", method, path, resp.StatusCode, out, want)
		}
		return out
	}
	p := do("POST", "/api/products", `{"sku":"ROLE-1","name":"Walnut desk","description":"solid walnut writing desk","price":"420.00","category":"Office"}`, http.StatusCreated)
	id := int64(p["id"].(float64))
	searchFinds := func(q, sku string) func() bool {
		return func() bool {
			code, body := get(serveAddr + "/api/search?q=" + q)
			return code == http.StatusOK && strings.Contains(body, `"sku":"`+sku+`"`)
		}
	}
	waitFor(t, "the new product to be searchable", searchFinds("walnut+desk", "ROLE-1"))
	do("PUT", "/api/products/"+itoa(id), `{"sku":"ROLE-1","name":"Oak desk","description":"solid oak standing desk","price":"420.00","category":"Office"}`, http.StatusOK)
	waitFor(t, "the change to be searchable", searchFinds("oak+standing+desk", "ROLE-1"))
	for _, page := range []string{"/status", "/?q=desk", "/api/products"} {
		if code, body := get(serveAddr + page); code != http.StatusOK {
			t.Errorf("GET %s = %d %.300s", page, code, body)
		}
	}
	do("DELETE", "/api/products/"+itoa(id), "", http.StatusNoContent)
	waitFor(t, "the deleted product to leave search", func() bool { return !searchFinds("oak+standing+desk", "ROLE-1")() })
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// errorLog keeps the error lines of text logs written to it concurrently.
type errorLog struct {
	mu sync.Mutex
	b  strings.Builder
	// warnings keeps WARN lines too.
	warnings bool
}

func (l *errorLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if strings.Contains(line, "level=ERROR") || l.warnings && strings.Contains(line, "level=WARN") {
			l.b.WriteString(line)
		}
	}
	return len(p), nil
}

func (l *errorLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
