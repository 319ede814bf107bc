package webhooks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestPublic(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"8.8.8.8", true},
		{"2606:4700:4700::1111", true},
		{"127.0.0.1", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"100.64.0.1", false},
		{"224.0.0.1", false},
		{"::ffff:127.0.0.1", false},
		{"64:ff9b::a00:1", false},
	} {
		if got := public(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("public(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

// TestGuardRefusesAtDial: the guard holds at dial time, for a name that
// resolves to loopback (localhost) as for the address itself; the
// permissive client reaches it.
func TestGuardRefusesAtDial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	port := srv.URL[len("http://127.0.0.1"):]
	for _, tc := range []struct {
		name    string
		url     string
		private bool
		refused bool
	}{
		{"address", srv.URL, false, true},
		{"name", "http://localhost" + port, false, true},
		{"allowed", srv.URL, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(tc.private, 2*time.Second, 4)
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, tc.url, nil)
			resp, err := c.Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			if got := errors.Is(err, ErrPrivateAddress); got != tc.refused {
				t.Errorf("err %v, refused %v, want %v", err, got, tc.refused)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		private bool
		ok      bool
	}{
		{"https://hooks.example.com/questline", false, true},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://[::1]:8443/x", false, false},
		{"https://10.0.0.1/x", true, true},
		{"https://8.8.8.8/x", false, true},
		{"http://hooks.example.com/questline", false, false},
		{"http://127.0.0.1:9000/hook", false, false},
		{"http://127.0.0.1:9000/hook", true, true},
		{"http://localhost:9000/hook", true, true},
		{"http://10.0.0.1/hook", true, false},
		{"ftp://hooks.example.com", false, false},
		{"https://user:pw@hooks.example.com", false, false},
		{"https://hooks.example.com/#x", false, false},
		{"/relative", false, false},
		{"https://", false, false},
		{"mailto:a@b.c", false, false},
	} {
		if _, err := checkURL(tc.url, tc.private); (err == nil) != tc.ok {
			t.Errorf("checkURL(%q, %v): %v, want ok=%v", tc.url, tc.private, err, tc.ok)
		}
	}
}
