package loyalty_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/loyalty"
	"github.com/questline/questline/loyalty/earn"
	"github.com/questline/questline/loyalty/tier"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/sqlite"
)

// rulesOnly serves a tenant's earn rules and referral terms from memory:
// the benchmark measures what earn rules add to an event, not storage.
type rulesOnly struct {
	loyalty.Store
	rules []loyalty.EarnRule
}

func (r rulesOnly) ListEarnRules(_ context.Context, _, after string, _ int) ([]loyalty.EarnRule, error) {
	if after != "" {
		return nil, nil
	}
	return r.rules, nil
}

func (r rulesOnly) Tiers(context.Context, string) (loyalty.Programme, bool, error) {
	return loyalty.Programme{}, false, nil
}

func (r rulesOnly) ReferralProgramme(context.Context, string) (loyalty.ReferralProgramme, bool, error) {
	return loyalty.ReferralProgramme{}, false, nil
}

// BenchmarkPreview50 is the in-memory cost earn rules add to an event
// that none of a tenant's 50 active rules matches (45 on other types, 5
// on purchases of other stores): the cached index lookup and the filters,
// in the preview that keeps such events on the one-write path.
//
//	go test ./loyalty -run '^$' -bench Preview50 -benchmem
func BenchmarkPreview50(b *testing.B) {
	kinds := []string{"visit", "share", "checkin", "like", "comment", "view", "app_open", "signup", "subscription"}
	var rs []loyalty.EarnRule
	for i := range 50 {
		r := earn.Rule{Kind: earn.Fixed, EventType: kinds[i%len(kinds)], Points: 5}
		if i%10 == 0 {
			r = earn.Rule{Kind: earn.Rate, EventType: "purchase", Prop: "amount", Rate: "1",
				Filters: []rule.Filter{{Prop: "store", Op: rule.Eq, Value: fmt.Sprint("s", i)}}}
		}
		rs = append(rs, loyalty.EarnRule{ID: fmt.Sprint(i), Status: loyalty.Active, Rule: r})
	}
	s := loyalty.NewService(loyalty.Config{Store: rulesOnly{rules: rs}})
	ev := events.Event{Tenant: "acme", User: "u", Type: "purchase", OccurredAt: time.Now(),
		Props: map[string]any{"amount": 42.5, "store": "main"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		quiet, err := s.Preview(ctx, ev, nil)
		if err != nil || !quiet {
			b.Fatal(quiet, err)
		}
	}
}

// ledgerWindow sums a rolling window from the ledger (EarnedBetween), as
// tiers did before day sums: the "before" of BenchmarkWalletRolling.
type ledgerWindow struct{ *points.Service }

func (w ledgerWindow) EarnedInWindow(ctx context.Context, tenant, user string, from, to time.Time) (int64, error) {
	n, _, err := w.EarnedBetween(ctx, tenant, user, "", from, to)
	return n, err
}

// BenchmarkWalletRolling is the full wallet read (GET /v1/me/wallet's
// Programme) of a user with 10,000 lots credited over the last year on a
// rolling_points programme, whose need for the next tier sums the year's
// credits (whole days from day sums, the partial first and last days from
// the ledger), beside the same read on a lifetime programme and, as
// rolling-ledger, the rolling read summing the window from the ledger
// (EarnedBetween, the path before day sums), in one run.
//
//	go test ./loyalty -run '^$' -bench WalletRolling -benchtime 3000x
func BenchmarkWalletRolling(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "q.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	pts := points.NewService(st, nil)
	day := time.Now().AddDate(-1, 0, 1)
	pts.SetClock(func() time.Time { return day })
	for i := range 10_000 {
		if i%28 == 0 {
			day = day.Add(24 * time.Hour)
		}
		for _, tenant := range []string{"rolling", "lifetime"} {
			if _, _, err := pts.Credit(ctx, points.Credit{Tenant: tenant, User: "u", Amount: 10, Key: fmt.Sprint("k", i)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	pts.SetClock(time.Now)
	loy := loyalty.NewService(loyalty.Config{Store: st})
	loy.SetTiers(loyalty.TierConfig{Wallets: pts})
	pts.SetTiers(loy)
	for tenant, basis := range map[string]tier.Basis{"rolling": tier.Rolling, "lifetime": tier.Lifetime} {
		if _, err := loy.PutProgramme(ctx, tenant, 0, tier.Programme{Basis: basis, Review: tier.Review{Mode: tier.Calendar},
			Tiers: []tier.Tier{{Name: "silver"}, {Name: "gold", Threshold: 250_000}}}); err != nil {
			b.Fatal(err)
		}
		if err := loy.Earned(ctx, points.Entry{Tenant: tenant, User: "u", Amount: 10}); err != nil { // upgrades u to silver
			b.Fatal(err)
		}
	}
	before := points.NewService(st, nil)
	beforeLoy := loyalty.NewService(loyalty.Config{Store: st})
	beforeLoy.SetTiers(loyalty.TierConfig{Wallets: ledgerWindow{before}})
	before.SetTiers(beforeLoy)
	for _, run := range []struct {
		name, tenant string
		svc          *points.Service
	}{{"lifetime", "lifetime", pts}, {"rolling", "rolling", pts}, {"rolling-ledger", "rolling", before}} {
		b.Run(run.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for range b.N {
				start := time.Now()
				w, err := run.svc.Programme(ctx, run.tenant, "u")
				if err != nil || w.Tier == nil || w.Tier.Needed == nil || *w.Tier.Needed != 150_000 {
					b.Fatalf("wallet %+v, %v", w.Tier, err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
