package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/questline/questline/internal/errs"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// sign signs claims c with method m and key, with a kid header when given.
func sign(t testing.TB, m jwt.SigningMethod, key any, c jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claimsFor returns valid claims for alice of acme, changed by extra: a nil
// value deletes the claim.
func claimsFor(extra map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{"sub": "alice", "tid": "acme", "roles": []string{"player"}, "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// unsigned builds a token with the given header alg and no signature.
func unsigned(alg string, c jwt.MapClaims) string {
	h, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	p, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// pemOf encodes a public key as a PKIX PEM block.
func pemOf(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// wantCode fails unless err is an Unauthorized *errs.Error with code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	e, ok := errs.As(err)
	if !ok || e.Kind != errs.Unauthorized || e.Code != code {
		t.Fatalf("error = %v, want Unauthorized %s", err, code)
	}
}

func TestVerifyHS256(t *testing.T) {
	v, err := NewVerifier(context.Background(), JWTConfig{Secret: secret, Issuer: "idp", Audience: "ql"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	hs := func(extra map[string]any) string {
		c := map[string]any{"iss": "idp", "aud": "ql"}
		for k, v := range extra {
			c[k] = v
		}
		return sign(t, jwt.SigningMethodHS256, secret, claimsFor(c), "")
	}
	valid := hs(nil)
	parts := strings.Split(valid, ".")
	evil, _ := json.Marshal(claimsFor(map[string]any{"iss": "idp", "aud": "ql", "roles": []string{"admin"}}))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(evil) + "." + parts[2]

	tests := []struct {
		name  string
		token string
		code  string // "" = valid
	}{
		{"valid", valid, ""},
		{"audience list containing ours", hs(map[string]any{"aud": []string{"other", "ql"}}), ""},
		{"expired within leeway", hs(map[string]any{"exp": now.Add(-10 * time.Second).Unix()}), ""},
		{"nbf within leeway", hs(map[string]any{"nbf": now.Add(10 * time.Second).Unix()}), ""},
		{"nbf and iat in the past", hs(map[string]any{"nbf": now.Add(-time.Minute).Unix(), "iat": now.Add(-time.Minute).Unix()}), ""},
		{"alg none", unsigned("none", claimsFor(map[string]any{"iss": "idp", "aud": "ql"})), "invalid-token"},
		{"alg NONE", unsigned("NONE", claimsFor(map[string]any{"iss": "idp", "aud": "ql"})), "invalid-token"},
		{"alg none with signature", unsigned("none", claimsFor(nil)) + parts[2], "invalid-token"},
		{"HS384 not pinned", sign(t, jwt.SigningMethodHS384, secret, claimsFor(map[string]any{"iss": "idp", "aud": "ql"}), ""), "invalid-token"},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), claimsFor(map[string]any{"iss": "idp", "aud": "ql"}), ""), "invalid-token"},
		{"tampered claims", tampered, "invalid-token"},
		{"signature stripped", parts[0] + "." + parts[1] + ".", "invalid-token"},
		{"expired", hs(map[string]any{"exp": now.Add(-time.Hour).Unix()}), "token-expired"},
		{"no exp", hs(map[string]any{"exp": nil}), "invalid-token"},
		{"exp not a number", hs(map[string]any{"exp": "tomorrow"}), "invalid-token"},
		{"nbf in the future", hs(map[string]any{"nbf": now.Add(time.Hour).Unix()}), "invalid-token"},
		{"iat in the future", hs(map[string]any{"iat": now.Add(time.Hour).Unix()}), "invalid-token"},
		{"wrong issuer", hs(map[string]any{"iss": "evil"}), "invalid-token"},
		{"no issuer", hs(map[string]any{"iss": nil}), "invalid-token"},
		{"wrong audience", hs(map[string]any{"aud": "other"}), "invalid-token"},
		{"no audience", hs(map[string]any{"aud": nil}), "invalid-token"},
		{"no tenant", hs(map[string]any{"tid": nil}), "invalid-token"},
		{"empty tenant", hs(map[string]any{"tid": ""}), "invalid-token"},
		{"tenant not a string", hs(map[string]any{"tid": 42}), "invalid-token"},
		{"tenant with bad chars", hs(map[string]any{"tid": "a|b"}), "invalid-token"},
		{"tenant too long", hs(map[string]any{"tid": strings.Repeat("a", 129)}), "invalid-token"},
		{"no subject", hs(map[string]any{"sub": nil}), "invalid-token"},
		{"subject with spaces", hs(map[string]any{"sub": "al ice"}), "invalid-token"},
		{"roles not an array", hs(map[string]any{"roles": "admin"}), "invalid-token"},
		{"garbage", "not.a.token", "invalid-token"},
		{"two segments", "abc.def", "invalid-token"},
		{"too long", valid + strings.Repeat("A", maxTokenLen), "invalid-token"},
		{"empty", "", "unauthorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(tc.token)
			if tc.code == "" {
				if err != nil || p.Tenant != "acme" || p.Subject != "alice" || !p.Has(Player) || p.APIKey {
					t.Fatalf("Verify = %+v, %v", p, err)
				}
				return
			}
			wantCode(t, err, tc.code)
		})
	}
}

func TestVerifyWithoutIssuerOrAudience(t *testing.T) {
	v, err := NewVerifier(context.Background(), JWTConfig{Secret: secret, Leeway: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, claimsFor(map[string]any{"iss": "any", "aud": "any"}), "")); err != nil {
		t.Fatalf("iss/aud checked though not configured: %v", err)
	}
	// A 1s leeway: 10s past expiry is expired.
	old := sign(t, jwt.SigningMethodHS256, secret, claimsFor(map[string]any{"exp": time.Now().Add(-10 * time.Second).Unix()}), "")
	_, err = v.Verify(old)
	wantCode(t, err, "token-expired")
}

func TestRoles(t *testing.T) {
	v, err := NewVerifier(context.Background(), JWTConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		roles any
		want  []Role
	}{
		{"absent", nil, []Role{Player}},
		{"null", json.RawMessage("null"), []Role{Player}},
		{"empty", []string{}, []Role{}},
		{"unknown ignored", []string{"manager", "bogus", "ADMIN"}, []Role{Manager}},
		{"only unknown", []string{"root"}, []Role{}},
		{"duplicates", []string{"moderator", "moderator", "player"}, []Role{Moderator, Player}},
		{"admin", []string{"admin"}, []Role{Admin}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := claimsFor(map[string]any{"roles": nil})
			if tc.roles != nil {
				c["roles"] = tc.roles
			}
			p, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, c, ""))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Roles) != len(tc.want) {
				t.Fatalf("roles = %v, want %v", p.Roles, tc.want)
			}
			for i := range tc.want {
				if p.Roles[i] != tc.want[i] {
					t.Fatalf("roles = %v, want %v", p.Roles, tc.want)
				}
			}
		})
	}
}

func TestVerifyPEM(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rsaPEM := pemOf(t, &rsaKey.PublicKey)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)})
	admin := claimsFor(map[string]any{"roles": []string{"admin"}})

	tests := []struct {
		name  string
		pem   []byte
		token string
		valid bool
	}{
		{"RS256", rsaPEM, sign(t, jwt.SigningMethodRS256, rsaKey, claimsFor(nil), ""), true},
		{"RS256 via PKCS#1 PEM", pkcs1, sign(t, jwt.SigningMethodRS256, rsaKey, claimsFor(nil), ""), true},
		{"RS256 by another key", rsaPEM, sign(t, jwt.SigningMethodRS256, otherRSA, claimsFor(nil), ""), false},
		// Algorithm confusion: HS256 keyed with the public key's PEM or DER
		// bytes, which an attacker can read.
		{"confusion with PEM bytes", rsaPEM, sign(t, jwt.SigningMethodHS256, rsaPEM, admin, ""), false},
		{"confusion with DER bytes", rsaPEM, sign(t, jwt.SigningMethodHS256, rsaDER, admin, ""), false},
		{"PS256 not pinned", rsaPEM, sign(t, jwt.SigningMethodPS256, rsaKey, claimsFor(nil), ""), false},
		{"ES256 against an RSA key", rsaPEM, sign(t, jwt.SigningMethodES256, ecKey, claimsFor(nil), ""), false},
		{"alg none", rsaPEM, unsigned("none", claimsFor(nil)), false},
		{"ES256", pemOf(t, &ecKey.PublicKey), sign(t, jwt.SigningMethodES256, ecKey, claimsFor(nil), ""), true},
		{"EdDSA", pemOf(t, edPub), sign(t, jwt.SigningMethodEdDSA, edPriv, claimsFor(nil), ""), true},
		{"EdDSA confusion", pemOf(t, edPub), sign(t, jwt.SigningMethodHS256, []byte(edPub), admin, ""), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(context.Background(), JWTConfig{PublicKeyPEM: tc.pem})
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(tc.token)
			if tc.valid {
				if err != nil || p.Subject != "alice" || p.Tenant != "acme" {
					t.Fatalf("Verify = %+v, %v", p, err)
				}
				return
			}
			wantCode(t, err, "invalid-token")
		})
	}
}

func TestNewVerifierConfig(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecPEM := pemOf(t, &ecKey.PublicKey)
	privDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})
	tests := []struct {
		name string
		cfg  JWTConfig
		ok   bool
	}{
		{"secret", JWTConfig{Secret: secret}, true},
		{"PEM", JWTConfig{PublicKeyPEM: ecPEM}, true},
		{"secret and PEM", JWTConfig{Secret: secret, PublicKeyPEM: ecPEM}, true},
		{"pinned ES256", JWTConfig{PublicKeyPEM: ecPEM, Algorithms: []string{"ES256"}}, true},
		{"pinned HS512", JWTConfig{Secret: secret, Algorithms: []string{"HS512"}}, true},
		{"nothing", JWTConfig{}, false},
		{"issuer alone", JWTConfig{Issuer: "idp"}, false},
		{"short secret", JWTConfig{Secret: []byte("short")}, false},
		{"bad PEM", JWTConfig{PublicKeyPEM: []byte("not a key")}, false},
		{"private key PEM", JWTConfig{PublicKeyPEM: privPEM}, false},
		{"RSA 1024", JWTConfig{PublicKeyPEM: pemOf(t, &small.PublicKey)}, false},
		{"JWKS and PEM", JWTConfig{JWKSURL: "https://idp.example/jwks", PublicKeyPEM: ecPEM}, false},
		{"JWKS URL not http", JWTConfig{JWKSURL: "file:///etc/jwks.json"}, false},
		{"JWKS URL without host", JWTConfig{JWKSURL: "https:///jwks"}, false},
		{"pinned none", JWTConfig{Secret: secret, Algorithms: []string{"none"}}, false},
		{"pinned unknown", JWTConfig{Secret: secret, Algorithms: []string{"HS999"}}, false},
		{"HS256 without secret", JWTConfig{PublicKeyPEM: ecPEM, Algorithms: []string{"HS256"}}, false},
		{"RS256 without public key", JWTConfig{Secret: secret, Algorithms: []string{"RS256"}}, false},
		{"negative leeway", JWTConfig{Secret: secret, Leeway: -time.Second}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(context.Background(), tc.cfg)
			if tc.ok != (err == nil) || tc.ok != (v != nil) {
				t.Fatalf("NewVerifier = %v, %v; want ok=%v", v, err, tc.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "auth: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
}

// jwksServer serves a JWK Set and counts its fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	fetches int
}

func newJWKSServer(t *testing.T, keys ...map[string]string) *jwksServer {
	body, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		s.fetches++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

var b64 = base64.RawURLEncoding.EncodeToString

func ecJWK(kid string, k *ecdsa.PrivateKey) map[string]string {
	return map[string]string{"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
		"x": b64(k.X.FillBytes(make([]byte, 32))), "y": b64(k.Y.FillBytes(make([]byte, 32)))}
}

func TestVerifyJWKS(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	srv := newJWKSServer(t,
		ecJWK("ec1", ec),
		map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": "ed1", "alg": "EdDSA", "use": "sig", "x": b64(edPub)},
		map[string]string{"kty": "RSA", "kid": "rsa1", "alg": "RS256", "use": "sig",
			"n": b64(rsaKey.N.Bytes()), "e": b64([]byte{1, 0, 1})},
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends keyfunc's refresh goroutine
	v, err := NewVerifier(ctx, JWTConfig{JWKSURL: srv.URL, Issuer: "https://idp.example"})
	if err != nil {
		t.Fatal(err)
	}
	iss := map[string]any{"iss": "https://idp.example"}
	tests := []struct {
		name  string
		token string
		valid bool
	}{
		{"ES256", sign(t, jwt.SigningMethodES256, ec, claimsFor(iss), "ec1"), true},
		{"EdDSA", sign(t, jwt.SigningMethodEdDSA, edPriv, claimsFor(iss), "ed1"), true},
		{"RS256", sign(t, jwt.SigningMethodRS256, rsaKey, claimsFor(iss), "rsa1"), true},
		{"no kid tries every key", sign(t, jwt.SigningMethodES256, ec, claimsFor(iss), ""), true},
		{"wrong issuer", sign(t, jwt.SigningMethodES256, ec, claimsFor(map[string]any{"iss": "https://evil.example"}), "ec1"), false},
		{"unknown key under a known kid", sign(t, jwt.SigningMethodES256, otherEC, claimsFor(iss), "ec1"), false},
		{"unknown kid", sign(t, jwt.SigningMethodES256, otherEC, claimsFor(iss), "nope"), false},
		{"alg differs from the JWK's", sign(t, jwt.SigningMethodEdDSA, edPriv, claimsFor(iss), "ec1"), false},
		{"HS256 not pinned", sign(t, jwt.SigningMethodHS256, secret, claimsFor(iss), "ec1"), false},
		{"HS256 keyed with the public key", sign(t, jwt.SigningMethodHS256, pemOf(t, &ec.PublicKey), claimsFor(iss), "ec1"), false},
		{"alg none", unsigned("none", claimsFor(iss)), false},
		{"expired", sign(t, jwt.SigningMethodES256, ec, claimsFor(map[string]any{"iss": "https://idp.example", "exp": time.Now().Add(-time.Hour).Unix()}), "ec1"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(tc.token)
			if tc.valid {
				if err != nil || p.Tenant != "acme" || p.Subject != "alice" {
					t.Fatalf("Verify = %+v, %v", p, err)
				}
				return
			}
			if errs.KindOf(err) != errs.Unauthorized {
				t.Fatalf("Verify error = %v, want Unauthorized", err)
			}
		})
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.fetches == 0 {
		t.Fatal("the JWKS was never fetched")
	}
}

// TestVerifySecretAndJWKS: with both an HS256 secret and a JWKS, HMAC
// tokens are checked only against the secret, never against key material
// from the JWKS, and asymmetric ones only against the JWKS.
func TestVerifySecretAndJWKS(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	octSecret := []byte("a-symmetric-key-served-by-the-idp")
	srv := newJWKSServer(t, ecJWK("ec1", ec),
		map[string]string{"kty": "oct", "kid": "oct1", "alg": "HS256", "k": b64(octSecret)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := NewVerifier(ctx, JWTConfig{Secret: secret, JWKSURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		valid bool
	}{
		{"HS256 with the secret", sign(t, jwt.SigningMethodHS256, secret, claimsFor(nil), ""), true},
		{"ES256 from the JWKS", sign(t, jwt.SigningMethodES256, ec, claimsFor(nil), "ec1"), true},
		{"HS256 with the JWKS's symmetric key", sign(t, jwt.SigningMethodHS256, octSecret, claimsFor(nil), "oct1"), false},
		{"HS256 keyed with the EC public key", sign(t, jwt.SigningMethodHS256, pemOf(t, &ec.PublicKey), claimsFor(nil), "ec1"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(tc.token)
			if tc.valid != (err == nil) {
				t.Fatalf("Verify error = %v, want valid=%v", err, tc.valid)
			}
		})
	}
}

func TestMint(t *testing.T) {
	v, err := NewVerifier(context.Background(), JWTConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		secret []byte
		sub    string
		tenant string
		roles  []Role
		ttl    time.Duration
		want   string // "ok", "expired" or "error"
	}{
		{"player by default", secret, "u1", "acme", nil, time.Hour, "ok"},
		{"roles", secret, "u1", "acme", []Role{Manager, Moderator}, time.Hour, "ok"},
		{"expired", secret, "u1", "acme", nil, -time.Hour, "expired"},
		{"short secret", []byte("short"), "u1", "acme", nil, time.Hour, "error"},
		{"empty sub", secret, "", "acme", nil, time.Hour, "error"},
		{"bad tenant", secret, "u1", "ac me", nil, time.Hour, "error"},
		{"unknown role", secret, "u1", "acme", []Role{"root"}, time.Hour, "error"},
		{"empty role", secret, "u1", "acme", []Role{Player, ""}, time.Hour, "error"},
		{"zero ttl", secret, "u1", "acme", nil, 0, "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Mint(tc.secret, tc.sub, tc.tenant, tc.roles, tc.ttl)
			if tc.want == "error" {
				if err == nil || tok != "" {
					t.Fatalf("Mint = %q, %v; want an error", tok, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(tok)
			if tc.want == "expired" {
				wantCode(t, err, "token-expired")
				return
			}
			if err != nil || p.Subject != tc.sub || p.Tenant != tc.tenant {
				t.Fatalf("Verify(Mint) = %+v, %v", p, err)
			}
			want := tc.roles
			if len(want) == 0 {
				want = []Role{Player}
			}
			for _, r := range want {
				if !p.Has(r) {
					t.Fatalf("roles %v lack %s", p.Roles, r)
				}
			}
		})
	}
}

// TestVerifiedCache: a cached token stops working when it expires, the
// cache never hides a bad signature, and a caller editing the principal
// does not change the cached one.
func TestVerifiedCache(t *testing.T) {
	v, err := NewVerifier(context.Background(), JWTConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jwt.SigningMethodHS256, secret, claimsFor(map[string]any{"exp": time.Now().Add(time.Minute).Unix()}), "")
	p, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	p.Roles[0] = Admin
	if p, err = v.Verify(tok); err != nil || p.Has(Admin) {
		t.Fatalf("cached principal changed by a caller: %+v, %v", p, err)
	}
	if _, err := v.Verify(tok[:len(tok)-2] + "xx"); err == nil {
		t.Fatal("tampered token accepted")
	}
	v.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	_, err = v.Verify(tok)
	wantCode(t, err, "token-expired")

	// An expired token replayed costs no signature check.
	checks := 0
	keyfunc := v.keyfunc
	v.keyfunc = func(t *jwt.Token) (any, error) { checks++; return keyfunc(t) }
	old := sign(t, jwt.SigningMethodHS256, secret, claimsFor(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), "")
	for range 3 {
		_, err = v.Verify(old)
		wantCode(t, err, "token-expired")
	}
	if checks != 1 {
		t.Fatalf("%d signature checks for an expired token sent 3 times, want 1", checks)
	}
	// A forged token is never cached as anything.
	forged := old[:len(old)-2] + "xx"
	for range 2 {
		_, err = v.Verify(forged)
		wantCode(t, err, "invalid-token")
	}
	if checks != 3 {
		t.Fatalf("%d signature checks, want a check per forged try", checks)
	}
}

// FuzzVerify: no input panics the verifier, every rejection is an
// Unauthorized *errs.Error, and nothing but the genuine claims of the one
// validly signed seed is ever accepted.
func FuzzVerify(f *testing.F) {
	v, err := NewVerifier(context.Background(), JWTConfig{Secret: secret})
	if err != nil {
		f.Fatal(err)
	}
	valid := sign(f, jwt.SigningMethodHS256, secret, claimsFor(map[string]any{"exp": time.Now().Add(24 * time.Hour).Unix()}), "")
	f.Add(valid)
	f.Add(unsigned("none", claimsFor(nil)))
	f.Add(unsigned("HS256", claimsFor(nil)))
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.x")
	f.Add("a.b.c")
	f.Add("..")
	f.Add(strings.Repeat("A", 300))
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := v.Verify(tok)
		if err == nil {
			if p.Subject != "alice" || p.Tenant != "acme" || len(p.Roles) != 1 || p.Roles[0] != Player {
				t.Fatalf("forged token %q accepted: %+v", tok, p)
			}
			return
		}
		if e, ok := errs.As(err); !ok || e.Kind != errs.Unauthorized {
			t.Fatalf("Verify(%q) error %v is not Unauthorized", tok, err)
		}
	})
}

// TestIdentityProviderSubjects: the subjects real identity providers issue
// verify as they are, and Mint accepts them too.
func TestIdentityProviderSubjects(t *testing.T) {
	v, err := NewVerifier(context.Background(), JWTConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"auth0|abc123", "google-oauth2|1234", "user@example.com", "samlp|corp|jürgen"} {
		p, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, claimsFor(map[string]any{"sub": sub}), ""))
		if err != nil || p.Subject != sub {
			t.Errorf("Verify sub %q = %+v, %v", sub, p, err)
		}
		tok, err := Mint(secret, sub, "acme", nil, time.Minute)
		if err != nil {
			t.Fatalf("Mint %q: %v", sub, err)
		}
		if p, err := v.Verify(tok); err != nil || p.Subject != sub {
			t.Errorf("Verify minted %q = %+v, %v", sub, p, err)
		}
	}
	for _, sub := range []string{"a b", "a\x00", "\xff"} {
		_, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, claimsFor(map[string]any{"sub": sub}), ""))
		wantCode(t, err, "invalid-token")
	}
}

func TestClaimNames(t *testing.T) {
	const tenantClaim, rolesClaim = "https://questline.dev/tenant", "cognito:groups"
	tests := []struct {
		name   string
		cfg    JWTConfig
		claims map[string]any // over claimsFor
		tenant string         // "" = refused
		roles  []Role
	}{
		{"defaults", JWTConfig{}, nil, "acme", []Role{Player}},
		{"namespaced tenant and groups", JWTConfig{TenantClaim: tenantClaim, RolesClaim: rolesClaim},
			map[string]any{"tid": nil, "roles": nil, tenantClaim: "acme", rolesClaim: []string{"manager"}}, "acme", []Role{Manager}},
		{"azure tid ignored with a configured claim", JWTConfig{TenantClaim: tenantClaim},
			map[string]any{"tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", tenantClaim: "acme"}, "acme", []Role{Player}},
		{"azure tid alone does not name our tenant", JWTConfig{TenantClaim: tenantClaim},
			map[string]any{"tid": "72f988bf-86f1-41af-91ab-2d7cd011db47"}, "", nil},
		{"roles claim ignored with groups configured", JWTConfig{RolesClaim: rolesClaim},
			map[string]any{"roles": []string{"admin"}}, "acme", []Role{Player}},
		{"groups with unknown values", JWTConfig{RolesClaim: rolesClaim},
			map[string]any{rolesClaim: []string{"eu-west-1_users", "moderator"}}, "acme", []Role{Moderator}},
		{"groups not an array", JWTConfig{RolesClaim: rolesClaim}, map[string]any{rolesClaim: "admin"}, "", nil},
		{"namespaced tenant not a string", JWTConfig{TenantClaim: tenantClaim}, map[string]any{tenantClaim: []string{"acme"}}, "", nil},
		{"fixed tenant, no tenant claim", JWTConfig{Tenant: "brand"}, map[string]any{"tid": nil}, "brand", []Role{Player}},
		{"fixed tenant, same tenant claimed", JWTConfig{Tenant: "brand"}, map[string]any{"tid": "brand"}, "brand", []Role{Player}},
		{"fixed tenant, another tenant claimed", JWTConfig{Tenant: "brand"}, map[string]any{"tid": "acme"}, "", nil},
		{"fixed tenant, claim not a string", JWTConfig{Tenant: "brand"}, map[string]any{"tid": 7}, "", nil},
		{"fixed tenant with a namespaced claim ignores tid", JWTConfig{Tenant: "brand", TenantClaim: tenantClaim},
			map[string]any{"tid": "azure-directory"}, "brand", []Role{Player}},
		{"fixed tenant with a namespaced claim naming another", JWTConfig{Tenant: "brand", TenantClaim: tenantClaim},
			map[string]any{tenantClaim: "acme"}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Secret = secret
			v, err := NewVerifier(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, claimsFor(tc.claims), ""))
			if tc.tenant == "" {
				wantCode(t, err, "invalid-token")
				return
			}
			if err != nil || p.Tenant != tc.tenant || !slices.Equal(p.Roles, tc.roles) {
				t.Fatalf("Verify = %+v, %v; want tenant %s roles %v", p, err, tc.tenant, tc.roles)
			}
		})
	}
}

func TestClaimConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  JWTConfig
	}{
		{"tenant claim is sub", JWTConfig{TenantClaim: "sub"}},
		{"roles claim is exp", JWTConfig{RolesClaim: "exp"}},
		{"same claim for both", JWTConfig{TenantClaim: "groups", RolesClaim: "groups"}},
		{"claim with spaces", JWTConfig{TenantClaim: " tid"}},
		{"fixed tenant with a bar", JWTConfig{Tenant: "a|b"}},
		{"fixed tenant too long", JWTConfig{Tenant: strings.Repeat("t", 129)}},
		{"JWKS over plain http", JWTConfig{JWKSURL: "http://idp.example/.well-known/jwks.json"}},
		{"JWKS over http to a private address", JWTConfig{JWKSURL: "http://10.0.0.8/jwks"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Secret = secret
			if _, err := NewVerifier(context.Background(), cfg); err == nil || !strings.HasPrefix(err.Error(), "auth: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("NewVerifier error = %v, want one auth: line", err)
			}
		})
	}
	// Plain http is fine on loopback (a sidecar); the fetch may fail at
	// start and is retried on the first token.
	for _, u := range []string{"http://localhost:1/jwks", "http://127.0.0.1:1/jwks", "http://[::1]:1/jwks"} {
		ctx, cancel := context.WithCancel(context.Background())
		if _, err := NewVerifier(ctx, JWTConfig{JWKSURL: u}); err != nil {
			t.Errorf("NewVerifier(%s): %v", u, err)
		}
		cancel()
	}
}

// rotatingJWKS serves whichever key set was set last.
type rotatingJWKS struct {
	*httptest.Server
	mu   sync.Mutex
	body []byte
}

func (s *rotatingJWKS) set(t *testing.T, keys ...map[string]string) {
	body, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

// TestRemovedKeyRefused: a token verified (and cached) while its key was
// in the JWKS is refused once a fetch shows the key gone, here the fetch a
// token with the new key id triggers.
func TestRemovedKeyRefused(t *testing.T) {
	old, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	next, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := &rotatingJWKS{}
	srv.set(t, ecJWK("k1", old))
	srv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(srv.body)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := NewVerifier(ctx, JWTConfig{JWKSURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	oldTok := sign(t, jwt.SigningMethodES256, old, claimsFor(nil), "k1")
	for range 2 { // the second answer comes from the cache
		if _, err := v.Verify(oldTok); err != nil {
			t.Fatalf("token of the current key: %v", err)
		}
	}
	srv.set(t, ecJWK("k2", next)) // k1 is compromised and withdrawn
	if _, err := v.Verify(sign(t, jwt.SigningMethodES256, next, claimsFor(map[string]any{"sub": "bob"}), "k2")); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	start := time.Now()
	_, err = v.Verify(oldTok)
	wantCode(t, err, "invalid-token")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("refusing the removed key took %s", d)
	}
}
