package ratelimit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/questline/questline/internal/redistest"
)

// newApp serves GET /* behind Middleware: the bucket key is the X-User
// header, a limit of 1/min burst 2, and /healthz is not limited.
func newApp(l Limiter, logger *slog.Logger) *fiber.App {
	app := fiber.New()
	app.Use(Middleware(l, logger, func(c *fiber.Ctx) (string, Limit, bool) {
		if c.Path() == "/healthz" {
			return "", Limit{}, false
		}
		return "user:" + c.Get("X-User"), PerMinute(1, 2), true
	}))
	app.Get("/*", func(c *fiber.Ctx) error { return c.SendString("ok") })
	return app
}

func get(t *testing.T, app *fiber.App, path, user string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("X-User", user)
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, body
}

func TestMiddleware(t *testing.T) {
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			app := newApp(impl.new(t), nil)

			for i, want := range []string{"1", "0"} {
				resp, body := get(t, app, "/v1/things", "u1")
				if resp.StatusCode != http.StatusOK || string(body) != "ok" {
					t.Fatalf("request %d: %d %s, want 200 ok", i, resp.StatusCode, body)
				}
				if got := resp.Header.Get("RateLimit-Remaining"); got != want {
					t.Fatalf("request %d: RateLimit-Remaining %q, want %q", i, got, want)
				}
				if got := resp.Header.Get("RateLimit-Limit"); got != "2" {
					t.Fatalf("request %d: RateLimit-Limit %q, want 2", i, got)
				}
			}

			resp, body := get(t, app, "/v1/things", "u1")
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("over the burst: %d %s, want 429", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q, want application/problem+json", ct)
			}
			retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			if err != nil || retry < 1 || retry > 60 {
				t.Fatalf("Retry-After %q, want whole seconds in [1, 60]", resp.Header.Get("Retry-After"))
			}
			if got := resp.Header.Get("RateLimit-Remaining"); got != "0" {
				t.Fatalf("429 RateLimit-Remaining %q, want 0", got)
			}
			var p struct {
				Type   string `json:"type"`
				Title  string `json:"title"`
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("problem body %s: %v", body, err)
			}
			if p.Type != "https://questline.dev/problems/rate-limited" || p.Title != "Too Many Requests" ||
				p.Status != http.StatusTooManyRequests || p.Detail == "" {
				t.Fatalf("problem = %+v", p)
			}

			// Another user has their own bucket.
			if resp, _ := get(t, app, "/v1/things", "u2"); resp.StatusCode != http.StatusOK {
				t.Fatalf("other user: %d, want 200", resp.StatusCode)
			}
			// A skipped route is never limited and gets no headers.
			for range 3 {
				resp, _ := get(t, app, "/healthz", "u1")
				if resp.StatusCode != http.StatusOK || resp.Header.Get("RateLimit-Remaining") != "" {
					t.Fatalf("skipped route: %d %v", resp.StatusCode, resp.Header)
				}
			}
		})
	}
}

// lockedBuffer is a log sink safe to share with Fiber's handler goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMiddlewareFailsOpenWhenRedisIsDown(t *testing.T) {
	// A real client aimed at a port nobody listens on: Redis is down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	client := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })

	var logs lockedBuffer
	app := newApp(NewRedis(client), slog.New(slog.NewJSONHandler(&logs, nil)))
	for i := range 3 { // more than the burst of 2
		resp, body := get(t, app, "/v1/things", "u1")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d with Redis down: %d %s, want 200 (fail open)", i, resp.StatusCode, body)
		}
		if h := resp.Header.Get("RateLimit-Remaining"); h != "" {
			t.Fatalf("request %d: RateLimit-Remaining %q without a limiter answer", i, h)
		}
	}
	out := logs.String()
	if n := strings.Count(out, `"level":"WARN"`); n != 1 {
		t.Fatalf("%d warnings for 3 failures, want 1 (throttled):\n%s", n, out)
	}
	if !strings.Contains(out, "ratelimit: redis allow:") {
		t.Fatalf("warning lacks the wrapped cause:\n%s", out)
	}
}

// TestMiddlewareFailsOpenWhenRedisHangs: a Redis that holds its
// connections and never answers costs a request the middleware's bound,
// not the client's read timeout, through the server's autopipelined client
// (which does not abandon a queued command at its context's deadline).
func TestMiddlewareFailsOpenWhenRedisHangs(t *testing.T) {
	srv := redistest.StartOutage(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr}) // default 5 s read timeout
	t.Cleanup(func() { _ = client.Close() })
	ap, err := client.AutoPipeline()
	if err != nil {
		t.Fatal(err)
	}
	app := newApp(NewRedis(ap), nil)
	if resp, body := get(t, app, "/v1/things", "u1"); resp.Header.Get("RateLimit-Remaining") != "1" {
		t.Fatalf("before the hang: %d %s, headers %v", resp.StatusCode, body, resp.Header)
	}
	srv.Pause()
	defer srv.Resume()
	start := time.Now()
	resp, body := get(t, app, "/v1/things", "u1")
	took := time.Since(start)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("RateLimit-Remaining") != "" {
		t.Fatalf("with Redis hung: %d %s, want 200 without RateLimit headers (fail open)", resp.StatusCode, body)
	}
	if took > allowTimeout+time.Second/2 {
		t.Fatalf("with Redis hung the request took %v, want about %v", took, allowTimeout)
	}
}

func TestCeilSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{
		-time.Second:                   0,
		0:                              0,
		time.Nanosecond:                1,
		time.Second:                    1,
		time.Second + time.Millisecond: 2,
		59*time.Second + 1:             60,
	} {
		if got := ceilSeconds(d); got != want {
			t.Errorf("ceilSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func ExampleMiddleware() {
	limiter := NewMemory()
	defer limiter.Close()
	app := fiber.New()
	app.Use(Middleware(limiter, slog.Default(), func(c *fiber.Ctx) (string, Limit, bool) {
		if strings.HasPrefix(c.Path(), "/healthz") {
			return "", Limit{}, false // ops endpoints are not limited
		}
		return "ip:" + c.IP(), PerSecond(10, 20), true
	}))
	app.Get("/v1/hello", func(c *fiber.Ctx) error { return c.SendString("hi") })
	resp, _ := app.Test(httptest.NewRequest(http.MethodGet, "/v1/hello", nil))
	fmt.Println(resp.StatusCode, resp.Header.Get("RateLimit-Remaining"))
	// Output: 200 19
}
