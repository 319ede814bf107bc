package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/questline/questline/internal/errs"
)

// APIKey is a brand back end's credential. Only a hash of the key is
// stored; the plaintext is shown once, at creation.
type APIKey struct {
	ID        string     `json:"id" doc:"Key id (UUIDv7)."`
	Tenant    string     `json:"-"`
	Name      string     `json:"name" doc:"What the key is for, e.g. the POS integration."`
	Prefix    string     `json:"prefix" doc:"First characters of the key, to recognise it in lists."`
	Hash      string     `json:"-"` // hex SHA-256 of the whole key as presented ("ql_…"); the plaintext is never stored
	Scopes    []string   `json:"scopes" doc:"events:write (send any event type for any user), manage (manager actions)."`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty" doc:"When the key was revoked; it no longer authenticates."`
}

// KeyStore keeps API keys. storage/sqlite and storage/mongo implement it
// and pass the conformance suite in storage/storagetest.
type KeyStore interface {
	// CreateAPIKey stores k; an existing id or hash is errs.ErrDuplicate.
	CreateAPIKey(ctx context.Context, k APIKey) error
	// APIKeyByHash finds a key of any tenant, revoked ones included; a
	// wrapped errs.ErrNotFound when absent.
	APIKeyByHash(ctx context.Context, hash string) (APIKey, error)
	// ListAPIKeys lists a tenant's keys, revoked ones included.
	ListAPIKeys(ctx context.Context, tenant string) ([]APIKey, error)
	// RevokeAPIKey marks the tenant's key revoked at at; a wrapped
	// errs.ErrNotFound when the tenant has no such key.
	RevokeAPIKey(ctx context.Context, tenant, id string, at time.Time) error
}

// The scopes an API key can hold.
const (
	// ScopeEventsWrite lets a back end send any event type, trusted ones
	// included, for any user of its tenant.
	ScopeEventsWrite = "events:write"
	// ScopeManage lets a back end do what a manager does: every route
	// declared Managers or Readers admits it. It never manages API keys.
	ScopeManage = "manage"
)

// Scopes lists every scope an API key can hold.
func Scopes() []string { return []string{ScopeEventsWrite, ScopeManage} }

const (
	// keyPrefix starts every key, so leaked keys are easy to scan for.
	keyPrefix = "ql_"
	// keyBytes of randomness make a key: 256 bits.
	keyBytes = 32
	// shownPrefix is how many leading characters of a key are stored and
	// listed, to recognise it: "ql_" and 8 hex digits (32 of 256 bits).
	shownPrefix = len(keyPrefix) + 8
	// maxKeyLen rejects absurd presented keys before hashing them.
	maxKeyLen = 128
	// maxNameLen bounds a key's name, in characters.
	maxNameLen = 100
	// keyCacheTTL bounds both the lookups saved and how long a revoked key
	// keeps working on a node other than the one that revoked it.
	keyCacheTTL = 30 * time.Second
	// maxCachedKeys bounds the cache; keys are few, so this only guards
	// against churn.
	maxCachedKeys = 10_000
	// unknownKeyTTL is how long a presented key the store does not hold is
	// refused without asking the store again: a client retrying a bad key
	// costs a hash, not a lookup. A key created on this node is cleared at
	// once; one created elsewhere cannot have been presented before its
	// creation, but would work here within this time if it had.
	unknownKeyTTL = 5 * time.Second
	// maxUnknownKeys bounds the negative cache: random keys fill it, so
	// when full it is emptied (the per-client limit on failed
	// authentications bounds the lookups that then follow).
	maxUnknownKeys = 10_000
	// storeTimeout bounds each key lookup: fasthttp does not cancel a
	// request's context when the client goes away.
	storeTimeout = 5 * time.Second
)

// Keys creates, authenticates, lists and revokes API keys. It is safe for
// concurrent use.
type Keys struct {
	store  KeyStore
	now    func() time.Time
	random io.Reader // crypto/rand.Reader, but for tests

	mu      sync.Mutex
	cache   map[string]cachedKey // by hash
	unknown map[string]time.Time // hashes the store did not hold, and when it said so
}

type cachedKey struct {
	key APIKey
	at  time.Time
}

// NewKeys returns the API key service over store.
func NewKeys(store KeyStore) *Keys {
	return &Keys{store: store, now: time.Now, random: rand.Reader, cache: map[string]cachedKey{}, unknown: map[string]time.Time{}}
}

// Create makes a key for tenant and returns it with its plaintext
// ("ql_" and 64 hex digits), which is never stored nor shown again. The
// name must be 1-100 printable characters and scopes a non-empty subset of
// Scopes().
func (k *Keys) Create(ctx context.Context, tenant, name string, scopes []string) (APIKey, string, error) {
	if !idPattern.MatchString(tenant) {
		return APIKey{}, "", fmt.Errorf("auth: create key: bad tenant %q", tenant)
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > maxNameLen || !utf8.ValidString(name) ||
		strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return APIKey{}, "", errs.New(errs.Unprocessable, "invalid-name", "the name must be 1-%d printable characters", maxNameLen).OnField("body.name")
	}
	if len(scopes) == 0 {
		return APIKey{}, "", errs.New(errs.Unprocessable, "scopes-required", "give the key at least one scope: %s", strings.Join(Scopes(), ", ")).OnField("body.scopes")
	}
	for _, s := range scopes {
		if !slices.Contains(Scopes(), s) {
			return APIKey{}, "", errs.New(errs.Unprocessable, "unknown-scope", "scope %q is not one of %s", s, strings.Join(Scopes(), ", ")).OnField("body.scopes")
		}
	}
	raw := make([]byte, keyBytes)
	if _, err := io.ReadFull(k.random, raw); err != nil {
		return APIKey{}, "", fmt.Errorf("auth: create key: %w", err)
	}
	plain := keyPrefix + hex.EncodeToString(raw)
	id, err := uuid.NewV7()
	if err != nil {
		return APIKey{}, "", fmt.Errorf("auth: create key: %w", err)
	}
	key := APIKey{
		ID: id.String(), Tenant: tenant, Name: name, Prefix: plain[:shownPrefix], Hash: hashKey(plain),
		Scopes: slices.Compact(slices.Sorted(slices.Values(scopes))), CreatedAt: k.now().UTC().Truncate(time.Millisecond),
	}
	if err := k.store.CreateAPIKey(ctx, key); err != nil {
		return APIKey{}, "", fmt.Errorf("auth: create key: %w", err)
	}
	k.mu.Lock()
	delete(k.unknown, key.Hash)
	k.mu.Unlock()
	return key, plain, nil
}

// hashKey is a plain SHA-256 of the whole key: the key has 256 random
// bits, so a slow password hash would add cost without adding safety.
func hashKey(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// Authenticate returns the principal of a presented key: its tenant,
// subject "key:<id>", APIKey set and its scopes. An unknown, malformed or
// revoked key is an Unauthorized "invalid-api-key" error; a store failure
// is Unavailable. Lookups are cached for 30 seconds, so a key revoked on
// another node stops working here within that time (on this node at once).
func (k *Keys) Authenticate(ctx context.Context, presented string) (Principal, error) {
	bad := errs.New(errs.Unauthorized, "invalid-api-key", "the API key is not valid")
	if !strings.HasPrefix(presented, keyPrefix) || len(presented) > maxKeyLen {
		return Principal{}, bad
	}
	hash := hashKey(presented)
	key, err := k.lookup(ctx, hash)
	if errors.Is(err, errs.ErrNotFound) {
		return Principal{}, bad
	}
	if err != nil {
		return Principal{}, &errs.Error{Kind: errs.Unavailable, Code: "unavailable",
			Message: "the API key cannot be checked right now", Err: fmt.Errorf("auth: authenticate key: %w", err)}
	}
	// The store found the key by its hash; comparing again in constant
	// time guards against a store whose match is looser than equality.
	if subtle.ConstantTimeCompare([]byte(key.Hash), []byte(hash)) != 1 || key.RevokedAt != nil {
		return Principal{}, bad
	}
	return Principal{Tenant: key.Tenant, Subject: "key:" + key.ID, APIKey: true, Scopes: slices.Clone(key.Scopes)}, nil
}

// lookup finds a key by hash, through the caches of known and unknown
// keys.
func (k *Keys) lookup(ctx context.Context, hash string) (APIKey, error) {
	now := k.now()
	k.mu.Lock()
	c, ok := k.cache[hash]
	at, unknown := k.unknown[hash]
	k.mu.Unlock()
	if ok && now.Sub(c.at) < keyCacheTTL {
		return c.key, nil
	}
	if unknown && now.Sub(at) < unknownKeyTTL {
		return APIKey{}, fmt.Errorf("auth: key lookup: %w (cached)", errs.ErrNotFound)
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	key, err := k.store.APIKeyByHash(ctx, hash)
	if errors.Is(err, errs.ErrNotFound) {
		k.mu.Lock()
		if len(k.unknown) >= maxUnknownKeys {
			clear(k.unknown)
		}
		k.unknown[hash] = now
		k.mu.Unlock()
	}
	if err != nil {
		return APIKey{}, err
	}
	k.mu.Lock()
	if len(k.cache) >= maxCachedKeys {
		clear(k.cache)
	}
	k.cache[hash] = cachedKey{key: key, at: now}
	k.mu.Unlock()
	return key, nil
}

// List returns the tenant's keys, revoked ones included (never their
// secrets).
func (k *Keys) List(ctx context.Context, tenant string) ([]APIKey, error) {
	ks, err := k.store.ListAPIKeys(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("auth: list keys of %s: %w", tenant, err)
	}
	for i := range ks {
		if ks[i].Scopes == nil {
			ks[i].Scopes = []string{}
		}
	}
	return ks, nil
}

// Revoke disables a key of tenant: a NotFound "api-key-not-found" error
// when the tenant has no such key. Revoking a revoked key succeeds and keeps
// the first revocation time. Other nodes stop accepting the key within 30
// seconds (their lookup cache), this node at once.
func (k *Keys) Revoke(ctx context.Context, tenant, id string) error {
	err := k.store.RevokeAPIKey(ctx, tenant, id, k.now().UTC().Truncate(time.Millisecond))
	if errors.Is(err, errs.ErrNotFound) {
		return &errs.Error{Kind: errs.NotFound, Code: "api-key-not-found", Message: fmt.Sprintf("no API key %q", id), Err: err}
	}
	if err != nil {
		return fmt.Errorf("auth: revoke key %s: %w", id, err)
	}
	k.mu.Lock()
	for h, c := range k.cache {
		if c.key.ID == id && c.key.Tenant == tenant {
			delete(k.cache, h)
		}
	}
	k.mu.Unlock()
	return nil
}
