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
	"github.com/questline/questline/storage/sqlite"
)

// BenchmarkBacktest stores N events (QL_BENCH_ANALYTICS_N, default
// 1,000,000; one tenant, 20,000 users, 30 days, two types) and times the
// replay of all of them through a "3 purchases over 20" challenge.
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
