package auth

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/internal/httpx"
)

// testServer is a Fiber app wired like the real server: the middleware,
// huma with this package's routes and the project's error mapping, and a
// /whoami route that reports the caller or its Require error code.
type testServer struct {
	app   *fiber.App
	api   huma.API
	keys  *Keys
	store *keyStore
}

func newTestServer(t *testing.T, withKeys bool) *testServer {
	t.Helper()
	v, err := NewVerifier(context.Background(), JWTConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{store: &keyStore{}}
	s.keys = NewKeys(s.store)
	mwKeys := s.keys
	if !withKeys {
		mwKeys = nil
	}
	s.app = fiber.New()
	s.app.Use(Middleware(v, mwKeys))
	s.app.Get("/whoami", func(c *fiber.Ctx) error {
		p, err := Require(c.UserContext())
		if err != nil {
			e, _ := errs.As(err)
			return c.Status(httpx.Status(e.Kind)).SendString(e.Code)
		}
		return c.SendString(p.Tenant + "/" + p.Subject)
	})
	httpx.InstallErrors(slog.New(slog.DiscardHandler))
	cfg := huma.DefaultConfig("Questline auth test", "1.0.0")
	cfg.Components.SecuritySchemes = SecuritySchemes()
	s.api = humafiber.New(s.app, cfg)
	s.api.UseMiddleware(AccessMiddleware(s.api))
	Routes(s.api, s.keys)
	return s
}

type response struct {
	status int
	body   string
}

// problemCode is the stable code of a problem+json body.
func (r response) problemCode(t *testing.T) string {
	t.Helper()
	var p struct{ Type string }
	if err := json.Unmarshal([]byte(r.body), &p); err != nil {
		t.Fatalf("not problem+json (%d): %s", r.status, r.body)
	}
	return strings.TrimPrefix(p.Type, httpx.ProblemBase)
}

func (s *testServer) do(t *testing.T, method, path string, headers map[string]string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: string(b)}
}

func bearerOf(t *testing.T, sub, tenant string, ttl time.Duration, roles ...Role) map[string]string {
	t.Helper()
	tok, err := Mint(secret, sub, tenant, roles, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"Authorization": "Bearer " + tok}
}

func TestMiddleware(t *testing.T) {
	s := newTestServer(t, true)
	_, plain, err := s.keys.Create(context.Background(), "acme", "pos", []string{ScopeEventsWrite})
	if err != nil {
		t.Fatal(err)
	}
	tok := bearerOf(t, "alice", "acme", time.Hour, Manager)["Authorization"]
	expired := bearerOf(t, "alice", "acme", -time.Hour)["Authorization"]
	tests := []struct {
		name    string
		headers map[string]string
		status  int
		want    string // prefix of the body
	}{
		{"no credential", nil, 401, "unauthorized"},
		{"bearer", map[string]string{"Authorization": tok}, 200, "acme/alice"},
		{"bearer, lower-case scheme", map[string]string{"Authorization": "bearer " + strings.TrimPrefix(tok, "Bearer ")}, 200, "acme/alice"},
		{"api key", map[string]string{"X-API-Key": plain}, 200, "acme/key:"},
		{"api key wins over bearer", map[string]string{"X-API-Key": plain, "Authorization": tok}, 200, "acme/key:"},
		{"bad bearer", map[string]string{"Authorization": "Bearer nope"}, 401, "invalid-token"},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, 401, "invalid-token"},
		{"expired bearer", map[string]string{"Authorization": expired}, 401, "token-expired"},
		{"basic auth", map[string]string{"Authorization": "Basic YTpi"}, 401, "unauthorized"},
		{"bad key", map[string]string{"X-API-Key": "ql_bad"}, 401, "invalid-api-key"},
		{"bad key with a good bearer", map[string]string{"X-API-Key": "ql_bad", "Authorization": tok}, 401, "invalid-api-key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, "GET", "/whoami", tc.headers, nil)
			if r.status != tc.status || !strings.HasPrefix(r.body, tc.want) {
				t.Fatalf("%d %q, want %d %q", r.status, r.body, tc.status, tc.want)
			}
		})
	}

	noKeys := newTestServer(t, false)
	if r := noKeys.do(t, "GET", "/whoami", map[string]string{"X-API-Key": plain}, nil); r.status != 401 || r.body != "invalid-api-key" {
		t.Fatalf("API key without a key service: %d %q", r.status, r.body)
	}
}

func TestRoutes(t *testing.T) {
	s := newTestServer(t, true)
	admin := bearerOf(t, "root", "acme", time.Hour, Admin)
	otherAdmin := bearerOf(t, "root", "globex", time.Hour, Admin)
	manager := bearerOf(t, "boss", "acme", time.Hour, Manager, Moderator)
	expiredAdmin := bearerOf(t, "root", "acme", -time.Hour, Admin)
	_, manageKey, err := s.keys.Create(context.Background(), "acme", "ops", []string{ScopeManage})
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"name": "pos", "scopes": []string{ScopeEventsWrite}}

	denied := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		body    any
		status  int
		code    string
	}{
		{"anonymous create", "POST", "/v1/api-keys", nil, body, 401, "unauthorized"},
		{"expired admin", "POST", "/v1/api-keys", expiredAdmin, body, 401, "token-expired"},
		{"manager create", "POST", "/v1/api-keys", manager, body, 403, "forbidden"},
		{"API key create", "POST", "/v1/api-keys", map[string]string{"X-API-Key": manageKey}, body, 403, "forbidden"},
		{"manager list", "GET", "/v1/api-keys", manager, nil, 403, "forbidden"},
		{"anonymous revoke", "DELETE", "/v1/api-keys/x", nil, nil, 401, "unauthorized"},
		{"unknown scope", "POST", "/v1/api-keys", admin, map[string]any{"name": "pos", "scopes": []string{"root"}}, 422, "validation-failed"},
		{"no scopes", "POST", "/v1/api-keys", admin, map[string]any{"name": "pos", "scopes": []string{}}, 422, "validation-failed"},
		{"no name", "POST", "/v1/api-keys", admin, map[string]any{"scopes": []string{ScopeManage}}, 422, "validation-failed"},
		{"blank name", "POST", "/v1/api-keys", admin, map[string]any{"name": "  ", "scopes": []string{ScopeManage}}, 422, "invalid-name"},
		{"unknown key", "DELETE", "/v1/api-keys/nope", admin, nil, 404, "api-key-not-found"},
	}
	for _, tc := range denied {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, tc.method, tc.path, tc.headers, tc.body)
			if r.status != tc.status || r.problemCode(t) != tc.code {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
	if n := len(s.store.keys); n != 1 {
		t.Fatalf("%d keys stored after rejected requests, want 1", n)
	}

	r := s.do(t, "POST", "/v1/api-keys", admin, body)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(r.body), &created); err != nil {
		t.Fatal(err)
	}
	key, _ := created["key"].(string)
	id, _ := created["id"].(string)
	if !strings.HasPrefix(key, "ql_") || id == "" || created["name"] != "pos" || !strings.HasPrefix(key, created["prefix"].(string)) {
		t.Fatalf("created = %s", r.body)
	}
	for _, field := range []string{"hash", "Hash", "tenant", "Tenant", "revoked_at"} {
		if _, ok := created[field]; ok {
			t.Fatalf("create response has %s: %s", field, r.body)
		}
	}
	if w := s.do(t, "GET", "/whoami", map[string]string{"X-API-Key": key}, nil); w.body != "acme/key:"+id {
		t.Fatalf("the new key authenticates as %q", w.body)
	}

	list := s.do(t, "GET", "/v1/api-keys", admin, nil)
	if list.status != 200 || strings.Contains(list.body, key) || strings.Contains(list.body, hashKey(key)) || !strings.Contains(list.body, id) {
		t.Fatalf("list: %d %s", list.status, list.body)
	}
	var listed struct {
		Keys []struct {
			ID, Name, Prefix string
			Scopes           []string
		}
	}
	if err := json.Unmarshal([]byte(list.body), &listed); err != nil || len(listed.Keys) != 2 {
		t.Fatalf("list body %s: %v", list.body, err)
	}
	if other := s.do(t, "GET", "/v1/api-keys", otherAdmin, nil); other.status != 200 || strings.Contains(other.body, id) {
		t.Fatalf("another tenant's list: %d %s", other.status, other.body)
	}

	if d := s.do(t, "DELETE", "/v1/api-keys/"+id, otherAdmin, nil); d.status != 404 || d.problemCode(t) != "api-key-not-found" {
		t.Fatalf("revoke from another tenant: %d %s", d.status, d.body)
	}
	if w := s.do(t, "GET", "/whoami", map[string]string{"X-API-Key": key}, nil); w.status != 200 {
		t.Fatalf("another tenant's revoke disabled the key: %d %s", w.status, w.body)
	}
	for range 2 { // revoking is idempotent
		if d := s.do(t, "DELETE", "/v1/api-keys/"+id, admin, nil); d.status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", d.status, d.body)
		}
	}
	if w := s.do(t, "GET", "/whoami", map[string]string{"X-API-Key": key}, nil); w.status != 401 || w.body != "invalid-api-key" {
		t.Fatalf("revoked key: %d %s", w.status, w.body)
	}
	if list := s.do(t, "GET", "/v1/api-keys", admin, nil); !strings.Contains(list.body, `"revoked_at"`) {
		t.Fatalf("list does not show the revocation: %s", list.body)
	}
}

func TestOpenAPI(t *testing.T) {
	s := newTestServer(t, true)
	doc := s.api.OpenAPI()
	tests := []struct {
		op *huma.Operation
		id string
	}{
		{doc.Paths["/v1/api-keys"].Post, "create-api-key"},
		{doc.Paths["/v1/api-keys"].Get, "list-api-keys"},
		{doc.Paths["/v1/api-keys/{id}"].Delete, "revoke-api-key"},
	}
	for _, tc := range tests {
		if tc.op == nil {
			t.Fatalf("operation %s missing", tc.id)
		}
		if tc.op.OperationID != tc.id || len(tc.op.Tags) != 1 || tc.op.Tags[0] != "auth" {
			t.Errorf("%s: id %q tags %v", tc.id, tc.op.OperationID, tc.op.Tags)
		}
		if len(tc.op.Security) != 1 || tc.op.Security[0]["bearer"] == nil {
			t.Errorf("%s: security %v", tc.id, tc.op.Security)
		}
	}
	schemes := doc.Components.SecuritySchemes
	if b := schemes["bearer"]; b == nil || b.Type != "http" || b.Scheme != "bearer" || b.BearerFormat != "JWT" {
		t.Errorf("bearer scheme = %+v", b)
	}
	if k := schemes["apiKey"]; k == nil || k.Type != "apiKey" || k.In != "header" || k.Name != "X-API-Key" {
		t.Errorf("apiKey scheme = %+v", k)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), `"hash"`) || strings.Contains(string(js), `"tenant"`) {
		t.Error("the OpenAPI document exposes a key's hash or tenant")
	}
}
