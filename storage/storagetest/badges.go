package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/questline/questline/badges"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
)

func badge(tn, bid string, status badges.Status) badges.Badge {
	return badges.Badge{
		ID: bid, Tenant: tn, Name: "Reviewer", Description: "Write reviews", ImageURL: "https://img.example/r.png",
		Status: status, Rule: shareRule(), CreatedAt: base, UpdatedAt: base, Version: 1,
	}
}

// storedBadge is b as a store returns it.
func storedBadge(b badges.Badge) badges.Badge {
	b.CreatedAt, b.UpdatedAt = ms(b.CreatedAt), ms(b.UpdatedAt)
	b.Rule = normalized(b.Rule)
	if len(b.Tiers) == 0 {
		b.Tiers = nil
	}
	return b
}

func testBadges(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	var listed []badges.Badge
	for _, tc := range []struct {
		name string
		edit func(*badges.Badge)
	}{
		{"every field", func(bg *badges.Badge) {
			bg.Rule = fullRule()
			bg.Tiers = []badges.Tier{{Name: "bronze", Target: "5"}, {Name: "silver", Target: "20"}, {Name: "gold", Target: "50.5"}}
			bg.Hidden, bg.Limit, bg.ValidFor = true, 100, "30d"
		}},
		{"plain", func(*badges.Badge) {}},
		{"empty tiers", func(bg *badges.Badge) { bg.Tiers = []badges.Tier{} }},
		{"rule with a window", func(bg *badges.Badge) {
			bg.Rule.Window = rule.Window{Rolling: "7d", TimeZone: "UTC", EndsAt: msp(base.Add(time.Hour))}
		}},
	} {
		bg := badge(a, id(), badges.Published)
		tc.edit(&bg)
		must(t, s.CreateBadge(c, bg))
		got, err := s.GetBadge(c, a, bg.ID)
		must(t, err)
		eq(t, tc.name, got, storedBadge(bg))
		listed = append(listed, storedBadge(bg))
	}
	list, err := s.ListBadges(c, a, "", "", 0)
	must(t, err)
	eq(t, "listed as read", list, listed)

	bg := badge(a, id(), badges.Draft)
	must(t, s.CreateBadge(c, bg))
	mustIs(t, s.CreateBadge(c, bg), errs.ErrDuplicate)
	_, err = s.GetBadge(c, b, bg.ID)
	mustIs(t, err, errs.ErrNotFound)
	_, err = s.GetBadge(c, a, id())
	mustIs(t, err, errs.ErrNotFound)
	must(t, s.CreateBadge(c, badge(b, bg.ID, badges.Draft)))
	if err := s.CreateBadge(c, badge(a, "", badges.Draft)); err == nil {
		t.Fatal("badge without an id accepted")
	}
}

func testUpdateBadge(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	bg := badge(a, id(), badges.Draft)
	bg.Tiers = []badges.Tier{{Name: "bronze", Target: "1"}}
	must(t, s.CreateBadge(c, bg))

	up := bg
	up.Name, up.Status, up.Version = "Critic", badges.Published, 2
	up.Rule, up.Tiers, up.Hidden, up.Limit, up.ValidFor = fullRule(), nil, true, 10, "720h"
	up.UpdatedAt = base.Add(time.Minute)
	up.CreatedAt = base.Add(time.Hour) // ignored
	must(t, s.UpdateBadge(c, up))
	got, err := s.GetBadge(c, a, bg.ID)
	must(t, err)
	want := up
	want.CreatedAt = bg.CreatedAt
	eq(t, "after update", got, storedBadge(want))

	mustIs(t, s.UpdateBadge(c, up), errs.ErrDuplicate)
	stale := up
	stale.Name = "stale"
	mustIs(t, s.UpdateBadge(c, stale), errs.ErrDuplicate)
	got, err = s.GetBadge(c, a, bg.ID)
	must(t, err)
	eq(t, "after conflicts", got.Name, "Critic")

	other := up
	other.Tenant, other.Version = b, 3
	mustIs(t, s.UpdateBadge(c, other), errs.ErrNotFound)
	missing := badge(a, id(), badges.Draft)
	missing.Version = 2
	mustIs(t, s.UpdateBadge(c, missing), errs.ErrNotFound)
}

// testUpdateBadgeConcurrent races 20 edits of the same version, as
// testUpdateChallengeConcurrent does for challenges.
func testUpdateBadgeConcurrent(t *testing.T, s Store) {
	c := ctx(t)
	b := badge(tenant(t, "a"), id(), badges.Draft)
	must(t, s.CreateBadge(c, b))
	edit := func(i int, version int64) badges.Badge {
		up := b
		up.Name, up.Version = fmt.Sprint("edit ", i), version
		return up
	}
	winner := oneWins(t, func(i int) error { return s.UpdateBadge(c, edit(i, 2)) })
	got, err := s.GetBadge(c, b.Tenant, b.ID)
	must(t, err)
	eq(t, "after the race", got.Name, edit(winner, 2).Name)
	eq(t, "version after the race", got.Version, int64(2))
	must(t, s.UpdateBadge(c, edit(99, 3)))
}

func testListBadges(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	bids := ids(4)
	statuses := []badges.Status{badges.Published, badges.Draft, badges.Archived, badges.Published}
	var all []badges.Badge
	for i := len(bids) - 1; i >= 0; i-- {
		must(t, s.CreateBadge(c, badge(a, bids[i], statuses[i])))
	}
	for i := range bids {
		all = append(all, storedBadge(badge(a, bids[i], statuses[i])))
	}
	must(t, s.CreateBadge(c, badge(b, id(), badges.Published)))
	for _, tc := range []struct {
		name   string
		tn     string
		status badges.Status
		after  string
		limit  int
		want   []badges.Badge
	}{
		{"all", a, "", "", 10, all},
		{"first page", a, "", "", 3, all[:3]},
		{"second page", a, "", bids[2], 3, all[3:]},
		{"past the end", a, "", bids[3], 3, nil},
		{"published", a, badges.Published, "", 10, []badges.Badge{all[0], all[3]}},
		{"published paged", a, badges.Published, bids[0], 10, []badges.Badge{all[3]}},
		{"default limit", a, "", "", 0, all},
		{"unknown tenant", tenant(t, "none"), "", "", 10, nil},
	} {
		got, err := s.ListBadges(c, tc.tn, tc.status, tc.after, tc.limit)
		must(t, err)
		eq(t, tc.name, got, tc.want)
	}
}

func testBadgeContributions(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	bid := id()
	contrib := func(tn, user, period, goal, ev string, at time.Time) badges.Contribution {
		return badges.Contribution{Tenant: tn, BadgeID: bid, User: user, Period: period, Goal: goal,
			EventID: ev, Amount: 1, Key: "n:" + ev, At: at}
	}
	e1, e2 := "e1-"+id(), "e2-"+id()
	first := []badges.Contribution{
		contrib(a, "u1", "2025-03", "g1", e1, base.Add(time.Minute)),
		contrib(a, "u1", "2025-03", "g2", e2, base),
		contrib(a, "u1", "2025-03", "g1", e2, base),
	}
	others := []badges.Contribution{
		contrib(a, "u1", "2025-04", "g1", e1, base), // another period
		contrib(a, "u2", "2025-03", "g1", e1, base), // another user
		contrib(b, "u1", "2025-03", "g1", e1, base), // another tenant
	}
	for _, x := range append(slices.Clone(first), others...) {
		ok, err := s.AddBadgeContribution(c, x)
		must(t, err)
		if !ok {
			t.Fatalf("%+v: inserted=false", x)
		}
	}
	ok, err := s.AddBadgeContribution(c, contrib(a, "u1", "2025-03", "g1", e1, base))
	must(t, err)
	if ok {
		t.Fatal("repeated badge contribution: inserted=true")
	}
	stored := func(xs ...badges.Contribution) []badges.Contribution {
		for i := range xs {
			xs[i].At = ms(xs[i].At)
		}
		return xs
	}
	for _, tc := range []struct {
		name                  string
		tn, bid, user, period string
		want                  []badges.Contribution
	}{
		{"ordered by at, event, goal", a, bid, "u1", "2025-03", stored(first[2], first[1], first[0])},
		{"other period", a, bid, "u1", "2025-04", stored(others[0])},
		{"other user", a, bid, "u2", "2025-03", stored(others[1])},
		{"other tenant", b, bid, "u1", "2025-03", stored(others[2])},
		{"unknown badge", a, id(), "u1", "2025-03", nil},
	} {
		got, err := s.BadgeContributions(c, tc.tn, tc.bid, tc.user, tc.period)
		must(t, err)
		eq(t, tc.name, got, tc.want)
	}

	x := contrib(a, "u9", "", "g1", id(), base)
	out := parallel(20, func(int) error {
		_, err := s.AddBadgeContribution(c, x)
		return err
	})
	for _, err := range out {
		must(t, err)
	}
	got, err := s.BadgeContributions(c, a, bid, "u9", "")
	must(t, err)
	eq(t, "concurrent contributions stored", got, stored(x))
}

func award(tn, bid, user, tier string, edition int64, at time.Time) badges.Award {
	return badges.Award{ID: id(), Tenant: tn, BadgeID: bid, User: user, Tier: tier, Edition: edition,
		EventID: "e-" + user, Source: "event:e-" + user, AwardedAt: at}
}

func storedAward(a badges.Award) badges.Award {
	a.AwardedAt = ms(a.AwardedAt)
	if a.ExpiresAt != nil {
		a.ExpiresAt = msp(*a.ExpiresAt)
	}
	return a
}

func testInsertAward(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	bid := id()
	first := award(a, bid, "u1", "bronze", 1, base)
	first.Period, first.ExpiresAt = "2025-03", &base
	got, inserted, err := s.InsertAward(c, first)
	must(t, err)
	if !inserted {
		t.Fatal("first award: inserted=false")
	}
	want := storedAward(first)
	eq(t, "first award", got, want)

	// The user's (badge, tier, period) is taken whatever the edition.
	for _, edition := range []int64{1, 2, 0} {
		again := award(a, bid, "u1", "bronze", edition, base.Add(time.Hour))
		again.Period = "2025-03"
		got, inserted, err := s.InsertAward(c, again)
		must(t, err)
		if inserted {
			t.Fatalf("repeat with edition %d: inserted=true", edition)
		}
		eq(t, fmt.Sprint("repeat with edition ", edition), got, want)
	}

	for _, tc := range []struct {
		name string
		a    badges.Award
		err  error
	}{
		{"edition held by another user", award(a, bid, "u2", "bronze", 1, base), errs.ErrDuplicate},
		{"id held by another award", func() badges.Award { x := award(a, bid, "u3", "bronze", 0, base); x.ID = first.ID; return x }(), errs.ErrDuplicate},
		{"next edition", award(a, bid, "u2", "bronze", 2, base), nil},
		{"same edition, other tier", award(a, bid, "u2", "silver", 1, base), nil},
		{"same edition, other badge", award(a, id(), "u2", "bronze", 1, base), nil},
		{"same edition, other tenant", award(b, bid, "u2", "bronze", 1, base), nil},
		{"other period", func() badges.Award { x := award(a, bid, "u1", "bronze", 3, base); x.Period = "2025-04"; return x }(), nil},
		{"unnumbered", award(a, bid, "u4", "bronze", 0, base), nil},
		{"unnumbered again", award(a, bid, "u5", "bronze", 0, base), nil},
		{"plain badge", award(a, bid, "u4", "", 0, base), nil},
	} {
		got, inserted, err := s.InsertAward(c, tc.a)
		if tc.err != nil {
			mustIs(t, err, tc.err)
			continue
		}
		must(t, err)
		if !inserted {
			t.Fatalf("%s: inserted=false", tc.name)
		}
		eq(t, tc.name, got, storedAward(tc.a))
	}
	// The refused awards stored nothing.
	list, err := s.UserAwards(c, a, "u3")
	must(t, err)
	eq(t, "awards of a refused user", len(list), 0)
	n, err := s.CountAwards(c, a, bid, "bronze")
	must(t, err)
	eq(t, "bronze awards", n, int64(5)) // u1 twice, u2, u4, u5

	before := ms(time.Now())
	got, inserted, err = s.InsertAward(c, badges.Award{Tenant: a, BadgeID: bid, User: "u6", Source: "challenge:c1"})
	must(t, err)
	if !inserted || got.ID == "" || got.AwardedAt.Before(before) || got.AwardedAt.After(time.Now()) {
		t.Fatalf("defaults: %+v inserted=%v, want an id and now", got, inserted)
	}
}

func testInsertAwardConcurrent(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	bid := id()
	type res struct {
		a        badges.Award
		inserted bool
		err      error
	}
	out := parallel(20, func(i int) res {
		// Even editions too: the user's key decides, not the edition.
		got, inserted, err := s.InsertAward(c, award(a, bid, "u1", "gold", int64(i%3), base))
		return res{got, inserted, err}
	})
	n := 0
	for _, r := range out {
		must(t, r.err)
		if r.inserted {
			n++
		}
		eq(t, "winner", r.a, out[0].a)
	}
	if n != 1 {
		t.Fatalf("%d of 20 concurrent awards inserted, want 1", n)
	}
	list, err := s.UserAwards(c, a, "u1")
	must(t, err)
	eq(t, "stored awards", list, []badges.Award{out[0].a})
}

// testLimitedEdition races 20 users for a 5-edition badge the way the
// badges service claims one: try editions 1..5 in turn, moving on when one
// is taken. Exactly editions 1 to 5 must be awarded, once each.
func testLimitedEdition(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	bid := id()
	const limit = 5
	out := parallel(20, func(i int) error {
		for e := int64(1); e <= limit; e++ {
			_, _, err := s.InsertAward(c, award(a, bid, fmt.Sprint("u", i), "", e, base))
			if !errors.Is(err, errs.ErrDuplicate) {
				return err
			}
		}
		return nil // sold out
	})
	for _, err := range out {
		must(t, err)
	}
	n, err := s.CountAwards(c, a, bid, "")
	must(t, err)
	eq(t, "awards", n, int64(limit))
	var editions []int64
	for i := range 20 {
		list, err := s.UserAwards(c, a, fmt.Sprint("u", i))
		must(t, err)
		for _, x := range list {
			editions = append(editions, x.Edition)
		}
	}
	slices.Sort(editions)
	eq(t, "editions", editions, []int64{1, 2, 3, 4, 5})
}

func testUserAwards(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	b1, b2 := id(), id()
	old := award(a, b1, "u1", "bronze", 0, base)
	tie1 := award(a, b1, "u1", "silver", 0, base.Add(time.Hour))
	tie2 := award(a, b2, "u1", "", 0, base.Add(time.Hour))
	for _, x := range []badges.Award{tie2, old, tie1,
		award(a, b1, "u2", "bronze", 0, base), award(b, b1, "u1", "bronze", 0, base)} {
		_, _, err := s.InsertAward(c, x)
		must(t, err)
	}
	for _, tc := range []struct {
		name     string
		tn, user string
		want     []badges.Award
	}{
		// tie1 and tie2 share a time; ids, descending, break the tie.
		{"newest first", a, "u1", []badges.Award{storedAward(tie2), storedAward(tie1), storedAward(old)}},
		{"unknown user", a, "nobody", nil},
		{"unknown tenant", tenant(t, "none"), "u1", nil},
	} {
		got, err := s.UserAwards(c, tc.tn, tc.user)
		must(t, err)
		eq(t, tc.name, got, tc.want)
	}
	for _, tc := range []struct {
		name          string
		tn, bid, tier string
		want          int64
	}{
		{"bronze", a, b1, "bronze", 2},
		{"silver", a, b1, "silver", 1},
		{"plain", a, b2, "", 1},
		{"no such tier", a, b1, "gold", 0},
		{"other tenant", b, b1, "bronze", 1},
	} {
		n, err := s.CountAwards(c, tc.tn, tc.bid, tc.tier)
		must(t, err)
		eq(t, tc.name, n, tc.want)
	}
}

func testHeldAwards(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	b1, b2 := id(), id()
	bronze := award(a, b1, "u1", "bronze", 0, base)
	silver := award(a, b1, "u1", "silver", 0, base.Add(time.Hour))
	weekly := award(a, b1, "u1", "bronze", 0, base)
	weekly.Period = "2025-W11"
	plain := award(a, b2, "u1", "", 0, base)
	for _, x := range []badges.Award{bronze, silver, weekly, plain,
		award(a, b1, "u2", "gold", 0, base), award(b, b1, "u1", "gold", 0, base)} {
		_, _, err := s.InsertAward(c, x)
		must(t, err)
	}
	tiers := []string{"bronze", "silver", "gold"}
	byTier := func(as []badges.Award) map[string]badges.Award {
		m := map[string]badges.Award{}
		for _, x := range as {
			m[x.Tier] = x
		}
		return m
	}
	for _, tc := range []struct {
		name                  string
		tn, user, bid, period string
		tiers                 []string
		want                  []badges.Award
	}{
		{"two of three tiers", a, "u1", b1, "", tiers, []badges.Award{storedAward(bronze), storedAward(silver)}},
		{"only the tiers asked", a, "u1", b1, "", []string{"silver"}, []badges.Award{storedAward(silver)}},
		{"other period", a, "u1", b1, "2025-W11", tiers, []badges.Award{storedAward(weekly)}},
		{"plain badge", a, "u1", b2, "", []string{""}, []badges.Award{storedAward(plain)}},
		{"other user's tier", a, "u1", b1, "", []string{"gold"}, nil},
		{"unknown period", a, "u1", b1, "2025-W12", tiers, nil},
		{"unknown tenant", tenant(t, "none"), "u1", b1, "", tiers, nil},
		{"no tiers", a, "u1", b1, "", nil, nil},
	} {
		got, err := s.HeldAwards(c, tc.tn, tc.user, tc.bid, tc.period, tc.tiers)
		must(t, err)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d awards %+v, want %d", tc.name, len(got), got, len(tc.want))
			continue
		}
		eq(t, tc.name, byTier(got), byTier(tc.want))
	}
}
