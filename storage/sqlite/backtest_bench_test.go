package sqlite_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/analytics"
	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/loyalty"
	"github.com/questline/questline/loyalty/earn"
	"github.com/questline/questline/profiles"
	"github.com/questline/questline/storage/sqlite"
)

// BenchmarkBacktest stores N events (QL_BENCH_ANALYTICS_N, default
// 1,000,000; one tenant, 20,000 users, 30 days, two types) once and times
// the replay of all of them through a "3 purchases over 20" challenge and
// through an earn rule (1 point per unit of amount on purchases, 40 a day
// at most in Paris, double on weekends, 1.5x for gold members: every
// tenth user is gold, their tier read from the store once per user).
//
//	go test ./storage/sqlite -run '^$' -bench Backtest -benchtime 3x
func BenchmarkBacktest(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.OpenWith(ctx, filepath.Join(b.TempDir(), "q.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	n := benchAnalyticsN(b)
	start := time.Now().UTC().AddDate(0, 0, -30)
	t0 := time.Now()
	fillConcurrently(b, n, func(i int) error {
		typ := "visit"
		if i%3 == 0 {
			typ = "purchase"
		}
		at := start.Add(30 * 24 * time.Hour * time.Duration(i) / time.Duration(n))
		ev := events.Event{ID: uuid.Must(uuid.NewV7()).String(), Tenant: "acme", User: "u" + strconv.Itoa(i%20_000), Type: typ,
			Props: map[string]any{"amount": i % 50}, OccurredAt: at, ReceivedAt: at, IdempotencyKey: "k" + strconv.Itoa(i),
			Source: "player", Fingerprint: "f", Processed: true}
		_, _, err := st.InsertEvent(ctx, ev)
		return err
	})
	b.Logf("stored %d events in %v", n, time.Since(t0))
	for u := 0; u < 20_000; u += 10 {
		if err := st.PutAttributes(ctx, profiles.Attributes{Tenant: "acme", User: "u" + strconv.Itoa(u), Tier: "gold"}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("challenge", func(b *testing.B) { benchChallengeBacktest(b, st, n, start) })
	b.Run("earn_rule", func(b *testing.B) { benchEarnBacktest(b, st, n, start) })
}

func benchChallengeBacktest(b *testing.B, st *sqlite.Store, n int, start time.Time) {
	ctx := context.Background()
	r, err := rule.Parse([]byte(`{"goals":[{"kind":"count","event_type":"purchase","target":3,
		"filters":[{"prop":"amount","op":"gt","value":20}]}]}`))
	if err != nil {
		b.Fatal(err)
	}
	c := challenges.Challenge{ID: "draft", Tenant: "acme", Rule: r, Reward: challenges.Reward{Points: 5}, MaxCompletions: 1}
	svc := analytics.NewService(analytics.Config{Store: st, Events: st})
	b.ResetTimer()
	for b.Loop() {
		res, err := svc.Replay(ctx, analytics.ChallengeDraft(c), start.Add(-time.Hour), func(int64, time.Time) {})
		if err != nil {
			b.Fatal(err)
		}
		if res.Progressed == 0 || n >= 200_000 && res.Completed == 0 {
			b.Fatalf("result %+v", res)
		}
	}
}

func benchEarnBacktest(b *testing.B, st *sqlite.Store, n int, start time.Time) {
	ctx := context.Background()
	r := earn.Rule{Kind: earn.Rate, EventType: "purchase", Prop: "amount", Rate: "1", TimeZone: "Europe/Paris",
		Caps: earn.Caps{PerDay: 40}, TierMultipliers: map[string]earn.Decimal{"gold": "1.5"},
		Campaigns: []earn.Campaign{{Name: "Weekends", Weekdays: []string{"sat", "sun"}, Multiplier: "2"}}}
	p, err := earn.Compile(r)
	if err != nil {
		b.Fatal(err)
	}
	members := loyalty.NewService(loyalty.Config{Store: st, Attributes: st})
	d := analytics.EarnDraft{Tenant: "acme", ID: "draft", Plan: p, Member: func(ctx context.Context, user string) (earn.Member, error) {
		return members.Member(ctx, "acme", user, r)
	}}
	svc := analytics.NewService(analytics.Config{Store: st, Events: st})
	b.ResetTimer()
	for b.Loop() {
		res, err := svc.ReplayEarn(ctx, d, start.Add(-time.Hour), func(int64, time.Time) {})
		if err != nil {
			b.Fatal(err)
		}
		if res.Events < int64(n)/3 || res.Points == 0 || n >= 200_000 && (res.Capped == 0 || res.WithTier != 2_000) {
			b.Fatalf("result %+v", res)
		}
	}
}
