package auth

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/questline/questline/internal/errs"
)

// keyStore is this package's own in-memory KeyStore for unit tests; the
// real stores run the shared conformance suite in storage/storagetest.
type keyStore struct {
	mu   sync.Mutex
	keys []APIKey
}

func (s *keyStore) CreateAPIKey(_ context.Context, k APIKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, k)
	return nil
}

func (s *keyStore) APIKeyByHash(_ context.Context, hash string) (APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.Hash == hash {
			return k, nil
		}
	}
	return APIKey{}, errs.ErrNotFound
}

func (s *keyStore) ListAPIKeys(_ context.Context, tenant string) ([]APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []APIKey
	for _, k := range s.keys {
		if k.Tenant == tenant {
			out = append(out, k)
		}
	}
	return out, nil
}

func (s *keyStore) RevokeAPIKey(_ context.Context, tenant, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.keys {
		if k.Tenant == tenant && k.ID == id {
			s.keys[i].RevokedAt = &at
			return nil
		}
	}
	return errs.ErrNotFound
}

func TestAPIKeys(t *testing.T) {
	ctx := context.Background()
	store := &keyStore{}
	keys := NewKeys(store)
	k, plain, err := keys.Create(ctx, "acme", "pos", []string{"events:write"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, k.Prefix) || strings.Contains(store.keys[0].Hash, plain) || store.keys[0].Hash == plain {
		t.Fatalf("key %+v stored with its plaintext", store.keys[0])
	}
	p, err := keys.Authenticate(ctx, plain)
	if err != nil || p.Tenant != "acme" || !p.APIKey || !p.HasScope("events:write") || p.HasScope("manage") {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	for _, bad := range []string{"", "ql_nope", plain + "x", strings.ToUpper(plain)} {
		if _, err := keys.Authenticate(ctx, bad); errs.KindOf(err) != errs.Unauthorized {
			t.Errorf("key %q: %v", bad, err)
		}
	}
	if _, _, err := keys.Create(ctx, "acme", "x", []string{"root"}); errs.KindOf(err) != errs.Unprocessable {
		t.Errorf("unknown scope: %v", err)
	}
	if err := keys.Revoke(ctx, "globex", k.ID); errs.KindOf(err) != errs.NotFound {
		t.Errorf("revoke from another tenant: %v", err)
	}
	if err := keys.Revoke(ctx, "acme", k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Authenticate(ctx, plain); errs.KindOf(err) != errs.Unauthorized {
		t.Errorf("revoked key still works: %v", err)
	}
	if ks, _ := keys.List(ctx, "acme"); len(ks) != 1 || ks[0].RevokedAt == nil {
		t.Errorf("list = %+v", ks)
	}
}

func TestMiddleware(t *testing.T) {
	v, _ := NewVerifier(context.Background(), JWTConfig{Secret: secret})
	keys := NewKeys(&keyStore{})
	_, plain, _ := keys.Create(context.Background(), "acme", "pos", []string{"events:write"})
	tok, _ := Mint(secret, "alice", "acme", []Role{Manager}, time.Hour)
	app := fiber.New()
	app.Use(Middleware(v, keys))
	app.Get("/", func(c *fiber.Ctx) error {
		p, err := Require(c.UserContext())
		if err != nil {
			e, _ := errs.As(err)
			return c.Status(401).SendString(e.Code)
		}
		return c.SendString(p.Tenant + "/" + p.Subject)
	})
	for _, tc := range []struct {
		name, header, value, want string
	}{
		{"bearer", "Authorization", "Bearer " + tok, "acme/alice"},
		{"api key", "X-API-Key", plain, "acme/key:"},
		{"bad bearer", "Authorization", "Bearer nope", "invalid-token"},
		{"basic auth", "Authorization", "Basic YTpi", "unauthorized"},
		{"bad key", "X-API-Key", "ql_bad", "invalid-api-key"},
		{"none", "", "", "unauthorized"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		if tc.header != "" {
			req.Header.Set(tc.header, tc.value)
		}
		resp, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		body := make([]byte, 200)
		n, _ := resp.Body.Read(body)
		if !strings.HasPrefix(string(body[:n]), tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, body[:n], tc.want)
		}
	}
}
