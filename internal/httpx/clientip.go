package httpx

import (
	"bytes"
	"net/netip"
	"slices"

	"github.com/gofiber/fiber/v2"
)

// ClientIP returns a function that names a request's client. It is the
// connection's peer, unless the peer is one of trusted (the deployment's
// load balancers): then X-Forwarded-For is read from the right, each
// trusted hop naming the one before it, and the client is the first
// address not itself trusted. Everything left of that address was written
// by the client and is ignored, so a client cannot choose its own address
// (Fiber's ProxyHeader takes the left-most entry, which the client
// controls). An entry that is not an address stops the walk at the last
// trusted hop.
func ClientIP(trusted []netip.Prefix) func(c *fiber.Ctx) netip.Addr {
	isTrusted := func(a netip.Addr) bool {
		return slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	return func(c *fiber.Ctx) netip.Addr {
		client, _ := netip.AddrFromSlice(c.Context().RemoteIP())
		client = client.Unmap()
		if len(trusted) == 0 || !isTrusted(client) {
			return client
		}
		var hops [][]byte
		for _, h := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
			hops = append(hops, bytes.Split(h, []byte(","))...)
		}
		for i := len(hops) - 1; i >= 0; i-- {
			hop, ok := parseHop(hops[i])
			if !ok {
				break
			}
			client = hop
			if !isTrusted(hop) {
				break
			}
		}
		return client
	}
}

// parseHop reads one X-Forwarded-For entry: an address, or an address and
// port.
func parseHop(b []byte) (netip.Addr, bool) {
	s := string(bytes.TrimSpace(b))
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
