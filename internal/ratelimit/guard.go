package ratelimit

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"
)

// maxBlocked bounds the clients a Guard, or the buckets a Front, remembers
// as blocked.
const maxBlocked = 100_000

// Guard limits, per client, the requests that fail authentication (no
// credential, or one refused), with a budget of their own. Counting only
// failures leaves a busy brand back end or a whole office behind one
// address alone, while each failure costs a key hash and a store lookup
// (or a signature check) that an attacker would otherwise get for free.
//
// After counts failures in the shared Limiter; once a client's budget is
// spent it is blocked on this node until the bucket admits again, and
// Before turns it away ahead of authentication, at the cost of a map
// lookup. Blocking locally until RetryAfter never refuses what the shared
// bucket would admit: a GCRA bucket that denied with RetryAfter d admits
// nothing under that key before d has passed, whichever node asks. While a
// client is blocked its valid credentials are refused too: telling them
// apart is the work the block saves.
type Guard struct {
	lim    Limiter
	limit  Limit
	logger *slog.Logger
	warn   *rate.Sometimes
	now    func() time.Time

	blocked *blocklist[string] // client keys
}

// NewGuard returns a Guard counting failures in l under limit. A nil
// logger discards the fail-open warnings.
func NewGuard(l Limiter, limit Limit, logger *slog.Logger) *Guard {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Guard{lim: l, limit: limit, logger: logger, warn: &rate.Sometimes{First: 1, Interval: warnEvery},
		now: time.Now, blocked: newBlocklist[string](maxBlocked)}
}

// Before answers 429 to a client that is blocked, before authentication
// runs. client returns the request's client key ("" lets it through).
func (g *Guard) Before(client func(*fiber.Ctx) string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		k := client(c)
		if k == "" {
			return c.Next()
		}
		if left, ok := g.blocked.blocked(k, g.now()); ok {
			return tooMany(c, g.limit, left)
		}
		return c.Next()
	}
}

// After counts a request that failed authentication, once authentication
// has run: failed reports whether it did. A failure over the budget gets
// 429 and blocks the client; one within it goes on (to its 401). If the
// limiter fails, the request goes on uncounted, as in Middleware.
func (g *Guard) After(client func(*fiber.Ctx) string, failed func(*fiber.Ctx) bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		k := client(c)
		if k == "" || !failed(c) {
			return c.Next()
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), allowTimeout)
		res, err := g.lim.Allow(ctx, "authfail:"+k, g.limit)
		cancel()
		if err != nil {
			g.warn.Do(func() {
				g.logger.Warn("rate limiter unavailable; not counting failed authentications",
					"path", c.Path(), "limit", g.limit.String(), "err", err)
			})
			return c.Next()
		}
		if res.Allowed {
			return c.Next()
		}
		now := g.now()
		// k may point into the request's buffer, which fasthttp reuses
		// for the next request: the blocklist keeps a copy.
		g.blocked.block(strings.Clone(k), now.Add(res.RetryAfter), now)
		return tooMany(c, g.limit, res.RetryAfter)
	}
}
