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

// TestRedemption: a player redeems a reward with an Idempotency-Key; a
// retry, after a restart too, returns the same redemption and charges
// once; one past the balance is a 409; a manager's cancel refunds and
// restocks, and is audited.
func TestRedemption(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			mgr := s.token("boss", "acme", auth.Manager)
			var reward struct {
				ID        string `json:"id"`
				StockLeft int64  `json:"stock_left"`
			}
			s.must(201, req{method: "POST", path: "/v1/rewards", token: mgr, body: map[string]any{
				"name": "Mug", "kind": "generated", "cost": 30, "stock": 5}}).json(t, &reward)
			if typ := s.do(req{method: "POST", path: "/v1/rewards", token: mgr, body: map[string]any{"name": "Bad", "kind": "content", "cost": 1}}).problemType(t); typ != "bad-reward" {
				t.Fatalf("content reward without content: %s", typ)
			}
			s.setupSlice("acme") // 50 points for 3 shares
			ann := s.token("ann", "acme")
			for _, k := range []string{"1", "2", "3"} {
				s.event(ann, k, map[string]any{"type": "share"})
			}
			redeem := func(key string) response {
				return s.do(req{method: "POST", path: "/v1/rewards/" + reward.ID + "/redeem", token: ann, header: map[string]string{"Idempotency-Key": key}})
			}
			var first, again struct {
				ID, State, Code string
			}
			r := redeem("r1")
			if r.Status != 200 {
				t.Fatalf("redeem: %d %s", r.Status, r.Body)
			}
			r.json(t, &first)
			s.shutdown()
			s.start()
			redeem("r1").json(t, &again)
			if first.State != "completed" || len(first.Code) != 12 || again != first {
				t.Fatalf("redemption %+v, retried %+v", first, again)
			}
			if typ := redeem("r2").problemType(t); typ != "insufficient-points" {
				t.Fatalf("redemption past the balance: %s", typ)
			}
			if w := s.wallet(ann); w.Balance != 20 {
				t.Fatalf("wallet after one redemption: %+v", w)
			}
			s.must(200, req{method: "POST", path: "/v1/redemptions/" + first.ID + "/cancel", token: mgr})
			if w := s.wallet(ann); w.Balance != 50 {
				t.Fatalf("wallet after the cancel: %+v", w)
			}
			s.must(200, req{method: "GET", path: "/v1/rewards/" + reward.ID, token: ann}).json(t, &reward)
			if reward.StockLeft != 5 {
				t.Fatalf("stock after the cancel: %+v", reward)
			}
			var mine struct {
				Redemptions []struct{ State string } `json:"redemptions"`
			}
			s.must(200, req{method: "GET", path: "/v1/me/redemptions", token: ann}).json(t, &mine)
			if len(mine.Redemptions) != 2 {
				t.Fatalf("my redemptions: %+v", mine)
			}
			audit := s.must(200, req{method: "GET", path: "/v1/audit", token: s.token("root", "acme", auth.Admin)})
			if !strings.Contains(string(audit.Body), "cancel-redemption") {
				t.Fatalf("cancel not audited: %s", audit.Body)
			}
		})
	}
}
