package ratelimit

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// countingLimiter counts the calls reaching the limiter underneath, and
// its admissions.
type countingLimiter struct {
	Limiter
	calls, admitted atomic.Int64
}

func (c *countingLimiter) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	c.calls.Add(1)
	r, err := c.Limiter.Allow(ctx, key, l)
	if r.Allowed {
		c.admitted.Add(1)
	}
	return r, err
}

// TestGuard: failures count per client; over the budget a client is turned
// away before authentication (which counts its runs) until the bucket
// admits again; successes and other clients are not counted.
func TestGuard(t *testing.T) {
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			lim := &countingLimiter{Limiter: impl.new(t)}
			g := NewGuard(lim, PerSecond(1, 3), nil)
			var authRuns atomic.Int64
			client := func(c *fiber.Ctx) string { return c.Get("X-Client") }
			failed := func(c *fiber.Ctx) bool { return c.Get("X-Key") != "good" }
			app := fiber.New()
			app.Use(g.Before(client), func(c *fiber.Ctx) error { authRuns.Add(1); return c.Next() }, g.After(client, failed))
			app.Get("/*", func(c *fiber.Ctx) error {
				if failed(c) {
					return c.SendStatus(http.StatusUnauthorized)
				}
				return c.SendString("ok")
			})
			send := func(clientID, key string) int {
				req, _ := http.NewRequest(http.MethodGet, "/v1/x", nil)
				req.Header.Set("X-Client", clientID)
				req.Header.Set("X-Key", key)
				resp, err := app.Test(req, -1)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
					t.Fatal("429 without Retry-After")
				}
				return resp.StatusCode
			}
			for range 5 {
				if got := send("a", "good"); got != 200 {
					t.Fatalf("good key: %d", got)
				}
			}
			if n := lim.calls.Load(); n != 0 {
				t.Fatalf("%d limiter calls for successes", n)
			}
			for i := range 3 {
				if got := send("a", "bad"); got != 401 {
					t.Fatalf("failure %d within the burst: %d", i, got)
				}
			}
			if got := send("a", "bad"); got != 429 {
				t.Fatalf("failure over the budget: %d", got)
			}
			runs, calls := authRuns.Load(), lim.calls.Load()
			for _, key := range []string{"bad", "good", ""} {
				if got := send("a", key); got != 429 {
					t.Fatalf("blocked client with key %q: %d", key, got)
				}
			}
			if authRuns.Load() != runs || lim.calls.Load() != calls {
				t.Fatal("a blocked client reached authentication or the limiter")
			}
			if got := send("b", "bad"); got != 401 {
				t.Fatalf("another client: %d", got)
			}
			g.now = func() time.Time { return time.Now().Add(1100 * time.Millisecond) }
			if got := send("a", "good"); got != 200 {
				t.Fatalf("after Retry-After: %d", got)
			}
		})
	}
}

func TestBlocklistBounded(t *testing.T) {
	b := newBlocklist[string](100)
	now := time.Now()
	for i := range 50 {
		b.block("old"+strconv.Itoa(i), now.Add(time.Second), now)
	}
	later := now.Add(2 * time.Second)
	for i := range 60 {
		b.block("new"+strconv.Itoa(i), later.Add(time.Minute), later)
	}
	if n := b.size(); n != 60 {
		t.Fatalf("%d entries, want the 60 live ones (expired dropped first)", n)
	}
	if _, ok := b.blocked("new0", later); !ok {
		t.Fatal("live entry dropped while expired ones could go")
	}
	for i := range 500 {
		b.block(strconv.Itoa(i), later.Add(time.Minute), later)
	}
	if n := b.size(); n > 100 {
		t.Fatalf("%d entries, cap 100", n)
	}
}
