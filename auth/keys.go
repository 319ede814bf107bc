package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/internal/errs"
)

// APIKey is a brand back end's credential. Only a hash of the secret is
// stored; the plaintext is shown once, at creation.
type APIKey struct {
	ID        string     `json:"id"`
	Tenant    string     `json:"-"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix" doc:"First characters of the key, to recognise it."`
	Hash      string     `json:"-"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// KeyStore keeps API keys; the hash is unique.
type KeyStore interface {
	CreateAPIKey(ctx context.Context, k APIKey) error
	APIKeyByHash(ctx context.Context, hash string) (APIKey, error)
	ListAPIKeys(ctx context.Context, tenant string) ([]APIKey, error)
	RevokeAPIKey(ctx context.Context, tenant, id string, at time.Time) error
}

// The scopes an API key can hold.
var knownScopes = []string{"events:write", "manage"}

// keyCacheTTL bounds both the lookups saved and how long a revoked key
// keeps working on a node that cached it.
const keyCacheTTL = 30 * time.Second

// Keys creates and authenticates API keys.
type Keys struct {
	store KeyStore
	now   func() time.Time

	mu    sync.Mutex
	cache map[string]cachedKey // by hash
}

type cachedKey struct {
	key APIKey
	at  time.Time
}

// NewKeys returns the API key service.
func NewKeys(store KeyStore) *Keys {
	return &Keys{store: store, now: time.Now, cache: map[string]cachedKey{}}
}

// Create makes a key and returns it with its plaintext, which is never
// stored or shown again.
func (k *Keys) Create(ctx context.Context, tenant, name string, scopes []string) (APIKey, string, error) {
	for _, s := range scopes {
		if !slices.Contains(knownScopes, s) {
			return APIKey{}, "", errs.New(errs.Unprocessable, "unknown-scope", "scope %q is not one of %s", s, strings.Join(knownScopes, ", ")).OnField("body.scopes")
		}
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return APIKey{}, "", fmt.Errorf("auth: create key: %w", err)
	}
	plain := "ql_" + hex.EncodeToString(raw)
	key := APIKey{
		ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, Name: name, Prefix: plain[:10],
		Hash: hashKey(plain), Scopes: slices.Compact(slices.Sorted(slices.Values(scopes))), CreatedAt: k.now().UTC().Truncate(time.Millisecond),
	}
	if err := k.store.CreateAPIKey(ctx, key); err != nil {
		return APIKey{}, "", fmt.Errorf("auth: create key: %w", err)
	}
	return key, plain, nil
}

// hashKey is a plain SHA-256: the secret has 192 random bits, so a slow
// password hash would add cost without adding safety.
func hashKey(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// Authenticate returns the principal of a presented key.
func (k *Keys) Authenticate(ctx context.Context, presented string) (Principal, error) {
	bad := errs.New(errs.Unauthorized, "invalid-api-key", "the API key is not valid")
	if !strings.HasPrefix(presented, "ql_") || len(presented) > 128 {
		return Principal{}, bad
	}
	hash := hashKey(presented)
	key, err := k.lookup(ctx, hash)
	if errors.Is(err, errs.ErrNotFound) {
		return Principal{}, bad
	}
	if err != nil {
		return Principal{}, fmt.Errorf("auth: api key: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(key.Hash), []byte(hash)) != 1 || key.RevokedAt != nil {
		return Principal{}, bad
	}
	return Principal{Tenant: key.Tenant, Subject: "key:" + key.ID, APIKey: true, Scopes: key.Scopes}, nil
}

func (k *Keys) lookup(ctx context.Context, hash string) (APIKey, error) {
	now := k.now()
	k.mu.Lock()
	c, ok := k.cache[hash]
	k.mu.Unlock()
	if ok && now.Sub(c.at) < keyCacheTTL {
		return c.key, nil
	}
	key, err := k.store.APIKeyByHash(ctx, hash)
	if err != nil {
		return APIKey{}, err
	}
	k.mu.Lock()
	if len(k.cache) > 10_000 {
		clear(k.cache) // bounded: keys are few; this only guards against churn
	}
	k.cache[hash] = cachedKey{key: key, at: now}
	k.mu.Unlock()
	return key, nil
}

// List returns the tenant's keys (never their secrets).
func (k *Keys) List(ctx context.Context, tenant string) ([]APIKey, error) {
	ks, err := k.store.ListAPIKeys(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("auth: list keys: %w", err)
	}
	return ks, nil
}

// Revoke disables a key; nodes that cached it stop accepting it within
// keyCacheTTL, this node at once.
func (k *Keys) Revoke(ctx context.Context, tenant, id string) error {
	err := k.store.RevokeAPIKey(ctx, tenant, id, k.now().UTC().Truncate(time.Millisecond))
	if errors.Is(err, errs.ErrNotFound) {
		return errs.New(errs.NotFound, "api-key-not-found", "no API key %q", id)
	}
	if err != nil {
		return fmt.Errorf("auth: revoke key: %w", err)
	}
	k.mu.Lock()
	for h, c := range k.cache {
		if c.key.ID == id {
			delete(k.cache, h)
		}
	}
	k.mu.Unlock()
	return nil
}
