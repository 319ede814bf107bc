package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/questline/questline/auth"
)

// randomKey is an API key no one issued.
func randomKey(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "ql_" + hex.EncodeToString(b)
}

// authFailRate is the failure budget the tests set (QL_AUTH_FAIL_RATE):
// one a second, in bursts of ten. Once spent, a client is blocked for a
// whole second, so the checks that follow hammer see the block even on a
// slow machine (a race-detector build).
const authFailRate = 1

// hammer sends requests made by mk until one is 429 or max were sent, and
// checks the 429 and that no more 401s got through than the failure budget
// allows over the time it took (a burst of 10*authFailRate, authFailRate a
// second).
func hammer(t *testing.T, s *testServer, max int, mk func(i int) req) response {
	t.Helper()
	start := time.Now()
	unauthorized := 0
	for i := range max {
		resp := s.do(mk(i))
		switch resp.Status {
		case 401:
			unauthorized++
		case 429:
			if resp.problemType(t) != "rate-limited" {
				t.Fatalf("429 of type %q", resp.problemType(t))
			}
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
				t.Fatalf("429 with Retry-After %q", resp.Header.Get("Retry-After"))
			}
			if allowed := 10*authFailRate + int(authFailRate*time.Since(start).Seconds()) + 1; unauthorized > allowed {
				t.Fatalf("%d failed authentications answered before the first 429, budget %d", unauthorized, allowed)
			}
			return resp
		default:
			t.Fatalf("request %d: status %d: %s", i, resp.Status, resp.Body)
		}
	}
	t.Fatalf("%d requests with bad credentials: %d x 401, never 429", max, unauthorized)
	return response{}
}

// TestAuthFailureLimit: requests with bad or no credentials are limited
// per client before authentication; valid ones from elsewhere are not, nor
// are expired tokens (phones about to refresh).
func TestAuthFailureLimit(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			env := d.env(t)
			env["QL_AUTH_FAIL_RATE"] = strconv.Itoa(authFailRate)
			s := startServer(t, env)
			alice := s.token("alice", "acme")
			expired, err := auth.Mint([]byte(testSecret), "alice", "acme", nil, -time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 150 {
				resp := s.do(req{method: "GET", path: "/v1/me/wallet", token: expired})
				if resp.Status != 401 || resp.problemType(t) != "token-expired" {
					t.Fatalf("expired token %d: status %d %s", i, resp.Status, resp.Body)
				}
			}
			hammer(t, s, 2000, func(int) req {
				return req{method: "GET", path: "/v1/me/wallet", header: map[string]string{"X-API-Key": randomKey(t)}}
			})
			// Blocked: no credential is even looked at, a valid one included.
			s.must(429, req{method: "GET", path: "/v1/me/wallet"})
			s.must(429, req{method: "GET", path: "/v1/me/wallet", token: alice})
			// Ops endpoints are not limited.
			s.must(200, req{method: "GET", path: "/healthz"})
			// Without trusted proxies, X-Forwarded-For is the client's own
			// word and changes nothing.
			s.must(429, req{method: "GET", path: "/v1/me/wallet", token: alice, header: map[string]string{"X-Forwarded-For": "198.51.100.1"}})
		})
	}
}

// TestTrustedProxies: behind a trusted load balancer each client has its
// own failure budget, named by X-Forwarded-For's right-most untrusted
// entry, so one attacker does not lock out everyone behind the balancer,
// and faking entries further left changes nothing.
func TestTrustedProxies(t *testing.T) {
	s := startServer(t, map[string]string{"QL_TRUSTED_PROXIES": "127.0.0.1/32, 10.0.0.0/8", "QL_AUTH_FAIL_RATE": strconv.Itoa(authFailRate)})
	alice := s.token("alice", "acme")
	attacker := func(i int) req {
		return req{method: "GET", path: "/v1/me/wallet", header: map[string]string{
			"X-API-Key":       randomKey(t),
			"X-Forwarded-For": fmt.Sprintf("192.0.2.%d, 203.0.113.7, 10.1.2.3", i%250), // left-most entry spoofed
		}}
	}
	hammer(t, s, 2000, attacker)
	s.must(429, req{method: "GET", path: "/v1/me/wallet", token: alice, header: map[string]string{"X-Forwarded-For": "203.0.113.7"}})
	s.must(200, req{method: "GET", path: "/v1/me/wallet", token: alice, header: map[string]string{"X-Forwarded-For": "203.0.113.8"}})
	s.must(200, req{method: "GET", path: "/v1/me/wallet", token: alice}) // the balancer itself
}

// TestIdentityProviderSubjectsEndToEnd: a subject as Auth0 issues it
// plays like any other, and the | in it keeps its idempotency keys apart
// from another user's.
func TestIdentityProviderSubjectsEndToEnd(t *testing.T) {
	s := startServer(t, nil)
	_, board := s.setupSlice("acme")
	ab := s.token("a|b", "acme")
	a := s.token("a", "acme")
	first := s.must(200, s.shareReq(ab, "c"))
	var r1, r2 eventResult
	first.json(t, &r1)
	// "u:a" + "|b|c" must not be taken for "u:a|b" + "|c".
	s.must(200, s.shareReq(a, "b|c")).json(t, &r2)
	if r2.Replayed || r2.EventID == r1.EventID {
		t.Fatalf("user a's key b|c replayed user a|b's key c: %+v vs %+v", r2, r1)
	}
	auth0 := s.token("auth0|abc123", "acme")
	for i := range 3 {
		s.must(200, s.shareReq(auth0, fmt.Sprint("s", i)))
	}
	if w := s.wallet(auth0); w.Balance != 50 {
		t.Fatalf("auth0|abc123 wallet = %+v, want 50 points", w)
	}
	p := s.top(auth0, board)
	if len(p.Entries) == 0 || p.Entries[0].UserID != "auth0|abc123" || p.Entries[0].Score != 50 {
		t.Fatalf("board = %+v", p)
	}
	s.dial(auth0, "")
}

// TestClaimSettings: namespaced tenant and roles claims as Auth0 and
// Cognito issue them, and a fixed tenant.
func TestClaimSettings(t *testing.T) {
	sign := func(c jwt.MapClaims) string {
		c["exp"] = time.Now().Add(time.Hour).Unix()
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	t.Run("namespaced claims", func(t *testing.T) {
		s := startServer(t, map[string]string{
			"QL_JWT_TENANT_CLAIM": "https://questline.dev/tenant", "QL_JWT_ROLES_CLAIM": "cognito:groups"})
		mgr := sign(jwt.MapClaims{"sub": "auth0|boss", "tid": "azure-directory",
			"https://questline.dev/tenant": "acme", "cognito:groups": []string{"manager"}})
		s.must(201, req{method: "POST", path: "/v1/leaderboards", token: mgr, body: map[string]any{"name": "Points", "window": "all_time"}})
		// Azure's own tid is not our tenant.
		s.must(401, req{method: "GET", path: "/v1/me/wallet", token: sign(jwt.MapClaims{"sub": "u1", "tid": "acme"})})
	})
	t.Run("fixed tenant", func(t *testing.T) {
		s := startServer(t, map[string]string{"QL_TENANT": "brand"})
		s.must(200, req{method: "GET", path: "/v1/me/wallet", token: sign(jwt.MapClaims{"sub": "u1"})})
		s.must(200, req{method: "GET", path: "/v1/me/wallet", token: s.token("u1", "brand")})
		resp := s.must(401, req{method: "GET", path: "/v1/me/wallet", token: s.token("u1", "acme")})
		if resp.problemType(t) != "invalid-token" {
			t.Fatalf("token of another tenant: %s", resp.Body)
		}
	})
}

// TestForgedTokensLimited: the rate limits key a caller by its token only
// once the token is verified, so tokens signed with another key, each
// naming a new user, share their client's budgets rather than each opening
// a user's bucket: over HTTP the failure budget, on the WebSocket the
// client's upgrade budget (a burst of 40), never one per forged user.
func TestForgedTokensLimited(t *testing.T) {
	forged := func(i int) string {
		tok, err := auth.Mint([]byte("not-the-server-secret-0123456789"), fmt.Sprintf("forged%d", i), "acme", nil, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	t.Run("http", func(t *testing.T) {
		s := startServer(t, map[string]string{"QL_AUTH_FAIL_RATE": strconv.Itoa(authFailRate)})
		hammer(t, s, 2000, func(i int) req { return req{method: "GET", path: "/v1/me/wallet", token: forged(i)} })
	})
	t.Run("websocket", func(t *testing.T) {
		s := startServer(t, nil)
		base := strings.Replace(s.base, "http://", "ws://", 1) + "/v1/ws?token="
		unauthorized := 0
		for i := range 200 {
			_, resp, err := websocket.DefaultDialer.Dial(base+forged(i), nil)
			if err == nil || resp == nil {
				t.Fatalf("forged token %d: upgraded (%v)", i, err)
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusUnauthorized:
				unauthorized++
			case http.StatusTooManyRequests:
				if unauthorized > 40+5 { // the burst, and what refills meanwhile
					t.Fatalf("%d forged upgrades answered 401 before the first 429", unauthorized)
				}
				// A valid user from the same client still gets its own budget.
				s.dial(s.token("alice", "acme"), "")
				return
			default:
				t.Fatalf("forged token %d: status %d", i, resp.StatusCode)
			}
		}
		t.Fatalf("200 forged upgrades: %d x 401, never 429", unauthorized)
	})
}
