package storagetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/points"
)

// PointsDays checks, sequentially, that the day sums a store folds on
// the write path make points.Service.EarnedInWindow equal EarnedBetween
// exactly: random credits at millisecond times (midnights and their
// neighbours included), replays of credits at other times, spends,
// reversals and their replays, windows with sub-millisecond, midnight and
// one-day bounds; the exported day sums match the ledger; erasure takes
// them away. Stores whose folds are only atomic on some servers run it
// with the folds on (see storage/mongo).
func PointsDays(t *testing.T, s WalletStore) {
	// A few hundred writes, each folded twice on MongoDB: more than ctx's
	// minute on a loaded FerretDB.
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tn := tenant(t, "days")
	r := rand.New(rand.NewPCG(12, 34))
	day0 := base.Truncate(24 * time.Hour)
	const span = 70 // days, across two month ends
	var now time.Time
	svc := walletService(s, &now)
	users := []string{"u1", "u2", "u3"}
	var credited []string
	for i := range 120 {
		now = randomInstant(r, day0, span)
		key := fmt.Sprint("k", i)
		user := users[r.IntN(len(users))]
		credit(t, svc, tn, user, key, 1+r.Int64N(100))
		credited = append(credited, key)
		switch r.IntN(10) {
		case 0: // a replay, later: the first time counts
			now = now.Add(time.Duration(r.IntN(48)) * time.Hour)
			credit(t, svc, tn, user, key, 1+r.Int64N(100))
		case 1: // a spend never counts as earning
			_, err := svc.Spend(c, points.Spend{Tenant: tn, User: user, Amount: 1, Key: "spend:" + key})
			must(t, err)
		}
	}
	for _, key := range credited {
		if r.IntN(6) > 0 {
			continue
		}
		now = randomInstant(r, day0, span+3)
		for range 1 + r.IntN(2) { // the second is a replay
			_, err := svc.Reverse(c, tn, key)
			must(t, err)
		}
	}
	for _, u := range users {
		checkWindows(t, s, svc, tn, u, r, day0, span)
		checkDaySums(t, s, tn, u, day0, span)
	}
	c = ctx(t) // the checks are many reads; the erasure gets its own deadline
	must(t, s.AnonymiseEntries(c, tn, "u2", "erased-u2"))
	days, err := s.EarnedDays(c, tn, "u2")
	must(t, err)
	eq(t, "day sums after erasure", len(days), 0)
	n, err := svc.EarnedInWindow(c, tn, "u2", day0, day0.Add(span*24*time.Hour))
	must(t, err)
	eq(t, "earned in window after erasure", n, int64(0))
}

// randomInstant is a random time in the span days from day0, a third
// of them on a midnight, a millisecond before or one after.
func randomInstant(r *rand.Rand, day0 time.Time, span int) time.Time {
	d := day0.Add(time.Duration(r.IntN(span)) * 24 * time.Hour)
	switch r.IntN(9) {
	case 0:
		return d
	case 1:
		return d.Add(-time.Millisecond)
	case 2:
		return d.Add(time.Millisecond)
	}
	return d.Add(time.Duration(r.Int64N(int64(24 * time.Hour))))
}

// checkWindows compares EarnedInWindow with EarnedBetween on windows of
// every shape: random, sub-millisecond, on and beside midnights, within
// one day, empty and past the data.
func checkWindows(t *testing.T, s WalletStore, svc *points.Service, tn, user string, r *rand.Rand, day0 time.Time, span int) {
	t.Helper()
	c := context.Background()
	type window struct{ from, to time.Time }
	end := day0.Add(time.Duration(span) * 24 * time.Hour)
	ws := []window{
		{day0, end}, {day0.Add(-time.Millisecond), end.Add(time.Millisecond)},
		{day0.Add(time.Millisecond), end.Add(-time.Millisecond)},
		{day0.Add(24 * time.Hour), day0.Add(48 * time.Hour)},
		{day0.Add(24*time.Hour - time.Millisecond), day0.Add(24*time.Hour + time.Millisecond)},
		{day0.Add(5 * time.Hour), day0.Add(7 * time.Hour)}, {day0, day0},
		{day0.AddDate(-1, 0, 0), day0.AddDate(1, 0, 0)},
	}
	for _, m := range []time.Time{time.Date(day0.Year(), day0.Month()+1, 1, 0, 0, 0, 0, time.UTC), time.Date(day0.Year(), day0.Month()+2, 1, 0, 0, 0, 0, time.UTC)} {
		ws = append(ws, window{m, end}, window{day0, m}, window{m.Add(-time.Millisecond), end}, window{day0, m.Add(time.Millisecond)},
			window{m.Add(-24 * time.Hour), m.Add(24 * time.Hour)}, window{m.AddDate(0, -1, 0), m})
	}
	for range 40 {
		a, b := randomInstant(r, day0, span), randomInstant(r, day0, span)
		if r.IntN(4) == 0 {
			a = a.Add(time.Duration(r.IntN(int(time.Millisecond)))) // sub-millisecond
		}
		if b.Before(a) {
			a, b = b, a
		}
		ws = append(ws, window{a, b})
	}
	for _, w := range ws {
		want, _, err := s.EarnedBetween(c, tn, user, "", w.from, w.to)
		must(t, err)
		got, err := svc.EarnedInWindow(c, tn, user, w.from, w.to)
		must(t, err)
		if got != want {
			t.Fatalf("%s earned in [%s, %s): window %d, ledger %d", user, w.from.Format(time.RFC3339Nano), w.to.Format(time.RFC3339Nano), got, want)
		}
	}
}

// checkDaySums checks EarnedInWindow against the ledger day by day, and
// the exported day sums (where the store keeps them) against both.
func checkDaySums(t *testing.T, s WalletStore, tn, user string, day0 time.Time, span int) {
	t.Helper()
	c := context.Background()
	kept, err := s.EarnedDays(c, tn, user)
	must(t, err)
	byDay := map[time.Time]int64{}
	for _, d := range kept {
		byDay[d.Day] = d.Earned
	}
	for i := -1; i <= span+3; i++ {
		from := day0.Add(time.Duration(i) * 24 * time.Hour)
		to := from.Add(24 * time.Hour)
		want, _, err := s.EarnedBetween(c, tn, user, "", from, to)
		must(t, err)
		got, err := s.EarnedInWindow(c, tn, user, from, to)
		must(t, err)
		eq(t, fmt.Sprintf("%s earned on %s", user, from.Format(time.DateOnly)), got, want)
		if len(kept) > 0 {
			eq(t, fmt.Sprintf("%s exported day %s", user, from.Format(time.DateOnly)), byDay[from], want)
		}
	}
}

// testPointsDaysConcurrent credits and reverses the same keys from many
// writers at once, each with its own clock (so the stored credit's time
// is whichever write won): every credit and reversal counts once, on the
// day of the stored credit.
func testPointsDaysConcurrent(t *testing.T, s WalletStore) {
	c, tn := ctx(t), tenant(t, "days-conc")
	day0 := base.Truncate(24 * time.Hour)
	const writers, keys = 4, 15
	var wg sync.WaitGroup
	for w := range writers {
		at := day0.Add(time.Duration(w)*7*time.Hour - time.Millisecond)
		svc := walletService(s, &at)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				_, _, err := svc.Credit(c, points.Credit{Tenant: tn, User: "u1", Amount: int64(k + 1), Key: fmt.Sprint("k", k)})
				if err != nil {
					t.Error(err)
					return
				}
				if k%3 == 0 {
					if _, err := svc.Reverse(c, tn, fmt.Sprint("k", k)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var now time.Time
	svc := walletService(s, &now)
	checkWindows(t, s, svc, tn, "u1", rand.New(rand.NewPCG(5, 6)), day0, 3)
	checkDaySums(t, s, tn, "u1", day0, 3)
	all, _, err := s.EarnedBetween(c, tn, "u1", "", day0.Add(-24*time.Hour), day0.Add(72*time.Hour))
	must(t, err)
	var want int64
	for k := range keys {
		if k%3 != 0 {
			want += int64(k + 1)
		}
	}
	eq(t, "earned by the concurrent writers", all, want)
}

// SeedDays writes credits over three days (one replayed, one reversed
// twice, a spend) for u1 and u2 of a new tenant, and returns the tenant
// and the users' day sums, for upgrade tests: a store that loses its day
// sums and backfills them must find the same again (CheckDays).
func SeedDays(t *testing.T, s WalletStore) (string, map[string][]points.DaySum) {
	c, tn := ctx(t), tenant(t, "days-seed")
	day0 := base.Truncate(24 * time.Hour)
	now := day0
	svc := walletService(s, &now)
	month := time.Date(day0.Year(), day0.Month()+1, 1, 0, 0, 0, 0, time.UTC).Sub(day0) // the next month's start
	for i, at := range []time.Duration{-time.Millisecond, 0, 5 * time.Hour, 24*time.Hour - time.Millisecond, 30 * time.Hour, 50 * time.Hour, month - time.Millisecond, month} {
		now = day0.Add(at)
		for _, u := range []string{"u1", "u2"} {
			credit(t, svc, tn, u, fmt.Sprint(u, ":k", i), int64(10*i+1))
		}
	}
	credit(t, svc, tn, "u1", "u1:k1", 99) // a replay pays nothing
	for range 2 {
		_, err := svc.Reverse(c, tn, "u1:k2")
		must(t, err)
	}
	_, err := svc.Spend(c, points.Spend{Tenant: tn, User: "u2", Amount: 5, Key: "u2:spend"})
	must(t, err)
	days := map[string][]points.DaySum{}
	for _, u := range []string{"u1", "u2"} {
		checkDaySums(t, s, tn, u, day0, seedSpan)
		if days[u], err = s.EarnedDays(c, tn, u); err != nil {
			t.Fatal(err)
		}
	}
	if len(days["u1"]) != 6 {
		t.Fatalf("u1's day sums: %+v, want 6 days", days["u1"])
	}
	return tn, days
}

// CheckDays checks that the seeded tenant's day sums are days, and agree
// with the ledger.
func CheckDays(t *testing.T, s WalletStore, tn string, days map[string][]points.DaySum) {
	t.Helper()
	for u, want := range days {
		got, err := s.EarnedDays(context.Background(), tn, u)
		must(t, err)
		eq(t, u+"'s day sums", got, want)
		day0 := base.Truncate(24 * time.Hour)
		checkDaySums(t, s, tn, u, day0, seedSpan)
		for _, w := range [][2]time.Time{{day0.AddDate(0, -1, 0), day0.AddDate(1, 0, 0)}, {day0.Add(time.Hour), day0.AddDate(0, 1, 0)}} {
			want, _, err := s.EarnedBetween(context.Background(), tn, u, "", w[0], w[1])
			must(t, err)
			got, err := s.EarnedInWindow(context.Background(), tn, u, w[0], w[1])
			must(t, err)
			eq(t, u+" earned in a window across months", got, want)
		}
	}
}

// seedSpan is the days SeedDays writes on.
const seedSpan = 20
