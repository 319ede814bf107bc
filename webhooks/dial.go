package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrPrivateAddress is why a dial to a private, loopback, link-local or
// otherwise internal address was refused.
var ErrPrivateAddress = errors.New("webhooks: refused to connect to a non-public address")

// public reports whether ip is an address on the public internet: not
// loopback, private (RFC 1918, unique local), link-local (cloud metadata
// lives at 169.254.169.254), CGNAT, unspecified or multicast.
func public(ip netip.Addr) bool {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid(), ip.IsLoopback(), ip.IsPrivate(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(),
		ip.IsInterfaceLocalMulticast(), ip.IsMulticast(), ip.IsUnspecified():
		return false
	}
	for _, p := range internalRanges {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// internalRanges are further non-public ranges netip has no predicate
// for: "this network", CGNAT shared space, IETF protocol assignments,
// benchmarking and the NAT64 well-known prefix (which would map to any
// IPv4 address, private ones included).
var internalRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
}

// guardControl is a net.Dialer Control that refuses non-public addresses.
// It runs after name resolution, on the very address about to be dialled,
// so a name that resolves to 127.0.0.1 (or is re-pointed there after the
// endpoint was registered: DNS rebinding) is refused too.
func guardControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, address)
	}
	if !public(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, ap.Addr())
	}
	return nil
}

// newClient returns the HTTP client deliveries are sent with. Unless
// allowPrivate, it refuses non-public addresses at dial time. It never
// follows redirects (a 3xx is a failed attempt: a redirect could lead
// anywhere, and receivers must answer 2xx themselves) and uses no proxy
// from the environment (a proxy would dial for it, unchecked).
func newClient(allowPrivate bool, timeout time.Duration, perHost int) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardControl
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   perHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// maxURL bounds an endpoint URL's length.
const maxURL = 2048

// checkURL validates an endpoint URL: absolute https, or http to a
// loopback host when the tenant may reach private addresses (a receiver
// under development); no credentials in it, no fragment.
func checkURL(raw string, allowPrivate bool) (string, error) {
	if len(raw) > maxURL {
		return "", fmt.Errorf("longer than %d bytes", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", errors.New("not an absolute URL")
	}
	if u.User != nil {
		return "", errors.New("credentials in the URL are not allowed; authenticate the signature instead")
	}
	if u.Fragment != "" {
		return "", errors.New("a fragment is not sent; remove it")
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !allowPrivate && !public(ip) {
		// The dial guard would refuse it anyway; say so now.
		return "", errors.New("the address is not public (private, loopback or link-local)")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowPrivate || !loopbackHost(u.Hostname()) {
			return "", errors.New("must be https (plain http is allowed to a loopback host only, when the tenant may reach private addresses)")
		}
	default:
		return "", errors.New("must be https")
	}
	return u.String(), nil
}

// loopbackHost reports whether host names this machine.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
