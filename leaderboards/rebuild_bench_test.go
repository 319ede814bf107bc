package leaderboards_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
)

// BenchmarkRebuild1M times a rebuild of an all-time and a weekly points
// board from 1,000,000 ledger entries (100,000 users) on the embedded
// default: SQLite and the in-process engine. Seeding is not timed.
//
//	go test ./leaderboards -run '^$' -bench Rebuild1M -benchtime 1x
func BenchmarkRebuild1M(b *testing.B) {
	const entries, users = 1_000_000, 100_000
	ctx := context.Background()
	w := newWorld(b, leaderboards.NewMemoryEngine())
	seedLedger(b, w, entries, users)
	var boards []leaderboards.Board
	for _, win := range []leaderboards.Window{leaderboards.AllTime, leaderboards.Weekly} {
		bd, err := w.boards.Create(ctx, "acme", leaderboards.CreateInput{Name: string(win), Window: win})
		if err != nil {
			b.Fatal(err)
		}
		boards = append(boards, bd)
	}
	// A rebuild of the new boards is their build (every credit folded
	// into the store); a rebuild of built boards reads their totals.
	b.ResetTimer()
	for range b.N {
		for _, metric := range []string{"s/build", "s/rebuild"} {
			start := time.Now()
			if err := w.boards.Rebuild(ctx, "acme", nil); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(time.Since(start).Seconds(), metric)
		}
	}
	b.StopTimer()
	pg, err := w.boards.Top(ctx, "acme", boards[0].ID, "", 0, 1)
	if err != nil || pg.Total != users {
		b.Fatalf("rebuilt board has %d members (%v), want %d", pg.Total, err, users)
	}
}

// seedLedger writes n ledger entries spread over users straight into the
// store, from many goroutines so the writer can group its commits.
func seedLedger(b testing.TB, w *world, n, users int) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	base := time.Now().Add(-time.Hour)
	for range 256 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				_, _, err := w.store.InsertEntry(ctx, points.Entry{
					ID: uuid.Must(uuid.NewV7()).String(), Tenant: "acme", User: fmt.Sprintf("u%d", i%users),
					Amount: int64(1 + i%10), Key: fmt.Sprintf("seed-%d", i), Reason: "seed",
					CreatedAt: base.Add(time.Duration(i) * time.Millisecond),
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.Logf("seeded %d ledger entries in %s", n, time.Since(start).Round(time.Second))
}
