package httpx

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func TestClientIP(t *testing.T) {
	// app.Test connects from 0.0.0.0.
	peer := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")}
	lbs := append(peer, netip.MustParsePrefix("10.0.0.0/8"))
	tests := []struct {
		name    string
		trusted []netip.Prefix
		xff     []string
		want    string
	}{
		{"no proxies: header ignored", nil, []string{"203.0.113.9"}, "0.0.0.0"},
		{"untrusted peer: header ignored", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, []string{"203.0.113.9"}, "0.0.0.0"},
		{"trusted peer, no header", peer, nil, "0.0.0.0"},
		{"one hop", peer, []string{"203.0.113.9"}, "203.0.113.9"},
		{"spoofed left entries ignored", peer, []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"chain of trusted hops", lbs, []string{"1.2.3.4, 203.0.113.9, 10.1.1.1, 10.2.2.2"}, "203.0.113.9"},
		{"several headers in order", lbs, []string{"1.2.3.4, 203.0.113.9", "10.1.1.1"}, "203.0.113.9"},
		{"all hops trusted", lbs, []string{"10.1.1.1, 10.2.2.2"}, "10.1.1.1"},
		{"garbage stops the walk", lbs, []string{"203.0.113.9, junk, 10.1.1.1"}, "10.1.1.1"},
		{"ipv6 and port", peer, []string{"[2001:db8::1]:4711"}, "2001:db8::1"},
		{"ipv4-mapped ipv6", peer, []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := fiber.New()
			ip := ClientIP(tc.trusted)
			app.Get("/", func(c *fiber.Ctx) error { return c.SendString(ip(c).String()) })
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			resp, err := app.Test(r)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			if string(got) != tc.want {
				t.Fatalf("client = %s, want %s", got, tc.want)
			}
		})
	}
}
