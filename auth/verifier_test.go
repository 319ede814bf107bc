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
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/questline/questline/internal/errs"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims, kid string) string {
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

func TestVerifyHS256(t *testing.T) {
	v, err := NewVerifier(context.Background(), JWTConfig{Secret: secret, Issuer: "idp", Audience: "ql"})
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]any{"iss": "idp", "aud": "ql"}
	with := func(m map[string]any) map[string]any {
		out := map[string]any{"iss": "idp", "aud": "ql"}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"alice","tid":"acme","exp":9999999999,"iss":"idp","aud":"ql"}`)) + "."
	tests := []struct {
		name  string
		token string
		code  string // "" = valid
	}{
		{"valid", sign(t, jwt.SigningMethodHS256, secret, claimsFor(ok), ""), ""},
		{"alg none", none, "invalid-token"},
		{"HS384 not pinned", sign(t, jwt.SigningMethodHS384, secret, claimsFor(ok), ""), "invalid-token"},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), claimsFor(ok), ""), "invalid-token"},
		{"expired", sign(t, jwt.SigningMethodHS256, secret, claimsFor(with(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})), ""), "token-expired"},
		{"no exp", sign(t, jwt.SigningMethodHS256, secret, claimsFor(with(map[string]any{"exp": nil})), ""), "invalid-token"},
		{"not yet valid", sign(t, jwt.SigningMethodHS256, secret, claimsFor(with(map[string]any{"nbf": time.Now().Add(time.Hour).Unix()})), ""), "invalid-token"},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, secret, claimsFor(with(map[string]any{"iss": "evil"})), ""), "invalid-token"},
		{"wrong audience", sign(t, jwt.SigningMethodHS256, secret, claimsFor(with(map[string]any{"aud": "other"})), ""), "invalid-token"},
		{"no tenant", sign(t, jwt.SigningMethodHS256, secret, claimsFor(with(map[string]any{"tid": nil})), ""), "invalid-token"},
		{"no subject", sign(t, jwt.SigningMethodHS256, secret, claimsFor(with(map[string]any{"sub": nil})), ""), "invalid-token"},
		{"bad tenant chars", sign(t, jwt.SigningMethodHS256, secret, claimsFor(with(map[string]any{"tid": "a|b"})), ""), "invalid-token"},
		{"garbage", "not.a.token", "invalid-token"},
		{"empty", "", "unauthorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(tc.token)
			if tc.code == "" {
				if err != nil || p.Tenant != "acme" || p.Subject != "alice" || !p.Has(Player) {
					t.Fatalf("Verify = %+v, %v", p, err)
				}
				return
			}
			if e, ok := errs.As(err); !ok || e.Kind != errs.Unauthorized || e.Code != tc.code {
				t.Fatalf("Verify error = %v, want %s", err, tc.code)
			}
		})
	}
}

func TestRoles(t *testing.T) {
	v, _ := NewVerifier(context.Background(), JWTConfig{Secret: secret})
	for _, tc := range []struct {
		roles any
		want  []Role
	}{
		{nil, []Role{Player}},
		{[]string{"manager", "bogus"}, []Role{Manager}},
		{[]string{"admin"}, []Role{Admin}},
	} {
		p, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, claimsFor(map[string]any{"roles": tc.roles}), ""))
		if err != nil || len(p.Roles) != len(tc.want) || (len(tc.want) > 0 && p.Roles[0] != tc.want[0]) {
			t.Errorf("roles %v -> %v, %v", tc.roles, p.Roles, err)
		}
	}
	admin := Principal{Roles: []Role{Admin}}
	if !admin.Has(Manager) || !admin.Has(Moderator) {
		t.Error("admin lacks a role")
	}
	if (Principal{Roles: []Role{Manager}}).Has(Moderator) {
		t.Error("manager implies moderator")
	}
}

func TestVerifyPEMAndConfusion(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	v, err := NewVerifier(context.Background(), JWTConfig{PublicKeyPEM: pemBytes})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Verify(sign(t, jwt.SigningMethodRS256, key, claimsFor(nil), "")); err != nil || p.Subject != "alice" {
		t.Fatalf("RS256: %+v %v", p, err)
	}
	// Algorithm confusion: an HS256 token keyed with the public key's bytes.
	forged := sign(t, jwt.SigningMethodHS256, pemBytes, claimsFor(map[string]any{"roles": []string{"admin"}}), "")
	if _, err := v.Verify(forged); err == nil {
		t.Fatal("HS256 token signed with the RSA public key accepted")
	}
	if _, err := NewVerifier(context.Background(), JWTConfig{PublicKeyPEM: []byte("not a key")}); err == nil {
		t.Fatal("bad PEM accepted")
	}
	if _, err := NewVerifier(context.Background(), JWTConfig{}); err == nil {
		t.Fatal("verifier without keys accepted")
	}
}

func TestVerifyJWKS(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "EC", "crv": "P-256", "kid": "ec1", "alg": "ES256", "use": "sig", "x": b64(ec.X.FillBytes(make([]byte, 32))), "y": b64(ec.Y.FillBytes(make([]byte, 32)))},
		{"kty": "OKP", "crv": "Ed25519", "kid": "ed1", "alg": "EdDSA", "use": "sig", "x": b64(edPub)},
	}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := NewVerifier(ctx, JWTConfig{JWKSURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{
		"ES256": sign(t, jwt.SigningMethodES256, ec, claimsFor(nil), "ec1"),
		"EdDSA": sign(t, jwt.SigningMethodEdDSA, edPriv, claimsFor(nil), "ed1"),
	} {
		if p, err := v.Verify(tok); err != nil || p.Tenant != "acme" {
			t.Errorf("%s: %+v %v", name, p, err)
		}
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := v.Verify(sign(t, jwt.SigningMethodES256, other, claimsFor(nil), "ec1")); err == nil {
		t.Error("ES256 token from an unknown key accepted")
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, claimsFor(nil), "ec1")); err == nil {
		t.Error("HS256 token accepted by a JWKS verifier")
	}
}

func TestRequire(t *testing.T) {
	ctx := context.Background()
	if _, err := Require(ctx); errs.KindOf(err) != errs.Unauthorized {
		t.Fatalf("anonymous: %v", err)
	}
	bad := errs.New(errs.Unauthorized, "token-expired", "x")
	if _, err := Require(withCredentialError(ctx, bad)); err != bad {
		t.Fatalf("credential error not passed on: %v", err)
	}
	player := WithPrincipal(ctx, Principal{Tenant: "t", Subject: "u", Roles: []Role{Player}})
	if _, err := Require(player, Manager); errs.KindOf(err) != errs.Forbidden {
		t.Fatalf("player as manager: %v", err)
	}
	if _, err := Require(player); err != nil {
		t.Fatalf("player: %v", err)
	}
	key := WithPrincipal(ctx, Principal{Tenant: "t", Subject: "key:1", APIKey: true, Scopes: []string{"manage"}})
	if _, err := RequireScope(key, "manage", Manager); err != nil {
		t.Fatalf("key with scope: %v", err)
	}
	if _, err := RequireScope(key, "events:write", Manager); errs.KindOf(err) != errs.Forbidden {
		t.Fatalf("key without scope: %v", err)
	}
	if _, err := Require(key, Manager); errs.KindOf(err) != errs.Forbidden {
		t.Fatalf("API key holds a role: %v", err)
	}
}

// FuzzVerify: no token, however malformed, panics the verifier or passes.
func FuzzVerify(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.x")
	f.Add("a.b.c")
	f.Add(strings.Repeat("A", 300))
	v, err := NewVerifier(context.Background(), JWTConfig{Secret: secret})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if p, err := v.Verify(tok); err == nil {
			t.Fatalf("forged token accepted: %+v", p)
		}
	})
}

// TestVerifiedCacheHonoursExpiry: a cached token stops working when it
// expires, and the cache never hides a bad signature.
func TestVerifiedCacheHonoursExpiry(t *testing.T) {
	v, _ := NewVerifier(context.Background(), JWTConfig{Secret: secret})
	tok := sign(t, jwt.SigningMethodHS256, secret, claimsFor(map[string]any{"exp": time.Now().Add(time.Minute).Unix()}), "")
	for range 2 {
		if _, err := v.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	v.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if _, err := v.Verify(tok); errs.KindOf(err) != errs.Unauthorized {
		t.Fatalf("expired cached token: %v", err)
	}
	if _, err := v.Verify(tok[:len(tok)-2] + "xx"); err == nil {
		t.Fatal("tampered token accepted")
	}
}
