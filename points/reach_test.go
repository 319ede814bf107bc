package points

import (
	"testing"
	"time"
)

func TestNextReward(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	rs := []Reward{
		{ID: "coffee", Name: "Coffee", Cost: 100, Active: true},
		{ID: "mug", Name: "Mug", Cost: 40, Active: true},
		{ID: "tv", Name: "TV", Cost: 500, Active: true},
		{ID: "vip", Name: "VIP", Cost: 60, Active: true, Tiers: []string{"gold"}},
		{ID: "soon", Name: "Soon", Cost: 50, Active: true, StartsAt: &later},
		{ID: "off", Name: "Off", Cost: 55, Active: false},
		{ID: "benefit", Name: "Benefit", Cost: 70, Active: true},
	}
	benefits := map[string][]string{"benefit": {"gold", "platinum"}}
	all := func(Reward) (bool, error) { return true, nil }
	tests := []struct {
		name    string
		tier    string
		balance int64
		inStock func(Reward) (bool, error)
		want    string
		short   int64
	}{
		{"cheapest unaffordable", "", 45, all, "coffee", 55},
		{"nothing affordable yet", "", 0, all, "mug", 40},
		{"gold sees its rewards", "gold", 45, all, "vip", 15},
		{"benefit above its tier", "platinum", 65, all, "benefit", 5},
		{"affords everything: the dearest", "", 900, all, "tv", 0},
		{"sold out skipped", "", 45, func(r Reward) (bool, error) { return r.ID != "coffee", nil }, "tv", 455},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := nextReward(rs, Access{Tier: tc.tier, Benefits: benefits}, tc.balance, now, tc.inStock)
			if err != nil || got == nil || got.ID != tc.want || got.Short != tc.short {
				t.Fatalf("next reward %+v, %v; want %s short %d", got, err, tc.want, tc.short)
			}
		})
	}
	if got, _ := nextReward(nil, Access{}, 10, now, all); got != nil {
		t.Fatalf("empty catalogue: %+v", got)
	}
}

func TestPeriodInZone(t *testing.T) {
	auckland, err := time.LoadLocation("Pacific/Auckland")
	if err != nil {
		t.Skip(err)
	}
	// 31 Dec 2025 11:30 UTC is already 1 Jan 2026 in Auckland.
	at := time.Date(2025, 12, 31, 11, 30, 0, 0, time.UTC)
	tests := []struct {
		period string
		loc    *time.Location
		want   string
	}{
		{PeriodDay, time.UTC, "2025-12-31"},
		{PeriodDay, auckland, "2026-01-01"},
		{PeriodMonth, auckland, "2026-01"},
		{PeriodWeek, time.UTC, "2026-W01"},
		{PeriodLifetime, auckland, "all"},
	}
	for _, tc := range tests {
		if got := periodOf(tc.period, at.In(tc.loc)); got != tc.want {
			t.Errorf("%s in %s: %s, want %s", tc.period, tc.loc, got, tc.want)
		}
	}
}
