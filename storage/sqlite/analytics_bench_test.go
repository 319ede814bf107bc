package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/analytics"
	"github.com/questline/questline/events"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/sqlite"
	"github.com/questline/questline/ugc"
)

// benchAnalyticsN is how many events and how many ledger credits the
// summary benchmark folds first (QL_BENCH_ANALYTICS_N overrides it): one
// tenant, 20,000 users, spread over 30 days.
func benchAnalyticsN(b *testing.B) int {
	if v, err := strconv.Atoi(os.Getenv("QL_BENCH_ANALYTICS_N")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// BenchmarkAnalyticsSummary folds N events and N credits through the
// analytics service (as the events handler and the ledger observer do,
// 64 concurrent writers so the single writer batches), reports the fold
// rate, then times the summary and a 30-day series in a :45 zone.
//
//	go test ./storage/sqlite -run '^$' -bench AnalyticsSummary -benchtime 20x
func BenchmarkAnalyticsSummary(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.OpenWith(ctx, filepath.Join(b.TempDir(), "q.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	svc := analytics.NewService(analytics.Config{Store: st, UGC: ugc.NewService(ugc.Config{Store: st})})
	n := benchAnalyticsN(b)
	start := time.Now().UTC().AddDate(0, 0, -30)
	span := 30 * 24 * time.Hour
	subs := benchSubmissions(b, st, start)
	t0 := time.Now()
	fillConcurrently(b, n, func(i int) error {
		at := start.Add(span * time.Duration(i) / time.Duration(n))
		user := "u" + strconv.Itoa(i%20_000)
		ev := events.Event{ID: uuid.Must(uuid.NewV7()).String(), Tenant: "acme", User: user, Type: "visit", OccurredAt: at, Source: "player"}
		if _, err := svc.HandleEvent(ctx, ev, nil); err != nil {
			return err
		}
		if i%10 == 0 { // one attempt finished for ten events: the quiz rollups grow too
			done := events.Event{ID: uuid.Must(uuid.NewV7()).String(), Tenant: "acme", User: user, Type: "quiz.completed", OccurredAt: at,
				Source: "system", Props: map[string]any{"quiz_id": "q" + strconv.Itoa(i%50), "kind": "quiz", "score": float64(3),
					"max_score": float64(5), "passed": true, "answered": float64(5)}}
			if _, err := svc.HandleEvent(ctx, done, nil); err != nil {
				return err
			}
		}
		return svc.Earned(ctx, points.Entry{ID: ev.ID, Tenant: "acme", User: user, Amount: 5, CreatedAt: at})
	})
	fold := time.Since(t0)
	b.Logf("folded %d events and %d credits in %v (%.0f facts/s)", n, n, fold, float64(2*n)/fold.Seconds())
	b.ResetTimer()
	for b.Loop() {
		sum, err := svc.Summary(ctx, "acme")
		if err != nil {
			b.Fatal(err)
		}
		if sum.Events != int64(n) || sum.Points.Issued != 5*int64(n) || sum.Participants != int64(min(n, 20_000)) ||
			sum.Quizzes.Passes != int64((n+9)/10) || sum.UGC.Received != int64(subs) {
			b.Fatalf("summary %+v", sum)
		}
		days, err := svc.Series(ctx, "acme", analytics.Range{From: start.Format(time.DateOnly), To: time.Now().UTC().Format(time.DateOnly), Zone: "Asia/Kathmandu"})
		if err != nil || len(days) < 30 {
			b.Fatal(fmt.Errorf("series: %d days: %w", len(days), err))
		}
	}
}

// benchSubmissions stores one submission per user, in every status in
// turn, for the summary's UGC counts; it returns how many.
func benchSubmissions(b *testing.B, st *sqlite.Store, at time.Time) int {
	const users = 20_000
	statuses := []ugc.Status{ugc.Pending, ugc.Approved, ugc.Rejected, ugc.Removed}
	fillConcurrently(b, users, func(i int) error {
		_, _, err := st.CreateSubmission(context.Background(), ugc.Submission{ID: uuid.Must(uuid.NewV7()).String(), Tenant: "acme",
			User: "u" + strconv.Itoa(i), Kind: ugc.Photo, Status: statuses[i%len(statuses)], Content: ugc.Content{Media: []string{"https://img.example/x.jpg"}},
			CreatedAt: at, UpdatedAt: at, QueuedAt: at, Version: 1})
		return err
	})
	return users
}

// fillConcurrently runs fn(0..n-1) on 64 goroutines, so the single writer
// batches as under real load, and fails b on the first error.
func fillConcurrently(b *testing.B, n int, fn func(i int) error) {
	const workers = 64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := fn(i); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}
