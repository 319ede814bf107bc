package main

import (
	"testing"
)

// programmeWallet is the wallet's programme part.
type programmeWallet struct {
	Balance int64 `json:"balance"`
	Tier    *struct {
		Tier     string
		NextTier string `json:"next_tier"`
		Needed   *int64
	} `json:"tier"`
	NextReward *struct {
		Name        string
		Cost, Short int64
	} `json:"next_reward"`
}

// TestWalletProgramme: the wallet names the tier, the next one and what
// it needs, and the next reward open to the user with the points short;
// VIP rewards (the reward's own tiers, or a tier's rewards benefit) are
// listed locked to others and refused with 403 tier-required, retries
// included; a cancelled coupon's code is never handed out again.
func TestWalletProgramme(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s, mgr, key, alice := startLoyalty(t, d)
			reward := func(body map[string]any) string {
				var r struct{ ID string }
				s.must(201, req{method: "POST", path: "/v1/rewards", token: mgr, body: body}).json(t, &r)
				return r.ID
			}
			reward(map[string]any{"name": "Coffee", "kind": "generated", "cost": 100})
			reward(map[string]any{"name": "TV", "kind": "physical", "cost": 500})
			reward(map[string]any{"name": "Lounge", "kind": "generated", "cost": 80, "tiers": []string{"gold"}})
			gift := reward(map[string]any{"name": "Gift", "kind": "generated", "cost": 70})
			coupon := reward(map[string]any{"name": "Voucher", "kind": "coupon", "cost": 10, "codes": []string{"AAA", "BBB"}})
			s.must(200, req{method: "PUT", path: "/v1/tiers", token: mgr, body: map[string]any{"version": 0, "basis": "lifetime_points",
				"review": map[string]any{"mode": "anniversary"},
				"tiers":  []any{map[string]any{"name": "silver", "threshold": 0}, map[string]any{"name": "gold", "threshold": 100, "rewards": []string{gift}}}}})
			s.earnRule(mgr, map[string]any{"name": "60 a purchase", "rule": map[string]any{"kind": "fixed", "event_type": "purchase", "points": 60}})
			s.purchase(key, "o1", "alice", nil)

			var w programmeWallet
			s.must(200, req{method: "GET", path: "/v1/me/wallet", token: alice}).json(t, &w)
			if w.Tier == nil || w.Tier.Tier != "silver" || w.Tier.NextTier != "gold" || w.Tier.Needed == nil || *w.Tier.Needed != 40 {
				t.Fatalf("silver wallet tier: %+v", w.Tier)
			}
			// Voucher (10) is affordable; Coffee is the cheapest open one she cannot afford.
			if w.NextReward == nil || w.NextReward.Name != "Coffee" || w.NextReward.Short != 40 {
				t.Fatalf("silver next reward: %+v", w.NextReward)
			}
			var list struct {
				Rewards []struct {
					Name        string
					AccessTiers []string `json:"access_tiers"`
					Locked      bool
				}
			}
			s.must(200, req{method: "GET", path: "/v1/rewards", token: alice}).json(t, &list)
			locked := map[string]bool{}
			for _, r := range list.Rewards {
				locked[r.Name] = r.Locked
			}
			if len(list.Rewards) != 5 || !locked["Lounge"] || !locked["Gift"] || locked["Coffee"] {
				t.Fatalf("silver's list: %+v", list)
			}
			redeem := func(id, k string) response {
				return s.do(req{method: "POST", path: "/v1/rewards/" + id + "/redeem", token: alice, header: map[string]string{"Idempotency-Key": k}})
			}
			for range 2 {
				if r := redeem(gift, "g1"); r.Status != 403 || r.problemType(t) != "tier-required" {
					t.Fatalf("silver redeems a gold benefit: %d %s", r.Status, r.Body)
				}
			}

			s.purchase(key, "o2", "alice", nil) // 120: gold
			w = programmeWallet{}
			s.must(200, req{method: "GET", path: "/v1/me/wallet", token: alice}).json(t, &w)
			if w.Tier == nil || w.Tier.Tier != "gold" || w.Tier.NextTier != "" || w.NextReward == nil || w.NextReward.Name != "TV" || w.NextReward.Short != 380 {
				t.Fatalf("gold wallet: %+v %+v", w.Tier, w.NextReward)
			}
			if r := redeem(gift, "g2"); r.Status != 200 {
				t.Fatalf("gold redeems the benefit: %d %s", r.Status, r.Body)
			}

			var first, second struct{ ID, Code string }
			redeem(coupon, "c1").json(t, &first)
			s.must(200, req{method: "POST", path: "/v1/redemptions/" + first.ID + "/cancel", token: mgr})
			redeem(coupon, "c2").json(t, &second)
			if first.Code == "" || second.Code == "" || first.Code == second.Code {
				t.Fatalf("a cancelled coupon's code was handed out again: %q then %q", first.Code, second.Code)
			}
			if typ := redeem(coupon, "c3").problemType(t); typ != "out-of-stock" {
				t.Fatalf("third voucher of two codes: %s", typ)
			}
			if w := s.wallet(alice); w.Balance != 120-70-10 {
				t.Fatalf("balance after gift, refunded voucher, voucher: %+v", w)
			}
		})
	}
}

// TestWalletRollingTier: on a rolling_points programme the wallet's need
// for the next tier is against the points earned in the last 12 months
// (GET /v1/me/tier's figure), which spending does not lower.
func TestWalletRollingTier(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s, mgr, key, alice := startLoyalty(t, d)
			var r struct{ ID string }
			s.must(201, req{method: "POST", path: "/v1/rewards", token: mgr, body: map[string]any{"name": "Pen", "kind": "generated", "cost": 10}}).json(t, &r)
			s.must(200, req{method: "PUT", path: "/v1/tiers", token: mgr, body: map[string]any{"version": 0, "basis": "rolling_points",
				"review": map[string]any{"mode": "calendar"},
				"tiers":  []any{map[string]any{"name": "silver", "threshold": 0}, map[string]any{"name": "gold", "threshold": 100}}}})
			s.earnRule(mgr, map[string]any{"name": "60 a purchase", "rule": map[string]any{"kind": "fixed", "event_type": "purchase", "points": 60}})
			s.purchase(key, "o1", "alice", nil)
			s.must(200, req{method: "POST", path: "/v1/rewards/" + r.ID + "/redeem", token: alice, header: map[string]string{"Idempotency-Key": "pen"}})

			var w programmeWallet
			s.must(200, req{method: "GET", path: "/v1/me/wallet", token: alice}).json(t, &w)
			if w.Balance != 50 || w.Tier == nil || w.Tier.Tier != "silver" || w.Tier.NextTier != "gold" || w.Tier.Needed == nil || *w.Tier.Needed != 40 {
				t.Fatalf("rolling wallet tier: balance %d, %+v", w.Balance, w.Tier)
			}
			if v := s.myTier(alice); v.Needed != *w.Tier.Needed {
				t.Fatalf("GET /v1/me/tier needs %d, the wallet %d", v.Needed, *w.Tier.Needed)
			}
		})
	}
}
