package storagetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/loyalty"
	"github.com/questline/questline/loyalty/earn"
	"github.com/questline/questline/loyalty/tier"
)

// LoyaltyStore is what the loyalty programme needs of a backend: tenant
// event catalogues, earn rules and their marks.
type LoyaltyStore interface {
	events.TypeStore
	loyalty.Store
}

// RunLoyalty runs the loyalty programme's cases against stores made by
// open (a fresh, empty store each, closed by t.Cleanup).
func RunLoyalty(t *testing.T, open func(t *testing.T) LoyaltyStore) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s LoyaltyStore)
	}{
		{"EventTypes", testEventTypes},
		{"EventTypesConcurrent", testEventTypesConcurrent},
		{"EarnRules", testEarnRules},
		{"EarnMarks", testEarnMarks},
		{"EarnMarksConcurrent", testEarnMarksConcurrent},
		{"EarnMarksErase", testEarnMarksErase},
		{"Tiers", testTiers},
		{"TierStates", testTierStates},
		{"Referrals", testReferrals},
		{"ReferralCompletionConcurrent", testReferralCompletionConcurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, open(t))
		})
	}
}

// testEventTypes: a catalogue round-trips, versions are compare-and-set
// (a stale or skipped version is ErrDuplicate), tenants are apart.
func testEventTypes(t *testing.T, s LoyaltyStore) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	_, found, err := s.EventTypes(c, a)
	must(t, err)
	eq(t, "found before any put", found, false)
	max := 100.0
	cat := events.Catalogue{Tenant: a, Version: 1, UpdatedAt: base.Truncate(time.Millisecond), Types: []events.TypeSpec{
		{Name: "store_visit", Senders: events.SendersPlayers, Props: []events.PropSpec{
			{Name: "store_id", Type: events.PropText, Required: true, Enum: []any{"paris", "lyon"}},
			{Name: "minutes", Type: events.PropNumber, Max: &max},
		}},
	}}
	must(t, s.PutEventTypes(c, cat))
	got, found, err := s.EventTypes(c, a)
	must(t, err)
	eq(t, "found", found, true)
	eq(t, "catalogue", got, cat)
	mustIs(t, s.PutEventTypes(c, cat), errs.ErrDuplicate) // version 1 again
	skip := cat
	skip.Version = 3
	mustIs(t, s.PutEventTypes(c, skip), errs.ErrDuplicate)
	next := cat
	next.Version, next.Types = 2, nil
	must(t, s.PutEventTypes(c, next))
	got, _, err = s.EventTypes(c, a)
	must(t, err)
	eq(t, "version", got.Version, int64(2))
	_, found, err = s.EventTypes(c, b)
	must(t, err)
	eq(t, "other tenant", found, false)
}

// testEventTypesConcurrent: of concurrent puts of one version exactly
// one wins.
func testEventTypesConcurrent(t *testing.T, s LoyaltyStore) {
	c := ctx(t)
	a := tenant(t, "a")
	must(t, s.PutEventTypes(c, events.Catalogue{Tenant: a, Version: 1}))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := range 8 {
		wg.Go(func() {
			err := s.PutEventTypes(c, events.Catalogue{Tenant: a, Version: 2,
				Types: []events.TypeSpec{{Name: "t" + string(rune('a'+i)), Senders: events.SendersTrusted}}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, errs.ErrDuplicate):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	eq(t, "winners", wins, 1)
}

func earnRule(tn, id string) loyalty.EarnRule {
	return loyalty.EarnRule{ID: id, Tenant: tn, Name: "per EUR", Status: loyalty.Active, Version: 1,
		Rule:      earn.Rule{Kind: earn.Rate, EventType: "purchase", Prop: "amount", Rate: "1.5", Stacking: earn.Highest, TimeZone: "UTC"},
		CreatedAt: base.Truncate(time.Millisecond), UpdatedAt: base.Truncate(time.Millisecond)}
}

// testEarnRules: create, a taken id, get, versioned update, list pages by
// id, not found, and tenants apart.
func testEarnRules(t *testing.T, s LoyaltyStore) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	ids := []string{uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()}
	for _, id := range ids {
		must(t, s.CreateEarnRule(c, earnRule(a, id)))
	}
	mustIs(t, s.CreateEarnRule(c, earnRule(a, ids[0])), errs.ErrDuplicate)
	got, err := s.GetEarnRule(c, a, ids[0])
	must(t, err)
	eq(t, "rule", got, earnRule(a, ids[0]))
	_, err = s.GetEarnRule(c, b, ids[0])
	mustIs(t, err, errs.ErrNotFound)

	up := got
	up.Version, up.Status, up.Name = 2, loyalty.Paused, "renamed"
	must(t, s.UpdateEarnRule(c, up))
	mustIs(t, s.UpdateEarnRule(c, up), errs.ErrDuplicate)
	missing := earnRule(a, "nope")
	missing.Version = 2
	mustIs(t, s.UpdateEarnRule(c, missing), errs.ErrNotFound)
	got, err = s.GetEarnRule(c, a, ids[0])
	must(t, err)
	eq(t, "updated", got, up)

	page, err := s.ListEarnRules(c, a, "", 2)
	must(t, err)
	eq(t, "first page", []string{page[0].ID, page[1].ID}, ids[:2])
	page, err = s.ListEarnRules(c, a, ids[1], 2)
	must(t, err)
	eq(t, "second page", len(page), 1)
	eq(t, "second page id", page[0].ID, ids[2])
	page, err = s.ListEarnRules(c, b, "", 10)
	must(t, err)
	eq(t, "other tenant", len(page), 0)
}

func mark(tn, rule, user string, seq int64, event string) loyalty.Mark {
	return loyalty.Mark{Tenant: tn, Rule: rule, User: user, Seq: seq, EventID: event, Payout: seq * 10,
		State: earn.State{Count: seq, Day: earn.Tally{Key: "2025-03-14", Paid: seq * 10}}, At: base.Truncate(time.Millisecond)}
}

// testEarnMarks: marks chain by seq; a repeat of an event returns its
// first mark; a seq taken by another event is ErrDuplicate; the last mark
// is the highest seq, per (tenant, rule, user).
func testEarnMarks(t *testing.T, s LoyaltyStore) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	_, found, err := s.LastEarnMark(c, a, "r1", "u1")
	must(t, err)
	eq(t, "found before any", found, false)
	for i, ev := range []string{"e1", "e2", "e3"} {
		m := mark(a, "r1", "u1", int64(i+1), ev)
		got, inserted, err := s.AppendEarnMark(c, m)
		must(t, err)
		eq(t, "inserted", inserted, true)
		eq(t, "mark", got, m)
	}
	again := mark(a, "r1", "u1", 4, "e2")
	got, inserted, err := s.AppendEarnMark(c, again)
	must(t, err)
	eq(t, "repeat inserted", inserted, false)
	eq(t, "repeat returns the first", got, mark(a, "r1", "u1", 2, "e2"))
	_, _, err = s.AppendEarnMark(c, mark(a, "r1", "u1", 3, "e9"))
	mustIs(t, err, errs.ErrDuplicate)
	last, found, err := s.LastEarnMark(c, a, "r1", "u1")
	must(t, err)
	eq(t, "found", found, true)
	eq(t, "last", last, mark(a, "r1", "u1", 3, "e3"))
	for _, other := range []struct{ tn, rule, user string }{{b, "r1", "u1"}, {a, "r2", "u1"}, {a, "r1", "u2"}} {
		_, found, err := s.LastEarnMark(c, other.tn, other.rule, other.user)
		must(t, err)
		eq(t, "apart: "+other.tn+other.rule+other.user, found, false)
	}
}

// testEarnMarksConcurrent: many events racing for the next seq of one
// chain, each retried on a taken seq, end as one gapless chain holding
// every event once; repeats of one event racing insert it once.
func testEarnMarksConcurrent(t *testing.T, s LoyaltyStore) {
	c := ctx(t)
	a := tenant(t, "a")
	const n = 12
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ev := uuid.NewString()
			for {
				last, _, err := s.LastEarnMark(c, a, "r1", "u1")
				if err != nil {
					t.Error(err)
					return
				}
				_, _, err = s.AppendEarnMark(c, mark(a, "r1", "u1", last.Seq+1, ev))
				if errors.Is(err, errs.ErrDuplicate) {
					continue
				}
				if err != nil {
					t.Error(err, i)
				}
				return
			}
		})
	}
	wg.Wait()
	last, _, err := s.LastEarnMark(c, a, "r1", "u1")
	must(t, err)
	eq(t, "chain length", last.Seq, int64(n))
	ms, err := s.EarnMarks(c, a, "u1")
	must(t, err)
	eq(t, "marks", len(ms), n)

	var (
		mu   sync.Mutex
		wins int
	)
	for range 8 {
		wg.Go(func() {
			_, inserted, err := s.AppendEarnMark(c, mark(a, "r2", "u1", 1, "same"))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if inserted {
				wins++
			}
		})
	}
	wg.Wait()
	eq(t, "one insert of a repeated event", wins, 1)
}

// testEarnMarksErase: erasure deletes the user's marks only, and repeats.
func testEarnMarksErase(t *testing.T, s LoyaltyStore) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	for _, w := range []struct{ tn, user string }{{a, "u1"}, {a, "u11"}, {b, "u1"}} {
		for i := range 2 {
			_, _, err := s.AppendEarnMark(c, mark(w.tn, "r1", w.user, int64(i+1), w.user+string(rune('a'+i))))
			must(t, err)
		}
	}
	for range 2 {
		must(t, s.EraseEarnUser(c, a, "u1"))
		ms, err := s.EarnMarks(c, a, "u1")
		must(t, err)
		eq(t, "erased", len(ms), 0)
	}
	for _, w := range []struct{ tn, user string }{{a, "u11"}, {b, "u1"}} {
		ms, err := s.EarnMarks(c, w.tn, w.user)
		must(t, err)
		eq(t, "kept for "+w.tn+"/"+w.user, len(ms), 2)
	}
}

// testTiers: a programme round-trips with compare-and-set versions.
func testTiers(t *testing.T, s LoyaltyStore) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	_, found, err := s.Tiers(c, a)
	must(t, err)
	eq(t, "found before any", found, false)
	p := loyalty.Programme{Version: 1, UpdatedAt: base.Truncate(time.Millisecond), Programme: tier.Programme{
		Basis: tier.Lifetime, GraceDays: 30, Review: tier.Review{Mode: tier.Calendar, Month: 1, Day: 1, TimeZone: "Europe/Paris"},
		Tiers: []tier.Tier{{Name: "silver"}, {Name: "gold", Threshold: 1000, Rewards: []string{"r1"}}}}}
	must(t, s.PutTiers(c, a, p))
	mustIs(t, s.PutTiers(c, a, p), errs.ErrDuplicate)
	got, found, err := s.Tiers(c, a)
	must(t, err)
	eq(t, "found", found, true)
	eq(t, "programme", got, p)
	p.Version = 2
	must(t, s.PutTiers(c, a, p))
	p.Version = 4
	mustIs(t, s.PutTiers(c, a, p), errs.ErrDuplicate)
	_, found, err = s.Tiers(c, b)
	must(t, err)
	eq(t, "other tenant", found, false)
}

// testTierStates: standings are compare-and-set by version; due ones of
// every tenant list soonest first, up to before; none due is never
// listed; erasure removes the standing.
func testTierStates(t *testing.T, s LoyaltyStore) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour).Truncate(time.Millisecond) }
	st := func(tn, user string, version int64, review time.Time) loyalty.TierState {
		return loyalty.TierState{Tenant: tn, User: user, Version: version, State: tier.State{Tier: "gold", Since: at(0), ReviewAt: review}}
	}
	must(t, s.PutTierState(c, st(a, "u1", 1, at(3))))
	mustIs(t, s.PutTierState(c, st(a, "u1", 1, at(3))), errs.ErrDuplicate)
	must(t, s.PutTierState(c, st(a, "u1", 2, at(2))))
	mustIs(t, s.PutTierState(c, st(a, "u1", 2, at(2))), errs.ErrDuplicate)
	mustIs(t, s.PutTierState(c, st(a, "nobody", 2, at(2))), errs.ErrDuplicate)
	must(t, s.PutTierState(c, st(b, "u1", 1, at(1))))
	must(t, s.PutTierState(c, st(a, "u2", 1, at(5))))
	must(t, s.PutTierState(c, st(a, "u3", 1, time.Time{})))
	// An announcement still owed makes a standing with no review due at
	// its retry (loyalty.TierState.DueAt), and is kept with it.
	owed := st(a, "u4", 1, time.Time{})
	grace := at(9)
	owed.Owed = []loyalty.Announcement{{Type: "tier.changed", From: "silver", To: "gold", Reason: "automatic",
		Key: "tier.changed:u4:1", At: at(1), GraceUntil: &grace, ReviewAt: at(8)}}
	must(t, s.PutTierState(c, owed))
	got, found, err := s.TierState(c, a, "u4")
	must(t, err)
	eq(t, "owed", got, owed)
	got, found, err = s.TierState(c, a, "u1")
	must(t, err)
	eq(t, "found", found, true)
	eq(t, "state", got, st(a, "u1", 2, at(2)))
	due, err := s.DueTierStates(c, at(4), 10)
	must(t, err)
	var names []string
	for _, d := range due {
		if d.Tenant == a || d.Tenant == b {
			names = append(names, d.Tenant+"/"+d.User)
		}
	}
	eq(t, "due", names, []string{b + "/u1", a + "/u4", a + "/u1"})
	none := st(a, "u2", 2, time.Time{})
	must(t, s.PutTierState(c, none))
	due, err = s.DueTierStates(c, at(100), 100)
	must(t, err)
	for _, d := range due {
		if d.Tenant == a && d.User != "u1" && d.User != "u4" {
			t.Fatalf("listed a standing with nothing due: %+v", d)
		}
	}
	for range 2 {
		must(t, s.EraseEarnUser(c, a, "u1"))
		_, found, err = s.TierState(c, a, "u1")
		must(t, err)
		eq(t, "erased", found, false)
	}
	_, found, err = s.TierState(c, b, "u1")
	must(t, err)
	eq(t, "other tenant kept", found, true)
}

// testReferrals: a user's code is made once and owned by one user; a
// referee claims once; a completion is stored once; paid completions
// count per referrer and month; erasure removes code and claim.
func testReferrals(t *testing.T, s LoyaltyStore) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	code, err := s.ReferralCode(c, a, "bob", "AAAA")
	must(t, err)
	eq(t, "code", code, "AAAA")
	code, err = s.ReferralCode(c, a, "bob", "BBBB")
	must(t, err)
	eq(t, "kept code", code, "AAAA")
	_, err = s.ReferralCode(c, a, "carol", "AAAA")
	mustIs(t, err, errs.ErrDuplicate)
	code, err = s.ReferralCode(c, b, "carol", "AAAA") // codes are per tenant
	must(t, err)
	eq(t, "other tenant's code", code, "AAAA")
	owner, err := s.CodeOwner(c, a, "AAAA")
	must(t, err)
	eq(t, "owner", owner, "bob")
	_, err = s.CodeOwner(c, a, "ZZZZ")
	mustIs(t, err, errs.ErrNotFound)

	claim := loyalty.Claim{Tenant: a, Referee: "carol", Referrer: "bob", Code: "AAAA", ClaimedAt: base.Truncate(time.Millisecond)}
	must(t, s.InsertClaim(c, claim))
	mustIs(t, s.InsertClaim(c, claim), errs.ErrDuplicate)
	got, found, err := s.ClaimOf(c, a, "carol")
	must(t, err)
	eq(t, "found", found, true)
	eq(t, "claim", got, claim)
	_, found, err = s.ClaimOf(c, b, "carol")
	must(t, err)
	eq(t, "other tenant", found, false)

	at := base.Add(time.Hour).Truncate(time.Millisecond)
	done, err := s.CompleteClaim(c, a, "carol", "e1", true, at)
	must(t, err)
	again, err := s.CompleteClaim(c, a, "carol", "e2", false, at.Add(time.Hour))
	must(t, err)
	eq(t, "completed once", again, done)
	eq(t, "completion event", done.EventID, "e1")
	eq(t, "referrer paid", done.ReferrerPaid, true)
	n, err := s.CountCompleted(c, a, "bob", base, base.Add(24*time.Hour))
	must(t, err)
	eq(t, "completed in the month", n, int64(1))
	n, err = s.CountCompleted(c, a, "bob", base.Add(2*time.Hour), base.Add(24*time.Hour))
	must(t, err)
	eq(t, "outside the range", n, int64(0))

	for range 2 {
		must(t, s.EraseEarnUser(c, a, "carol"))
		must(t, s.EraseEarnUser(c, a, "bob"))
	}
	_, found, err = s.ClaimOf(c, a, "carol")
	must(t, err)
	eq(t, "claim erased", found, false)
	_, err = s.CodeOwner(c, a, "AAAA")
	mustIs(t, err, errs.ErrNotFound)
	owner, err = s.CodeOwner(c, b, "AAAA")
	must(t, err)
	eq(t, "other tenant's code kept", owner, "carol")
}

// testReferralCompletionConcurrent: concurrent completions of one claim
// agree on the stored one (whichever won).
func testReferralCompletionConcurrent(t *testing.T, s LoyaltyStore) {
	c := ctx(t)
	a := tenant(t, "a")
	must(t, s.InsertClaim(c, loyalty.Claim{Tenant: a, Referee: "carol", Referrer: "bob", Code: "X", ClaimedAt: base}))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := s.CompleteClaim(c, a, "carol", "e"+string(rune('0'+i)), true, base); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	final, _, err := s.ClaimOf(c, a, "carol")
	must(t, err)
	if final.CompletedAt == nil || final.EventID == "" {
		t.Fatalf("not completed: %+v", final)
	}
}
