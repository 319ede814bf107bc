package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/events"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/sqlite"
)

// BenchmarkEraseUser times the two largest steps of a user's erasure for a
// user with 10,000 events and 10,000 ledger lines among as many of another
// user's: deleting the events and anonymising the ledger. Both reach the
// user's rows through per-user indexes, so they grow with the user's own
// records, not the tenant's; each is one writer transaction, during which
// other writes wait. One op is one erasure of a freshly seeded user.
func BenchmarkEraseUser(b *testing.B) {
	const perUser = 10_000
	ctx := context.Background()
	s, err := sqlite.OpenWith(ctx, filepath.Join(b.TempDir(), "q.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	seed := func(user string) {
		var wg sync.WaitGroup
		for w := range 64 { // concurrent, so the writer groups the commits
			wg.Go(func() {
				for i := w; i < perUser; i += 64 {
					now := time.Now()
					id := uuid.Must(uuid.NewV7()).String()
					if _, _, err := s.InsertEvent(ctx, events.Event{ID: id, Tenant: "acme", User: user, Type: "share",
						OccurredAt: now, ReceivedAt: now, IdempotencyKey: id, Source: "player", Fingerprint: id}); err != nil {
						b.Error(err)
						return
					}
					if _, _, err := s.InsertEntry(ctx, points.Entry{ID: id, Tenant: "acme", User: user, Amount: 1,
						Key: "k:" + id, Reason: "share", EventID: id, CreatedAt: now}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	seed("bystander")
	var events, ledger time.Duration
	for i := range b.N {
		b.StopTimer()
		user := fmt.Sprintf("ann-%d", i)
		seed(user)
		b.StartTimer()
		t0 := time.Now()
		if err := s.DeleteUserEvents(ctx, "acme", user); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := s.AnonymiseEntries(ctx, "acme", user, "erased:"+user); err != nil {
			b.Fatal(err)
		}
		events, ledger = events+t1.Sub(t0), ledger+time.Since(t1)
	}
	b.ReportMetric(events.Seconds()/float64(b.N), "s-events/op")
	b.ReportMetric(ledger.Seconds()/float64(b.N), "s-ledger/op")
}
