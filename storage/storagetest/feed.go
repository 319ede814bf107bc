package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/questline/questline/leaderboards"
)

func pending(tn, board, user string, at, since time.Time, token string) leaderboards.Pending {
	return leaderboards.Pending{Tenant: tn, Board: board, Period: "all", User: user, At: at, Since: since, Token: token}
}

// stored is p as a store returns it.
func (p pendingCase) stored() leaderboards.Pending {
	q := leaderboards.Pending(p)
	q.At, q.Since = ms(q.At), ms(q.Since)
	return q
}

type pendingCase leaderboards.Pending

func backlog(t *testing.T, s Store, wantN int64, wantOldest time.Time) {
	t.Helper()
	n, oldest, err := s.RefreshBacklog(ctx(t))
	must(t, err)
	if n != wantN || !oldest.Equal(wantOldest) {
		t.Fatalf("backlog = %d since %v, want %d since %v", n, oldest, wantN, wantOldest)
	}
}

func testBoardFeed(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	backlog(t, s, 0, time.Time{})

	p1 := pending(a, "b1", "u1", base, base, "t1")
	p2 := pending(b, "b1", "u1", base, base.Add(time.Second), "t2")
	must(t, s.QueueRefresh(c, p1))
	must(t, s.QueueRefresh(c, p2))
	// Queued again: the newer moment and token win, the first Since stays.
	p1b := pending(a, "b1", "u1", base.Add(2*time.Second), base.Add(5*time.Second), "t1b")
	must(t, s.QueueRefresh(c, p1b))
	backlog(t, s, 2, ms(base))

	now := base.Add(10 * time.Second)
	got, err := s.ClaimRefreshes(c, now, 30*time.Second, 10)
	must(t, err)
	want1 := pendingCase(p1b).stored()
	want1.Since = ms(base)
	eq(t, "claimed", got, []leaderboards.Pending{want1, pendingCase(p2).stored()})
	got, err = s.ClaimRefreshes(c, now.Add(time.Second), 30*time.Second, 10)
	must(t, err)
	eq(t, "claimed while leased", len(got), 0)

	// Finishing under an old token keeps the newer write's refresh.
	must(t, s.FinishRefresh(c, p1))
	backlog(t, s, 2, ms(base))
	must(t, s.FinishRefresh(c, want1))
	backlog(t, s, 1, ms(base.Add(time.Second)))

	// Queueing again ends a lease at once; otherwise it runs out.
	p2b := pending(b, "b1", "u1", base, base.Add(time.Hour), "t2b")
	must(t, s.QueueRefresh(c, p2b))
	got, err = s.ClaimRefreshes(c, now.Add(2*time.Second), 30*time.Second, 10)
	must(t, err)
	if len(got) != 1 || got[0].Token != "t2b" || !got[0].Since.Equal(ms(base.Add(time.Second))) {
		t.Fatalf("claim after re-queue = %+v", got)
	}
	got, err = s.ClaimRefreshes(c, now.Add(33*time.Second), 30*time.Second, 10)
	must(t, err)
	eq(t, "claim after the lease ran out", len(got), 1)
	must(t, s.FinishRefresh(c, got[0]))
	backlog(t, s, 0, time.Time{})
}

// testBoardFeedConcurrentClaims: claims racing for the same rows share
// none of them and leave none out.
func testBoardFeedConcurrentClaims(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	const rows = 40
	for i := range rows {
		must(t, s.QueueRefresh(c, pending(a, "b1", fmt.Sprint("u", i), base, base.Add(time.Duration(i)*time.Millisecond), "t")))
	}
	seen := map[string]bool{}
	// A claim that loses every race may come back short: claim in rounds
	// until all are taken.
	for round := 0; len(seen) < rows && round < rows; round++ {
		claims := parallel(8, func(int) []leaderboards.Pending {
			got, err := s.ClaimRefreshes(c, base.Add(time.Minute), time.Minute, 10)
			if err != nil {
				t.Error(err)
			}
			return got
		})
		for _, ps := range claims {
			for _, p := range ps {
				if seen[p.User] {
					t.Fatalf("%s claimed twice", p.User)
				}
				seen[p.User] = true
			}
		}
	}
	if len(seen) != rows {
		t.Fatalf("claimed %d of %d", len(seen), rows)
	}
}
