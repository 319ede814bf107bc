package auth

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/questline/questline/internal/errs"
)

// JWTConfig says how tokens are verified. Secret may be combined with one
// asymmetric source (JWKSURL or PublicKeyPEM, not both): HMAC tokens are
// then checked only against Secret and the others only against the public
// keys, so neither can be confused for the other.
type JWTConfig struct {
	Secret       []byte        // HS256 secret, at least 16 bytes
	JWKSURL      string        // RS256/ES256/EdDSA keys of an identity provider, fetched and refreshed by keyfunc
	PublicKeyPEM []byte        // one RSA (2048+ bits), EC or Ed25519 public key: PKIX, PKCS#1 or an RSA/EC certificate
	Algorithms   []string      // pinned; default HS256 with Secret, plus RS256, ES256, EdDSA with a JWKS URL or PEM
	Issuer       string        // required iss when set
	Audience     string        // required aud when set
	Leeway       time.Duration // clock skew allowed on exp, nbf and iat; default 30s
	// TenantClaim names the claim holding the tenant id, default "tid";
	// identity providers add their own as namespaced claims, e.g.
	// "https://questline.dev/tenant" (Auth0) or "custom:tenant" (Cognito).
	// Only the named claim is read: with another name configured, an Azure
	// AD token's own "tid" (its directory) is ignored.
	TenantClaim string
	// RolesClaim names the claim holding the roles, an array of strings,
	// default "roles"; e.g. "cognito:groups".
	RolesClaim string
	// Tenant, when set, is the tenant of every token (a single-brand
	// deployment): the tenant claim may be absent, and a token whose
	// tenant claim names another tenant is refused.
	Tenant string
}

// Verifier checks JWTs with the pinned algorithms and configured keys. It
// is safe for concurrent use.
type Verifier struct {
	keyfunc jwt.Keyfunc
	parser  *jwt.Parser

	// seen caches tokens already verified: a phone sends the same token
	// with every request, and parsing and checking its signature was a
	// tenth of the server's CPU under load. An entry never outlives the
	// token's own expiry, nor verifiedTTL. Validly signed tokens found
	// expired are cached too, as expired.
	mu   sync.Mutex
	seen map[string]verified
	gen  uint64 // counts forget calls: a verification that raced one is not cached
	now  func() time.Time

	tenantClaim, rolesClaim, tenant string
}

type verified struct {
	p       Principal
	exp     time.Time // of the entry
	expired bool      // validly signed but expired: answered token-expired
}

const (
	// Cache bounds: entries live at most verifiedTTL and the map holds at
	// most maxVerified entries, so a flood of distinct tokens costs bounded
	// memory. Only validly signed tokens are cached.
	verifiedTTL = 5 * time.Minute
	maxVerified = 100_000

	// maxTokenLen bounds the work an anonymous caller can ask for.
	maxTokenLen = 8 << 10
	// minSecretLen is the shortest HS256 secret accepted.
	minSecretLen = 16
	// minRSABits is the smallest RSA key accepted from a PEM.
	minRSABits = 2048
	// jwksTimeout bounds each JWKS fetch, so a dead identity provider
	// cannot hold up start-up or a request for long.
	jwksTimeout = 10 * time.Second
	// jwksRefresh is how often the JWKS is fetched again, to learn of
	// rotated and removed keys.
	jwksRefresh = time.Hour
	// defaultLeeway is the clock skew allowed when JWTConfig.Leeway is 0.
	defaultLeeway = 30 * time.Second
)

// idPattern bounds tenant ids to a safe charset: they end up in storage
// keys, cache keys and channel names, where the first "|" separates the
// tenant from the rest.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._:@-]{1,128}$`)

// registeredClaims are the JWT claims (RFC 7519) a tenant or roles claim
// name must not reuse.
var registeredClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"}

// NewVerifier builds a verifier. A JWKS is fetched with ctx, which also
// ends its background refresh; a JWKS that cannot be fetched at start-up is
// retried on the first token with an unknown key id rather than failing
// start-up. It fails when no key is configured, a key is unusable or an
// algorithm has no key to check it.
func NewVerifier(ctx context.Context, cfg JWTConfig) (*Verifier, error) {
	v := &Verifier{seen: map[string]verified{}, now: time.Now}
	if err := v.setClaims(cfg); err != nil {
		return nil, err
	}
	if cfg.JWKSURL != "" && len(cfg.PublicKeyPEM) > 0 {
		return nil, errors.New("auth: configure a JWKS URL or a public key PEM, not both")
	}
	var secret []byte
	if len(cfg.Secret) > 0 {
		if len(cfg.Secret) < minSecretLen {
			return nil, fmt.Errorf("auth: the HS256 secret must be at least %d bytes", minSecretLen)
		}
		secret = bytes.Clone(cfg.Secret)
	}
	var public jwt.Keyfunc
	switch {
	case cfg.JWKSURL != "":
		k, err := v.jwks(ctx, cfg.JWKSURL)
		if err != nil {
			return nil, err
		}
		public = k.Keyfunc
	case len(cfg.PublicKeyPEM) > 0:
		key, err := parsePublicKey(cfg.PublicKeyPEM)
		if err != nil {
			return nil, err
		}
		public = func(*jwt.Token) (any, error) { return key, nil }
	}
	if secret == nil && public == nil {
		return nil, errors.New("auth: no JWT key configured (an HS256 secret, a JWKS URL or a public key PEM)")
	}

	algs := slices.Clone(cfg.Algorithms)
	if len(algs) == 0 {
		if secret != nil {
			algs = append(algs, "HS256")
		}
		if public != nil {
			algs = append(algs, "RS256", "ES256", "EdDSA")
		}
	}
	for _, a := range algs {
		switch jwt.GetSigningMethod(a).(type) {
		case *jwt.SigningMethodHMAC:
			if secret == nil {
				return nil, fmt.Errorf("auth: algorithm %s needs an HS256 secret", a)
			}
		case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS, *jwt.SigningMethodECDSA, *jwt.SigningMethodEd25519:
			if public == nil {
				return nil, fmt.Errorf("auth: algorithm %s needs a JWKS URL or a public key PEM", a)
			}
		default: // unknown, or "none"
			return nil, fmt.Errorf("auth: unsupported JWT algorithm %q", a)
		}
	}
	// The key is chosen by the family of the token's algorithm, never by
	// what the key material happens to be: an HS256 token is only ever
	// checked against the secret, so the bytes of a public key can never
	// serve as an HMAC secret (algorithm confusion).
	v.keyfunc = func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); ok {
			if secret == nil {
				return nil, errors.New("no HMAC secret configured")
			}
			return secret, nil
		}
		if public == nil {
			return nil, errors.New("no public key configured")
		}
		key, err := public(t)
		if err != nil {
			return nil, err
		}
		if _, ok := key.([]byte); ok {
			return nil, errors.New("the JWKS offered a symmetric key for an asymmetric algorithm")
		}
		return key, nil
	}

	leeway := cfg.Leeway
	switch {
	case leeway < 0:
		return nil, fmt.Errorf("auth: negative JWT leeway %s", leeway)
	case leeway == 0:
		leeway = defaultLeeway
	}
	opts := []jwt.ParserOption{
		// Pinning the algorithms is what stops "alg: none" and tokens in an
		// algorithm the deployment does not use; the keyfunc above stops
		// algorithm confusion.
		jwt.WithValidMethods(algs),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return v.now() }),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// setClaims checks and applies the claim names and the fixed tenant.
func (v *Verifier) setClaims(cfg JWTConfig) error {
	v.tenantClaim, v.rolesClaim, v.tenant = cmp.Or(cfg.TenantClaim, "tid"), cmp.Or(cfg.RolesClaim, "roles"), cfg.Tenant
	for _, name := range []string{v.tenantClaim, v.rolesClaim} {
		if len(name) > 256 || strings.TrimSpace(name) != name || slices.Contains(registeredClaims, name) {
			return fmt.Errorf("auth: claim name %q: want a name that is not a registered JWT claim, without surrounding spaces", name)
		}
	}
	if v.tenantClaim == v.rolesClaim {
		return fmt.Errorf("auth: the tenant and roles claims are both %q", v.tenantClaim)
	}
	if v.tenant != "" && !idPattern.MatchString(v.tenant) {
		return fmt.Errorf("auth: fixed tenant %q: want 1-128 letters, digits or ._:@-", v.tenant)
	}
	return nil
}

// jwks starts keyfunc on an identity provider's JWK Set, fetched now and
// every hour, and again (at most every 5 minutes) when a token names an
// unknown key. The URL must be https except on a loopback host: the keys
// decide who may sign in. Each fetch replaces the whole set and clears the
// verified-token cache, so a token signed by a key that has left the set
// is checked again, and refused, from the fetch on.
func (v *Verifier) jwks(ctx context.Context, rawURL string) (keyfunc.Keyfunc, error) {
	if err := checkJWKSURL(rawURL); err != nil {
		return nil, err
	}
	store, err := jwkset.NewStorageFromHTTP(rawURL, jwkset.HTTPClientStorageOptions{
		Ctx: ctx, HTTPTimeout: jwksTimeout, NoErrorReturnFirstHTTPReq: true, RefreshInterval: jwksRefresh,
		Storage: replaceHook{MemoryJWKSet: jwkset.NewMemoryStorage(), replaced: v.forget},
		RefreshErrorHandler: func(ctx context.Context, err error) {
			slog.Default().WarnContext(ctx, "auth: JWKS fetch failed", "url", rawURL, "err", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS %s: %w", rawURL, err)
	}
	client, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{rawURL: store},
		RateLimitWaitMax:  jwksTimeout,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(5*time.Minute), 1),
	})
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS %s: %w", rawURL, err)
	}
	k, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: client})
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS %s: %w", rawURL, err)
	}
	return k, nil
}

// checkJWKSURL accepts an https URL, or plain http on a loopback host (a
// sidecar or a test's identity provider).
func checkJWKSURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("auth: JWKS URL %q: want an https URL", rawURL)
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return fmt.Errorf("auth: JWKS URL %q: must be https (plain http only on a loopback host)", rawURL)
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// replaceHook is the JWK storage of keyfunc's HTTP fetches; it calls
// replaced after each fetch has replaced the key set.
type replaceHook struct {
	*jwkset.MemoryJWKSet
	replaced func()
}

// KeyReplaceAll implements jwkset.Storage.
func (h replaceHook) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	err := h.MemoryJWKSet.KeyReplaceAll(ctx, given)
	h.replaced()
	return err
}

// forget drops every cached verification.
func (v *Verifier) forget() {
	v.mu.Lock()
	defer v.mu.Unlock()
	clear(v.seen)
	v.gen++
}

// parsePublicKey reads an RSA (2048 bits or more), EC or Ed25519 public key
// from PEM.
func parsePublicKey(pemBytes []byte) (crypto.PublicKey, error) {
	if k, err := jwt.ParseRSAPublicKeyFromPEM(pemBytes); err == nil {
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("auth: public key PEM: RSA key of %d bits, want at least %d", k.N.BitLen(), minRSABits)
		}
		return k, nil
	}
	if k, err := jwt.ParseECPublicKeyFromPEM(pemBytes); err == nil {
		return k, nil
	}
	if k, err := jwt.ParseEdPublicKeyFromPEM(pemBytes); err == nil {
		return k, nil
	}
	return nil, errors.New("auth: public key PEM: not an RSA, EC or Ed25519 public key")
}

// claims are a token's registered claims and every other claim, raw, for
// the tenant and roles claims whose names are configured.
type claims struct {
	jwt.RegisteredClaims
	other map[string]json.RawMessage
}

// UnmarshalJSON implements json.Unmarshaler.
func (c *claims) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &c.RegisteredClaims); err != nil {
		return err
	}
	return json.Unmarshal(b, &c.other)
}

// mintClaims are the claims Mint signs.
type mintClaims struct {
	Tenant string   `json:"tid"`
	Roles  []string `json:"roles"`
	jwt.RegisteredClaims
}

// invalidToken is the error of a token that is present but not acceptable.
func invalidToken(cause error, format string, args ...any) *errs.Error {
	e := errs.New(errs.Unauthorized, "invalid-token", format, args...)
	e.Err = cause
	return e
}

// Verify checks a token and returns its principal. Errors are *errs.Error
// of kind Unauthorized: "token-expired" for a validly signed token past its
// expiry, "invalid-token" for anything else, "unauthorized" for an empty
// token. Claims: sub is a required user id (ValidUser); the tenant claim
// (tid unless configured) is a required id of 1-128 letters, digits or
// ._:@-, optional with a fixed tenant, which it must then equal; the roles
// claim (roles unless configured) is an array of strings whose unknown
// values are ignored (player when the claim is absent); exp is required;
// nbf and iat are honoured with the configured leeway.
func (v *Verifier) Verify(token string) (Principal, error) {
	if token == "" {
		return Principal{}, errs.New(errs.Unauthorized, "unauthorized", "send a bearer token")
	}
	if len(token) > maxTokenLen {
		return Principal{}, invalidToken(nil, "the token is longer than %d bytes", maxTokenLen)
	}
	now := v.now()
	v.mu.Lock()
	hit, ok := v.seen[token]
	gen := v.gen
	v.mu.Unlock()
	if ok && now.Before(hit.exp) {
		if hit.expired {
			return Principal{}, errExpired(nil)
		}
		return hit.p.clone(), nil
	}
	var c claims
	if _, err := v.parser.ParseWithClaims(token, &c, v.keyfunc); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			// jwt/v5 checks claims only after the signature, so this
			// says nothing about forged tokens. It stays expired, so
			// replaying it costs a map lookup, not a signature check.
			v.remember(strings.Clone(token), verified{exp: now.Add(verifiedTTL), expired: true}, now, gen)
			return Principal{}, errExpired(err)
		}
		return Principal{}, invalidToken(fmt.Errorf("auth: verify: %w", err), "the token is not valid")
	}
	if !ValidUser(c.Subject) {
		return Principal{}, invalidToken(nil, "the token's sub claim is not a user id: %s", UserRule)
	}
	tenant, err := v.tenantOf(c.other[v.tenantClaim])
	if err != nil {
		return Principal{}, err
	}
	var roles []string
	if raw, ok := c.other[v.rolesClaim]; ok {
		if err := json.Unmarshal(raw, &roles); err != nil {
			return Principal{}, invalidToken(err, "the %s claim must be an array of strings", v.rolesClaim)
		}
	}
	p := Principal{Tenant: tenant, Subject: c.Subject, Roles: parseRoles(roles)}
	p.Expires = c.ExpiresAt.Time
	v.remember(strings.Clone(token), verified{p: p, exp: c.ExpiresAt.Time}, now, gen)
	return p.clone(), nil
}

// errExpired is the error of a validly signed token past its expiry.
func errExpired(cause error) *errs.Error {
	e := errs.New(errs.Unauthorized, "token-expired", "the token has expired")
	e.Err = cause
	return e
}

// tenantOf reads the tenant claim's raw value (nil when absent).
func (v *Verifier) tenantOf(raw json.RawMessage) (string, error) {
	var tenant string
	if raw != nil && json.Unmarshal(raw, &tenant) != nil {
		return "", invalidToken(nil, "the %s claim must be a string", v.tenantClaim)
	}
	switch {
	case v.tenant != "" && (tenant == "" || tenant == v.tenant):
		return v.tenant, nil
	case v.tenant != "":
		return "", invalidToken(nil, "the token is for another tenant")
	case !idPattern.MatchString(tenant):
		return "", invalidToken(nil, "the token needs a %s claim of 1-128 letters, digits or ._:@-", v.tenantClaim)
	}
	return tenant, nil
}

// parseRoles keeps the known roles of a roles claim, once each, in claim
// order; an absent claim (nil) means player. A present claim with no known
// role gives no roles: such a caller passes only a Require without roles.
func parseRoles(claim []string) []Role {
	if claim == nil {
		return []Role{Player}
	}
	roles := []Role{}
	for _, s := range claim {
		if r := Role(s); r.Valid() && !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	return roles
}

// remember caches a verification until e.exp or verifiedTTL, unless the
// cache was cleared since generation gen was read: the key that verified
// it may have just left the JWKS. The key must be a copy: callers may pass
// strings backed by reused buffers.
func (v *Verifier) remember(token string, e verified, now time.Time, gen uint64) {
	if limit := now.Add(verifiedTTL); e.exp.After(limit) {
		e.exp = limit
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.gen != gen {
		return
	}
	if len(v.seen) >= maxVerified {
		clear(v.seen)
	}
	v.seen[token] = e
}

// Mint signs an HS256 development token for `server token` and tests:
// claims sub, tid, roles (player when none are given), iat and exp. A
// negative ttl mints an already expired token, for tests.
func Mint(secret []byte, sub, tenant string, roles []Role, ttl time.Duration) (string, error) {
	if len(secret) < minSecretLen {
		return "", fmt.Errorf("auth: mint: the HS256 secret must be at least %d bytes", minSecretLen)
	}
	if !ValidUser(sub) {
		return "", fmt.Errorf("auth: mint: sub %q: %s", sub, UserRule)
	}
	if !idPattern.MatchString(tenant) {
		return "", fmt.Errorf("auth: mint: tenant %q: want 1-128 letters, digits or ._:@-", tenant)
	}
	if ttl == 0 {
		return "", errors.New("auth: mint: ttl must not be zero")
	}
	if len(roles) == 0 {
		roles = []Role{Player}
	}
	rs := make([]string, len(roles))
	for i, r := range roles {
		if !r.Valid() {
			return "", fmt.Errorf("auth: mint: unknown role %q (want player, moderator, manager or admin)", r)
		}
		rs[i] = string(r)
	}
	now := time.Now()
	iat := now
	if ttl < 0 {
		iat = now.Add(2 * ttl) // issued before it expired
	}
	c := mintClaims{Tenant: tenant, Roles: rs, RegisteredClaims: jwt.RegisteredClaims{
		Subject: sub, IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	return tok, nil
}
