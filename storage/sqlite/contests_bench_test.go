package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/questline/questline/contests"
	"github.com/questline/questline/contests/draw"
)

// BenchmarkDraw1M is a prize draw over 1,000,000 tickets (250,000 entrants
// with 4 each) on the embedded store, end to end as POST /draw runs it:
// reading the tickets in canonical order, hashing the list, scoring and
// sorting every ticket, and saving the result (no payments: the prizes
// pay nothing). One op is one draw.
func BenchmarkDraw1M(b *testing.B) {
	const entrants, each = 250_000, 4
	ctx := context.Background()
	s, err := OpenWith(ctx, filepath.Join(b.TempDir(), "q.db"), Options{Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	seedTickets(b, s, "c1", entrants, each)
	seed, err := draw.NewSeed()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	c := contests.Contest{ID: "c1", Tenant: "acme", Name: "bench", Kind: contests.DrawKind, StartsAt: now.Add(-time.Hour), EndsAt: now.Add(-time.Minute),
		Prizes: []contests.Prize{{Description: "x", Quantity: 10}}, MaxEntries: each, Seed: seed, Commitment: draw.Commit(seed),
		Status: contests.Open, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := s.CreateContest(ctx, c); err != nil {
		b.Fatal(err)
	}
	svc := contests.NewService(contests.Config{Store: s, Settle: time.Nanosecond})
	// The machine is shared: CPU seconds per draw (all threads) say what
	// a draw costs whatever the load, beside the wall time.
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		open, err := s.GetContest(ctx, "acme", "c1")
		if err != nil {
			b.Fatal(err)
		}
		open.Status, open.Result, open.Version = contests.Open, nil, open.Version+1
		if err := s.UpdateContest(ctx, open); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		before := cpuTime(b)
		got, err := svc.Draw(ctx, "acme", "c1")
		cpu += cpuTime(b) - before
		if err != nil {
			b.Fatal(err)
		}
		if got.Result.EntriesCount != entrants*each || got.Result.Winners[9].User == "" {
			b.Fatalf("result %+v", got.Result)
		}
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// seedTickets writes entrants*each tickets straight through the writer,
// 5,000 to a transaction: the seeding is not what is measured.
func seedTickets(b *testing.B, s *Store, contest string, entrants, each int) {
	b.Helper()
	const perTx = 5000
	ctx := context.Background()
	at := time.Now().UnixMilli()
	for start := 0; start < entrants*each; start += perTx {
		err := s.w.do(ctx, func(tx *wtx) error {
			for i := start; i < min(start+perTx, entrants*each); i++ {
				u := fmt.Sprintf("user-%07d", i/each)
				n := int64(i%each + 1)
				if _, err := tx.exec(s.cq.insertEntry, "acme", contest, contests.Entrant("acme", u), n, u, fmt.Sprintf("ev:%d", i), at); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
