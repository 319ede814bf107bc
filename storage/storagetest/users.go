package storagetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/auth"
	"github.com/questline/questline/badges"
	"github.com/questline/questline/challenges"
	"github.com/questline/questline/contests"
	"github.com/questline/questline/events"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/loyalty"
	"github.com/questline/questline/loyalty/tier"
	"github.com/questline/questline/points"
	"github.com/questline/questline/profiles"
)

// --- a user's export and erasure ---------------------------------------------

// userRecords is one kind of record a user's erasure reaches: how to count
// a user's records of that kind, the erasure that reaches them, and
// whether it anonymises them (they move to the pseudonym, so totals stay)
// rather than deleting them.
type userRecords struct {
	name      string
	count     func(c context.Context, s Store, tn, user string) (int, error)
	erase     func(c context.Context, s Store, tn, user, pseudonym string) error
	anonymise bool
}

func userRecordKinds() []userRecords {
	eraseChallenges := func(c context.Context, s Store, tn, u, pn string) error { return s.EraseChallengeUser(c, tn, u, pn) }
	eraseBadges := func(c context.Context, s Store, tn, u, pn string) error { return s.EraseBadgeUser(c, tn, u, pn) }
	eraseBoards := func(c context.Context, s Store, tn, u, _ string) error { return s.EraseBoardUser(c, tn, u) }
	eraseProfile := func(c context.Context, s Store, tn, u, _ string) error { return s.DeleteUser(c, tn, u) }
	// What loyalty.Service.Erase does.
	eraseLoyalty := func(c context.Context, s Store, tn, u, pn string) error {
		if err := s.EraseEarnUser(c, tn, u); err != nil {
			return err
		}
		return s.AnonymiseReferrer(c, tn, u, pn)
	}
	anonymiseWallet := func(c context.Context, s Store, tn, u, pn string) error { return s.AnonymiseWallet(c, tn, u, pn) }
	eraseQuizzes := func(c context.Context, s Store, tn, u, _ string) error { return s.EraseQuizUser(c, tn, u) }
	eraseUGC := func(c context.Context, s Store, tn, u, _ string) error { return s.EraseUGCUser(c, tn, u) }
	return []userRecords{
		{"quiz attempts", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.UserAttempts(c, tn, "", u))
		}, eraseQuizzes, false},
		{"events", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.UserEvents(c, tn, u, "", 100))
		}, func(c context.Context, s Store, tn, u, _ string) error { return s.DeleteUserEvents(c, tn, u) }, false},
		{"ledger", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.Entries(c, tn, u, "", 100))
		}, func(c context.Context, s Store, tn, u, pn string) error { return s.AnonymiseEntries(c, tn, u, pn) }, true},
		{"wallet changes", func(c context.Context, s Store, tn, u string) (int, error) {
			b, err := s.UserBalance(c, tn, u)
			return int(b.Version), err
		}, anonymiseWallet, true},
		{"wallet lots", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.UserLots(c, tn, u, "", 100))
		}, anonymiseWallet, true},
		{"contributions", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.Contributions(c, tn, "c1", u, "p"))
		}, eraseChallenges, false},
		{"challenge tallies", func(c context.Context, s Store, tn, u string) (int, error) {
			v, err := s.Tally(c, tn, "c1", u, "p", "g", base.Add(-24*time.Hour), base.Add(48*time.Hour))
			return int(v), err
		}, eraseChallenges, false},
		{"completions", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.UserCompletions(c, tn, u))
		}, eraseChallenges, true},
		{"enrolments", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.UserMemberships(c, tn, u))
		}, eraseChallenges, true},
		{"unlocks", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.UserUnlocks(c, tn, u))
		}, eraseChallenges, false},
		{"badge contributions", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.BadgeContributions(c, tn, "b1", u, "p"))
		}, eraseBadges, false},
		{"awards", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.UserAwards(c, tn, u))
		}, eraseBadges, true},
		{"board scores", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.UserScores(c, tn, u))
		}, eraseBoards, false},
		{"board totals", func(c context.Context, s Store, tn, u string) (int, error) {
			v, _, ok, err := s.Total(c, tn, "lb1", "all", u, leaderboards.Sum, base.Add(-24*time.Hour), base.Add(48*time.Hour))
			if ok {
				return int(v), err
			}
			return 0, err
		}, eraseBoards, false},
		{"exclusions", func(c context.Context, s Store, tn, u string) (int, error) {
			ex, err := s.Exclusions(c, tn, "")
			k := 0
			for _, e := range ex {
				if e.User == u {
					k++
				}
			}
			return k, err
		}, eraseBoards, false},
		{"profile", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.Profiles(c, tn, []string{u}))
		}, eraseProfile, false},
		{"attributes", func(c context.Context, s Store, tn, u string) (int, error) {
			_, ok, err := s.GetAttributes(c, tn, u)
			if ok {
				return 1, err
			}
			return 0, err
		}, eraseProfile, false},
		{"earn marks", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.EarnMarks(c, tn, u))
		}, eraseLoyalty, false},
		{"tier state", func(c context.Context, s Store, tn, u string) (int, error) {
			_, ok, err := s.TierState(c, tn, u)
			return count(ok), err
		}, eraseLoyalty, false},
		{"referral claim", func(c context.Context, s Store, tn, u string) (int, error) {
			_, ok, err := s.ClaimOf(c, tn, u)
			return count(ok), err
		}, eraseLoyalty, false},
		{"referral code", func(c context.Context, s Store, tn, u string) (int, error) {
			_, ok, err := s.CodeOf(c, tn, u)
			return count(ok), err
		}, eraseLoyalty, false},
		{"referrals made", func(c context.Context, s Store, tn, u string) (int, error) {
			cs, err := s.ReferralsBy(c, tn, u)
			for _, cl := range cs {
				if cl.Referrer != u {
					return 0, fmt.Errorf("ReferralsBy(%s) lists %+v", u, cl)
				}
			}
			return len(cs), err
		}, eraseLoyalty, true},
		{"contest entries", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.UserContestEntries(c, tn, u))
		}, func(c context.Context, s Store, tn, u, pn string) error { return s.EraseContestUser(c, tn, u, pn) }, true},
		{"ugc submissions", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.UserSubmissions(c, tn, u, "", 100))
		}, eraseUGC, false},
		{"ugc purchases", func(c context.Context, s Store, tn, u string) (int, error) {
			ok, err := s.Purchased(c, tn, u, "sku-0")
			return count(ok), err
		}, eraseUGC, false},
		{"audit", func(c context.Context, s Store, tn, u string) (int, error) {
			return n(s.AuditAbout(c, tn, u))
		}, func(c context.Context, s Store, tn, u, pn string) error { return s.AnonymiseAudit(c, tn, u, pn) }, true},
	}
}

func n[T any](xs []T, err error) (int, error) { return len(xs), err }

func count(ok bool) int {
	if ok {
		return 1
	}
	return 0
}

// seedUser gives user records of every kind in tenant tn (whose challenge
// c1, badge b1 and board lb1 seedOwners made): two of each where a user
// can have several.
func seedUser(t *testing.T, s Store, tn, user string) {
	t.Helper()
	c := ctx(t)
	at := base.Add(time.Hour)
	for i := range 2 {
		ev := event(tn, fmt.Sprintf("%s-%d", user, i), at)
		ev.User = user
		_, _, err := s.InsertEvent(c, ev)
		must(t, err)
		_, _, err = s.InsertEntry(c, entry(tn, user, "challenge:c1:"+ev.ID, int64(10*(i+1)), at))
		must(t, err)
		seedLot(t, s, tn, user, "challenge:c1:"+ev.ID, int64(10*(i+1)), at)
		_, err = s.AddContribution(c, challenges.Contribution{Tenant: tn, ChallengeID: "c1", User: user, Period: "p", Goal: "g", EventID: ev.ID, Amount: 1, At: at})
		must(t, err)
		_, err = s.AddBadgeContribution(c, badges.Contribution{Tenant: tn, BadgeID: "b1", User: user, Period: "p", Goal: "g", EventID: ev.ID, Amount: 1, At: at})
		must(t, err)
		sc := score(tn, "lb1", user, ev.ID, 5, at)
		sc.Period, sc.Aggregation = "all", leaderboards.Sum // folded into the member's total too
		_, err = s.AddScore(c, sc)
		must(t, err)
		_, _, err = s.InsertCompletion(c, challenges.Completion{ID: id(), Tenant: tn, ChallengeID: "c1", User: user,
			Period: fmt.Sprintf("#%d", i+1), EventID: ev.ID, CompletedAt: at})
		must(t, err)
		_, err = s.AddUnlock(c, challenges.Unlock{Tenant: tn, User: user, Content: fmt.Sprintf("recipe-%d", i), Source: "challenge:c1", UnlockedAt: at})
		must(t, err)
		_, _, err = s.InsertAward(c, award(tn, "b1", user, fmt.Sprintf("t%d", i), 0, at))
		must(t, err)
		_, _, err = s.AppendEarnMark(c, mark(tn, "r1", user, int64(i+1), ev.ID))
		must(t, err)
		_, err = s.AddContestEntry(c, contests.Entry{Tenant: tn, Contest: "k1", User: user, Entrant: "h-" + ev.ID, N: 1, Source: "ev:" + ev.ID, At: at})
		must(t, err)
		_, _, err = s.InsertAttempt(c, sampleAttempt(tn, id(), "z1", user, i+1))
		must(t, err)
		_, _, err = s.CreateSubmission(c, review(tn, user, fmt.Sprintf("sku-%d", i), 4, "review by "+user, at))
		must(t, err)
		must(t, s.AddPurchase(c, tn, user, fmt.Sprintf("sku-%d", i)))
	}
	must(t, s.PutTierState(c, loyalty.TierState{Tenant: tn, User: user, Version: 1, State: tier.State{Tier: "gold", Since: at, ReviewAt: at}}))
	must(t, s.InsertClaim(c, loyalty.Claim{Tenant: tn, Referee: user, Referrer: "someone", Code: "C", ClaimedAt: at}))
	_, err := s.ReferralCode(c, tn, user, "CODE-"+user)
	must(t, err)
	for i := range 2 { // referees of their own each time (a referee claims once)
		must(t, s.InsertClaim(c, loyalty.Claim{Tenant: tn, Referee: fmt.Sprintf("friend-%d-of-%s-%s", i, user, id()), Referrer: user,
			Code: "CODE-" + user, ClaimedAt: at.Add(time.Duration(i) * time.Second)}))
	}
	_, _, err = s.Join(c, challenges.Membership{Tenant: tn, ChallengeID: "c1", User: user, JoinedAt: at})
	must(t, err)
	must(t, s.Exclude(c, leaderboards.Exclusion{Tenant: tn, Board: "lb1", User: user, By: "m1", Reason: "test account", At: at}))
	must(t, s.PutProfile(c, profiles.Profile{Tenant: tn, User: user, Name: "Name of " + user, UpdatedAt: at}))
	must(t, s.PutAttributes(c, profiles.Attributes{Tenant: tn, User: user, Tier: "gold", UpdatedAt: at}))
	for _, e := range []audit.Entry{
		{Actor: "m1", Action: "user.read", Subject: "user:" + user},
		{Actor: "m1", Action: "leaderboard.exclude", Subject: "leaderboard:lb1/user:" + user},
		{Actor: user, Action: "challenge.publish", Subject: "challenge:c1"},
	} {
		e.Tenant, e.At = tn, at
		must(t, s.AppendAudit(c, e))
	}
}

// seedLot gives user a wallet lot for the credit keyed key.
func seedLot(t *testing.T, s Store, tn, user, key string, amount int64, at time.Time) {
	t.Helper()
	_, _, err := s.ApplyChange(ctx(t), tn, user, key, func(_ context.Context, w points.WalletView) (points.Change, error) {
		b := w.Balance()
		b.Held += amount
		b.Earned += amount
		lot := points.Lot{ID: id(), User: user, Key: key, Amount: amount, Remaining: amount, EarnedAt: at, AvailableAt: at}
		return points.Change{Kind: points.KindCredit, Amount: amount, Balance: b, Lots: []points.Lot{lot}, At: at}, nil
	})
	must(t, err)
}

// seedOwners creates what a user's records hang on in tenant tn.
func seedOwners(t *testing.T, s Store, tn string) {
	t.Helper()
	c := ctx(t)
	must(t, s.CreateChallenge(c, challenge(tn, "c1", challenges.Published)))
	must(t, s.CreateBadge(c, badge(tn, "b1", badges.Published)))
	lb := board(tn, "lb1", "Shares", leaderboards.AllTime)
	lb.Source, lb.EventType, lb.Aggregation = leaderboards.FromEvents, "share", leaderboards.Sum
	must(t, s.CreateBoard(c, lb))
}

// testUserErasure: each kind of record of the erased user is gone from
// the user (deleted, or moved to the pseudonym), a second erasure changes
// nothing, and a user whose id extends the erased one's ("u11"), another
// user and the same user id in another tenant keep theirs.
func testUserErasure(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	for _, tn := range []string{a, b} {
		seedOwners(t, s, tn)
		for _, u := range []string{"u1", "u11", "u2"} {
			seedUser(t, s, tn, u)
		}
	}
	pn := auth.Pseudonym(a, "u1")
	type who struct{ tn, user string }
	everyone := []who{{a, "u1"}, {a, "u11"}, {a, "u2"}, {b, "u1"}}
	kinds := userRecordKinds()
	// Counted before any erasure: one erasure reaches several kinds.
	before := map[string]map[who]int{}
	for _, k := range kinds {
		before[k.name] = map[who]int{}
		for _, w := range everyone {
			got, err := k.count(c, s, w.tn, w.user)
			must(t, err)
			if got == 0 {
				t.Fatalf("seeded no %s for %s in %s", k.name, w.user, w.tn)
			}
			before[k.name][w] = got
		}
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			for range 2 { // the second erasure is a retry: harmless
				must(t, k.erase(c, s, a, "u1", pn))
				got, err := k.count(c, s, a, "u1")
				must(t, err)
				eq(t, k.name+" of the erased user", got, 0)
				moved, err := k.count(c, s, a, pn)
				must(t, err)
				want := 0
				if k.anonymise {
					want = before[k.name][who{a, "u1"}]
				}
				eq(t, k.name+" under the pseudonym", moved, want)
				for _, w := range everyone[1:] {
					got, err := k.count(c, s, w.tn, w.user)
					must(t, err)
					eq(t, fmt.Sprintf("%s of %s in %s", k.name, w.user, w.tn), got, before[k.name][w])
				}
			}
		})
	}
}

// testUserErasureKeepsTotals: anonymised ledger lines keep their amounts,
// times and keys (tenant sums and rebuilds stay exact, a replayed cause
// still finds its key) but lose reason and event; anonymised audit
// entries keep what was done, with the user's id replaced.
func testUserErasureKeepsTotals(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	seedOwners(t, s, a)
	seedUser(t, s, a, "u1")
	seedUser(t, s, a, "u2")
	sum := func() (total int64, lines int) {
		must(t, s.ScanEntries(c, a, func(e points.Entry) error { total += e.Amount; lines++; return nil }))
		return total, lines
	}
	total, lines := sum()
	pn := auth.Pseudonym(a, "u1")
	must(t, s.AnonymiseEntries(c, a, "u1", pn))
	gotTotal, gotLines := sum()
	eq(t, "tenant total", gotTotal, total)
	eq(t, "tenant lines", gotLines, lines)
	tot, err := s.Totals(c, a, pn)
	must(t, err)
	eq(t, "pseudonym totals", tot, points.Totals{Balance: 30, Earned: 30})
	es, err := s.Entries(c, a, pn, "", 10)
	must(t, err)
	for _, e := range es {
		if e.Reason != points.ErasedReason || e.EventID != "" || !strings.HasPrefix(e.Key, "challenge:c1:") {
			t.Errorf("anonymised entry %+v: want reason %q, no event id, its key kept", e, points.ErasedReason)
		}
	}

	must(t, s.AnonymiseAudit(c, a, "u1", pn))
	got, err := s.AuditAbout(c, a, pn)
	must(t, err)
	var subjects []string
	for _, e := range got {
		subjects = append(subjects, e.Action+" "+e.Actor+" "+e.Subject)
	}
	want := []string{
		"challenge.publish " + pn + " challenge:c1",
		"leaderboard.exclude m1 leaderboard:lb1/user:" + pn,
		"user.read m1 user:" + pn,
	}
	slices.Sort(subjects)
	eq(t, "anonymised audit", subjects, want)
	for _, e := range got {
		if strings.Contains(e.Subject+e.Actor, "u1") && !strings.Contains(e.Subject+e.Actor, pn) {
			t.Errorf("audit entry still names u1: %+v", e)
		}
	}
}

// testUserEvents: a user's events page in id order.
func testUserEvents(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	var want []events.Event
	for i := range 5 {
		ev := event(a, fmt.Sprint("k", i), base.Add(time.Duration(i)*time.Minute))
		stored, _, err := s.InsertEvent(c, ev)
		must(t, err)
		want = append(want, stored)
	}
	other := event(a, "other", base)
	other.User = "u2"
	_, _, err := s.InsertEvent(c, other)
	must(t, err)
	first, err := s.UserEvents(c, a, "u1", "", 3)
	must(t, err)
	rest, err := s.UserEvents(c, a, "u1", first[len(first)-1].ID, 3)
	must(t, err)
	eq(t, "paged user events", append(first, rest...), want)
}

// testUserErasureLarge: a long ledger is anonymised whole.
func testUserErasureLarge(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	const lines = 1201
	for _, err := range parallel(lines, func(i int) error {
		_, _, err := s.InsertEntry(c, entry(a, "u1", fmt.Sprint("k", i), 1, base))
		return err
	}) {
		must(t, err)
	}
	pn := auth.Pseudonym(a, "u1")
	must(t, s.AnonymiseEntries(c, a, "u1", pn))
	for user, want := range map[string]int64{"u1": 0, pn: lines} {
		tot, err := s.Totals(c, a, user)
		must(t, err)
		eq(t, "balance of "+user, tot.Balance, want)
	}
}

// testUserErasedTwice: a user id that comes back after an erasure and
// earns the same completions, enrolments and awards again is erased
// again; its rows that would collide with the first life's anonymised
// ones are dropped (those already count it), the rest move.
func testUserErasedTwice(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	seedOwners(t, s, a)
	pn := auth.Pseudonym(a, "u1")
	kinds := userRecordKinds()
	eraseAll := func() {
		for _, k := range kinds {
			must(t, k.erase(c, s, a, "u1", pn))
		}
	}
	seedUser(t, s, a, "u1")
	once := map[string]int{}
	for _, k := range kinds {
		got, err := k.count(c, s, a, "u1")
		must(t, err)
		once[k.name] = got
	}
	eraseAll()
	seedUser(t, s, a, "u1")
	eraseAll()
	// Ledger lines, lots, contest entries, audit entries and the claims of
	// the user's code have no per-user key: both lives stay.
	twice := map[string]bool{"ledger": true, "audit": true, "wallet lots": true, "contest entries": true, "referrals made": true}
	for _, k := range kinds {
		got, err := k.count(c, s, a, "u1")
		must(t, err)
		eq(t, k.name+" of the user erased twice", got, 0)
		moved, err := k.count(c, s, a, pn)
		must(t, err)
		want := 0
		switch {
		case twice[k.name]:
			want = 2 * once[k.name]
		case k.anonymise:
			want = once[k.name]
		}
		eq(t, k.name+" under the pseudonym", moved, want)
	}
}

// testUserErasureConcurrent: erasures of one user racing each other (two
// admins, a retry while the first still runs) all succeed and leave what
// one leaves.
func testUserErasureConcurrent(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	seedOwners(t, s, a)
	seedUser(t, s, a, "u1")
	pn := auth.Pseudonym(a, "u1")
	kinds := userRecordKinds()
	want := map[string]int{}
	for _, k := range kinds {
		if k.anonymise {
			got, err := k.count(c, s, a, "u1")
			must(t, err)
			want[k.name] = got
		}
	}
	for _, err := range parallel(4, func(int) error {
		for _, k := range kinds {
			if err := k.erase(c, s, a, "u1", pn); err != nil {
				return err
			}
		}
		return nil
	}) {
		must(t, err)
	}
	for _, k := range kinds {
		got, err := k.count(c, s, a, "u1")
		must(t, err)
		eq(t, k.name+" of the erased user", got, 0)
		moved, err := k.count(c, s, a, pn)
		must(t, err)
		eq(t, k.name+" under the pseudonym", moved, want[k.name])
	}
}
