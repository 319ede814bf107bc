package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/questline/questline/auth"
)

type fullWallet struct {
	Balance, Pending, Spent, Expired, Earned int64
	Expiring                                 []struct {
		At     time.Time `json:"at"`
		Amount int64     `json:"amount"`
	}
}

// TestPointsExpiry: a manager sets a policy (a bad one is refused naming
// the field), points earned under it list their expiry in the wallet,
// and `server expire` run by hand past that date, twice, expires them
// once; the wallet says so after a restart.
func TestPointsExpiry(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			if typ := s.do(req{method: "PUT", path: "/v1/points/policy", token: mgr, body: map[string]any{"expiry": "months"}}).problemType(t); typ != "bad-policy" {
				t.Fatalf("policy without expiry_n: %s", typ)
			}
			s.must(403, req{method: "PUT", path: "/v1/points/policy", token: s.token("ann", "acme"), body: map[string]any{"expiry": "never"}})
			s.must(200, req{method: "PUT", path: "/v1/points/policy", token: mgr, body: map[string]any{"expiry": "months", "expiry_n": 1, "notice_days": 7}})
			var pol struct {
				Expiry  string `json:"expiry"`
				ExpiryN int    `json:"expiry_n"`
			}
			s.must(200, req{method: "GET", path: "/v1/points/policy", token: mgr}).json(t, &pol)
			if pol.Expiry != "months" || pol.ExpiryN != 1 {
				t.Fatalf("policy read back: %+v", pol)
			}
			s.setupSlice("acme") // 50 points for 3 shares
			ann := s.token("ann", "acme")
			for _, k := range []string{"1", "2", "3"} {
				s.event(ann, k, map[string]any{"type": "share"})
			}
			var w fullWallet
			s.must(200, req{method: "GET", path: "/v1/me/wallet", token: ann}).json(t, &w)
			if w.Balance != 50 || len(w.Expiring) != 1 || w.Expiring[0].Amount != 50 {
				t.Fatalf("wallet before expiry: %+v", w)
			}
			at := w.Expiring[0].At.Format(time.RFC3339)
			s.shutdown()
			for i, want := range []string{"expired 50 points of 1 lots", "expired 0 points of 0 lots"} {
				var out strings.Builder
				if code := run(context.Background(), []string{"server", "expire", "--at", at}, s.getenv, &out); code != 0 {
					t.Fatalf("expire run %d exited %d: %s", i, code, out.String())
				}
				if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "100%") {
					t.Fatalf("expire run %d printed %q, want %q and progress", i, out.String(), want)
				}
			}
			s.start()
			s.must(200, req{method: "GET", path: "/v1/me/wallet", token: ann}).json(t, &w)
			if w.Balance != 0 || w.Expired != 50 || w.Earned != 50 {
				t.Fatalf("wallet after expiry: %+v", w)
			}
		})
	}
}
