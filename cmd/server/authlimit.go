package main

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/internal/ratelimit"
)

// authFailLimit is each client's budget of API calls that fail
// authentication, QL_AUTH_FAIL_RATE a second (default 10) in bursts of ten
// times that: enough for a person mistyping or a client retrying, far too
// little to probe keys or to make the store look them up for free.
func authFailLimit(rate int) ratelimit.Limit { return ratelimit.PerSecond(rate, 10*rate) }

// failedAuth reports whether an API call carries no valid credential. An
// expired token does not count: it is validly signed (and cached as
// expired, so replaying it is cheap), the everyday state of a phone about
// to refresh its token, and many phones share an address behind a
// carrier's NAT. Nor does a credential that could not be checked (the
// store down): that is not the caller's failure. The WebSocket
// authenticates on its own.
func failedAuth(c *fiber.Ctx) bool {
	if !strings.HasPrefix(c.Path(), "/v1/") || c.Path() == "/v1/ws" {
		return false
	}
	_, err := auth.Require(c.UserContext())
	e, ok := errs.As(err)
	return ok && e.Kind == errs.Unauthorized && e.Code != "token-expired"
}

// clientKey names a request's client for the per-address limits: its
// address, or for IPv6 its /64, which one subscriber usually holds whole.
// Ops endpoints are not limited.
func (a *app) clientKey(c *fiber.Ctx) string {
	if !strings.HasPrefix(c.Path(), "/v1/") {
		return ""
	}
	ip := a.clientIP(c)
	if ip.Is6() {
		return netip.PrefixFrom(ip, 64).Masked().String()
	}
	return ip.String()
}
