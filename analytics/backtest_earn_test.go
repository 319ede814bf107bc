package analytics

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/loyalty/earn"
)

// TestReplayEarn prices a stream of purchases and visits with the live
// arithmetic: caps per local day, punch cards, campaigns in the rule's
// zone, filters, rates and tiers.
func TestReplayEarn(t *testing.T) {
	// Monday 2 March 2026, 10:00 in Paris (UTC+1).
	d0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var s stream
	for i := range 3 { // u1 visits three times on Monday, once on Tuesday
		s.now("u1", "visit", nil, d0.Add(time.Duration(i)*time.Hour))
	}
	s.now("u1", "visit", nil, d0.Add(24*time.Hour))
	s.now("u2", "visit", nil, d0.Add(30*time.Minute))
	s.now("u2", "purchase", map[string]any{"amount": 12.349}, d0.Add(time.Hour))
	s.now("u3", "purchase", map[string]any{"amount": 30}, d0.Add(2*time.Hour))
	s.now("", "visit", nil, d0) // no user: pays nobody
	gold := map[string]string{"u1": "gold"}
	for _, tc := range []struct {
		name                                       string
		rule                                       earn.Rule
		matched, paid, payouts, points, capped, pw int64
		withTier                                   int64
	}{
		{name: "fixed", rule: earn.Rule{Kind: earn.Fixed, EventType: "visit", Points: 10},
			matched: 2, paid: 2, payouts: 5, points: 50, pw: 50},
		{name: "capped per local day", rule: earn.Rule{Kind: earn.Fixed, EventType: "visit", Points: 10, TimeZone: "Europe/Paris", Caps: earn.Caps{PerDay: 15}},
			matched: 2, paid: 2, payouts: 4, points: 35, capped: 15, pw: 35},
		{name: "capped per week", rule: earn.Rule{Kind: earn.Fixed, EventType: "visit", Points: 10, Caps: earn.Caps{PerWeek: 25}},
			matched: 2, paid: 2, payouts: 4, points: 35, capped: 15, pw: 35},
		{name: "every 3rd visit", rule: earn.Rule{Kind: earn.Nth, EventType: "visit", Points: 50, Every: 3},
			matched: 2, paid: 1, payouts: 1, points: 50, pw: 50},
		{name: "double on Tuesdays in Paris", rule: earn.Rule{Kind: earn.Fixed, EventType: "visit", Points: 10, TimeZone: "Europe/Paris",
			Campaigns: []earn.Campaign{{Name: "Tuesday", Weekdays: []string{"tue"}, Multiplier: "2"}}},
			matched: 2, paid: 2, payouts: 5, points: 60, pw: 60},
		{name: "campaign window", rule: earn.Rule{Kind: earn.Fixed, EventType: "visit", Points: 10, TimeZone: "Europe/Paris",
			Campaigns: []earn.Campaign{{Name: "Launch", StartsAt: "2026-03-02T11:00", EndsAt: "2026-03-02T12:00", Multiplier: "3"}}},
			matched: 2, paid: 2, payouts: 5, points: 70, pw: 70},
		{name: "rate to the cent, rounded down", rule: earn.Rule{Kind: earn.Rate, EventType: "purchase", Prop: "amount", Rate: "1.5"},
			matched: 2, paid: 2, payouts: 2, points: 18 + 45, pw: 63},
		{name: "filtered", rule: earn.Rule{Kind: earn.Rate, EventType: "purchase", Prop: "amount", Rate: "1",
			Filters: mustFilters(t, `[{"prop":"amount","op":"gt","value":20}]`)},
			matched: 1, paid: 1, payouts: 1, points: 30, pw: 30},
		{name: "at the current tier", rule: earn.Rule{Kind: earn.Fixed, EventType: "visit", Points: 10, TierMultipliers: map[string]earn.Decimal{"gold": "1.5"}},
			matched: 2, paid: 2, payouts: 5, points: 4*15 + 10, pw: 70, withTier: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := earn.Compile(tc.rule)
			if err != nil {
				t.Fatal(err)
			}
			// As loyalty's Member: a tier is read only when something multiplies by it.
			d := EarnDraft{Tenant: "t", ID: "r", Plan: p, Member: func(_ context.Context, user string) (earn.Member, error) {
				if len(tc.rule.TierMultipliers) == 0 {
					return earn.Member{}, nil
				}
				return earn.Member{Tier: gold[user]}, nil
			}}
			svc := NewService(Config{Events: s.evs})
			from := d0.Add(-time.Hour)
			svc.now = func() time.Time { return from.Add(7 * 24 * time.Hour) } // one week replayed
			res, err := svc.ReplayEarn(context.Background(), d, from, func(int64, time.Time) {})
			if err != nil {
				t.Fatal(err)
			}
			if res.Matched != tc.matched || res.Paid != tc.paid || res.Payouts != tc.payouts || res.Points != tc.points ||
				res.Capped != tc.capped || res.PerWeek != tc.pw || res.WithTier != tc.withTier {
				t.Fatalf("%+v", res)
			}
			var daily int64
			for _, d := range res.Daily {
				daily += d.Points
			}
			if daily != res.Points || len(res.FirstUsers) != int(res.Paid) {
				t.Fatalf("daily %+v, sample %v", res.Daily, res.FirstUsers)
			}
		})
	}
}

func mustFilters(t *testing.T, js string) []rule.Filter {
	t.Helper()
	var fs []rule.Filter
	if err := json.Unmarshal([]byte(js), &fs); err != nil {
		t.Fatal(err)
	}
	return fs
}
