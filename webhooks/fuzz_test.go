package webhooks

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// FuzzCheckURL: no input panics, and an accepted URL is https, or http
// to a loopback host for a tenant allowed private addresses.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/q", "http://127.0.0.1:9/x", "http://[::1]/", "https://u:p@h/",
		"http://localhost./", "HTTP://LOCALHOST/", "https://%zz", "//x", ""} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, private bool) {
		got, err := checkURL(raw, private)
		if err != nil {
			return
		}
		u, perr := url.Parse(got)
		if perr != nil {
			t.Fatalf("accepted %q, which does not parse: %v", got, perr)
		}
		switch {
		case u.Scheme == "https":
		case u.Scheme == "http" && private && loopbackHost(u.Hostname()):
		default:
			t.Fatalf("accepted %q (private=%v)", got, private)
		}
		if u.User != nil || u.Host == "" {
			t.Fatalf("accepted %q", got)
		}
	})
}

// FuzzVerify: arbitrary headers never panic the receiver's check, and
// only the true signature verifies.
func FuzzVerify(f *testing.F) {
	f.Add(vectorID, "1614265330", vectorSig, vectorBody)
	f.Add("", "x", "v1,", "")
	f.Fuzz(func(t *testing.T, id, ts, sig, body string) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		err := Verify(vectorSecret, h, []byte(body), time.Unix(vectorTime, 0), 0)
		sec, _ := strconv.ParseInt(ts, 10, 64)
		if err == nil && (id != vectorID || body != vectorBody || sec != vectorTime) {
			t.Fatalf("verified a message other than the vector's: %q %q %q", id, ts, body)
		}
	})
}
