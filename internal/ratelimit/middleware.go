package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"

	"github.com/questline/questline/internal/httpx"
)

// allowTimeout bounds one limiter call. fasthttp never cancels a request's
// context, so without it a hung Redis would hang every request; with it a
// slow Redis costs at most this much before the request fails open.
const allowTimeout = 250 * time.Millisecond

// warnEvery spaces out the fail-open warnings: while Redis is down every
// request fails open, and one line per request would flood the logs.
const warnEvery = 10 * time.Second

// Middleware limits requests with l. key returns the bucket key and limit for
// a request, or ok=false to let it through unlimited (anonymous ops
// endpoints, health checks).
//
// Every limited request gets RateLimit-Limit (the burst), RateLimit-Remaining
// and RateLimit-Reset (seconds until the bucket is full) headers. A request
// over the limit gets 429 application/problem+json of type
// https://questline.dev/problems/rate-limited with Retry-After in whole
// seconds, rounded up; the handlers after the middleware do not run.
//
// If the limiter fails (Redis down or slow), the request goes through and the
// failure is logged at warn level, at most once per 10s plus the first.
// A nil logger discards the warnings.
func Middleware(l Limiter, logger *slog.Logger, key func(c *fiber.Ctx) (key string, limit Limit, ok bool)) fiber.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	warn := &rate.Sometimes{First: 1, Interval: warnEvery}
	return func(c *fiber.Ctx) error {
		k, limit, ok := key(c)
		if !ok {
			return c.Next()
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), allowTimeout)
		res, err := l.Allow(ctx, k, limit)
		cancel()
		if err != nil {
			// Fail open. A rate limiter protects capacity and fairness; it
			// is not what keeps data correct: a repeated or excess request
			// is still made harmless by the stores' idempotency keys and
			// unique indexes. Rejecting every request while Redis is down
			// would turn a degraded cache into a full outage, so
			// availability wins over strictness here. No RateLimit-*
			// headers are set: there is no honest value to report.
			warn.Do(func() {
				logger.Warn("rate limiter unavailable; allowing requests unlimited",
					"path", c.Path(),
					"request_id", c.Get(fiber.HeaderXRequestID),
					"limit", limit.String(),
					"err", err)
			})
			return c.Next()
		}
		c.Set("RateLimit-Limit", strconv.Itoa(limit.Burst))
		c.Set("RateLimit-Remaining", strconv.Itoa(res.Remaining))
		c.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(res.ResetAfter)))
		if res.Allowed {
			return c.Next()
		}
		return tooMany(c, limit, res.RetryAfter)
	}
}

// tooMany answers 429 problem+json with Retry-After in whole seconds,
// rounded up.
func tooMany(c *fiber.Ctx, limit Limit, retryAfter time.Duration) error {
	retry := max(1, ceilSeconds(retryAfter))
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(retry))
	return httpx.WriteProblem(c, http.StatusTooManyRequests, "rate-limited",
		fmt.Sprintf("rate limit of %s exceeded; retry in %d s", limit, retry))
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}
