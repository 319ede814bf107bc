package auth

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/internal/errs"
)

// keyStore is this package's own in-memory KeyStore for unit tests; the
// real stores run the shared conformance suite in storage/storagetest.
type keyStore struct {
	mu      sync.Mutex
	keys    []APIKey
	lookups int
	fail    error // returned by every call when set
}

func (s *keyStore) CreateAPIKey(_ context.Context, k APIKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	for _, o := range s.keys {
		if o.ID == k.ID || o.Hash == k.Hash {
			return fmt.Errorf("keyStore: %w", errs.ErrDuplicate)
		}
	}
	s.keys = append(s.keys, k)
	return nil
}

func (s *keyStore) APIKeyByHash(_ context.Context, hash string) (APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookups++
	if s.fail != nil {
		return APIKey{}, s.fail
	}
	for _, k := range s.keys {
		if k.Hash == hash {
			return k, nil
		}
	}
	return APIKey{}, fmt.Errorf("keyStore: %w", errs.ErrNotFound)
}

func (s *keyStore) ListAPIKeys(_ context.Context, tenant string) ([]APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
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
	if s.fail != nil {
		return s.fail
	}
	for i, k := range s.keys {
		if k.Tenant == tenant && k.ID == id {
			if k.RevokedAt == nil {
				s.keys[i].RevokedAt = &at
			}
			return nil
		}
	}
	return fmt.Errorf("keyStore: %w", errs.ErrNotFound)
}

func TestCreateKeyValidation(t *testing.T) {
	tests := []struct {
		name   string
		tenant string
		key    string
		scopes []string
		code   string // "" = created
	}{
		{"events", "acme", "pos", []string{ScopeEventsWrite}, ""},
		{"both scopes", "acme", "  shop  ", []string{ScopeManage, ScopeEventsWrite, ScopeManage}, ""},
		{"unicode name", "acme", "Kasse Köln", []string{ScopeManage}, ""},
		{"empty name", "acme", "   ", []string{ScopeManage}, "invalid-name"},
		{"long name", "acme", strings.Repeat("n", 101), []string{ScopeManage}, "invalid-name"},
		{"control character", "acme", "pos\n", []string{ScopeManage}, ""}, // trimmed
		{"inner control character", "acme", "p\x00s", []string{ScopeManage}, "invalid-name"},
		{"no scopes", "acme", "pos", nil, "scopes-required"},
		{"unknown scope", "acme", "pos", []string{ScopeEventsWrite, "root"}, "unknown-scope"},
		{"bad tenant", "", "pos", []string{ScopeManage}, "internal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &keyStore{}
			k, plain, err := NewKeys(store).Create(context.Background(), tc.tenant, tc.key, tc.scopes)
			switch tc.code {
			case "":
				if err != nil {
					t.Fatal(err)
				}
				if k.Name != strings.TrimSpace(tc.key) || len(store.keys) != 1 || plain == "" {
					t.Fatalf("created %+v", k)
				}
				for i := 1; i < len(k.Scopes); i++ {
					if k.Scopes[i-1] >= k.Scopes[i] {
						t.Fatalf("scopes not sorted and unique: %v", k.Scopes)
					}
				}
			case "internal":
				if err == nil || errs.KindOf(err) != errs.Internal {
					t.Fatalf("Create error = %v, want internal", err)
				}
			default:
				e, ok := errs.As(err)
				if !ok || e.Kind != errs.Unprocessable || e.Code != tc.code || e.Field == "" {
					t.Fatalf("Create error = %v, want %s", err, tc.code)
				}
				if len(store.keys) != 0 {
					t.Fatal("an invalid key was stored")
				}
			}
		})
	}
}

func TestAPIKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	store := &keyStore{}
	keys := NewKeys(store)
	k, plain, err := keys.Create(ctx, "acme", "pos", []string{ScopeEventsWrite})
	if err != nil {
		t.Fatal(err)
	}
	other, otherPlain, err := keys.Create(ctx, "globex", "shop", []string{ScopeManage})
	if err != nil {
		t.Fatal(err)
	}

	// The plaintext: "ql_" and 64 hex digits, shown once.
	secretPart, ok := strings.CutPrefix(plain, "ql_")
	if raw, err := hex.DecodeString(secretPart); !ok || err != nil || len(raw) != 32 {
		t.Fatalf("plaintext %q is not ql_ + 32 random bytes in hex", plain)
	}
	if plain == otherPlain || !strings.HasPrefix(plain, k.Prefix) || len(k.Prefix) >= len(plain)/4 {
		t.Fatalf("prefix %q of %q", k.Prefix, plain)
	}
	if id, err := uuid.Parse(k.ID); err != nil || id.Version() != 7 {
		t.Fatalf("id %q is not a UUIDv7", k.ID)
	}
	// Nothing stored holds the plaintext or its secret part.
	stored := fmt.Sprintf("%#v", store.keys)
	if strings.Contains(stored, plain) || strings.Contains(stored, secretPart) || strings.Contains(stored, secretPart[:16]) {
		t.Fatalf("the store holds the plaintext: %s", stored)
	}
	if store.keys[0].Hash != hashKey(plain) || len(store.keys[0].Hash) != 64 {
		t.Fatalf("hash = %q", store.keys[0].Hash)
	}
	// Neither the hash nor the tenant is ever serialised.
	js, _ := json.Marshal(store.keys[0])
	if strings.Contains(string(js), store.keys[0].Hash) || strings.Contains(string(js), "acme") {
		t.Fatalf("JSON of a key shows its hash or tenant: %s", js)
	}

	tests := []struct {
		name      string
		presented string
		tenant    string // "" = rejected
		scope     string
	}{
		{"acme's key", plain, "acme", ScopeEventsWrite},
		{"globex's key", otherPlain, "globex", ScopeManage},
		{"empty", "", "", ""},
		{"no prefix", secretPart, "", ""},
		{"wrong key", "ql_" + strings.Repeat("0", 64), "", ""},
		{"truncated", plain[:len(plain)-1], "", ""},
		{"extended", plain + "0", "", ""},
		{"upper case", strings.ToUpper(plain), "", ""},
		{"prefix only", k.Prefix, "", ""},
		{"the hash itself", store.keys[0].Hash, "", ""},
		{"too long", plain + strings.Repeat("0", 200), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := keys.Authenticate(ctx, tc.presented)
			if tc.tenant == "" {
				e, ok := errs.As(err)
				if !ok || e.Kind != errs.Unauthorized || e.Code != "invalid-api-key" {
					t.Fatalf("Authenticate error = %v, want invalid-api-key", err)
				}
				return
			}
			if err != nil || p.Tenant != tc.tenant || !p.APIKey || !p.HasScope(tc.scope) || len(p.Roles) != 0 ||
				!strings.HasPrefix(p.Subject, "key:") {
				t.Fatalf("Authenticate = %+v, %v", p, err)
			}
		})
	}

	list, err := keys.List(ctx, "acme")
	if err != nil || len(list) != 1 || list[0].ID != k.ID || list[0].RevokedAt != nil {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if err := keys.Revoke(ctx, "globex", k.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("revoke from another tenant: %v", err)
	}
	if err := keys.Revoke(ctx, "acme", "no-such-key"); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("revoke unknown: %v", err)
	}
	if err := keys.Revoke(ctx, "acme", k.ID); err != nil {
		t.Fatal(err)
	}
	if err := keys.Revoke(ctx, "acme", k.ID); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	if _, err := keys.Authenticate(ctx, plain); errs.KindOf(err) != errs.Unauthorized {
		t.Fatalf("revoked key still works on the node that revoked it: %v", err)
	}
	if _, err := keys.Authenticate(ctx, otherPlain); err != nil {
		t.Fatalf("revoking one key disabled another: %v", err)
	}
	if list, _ := keys.List(ctx, "acme"); len(list) != 1 || list[0].RevokedAt == nil {
		t.Fatalf("List after revoke = %+v", list)
	}
	if list, _ := keys.List(ctx, "globex"); len(list) != 1 || list[0].ID != other.ID {
		t.Fatalf("globex List = %+v", list)
	}
	if list, err := keys.List(ctx, "initech"); err != nil || len(list) != 0 {
		t.Fatalf("empty List = %+v, %v", list, err)
	}
}

// TestKeyCacheAcrossNodes: lookups are cached, and a key revoked through
// one node stops working on another within the cache TTL.
func TestKeyCacheAcrossNodes(t *testing.T) {
	ctx := context.Background()
	store := &keyStore{}
	node1, node2 := NewKeys(store), NewKeys(store)
	now := time.Now()
	node2.now = func() time.Time { return now }
	k, plain, err := node1.Create(ctx, "acme", "pos", []string{ScopeEventsWrite})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := node2.Authenticate(ctx, plain); err != nil {
			t.Fatal(err)
		}
	}
	if store.lookups != 1 {
		t.Fatalf("%d store lookups for 3 authentications, want 1", store.lookups)
	}
	if err := node1.Revoke(ctx, "acme", k.ID); err != nil {
		t.Fatal(err)
	}
	now = now.Add(keyCacheTTL)
	if _, err := node2.Authenticate(ctx, plain); errs.KindOf(err) != errs.Unauthorized {
		t.Fatalf("revoked key still works on another node after the cache TTL: %v", err)
	}
}

func TestKeyStoreFailure(t *testing.T) {
	ctx := context.Background()
	store := &keyStore{}
	keys := NewKeys(store)
	_, plain, err := keys.Create(ctx, "acme", "pos", []string{ScopeEventsWrite})
	if err != nil {
		t.Fatal(err)
	}
	store.fail = errors.New("connection refused")
	_, err = keys.Authenticate(ctx, plain)
	if e, ok := errs.As(err); !ok || e.Kind != errs.Unavailable || strings.Contains(e.Message, "refused") {
		t.Fatalf("Authenticate with the store down = %v, want Unavailable without detail", err)
	}
	if !errors.Is(err, store.fail) {
		t.Fatalf("cause lost: %v", err)
	}
	for name, err := range map[string]error{
		"create": func() error { _, _, err := keys.Create(ctx, "acme", "x", []string{ScopeManage}); return err }(),
		"list":   func() error { _, err := keys.List(ctx, "acme"); return err }(),
		"revoke": keys.Revoke(ctx, "acme", "x"),
	} {
		if errs.KindOf(err) != errs.Internal || !errors.Is(err, store.fail) || !strings.HasPrefix(err.Error(), "auth: ") {
			t.Errorf("%s with the store down: %v", name, err)
		}
	}
}

// TestUnknownKeyCache: a bad key presented again within the negative
// cache's TTL costs no store lookup; a key the store learns of another way
// works once the TTL has passed, and one created on this node at once.
func TestUnknownKeyCache(t *testing.T) {
	ctx := context.Background()
	store := &keyStore{}
	keys := NewKeys(store)
	now := time.Now()
	keys.now = func() time.Time { return now }
	bad := "ql_" + strings.Repeat("0", 64)
	for range 5 {
		_, err := keys.Authenticate(ctx, bad)
		wantCode(t, err, "invalid-api-key")
	}
	if store.lookups != 1 {
		t.Fatalf("%d store lookups for 5 tries of one unknown key, want 1", store.lookups)
	}

	// Another node created it (only possible in principle: its plaintext
	// is shown once, after creation).
	other := NewKeys(store)
	other.random = strings.NewReader(strings.Repeat("\x00", keyBytes))
	if _, plain, err := other.Create(ctx, "acme", "pos", []string{ScopeEventsWrite}); err != nil || plain != bad {
		t.Fatalf("Create = %q, %v", plain, err)
	}
	_, err := keys.Authenticate(ctx, bad)
	wantCode(t, err, "invalid-api-key")
	now = now.Add(unknownKeyTTL)
	if p, err := keys.Authenticate(ctx, bad); err != nil || p.Tenant != "acme" {
		t.Fatalf("key created elsewhere after the TTL: %+v, %v", p, err)
	}

	// Created on this node: cleared at once.
	bad2 := "ql_" + strings.Repeat("01", 32)
	_, err = keys.Authenticate(ctx, bad2)
	wantCode(t, err, "invalid-api-key")
	keys.random = strings.NewReader(strings.Repeat("\x01", keyBytes))
	if _, plain, err := keys.Create(ctx, "acme", "pos2", []string{ScopeEventsWrite}); err != nil || plain != bad2 {
		t.Fatalf("Create = %q, %v", plain, err)
	}
	if p, err := keys.Authenticate(ctx, bad2); err != nil || p.Tenant != "acme" {
		t.Fatalf("key created on this node while cached unknown: %+v, %v", p, err)
	}

	// Bounded: a flood of random keys never grows the cache past its cap.
	for i := range maxUnknownKeys + 10 {
		_, _ = keys.Authenticate(ctx, fmt.Sprintf("ql_%064x", i+100))
	}
	keys.mu.Lock()
	n := len(keys.unknown)
	keys.mu.Unlock()
	if n > maxUnknownKeys {
		t.Fatalf("negative cache holds %d entries, cap %d", n, maxUnknownKeys)
	}
}
