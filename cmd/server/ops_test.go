package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/questline/questline/auth"
)

func TestOpsEndpoints(t *testing.T) {
	s := startServer(t, nil)
	s.setupSlice("acme")
	s.must(200, s.shareReq(s.token("alice", "acme"), "k1"))

	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	s.must(200, req{method: "GET", path: "/readyz"}).json(t, &ready)
	if ready.Status != "ok" || ready.Checks["store"] != "ok" || ready.Checks["leaderboards"] != "ok" || ready.Checks["realtime"] != "ok" {
		t.Fatalf("readyz = %+v", ready)
	}
	metrics := string(s.must(200, req{method: "GET", path: "/metrics"}).Body)
	for _, m := range []string{
		`questline_http_request_duration_seconds_bucket{method="POST",route="/v1/events",status="200"`,
		"questline_events_processed_total", "questline_websocket_connections", "go_goroutines",
	} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %s in %s", m, metrics[:min(len(metrics), 100000)])
		}
	}
	resp := s.must(200, req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": "abc-123"}})
	if resp.Header.Get("X-Request-Id") != "abc-123" {
		t.Errorf("request id not echoed: %q", resp.Header.Get("X-Request-Id"))
	}

	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	s.must(200, req{method: "GET", path: "/openapi.json"}).json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	for _, ep := range []string{
		"POST /v1/events", "POST /v1/challenges", "GET /v1/challenges", "GET /v1/challenges/{id}", "PATCH /v1/challenges/{id}",
		"POST /v1/challenges/{id}/publish", "POST /v1/challenges/{id}/archive", "GET /v1/me/challenges",
		"GET /v1/me/wallet", "GET /v1/me/ledger", "POST /v1/leaderboards", "GET /v1/leaderboards",
		"GET /v1/leaderboards/{id}/top", "GET /v1/leaderboards/{id}/me", "GET /v1/ws",
		"POST /v1/api-keys", "GET /v1/api-keys", "DELETE /v1/api-keys/{id}",
		"GET /healthz", "GET /readyz", "GET /metrics",
		"POST /v1/challenges/{id}/join", "POST /v1/challenges/{id}/claim", "GET /v1/challenges/{id}/stats", "GET /v1/me/unlocks",
		"POST /v1/badges", "GET /v1/badges", "GET /v1/badges/{id}", "PATCH /v1/badges/{id}", "POST /v1/badges/{id}/publish",
		"POST /v1/badges/{id}/archive", "GET /v1/me/badges", "GET /v1/users/{id}/badges",
		"GET /v1/leaderboards/{id}", "GET /v1/leaderboards/{id}/users/{uid}", "POST /v1/leaderboards/{id}/cohort",
		"GET /v1/me/leaderboards", "POST /v1/leaderboards/{id}/exclusions", "GET /v1/leaderboards/{id}/exclusions",
		"DELETE /v1/leaderboards/{id}/exclusions/{uid}", "GET /v1/audit",
		"PUT /v1/me/profile", "GET /v1/users/{id}/profile", "PUT /v1/users/{id}/attributes",
	} {
		method, path, _ := strings.Cut(ep, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("OpenAPI lacks %s", ep)
		}
	}
	if r := s.do(req{method: "GET", path: "/docs"}); r.Status != 200 {
		t.Errorf("/docs status %d", r.Status)
	}
}

// TestGracefulShutdown: on SIGTERM (context cancel) WebSocket clients get a
// close frame and the server exits cleanly.
func TestGracefulShutdown(t *testing.T) {
	s := startServer(t, nil)
	ws := s.dial(s.token("alice", "acme"), "")
	time.Sleep(50 * time.Millisecond)
	s.shutdown()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, websocket.CloseServiceRestart) {
			t.Fatalf("read after shutdown: %v, want close 1012", err)
		}
		return
	}
}

// TestStartFailsFast: a wrong setting stops the server at start with one
// clear line, not a stack trace.
func TestStartFailsFast(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad redis url", map[string]string{"REDIS_URL": "redis://:x@@host:notaport"}, "REDIS_URL"},
		{"unreachable redis", map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"}, "REDIS_URL"},
		{"bad mongo scheme", map[string]string{"MONGO_URI": "http://x"}, "MONGO_URI"},
		{"mongo without secret", map[string]string{"MONGO_URI": "mongodb://127.0.0.1:1/", "QL_JWT_SECRET": ""}, "QL_JWT_SECRET"},
		{"unreachable mongo", map[string]string{"MONGO_URI": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500"}, "MONGO_URI"},
		{"bad log level", map[string]string{"QL_LOG_LEVEL": "loud"}, "QL_LOG_LEVEL"},
		{"bad sqlite sync", map[string]string{"QL_SQLITE_SYNC": "OFF"}, "QL_SQLITE_SYNC"},
		{"bad address", map[string]string{"QL_ADDR": "nonsense:port:x"}, "QL_ADDR"},
		{"JWKS over plain http", map[string]string{"QL_JWT_JWKS_URL": "http://idp.example/.well-known/jwks.json"}, "https"},
		{"bad trusted proxies", map[string]string{"QL_TRUSTED_PROXIES": "10.0.0.0/8, lb.internal"}, "QL_TRUSTED_PROXIES"},
		{"bad auth fail rate", map[string]string{"QL_AUTH_FAIL_RATE": "0"}, "QL_AUTH_FAIL_RATE"},
		{"bad fixed tenant", map[string]string{"QL_TENANT": "a|b"}, "fixed tenant"},
		{"tenant claim is sub", map[string]string{"QL_JWT_TENANT_CLAIM": "sub"}, "claim"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"QL_DATA_DIR": t.TempDir(), "QL_JWT_SECRET": testSecret, "QL_ADDR": "127.0.0.1:0"}
			for k, v := range tc.env {
				env[k] = v
			}
			var out strings.Builder
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			code := run(ctx, []string{"server"}, func(k string) string { return env[k] }, &out)
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			last := lines[len(lines)-1]
			if code != 1 || !strings.HasPrefix(last, "questline: ") || !strings.Contains(last, tc.want) {
				t.Fatalf("exit %d, output %q; want one line naming %s", code, out.String(), tc.want)
			}
			if strings.Contains(out.String(), "goroutine ") {
				t.Fatalf("stack trace in output: %s", out.String())
			}
		})
	}
}

func TestEmbeddedDefaultGeneratesSecret(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"QL_DATA_DIR": dir}
	var out strings.Builder
	if code := run(context.Background(), []string{"server", "token", "--sub", "u1", "--tenant", "acme", "--role", "manager"}, func(k string) string { return env[k] }, &out); code != 0 {
		t.Fatalf("token exited %d: %s", code, out.String())
	}
	tok := strings.TrimSpace(out.String())
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", tok)
	}
	// The same generated secret is used on the next start: a second token
	// verifies with the server started on that data dir.
	s := startServer(t, map[string]string{"QL_DATA_DIR": dir, "QL_JWT_SECRET": ""})
	s.must(201, req{method: "POST", path: "/v1/leaderboards", token: tok, body: map[string]any{"name": "x"}})
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"server", "--help"}, {"server", "serve", "--help"}, {"server", "token", "--help"}, {"server", "rebuild", "--help"}, {"server", "prune", "--help"}, {"server", "demo", "--help"}} {
		var out strings.Builder
		if code := run(context.Background(), args, func(string) string { return "" }, &out); code != 0 || out.Len() == 0 {
			t.Errorf("%v: exit %d, output %q", args, code, out.String())
		}
	}
}

// TestHelpHidesSecrets: --help lists the settings but never the values of
// those that may hold a secret.
func TestHelpHidesSecrets(t *testing.T) {
	env := map[string]string{
		"QL_JWT_SECRET": "s3cret-hs256-key", "MONGO_URI": "mongodb://u:mongo-pass@db:27017",
		"REDIS_URL": "redis://:redis-pass@cache:6379", "QL_ADDR": ":9191",
	}
	for _, cmd := range []string{"serve", "demo", "token", "rebuild", "prune"} {
		var out strings.Builder
		if code := run(context.Background(), []string{"server", cmd, "--help"}, func(k string) string { return env[k] }, &out); code != 0 {
			t.Fatalf("%s --help exited %d: %s", cmd, code, out.String())
		}
		for _, secret := range []string{"s3cret-hs256-key", "mongo-pass", "redis-pass"} {
			if strings.Contains(out.String(), secret) {
				t.Errorf("%s --help prints a secret (%s):\n%s", cmd, secret, out.String())
			}
		}
		if cmd == "serve" && !strings.Contains(out.String(), "jwt-secret") {
			t.Errorf("serve --help does not list jwt-secret:\n%s", out.String())
		}
	}
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"QL_DATA_DIR": dir, "QL_ADDR": "127.0.0.1:9797"}
	var printed string
	for range 2 { // running it twice reuses what the first run made
		var out strings.Builder
		if code := run(context.Background(), []string{"server", "demo"}, func(k string) string { return env[k] }, &out); code != 0 {
			t.Fatalf("demo exited %d: %s", code, out.String())
		}
		if !strings.Contains(out.String(), "export ALICE=") || strings.Contains(out.String(), ":8080") {
			t.Fatalf("demo output: %s", out.String())
		}
		printed = out.String()
	}
	// The printed board command names the board (not the challenge) at
	// the address QL_ADDR says.
	var board string
	for _, line := range strings.Split(printed, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "leaderboard" {
			board = f[1]
		}
	}
	if want := "'http://127.0.0.1:9797/v1/leaderboards/" + board + "/top?limit=10'"; board == "" || !strings.Contains(printed, want) {
		t.Fatalf("demo output lacks %s:\n%s", want, printed)
	}
	secret, err := os.ReadFile(filepath.Join(dir, "jwt-secret"))
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, map[string]string{"QL_DATA_DIR": dir, "QL_JWT_SECRET": strings.TrimSpace(string(secret))})
	alice, err := auth.Mint([]byte(strings.TrimSpace(string(secret))), "alice", "demo", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Challenges []json.RawMessage `json:"challenges"`
	}
	s.must(200, req{method: "GET", path: "/v1/challenges", token: alice}).json(t, &list)
	if len(list.Challenges) != 1 {
		t.Fatalf("demo tenant has %d challenges, want 1", len(list.Challenges))
	}
	for i := range 3 {
		s.must(200, s.shareReq(alice, strconv.Itoa(i)))
	}
	if w := s.wallet(alice); w.Balance != 50 {
		t.Fatalf("wallet after demo shares = %+v", w)
	}
	if p := s.page(alice, "/v1/leaderboards/"+board+"/top?limit=10"); p.ranking() != "alice:50#1" {
		t.Fatalf("the printed board command reads %+v", p)
	}
}
