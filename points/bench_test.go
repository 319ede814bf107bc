package points_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/sqlite"
)

func openBench(b *testing.B) *sqlite.Store {
	b.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "q.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// seedLots gives users users lots lots each, in one wallet change per user
// (the writer batches concurrent ones), expiring a day apart per lot when
// spread, else all at one time.
func seedLots(b *testing.B, s *sqlite.Store, tenant string, users, lots int, earned time.Time, spread bool) {
	b.Helper()
	ctx := context.Background()
	work := make(chan int)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for u := range work {
				user := fmt.Sprintf("u%07d", u)
				_, _, err := s.ApplyChange(ctx, tenant, user, "seed:"+user, func(_ context.Context, w points.WalletView) (points.Change, error) {
					bal := w.Balance()
					c := points.Change{Kind: points.KindCredit, At: earned}
					for l := range lots {
						exp := earned.AddDate(0, 1, 0)
						if spread {
							exp = exp.AddDate(0, 0, l%365)
						}
						c.Lots = append(c.Lots, points.Lot{
							ID: fmt.Sprintf("%s-%05d", user, l), User: user, Key: fmt.Sprintf("seed:%s:%d", user, l),
							Amount: 10, Remaining: 10, EarnedAt: earned, AvailableAt: earned, ExpiresAt: exp,
						})
						bal.Held += 10
						bal.Earned += 10
						bal.Expiring = addBucket(bal.Expiring, exp, 10)
					}
					c.Amount, c.Balance = int64(10*lots), bal
					return c, nil
				})
				if err != nil {
					b.Error(err)
				}
			}
		})
	}
	for u := range users {
		work <- u
	}
	close(work)
	wg.Wait()
}

// addBucket is points' own bucket arithmetic, repeated here because the
// seeding planner runs outside the package.
func addBucket(bs points.Buckets, at time.Time, n int64) points.Buckets {
	at = at.UTC()
	i, found := slices.BinarySearchFunc(bs, at, func(x points.Bucket, t time.Time) int { return x.At.Compare(t) })
	if found {
		bs[i].Amount += n
		return bs
	}
	return slices.Insert(bs, i, points.Bucket{At: at, Amount: n})
}

// BenchmarkWallet reads the wallet of a user with 10,000 lots, credited
// one by one over a year under a 12-month expiry: the folded totals alone
// (folded) and as GET /v1/me/wallet does, with the next reward of a
// 20-reward catalogue, half with stock (api); it reports the p99 of
// single reads.
func BenchmarkWallet(b *testing.B) {
	s := openBench(b)
	earned := time.Now().Add(-24 * time.Hour)
	svc := points.NewService(s, nil)
	if _, err := svc.PutPolicy(context.Background(), "acme", points.Policy{Expiry: points.ExpireMonths, ExpiryN: 12}); err != nil {
		b.Fatal(err)
	}
	day := earned.AddDate(-1, 0, 0)
	svc.SetClock(func() time.Time { return day })
	for i := range 10_000 {
		if i%28 == 0 {
			day = day.Add(24 * time.Hour) // 10,000 lots over a year: ~360 expiry days
		}
		if _, _, err := svc.Credit(context.Background(), points.Credit{Tenant: "acme", User: "u0000000", Amount: 10, Key: fmt.Sprint("k", i)}); err != nil {
			b.Fatal(err)
		}
	}
	svc.SetClock(time.Now)
	ctx := context.Background()
	// A catalogue of 20 rewards, half with stock, for the next reward.
	for i := range 20 {
		r := points.Reward{Name: fmt.Sprint("reward ", i), Kind: points.KindGenerated, Cost: int64(50_000 + 10_000*i), Active: true}
		if i%2 == 0 {
			stock := int64(100)
			r.Stock = &stock
		}
		if _, err := svc.CreateReward(ctx, "acme", r); err != nil {
			b.Fatal(err)
		}
	}
	for _, read := range []struct {
		name string
		fn   func() (points.Wallet, error)
		next bool
	}{
		{"folded", func() (points.Wallet, error) { return svc.Wallet(ctx, "acme", "u0000000") }, false},
		{"api", func() (points.Wallet, error) { return svc.Programme(ctx, "acme", "u0000000") }, true},
	} {
		b.Run(read.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for range b.N {
				start := time.Now()
				w, err := read.fn()
				if err != nil || w.Balance != 100_000 || read.next && (w.NextReward == nil || w.NextReward.Short != 10_000) {
					b.Fatalf("wallet %+v, %v", w, err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// benchUsers is how many users BenchmarkExpiry seeds (10 lots each):
// 100,000 for the figure, less (QL_BENCH_USERS) for a profile.
var benchUsers = func() int {
	if n, err := strconv.Atoi(os.Getenv("QL_BENCH_USERS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}()

// BenchmarkExpiry expires 1,000,000 lots on the embedded store: 100,000
// users with 10 lots each; "one-time" has each user's lots expire at one
// time (one wallet change per user, as a daily run finds them), "spread"
// at ten different times (a change per lot: the worst case).
func BenchmarkExpiry(b *testing.B) {
	for _, tc := range []struct {
		name   string
		spread bool
	}{{"one-time", false}, {"spread", true}} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				s := openBench(b)
				earned := time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)
				seedLots(b, s, "acme", benchUsers, 10, earned, tc.spread)
				svc := points.NewService(s, nil)
				emitted := &countEmits{}
				svc.SetEmitter(emitted)
				if _, err := svc.PutPolicy(context.Background(), "acme", points.Policy{Expiry: points.ExpireMonths, ExpiryN: 1}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start, cpu := time.Now(), cpuTime()
				r, err := svc.Expire(context.Background(), earned.AddDate(2, 0, 0), nil)
				if err != nil || r.Lots != int64(benchUsers*10) || r.Points != int64(benchUsers*100) || emitted.n.Load() != r.Changes {
					b.Fatalf("report %+v, %v, %d events", r, err, emitted.n.Load())
				}
				per1M := 1e6 / float64(benchUsers*10)
				b.ReportMetric(time.Since(start).Seconds()*per1M, "s/1M-lots")
				b.ReportMetric((cpuTime()-cpu).Seconds()*per1M, "cpu-s/1M-lots")
				b.ReportMetric(float64(r.Changes), "changes")
			}
		})
	}
}

// countEmits counts the events emitted to it: the expiry's owe theirs
// until emitted, which the benchmark measures too.
type countEmits struct{ n atomic.Int64 }

func (e *countEmits) Emit(context.Context, events.Event) error {
	e.n.Add(1)
	return nil
}

// cpuTime is the CPU time the process used so far: on a shared, loaded
// machine it tells the work apart from the wait for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRedeemContended redeems one reward, with a stock, from many
// goroutines at once (users of 1,000, each able to pay), on the embedded
// store: every redemption claims the same stock.
func BenchmarkRedeemContended(b *testing.B) {
	s := openBench(b)
	svc := points.NewService(s, nil)
	ctx := context.Background()
	for u := range 1000 {
		if _, _, err := svc.Credit(ctx, points.Credit{Tenant: "acme", User: fmt.Sprint("u", u), Amount: 1_000_000, Key: fmt.Sprint("k", u)}); err != nil {
			b.Fatal(err)
		}
	}
	stock := int64(10_000_000)
	r, err := svc.CreateReward(ctx, "acme", points.Reward{Name: "Mug", Kind: points.KindGenerated, Cost: 1, Stock: &stock, Active: true})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(16) // 32 goroutines on 2 cores
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := svc.Redeem(ctx, "acme", fmt.Sprint("u", i%1000), r.ID, fmt.Sprint("idem-", i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "redemptions/s")
}
