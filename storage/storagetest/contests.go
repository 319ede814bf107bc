package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/contests"
	"github.com/questline/questline/internal/errs"
)

// ContestStore is what the contest cases need of a store.
type ContestStore interface {
	contests.Store
}

// RunContests runs the contest store cases against stores made by open.
func RunContests(t *testing.T, open func(t *testing.T) ContestStore) {
	for _, c := range []struct {
		name string
		run  func(*testing.T, ContestStore)
	}{
		{"definitions", testContestDefinitions},
		{"entries", testContestEntries},
		{"ticket numbers under concurrency", testContestSlots},
		{"erasure", testContestErasure},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, open(t)) })
	}
}

func newContest(tn string, kind contests.Kind) contests.Contest {
	c := contests.Contest{
		ID: id(), Tenant: tn, Name: "Monthly draw", Kind: kind, StartsAt: ms(base), EndsAt: ms(base.Add(24 * time.Hour)),
		Prizes: []contests.Prize{{Description: "A bike", Quantity: 1, Points: 500, Badge: "b1"}, {Description: "Mugs", Quantity: 3, Reward: "rw1"}},
		Status: contests.Open, CreatedAt: ms(base), UpdatedAt: ms(base), Version: 1,
	}
	if kind == contests.DrawKind {
		c.Earn = []contests.EarnRule{{EventType: "visit", Entries: 1}, {EventType: "purchase", Prop: "amount", Over: 20, Entries: 2}}
		c.MaxEntries, c.Eligibility = 10, &contests.Eligibility{Tiers: []string{"gold"}, Segments: []string{"fr"}, OptIn: true}
		c.Seed, c.Commitment = []byte("0123456789abcdef0123456789abcdef"), "c0ffee"
	} else {
		c.Board, c.BoardID = &contests.BoardSpec{Source: "points", Aggregation: "sum"}, id()
	}
	return c
}

func testContestDefinitions(t *testing.T, s ContestStore) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	d := newContest(a, contests.DrawKind)
	l := newContest(a, contests.LeaderboardKind)
	for _, x := range []contests.Contest{d, l} {
		must(t, s.CreateContest(c, x))
		got, err := s.GetContest(c, a, x.ID)
		must(t, err)
		eq(t, "stored "+string(x.Kind), got, x)
	}
	if err := s.CreateContest(c, d); !errors.Is(err, errs.ErrDuplicate) {
		t.Fatalf("create twice: %v", err)
	}
	if _, err := s.GetContest(c, b, d.ID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("another tenant's contest: %v", err)
	}

	// A finished draw, with its result, replaces the open one; its seed
	// stays whatever the update carries.
	done := d
	done.Version, done.Status = 2, contests.Finished
	paid := ms(base.Add(25 * time.Hour))
	done.Result = &contests.Result{ClosedAt: paid, Algorithm: "questline-draw-v1", Seed: "aa", EntriesHash: "bb", EntriesCount: 7,
		Winners: []contests.Winner{{Position: 1, User: "u1", Entrant: "e1", PaidAt: &paid},
			{Position: 2, Prize: 1, Replaced: []string{"u9"}, Redemption: "red1"}, {Position: 3, Prize: 1, RewardFailure: "out-of-stock"}}}
	done.Disqualified = []contests.Disqualification{{User: "u9", Entrant: "e9", By: "m", Reason: "staff", At: paid}}
	must(t, s.UpdateContest(c, done))
	got, err := s.GetContest(c, a, d.ID)
	must(t, err)
	eq(t, "updated", got, done)
	if err := s.UpdateContest(c, done); !errors.Is(err, errs.ErrDuplicate) {
		t.Fatalf("stale update: %v", err)
	}
	gone := newContest(a, contests.DrawKind)
	gone.Version = 2
	if err := s.UpdateContest(c, gone); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("update of a missing contest: %v", err)
	}

	all, err := s.ListContests(c, a, "", "", 0)
	must(t, err)
	eq(t, "list", ids2(all), sorted(d.ID, l.ID))
	open, err := s.ListContests(c, a, contests.Open, "", 10)
	must(t, err)
	eq(t, "open", ids2(open), []string{l.ID})
	page, err := s.ListContests(c, a, "", all[0].ID, 1)
	must(t, err)
	eq(t, "page", ids2(page), []string{all[1].ID})
	other, err := s.ListContests(c, b, "", "", 10)
	must(t, err)
	eq(t, "other tenant", len(other), 0)

	// The close job's scan: open contests of every tenant, no finished one.
	ob := newContest(b, contests.DrawKind)
	must(t, s.CreateContest(c, ob))
	every, err := s.OpenContests(c)
	must(t, err)
	var mine []string
	for _, x := range every {
		if x.Tenant == a || x.Tenant == b {
			mine = append(mine, x.ID)
		}
	}
	slices.Sort(mine)
	eq(t, "open contests of every tenant", mine, sorted(l.ID, ob.ID))
}

func ids2(cs []contests.Contest) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func sorted(s ...string) []string { slices.Sort(s); return s }

func ticket(tn, contest, user string, n int64, src string) contests.Entry {
	return contests.Entry{Tenant: tn, Contest: contest, User: user, Entrant: "h-" + user, N: n, Source: src, At: ms(base)}
}

func testContestEntries(t *testing.T, s ContestStore) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	cid := id()
	for _, tc := range []struct {
		name     string
		e        contests.Entry
		inserted bool
		dup      bool
	}{
		{"first ticket", ticket(a, cid, "u2", 1, "ev:1"), true, false},
		{"repeat of its source", ticket(a, cid, "u2", 2, "ev:1"), false, false},
		{"its number taken by another source", ticket(a, cid, "u2", 1, "ev:2"), false, true},
		{"next number", ticket(a, cid, "u2", 2, "ev:2"), true, false},
		{"another user", ticket(a, cid, "u1", 1, "ev:3"), true, false},
		{"an opt-in", ticket(a, cid, "u1", 0, "opt-in:h-u1"), true, false},
		{"the same source in another contest", ticket(a, id(), "u1", 1, "ev:3"), true, false},
		{"the same everything in another tenant", ticket(b, cid, "u1", 1, "ev:3"), true, false},
	} {
		ok, err := s.AddContestEntry(c, tc.e)
		if tc.dup != errors.Is(err, errs.ErrDuplicate) || (!tc.dup && err != nil) || ok != tc.inserted {
			t.Fatalf("%s: inserted %v, err %v", tc.name, ok, err)
		}
	}
	for _, tc := range []struct {
		user string
		n    int64
		in   bool
	}{{"u1", 1, true}, {"u2", 2, false}, {"u3", 0, false}} {
		n, in, err := s.ContestUserEntries(c, a, cid, tc.user)
		must(t, err)
		if n != tc.n || in != tc.in {
			t.Fatalf("%s: %d tickets, opted in %v; want %d, %v", tc.user, n, in, tc.n, tc.in)
		}
	}
	n, err := s.CountContestEntries(c, a, cid)
	must(t, err)
	eq(t, "count", n, int64(3))
	var scanned []string
	must(t, s.ScanContestEntries(c, a, cid, func(e contests.Entry) error {
		scanned = append(scanned, fmt.Sprintf("%s/%s/%s/%d/%s", e.Tenant, e.Contest, e.Entrant, e.N, e.User))
		return nil
	}))
	eq(t, "canonical order, opt-ins left out", scanned, []string{a + "/" + cid + "/h-u1/1/u1", a + "/" + cid + "/h-u2/1/u2", a + "/" + cid + "/h-u2/2/u2"})
	mine, err := s.UserContestEntries(c, a, "u1")
	must(t, err)
	eq(t, "u1's entries", len(mine), 3)
	for _, tc := range []struct {
		tenant, contest, source string
		want                    bool
	}{{a, cid, "ev:2", true}, {a, cid, "opt-in:h-u1", true}, {a, cid, "ev:9", false}, {b, cid, "ev:2", false}, {a, id(), "ev:2", false}} {
		got, err := s.HasContestEntry(c, tc.tenant, tc.contest, tc.source)
		must(t, err)
		eq(t, "has "+tc.source, got, tc.want)
	}
	stop := errors.New("stop")
	if err := s.ScanContestEntries(c, a, cid, func(contests.Entry) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("scan stops at fn's error: %v", err)
	}
	for _, e := range []contests.Entry{ticket(a, cid, "u3", 1, contests.BoughtPrefix+"h-u3:p1:0"), ticket(a, cid, "u3", 2, contests.BoughtPrefix+"h-u3:p1:1"),
		ticket(a, cid, "u3", 0, "opt-in:h-u3"), ticket(a, cid, "u1", 2, contests.BoughtPrefix+"h-u1:p2:0")} {
		_, err := s.AddContestEntry(c, e)
		must(t, err)
	}
	for _, tc := range []struct {
		tenant, contest string
		want            contests.EntryCounts
	}{
		{a, cid, contests.EntryCounts{Entrants: 3, Tickets: 6, Bought: 3, OptIns: 2}},
		{b, cid, contests.EntryCounts{Entrants: 1, Tickets: 1}},
		{a, id(), contests.EntryCounts{}},
	} {
		got, err := s.ContestEntryCounts(c, tc.tenant, tc.contest)
		must(t, err)
		eq(t, "entry counts of "+tc.tenant, got, tc.want)
	}
}

// testContestSlots: many sources racing for the same ticket numbers of a
// user; each number goes to one source, each source gets one number.
func testContestSlots(t *testing.T, s ContestStore) {
	c := ctx(t)
	a := tenant(t, "a")
	cid := id()
	var wg sync.WaitGroup
	var mu sync.Mutex
	held := map[int64]string{}
	for i := range 20 {
		wg.Go(func() {
			src := fmt.Sprintf("ev:%d", i)
			for n := int64(1); ; n++ {
				ok, err := s.AddContestEntry(c, ticket(a, cid, "u1", n, src))
				if errors.Is(err, errs.ErrDuplicate) {
					continue
				}
				if err != nil || !ok {
					t.Errorf("source %s: %v %v", src, ok, err)
				}
				mu.Lock()
				if other, dup := held[n]; dup {
					t.Errorf("ticket %d held by %s and %s", n, other, src)
				}
				held[n] = src
				mu.Unlock()
				return
			}
		})
	}
	wg.Wait()
	n, _, err := s.ContestUserEntries(c, a, cid, "u1")
	must(t, err)
	eq(t, "tickets", n, int64(20))
}

func testContestErasure(t *testing.T, s ContestStore) {
	c := ctx(t)
	a := tenant(t, "a")
	cid := id()
	for _, e := range []contests.Entry{ticket(a, cid, "u1", 1, "ev:1"), ticket(a, cid, "u1", 0, "opt-in"), ticket(a, cid, "u2", 1, "ev:2")} {
		_, err := s.AddContestEntry(c, e)
		must(t, err)
	}
	for range 2 { // a second erasure is a retry: harmless
		must(t, s.EraseContestUser(c, a, "u1", "erased:x"))
	}
	mine, err := s.UserContestEntries(c, a, "u1")
	must(t, err)
	eq(t, "u1's entries after erasure", len(mine), 0)
	moved, err := s.UserContestEntries(c, a, "erased:x")
	must(t, err)
	eq(t, "entries moved", len(moved), 2)
	var handles []string
	must(t, s.ScanContestEntries(c, a, cid, func(e contests.Entry) error { handles = append(handles, e.Entrant); return nil }))
	eq(t, "the list keeps its handles", handles, []string{"h-u1", "h-u2"})
	n, in, err := s.ContestUserEntries(c, a, cid, "erased:x")
	must(t, err)
	if n != 1 || !in {
		t.Fatalf("pseudonym's entries: %d, %v", n, in)
	}
}
