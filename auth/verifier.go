package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/questline/questline/internal/errs"
)

// JWTConfig says how tokens are verified. Exactly one key source is used:
// JWKSURL, then PublicKeyPEM, then Secret.
type JWTConfig struct {
	Secret       []byte   // HS256
	JWKSURL      string   // RS256/ES256/EdDSA keys of an identity provider
	PublicKeyPEM []byte   // one RS256/ES256/EdDSA public key
	Algorithms   []string // pinned; default HS256 with Secret, else RS256, ES256, EdDSA
	Issuer       string   // required iss when set
	Audience     string   // required aud when set
	Leeway       time.Duration
}

// Verifier checks JWTs with the pinned algorithms and configured keys.
type Verifier struct {
	keyfunc jwt.Keyfunc
	parser  *jwt.Parser

	// seen caches tokens already verified: a phone sends the same token
	// with every request, and parsing and checking its signature was a
	// tenth of the server's CPU under load. An entry never outlives the
	// token's own expiry.
	mu   sync.Mutex
	seen map[string]verified
	now  func() time.Time
}

type verified struct {
	p   Principal
	exp time.Time
}

// Cache bounds: entries live at most verifiedTTL and the map at most
// maxVerified entries, so a flood of distinct tokens costs bounded memory.
const (
	verifiedTTL = 5 * time.Minute
	maxVerified = 100_000
)

// idPattern bounds tenant and user ids to a safe charset: they end up in
// storage keys and channel names.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._:@-]{1,128}$`)

// NewVerifier builds a verifier; the JWKS, if any, is fetched with ctx.
func NewVerifier(ctx context.Context, cfg JWTConfig) (*Verifier, error) {
	v := &Verifier{seen: map[string]verified{}, now: time.Now}
	algs := cfg.Algorithms
	switch {
	case cfg.JWKSURL != "":
		k, err := keyfunc.NewDefaultCtx(ctx, []string{cfg.JWKSURL})
		if err != nil {
			return nil, fmt.Errorf("auth: JWKS %s: %w", cfg.JWKSURL, err)
		}
		v.keyfunc = k.Keyfunc
	case len(cfg.PublicKeyPEM) > 0:
		key, err := parsePublicKey(cfg.PublicKeyPEM)
		if err != nil {
			return nil, err
		}
		v.keyfunc = func(*jwt.Token) (any, error) { return key, nil }
	case len(cfg.Secret) > 0:
		if len(cfg.Secret) < 16 {
			return nil, errors.New("auth: the HS256 secret must be at least 16 bytes")
		}
		secret := cfg.Secret
		v.keyfunc = func(*jwt.Token) (any, error) { return secret, nil }
		if len(algs) == 0 {
			algs = []string{"HS256"}
		}
	default:
		return nil, errors.New("auth: no JWT key configured (secret, JWKS URL or public key)")
	}
	if len(algs) == 0 {
		algs = []string{"RS256", "ES256", "EdDSA"}
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = 30 * time.Second
	}
	opts := []jwt.ParserOption{
		// Pinning the algorithms is what stops "alg: none" and algorithm
		// confusion (an HS256 token keyed with an RSA public key's bytes).
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

func parsePublicKey(pemBytes []byte) (crypto.PublicKey, error) {
	if k, err := jwt.ParseRSAPublicKeyFromPEM(pemBytes); err == nil {
		return k, nil
	}
	if k, err := jwt.ParseECPublicKeyFromPEM(pemBytes); err == nil {
		return k, nil
	}
	if k, err := jwt.ParseEdPublicKeyFromPEM(pemBytes); err == nil {
		return k, nil
	}
	return nil, errors.New("auth: the public key PEM is not an RSA, EC or Ed25519 public key")
}

type claims struct {
	Tenant string   `json:"tid"`
	Roles  []string `json:"roles"`
	jwt.RegisteredClaims
}

// Verify checks a token and returns its principal.
func (v *Verifier) Verify(token string) (Principal, error) {
	if token == "" {
		return Principal{}, errs.New(errs.Unauthorized, "unauthorized", "send a bearer token")
	}
	now := v.now()
	v.mu.Lock()
	hit, ok := v.seen[token]
	v.mu.Unlock()
	if ok && now.Before(hit.exp) {
		return hit.p, nil
	}
	var c claims
	if _, err := v.parser.ParseWithClaims(token, &c, v.keyfunc); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Principal{}, errs.New(errs.Unauthorized, "token-expired", "the token has expired")
		}
		return Principal{}, &errs.Error{Kind: errs.Unauthorized, Code: "invalid-token", Message: "the token is not valid", Err: err}
	}
	if !idPattern.MatchString(c.Subject) || !idPattern.MatchString(c.Tenant) {
		return Principal{}, errs.New(errs.Unauthorized, "invalid-token", "the token needs sub and tid claims of 1-128 letters, digits or ._:@-")
	}
	p := Principal{Tenant: c.Tenant, Subject: c.Subject}
	for _, r := range c.Roles {
		switch Role(r) {
		case Player, Moderator, Manager, Admin:
			p.Roles = append(p.Roles, Role(r))
		}
	}
	if c.Roles == nil {
		p.Roles = []Role{Player}
	}
	v.remember(strings.Clone(token), p, c.ExpiresAt.Time, now)
	return p, nil
}

// remember caches a verified token until its expiry or verifiedTTL. The
// key is a copy: callers may pass strings backed by reused buffers.
func (v *Verifier) remember(token string, p Principal, exp, now time.Time) {
	if limit := now.Add(verifiedTTL); exp.After(limit) {
		exp = limit
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.seen) >= maxVerified {
		clear(v.seen)
	}
	v.seen[token] = verified{p: p, exp: exp}
}

// Mint signs an HS256 development token.
func Mint(secret []byte, sub, tenant string, roles []Role, ttl time.Duration) (string, error) {
	if len(roles) == 0 {
		roles = []Role{Player}
	}
	rs := make([]string, len(roles))
	for i, r := range roles {
		rs[i] = string(r)
	}
	now := time.Now()
	c := claims{Tenant: tenant, Roles: rs, RegisteredClaims: jwt.RegisteredClaims{
		Subject: sub, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	if ttl < 0 {
		c.IssuedAt = jwt.NewNumericDate(now.Add(2 * ttl))
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}
