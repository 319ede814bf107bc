package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
)

// shareRule is a rule as rule.Parse returns it (normalized), so it reads
// back unchanged.
func shareRule() rule.Rule {
	return rule.Rule{
		Goals: []rule.Goal{{
			ID: "g1", Kind: rule.Count, EventType: "share", Target: "3",
			Filters: []rule.Filter{{Prop: "channel", Op: rule.Eq, Value: "instagram"}},
		}},
		Window: rule.Window{TimeZone: "UTC"},
	}
}

// fullRule uses every part of a rule. Its window times have
// sub-millisecond digits and a zone other than UTC: they come back
// truncated, in UTC, as rule.Normalize leaves them.
func fullRule() rule.Rule {
	zone := time.FixedZone("X", 2*3600)
	starts, ends := base.In(zone), base.Add(30*24*time.Hour)
	return rule.Rule{
		Goals: []rule.Goal{
			{ID: "g1", Kind: rule.Count, EventType: "share", Target: "3", Label: "Share three times",
				Filters: []rule.Filter{
					{Prop: "channel", Op: rule.In, Values: []any{"instagram", "tiktok"}},
					{Prop: "likes", Op: rule.Between, Values: []any{10.0, 99.5}},
					{Prop: "public", Op: rule.Eq, Value: true},
				}},
			{ID: "spend", Kind: rule.Sum, EventType: "purchase", Prop: "amount", Target: "42.5",
				Filters: []rule.Filter{{Prop: "currency", Op: rule.Ne, Value: "USD"}, {Prop: "refund", Op: rule.NotExists}}},
			{ID: "stores", Kind: rule.Distinct, EventType: "visit", Prop: "store_id", Target: "4"},
		},
		Ordered: true,
		Window:  rule.Window{StartsAt: &starts, EndsAt: &ends, Recurrence: rule.Weekly, TimeZone: "Europe/Paris"},
	}
}

func challenge(tn, cid string, status challenges.Status) challenges.Challenge {
	return challenges.Challenge{
		ID: cid, Tenant: tn, Name: "Share 3 times", Description: "Tell your friends", Status: status,
		Rule: shareRule(), Enrolment: challenges.Auto, Reward: challenges.Reward{Points: 50},
		Claim: challenges.AutoClaim, MaxCompletions: 1, CreatedAt: base, UpdatedAt: base, Version: 1,
	}
}

// storedChallenge is c as a store returns it: times truncated, the rule
// normalized.
func storedChallenge(c challenges.Challenge) challenges.Challenge {
	c.CreatedAt, c.UpdatedAt = ms(c.CreatedAt), ms(c.UpdatedAt)
	c.Rule = normalized(c.Rule)
	return c
}

// normalized is r after rule.Normalize, without touching r's slices.
func normalized(r rule.Rule) rule.Rule {
	goals := make([]rule.Goal, len(r.Goals))
	for i, g := range r.Goals {
		g.Filters = append([]rule.Filter(nil), g.Filters...)
		for j, f := range g.Filters {
			g.Filters[j].Values = append([]any(nil), f.Values...)
		}
		goals[i] = g
	}
	r.Goals = goals
	r.Normalize()
	return r
}

func testChallenges(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	// Written unnormalized: a rule reads back as rule.Normalize leaves it.
	loose := shareRule()
	loose.Goals[0].ID, loose.Goals[0].Target, loose.Window.TimeZone = "", "3.0", ""
	loose.Goals[0].Filters = []rule.Filter{{Prop: "n", Op: rule.Gte, Value: 3}}
	var listed []challenges.Challenge
	for _, tc := range []struct {
		name string
		edit func(*challenges.Challenge)
		want func(*challenges.Challenge)
	}{
		{"every field", func(ch *challenges.Challenge) {
			ch.Rule = fullRule()
			ch.Limits = &challenges.Limits{MinInterval: "10m", DailyCap: 5}
			ch.Enrolment = challenges.OptIn
			ch.Eligibility = &challenges.Eligibility{Tiers: []string{"gold"}, Segments: []string{"vip", "beta"}}
			ch.Reward = challenges.Reward{Points: 500, Badge: "b1", Unlock: "recipe-42"}
			ch.Claim, ch.MaxCompletions = challenges.ManualClaim, 0
		}, nil},
		{"no limits or eligibility", func(*challenges.Challenge) {}, nil},
		{"empty limits and eligibility", func(ch *challenges.Challenge) {
			ch.Limits = &challenges.Limits{}
			ch.Eligibility = &challenges.Eligibility{Tiers: []string{}, Segments: []string{}}
		}, func(ch *challenges.Challenge) {
			ch.Eligibility = &challenges.Eligibility{} // empty lists come back nil, the struct stays
		}},
		{"only segments", func(ch *challenges.Challenge) {
			ch.Eligibility = &challenges.Eligibility{Segments: []string{"beta"}}
		}, nil},
		{"rule normalized on read", func(ch *challenges.Challenge) { ch.Rule = loose }, func(ch *challenges.Challenge) {
			ch.Rule = shareRule()
			ch.Rule.Goals[0].Filters = []rule.Filter{{Prop: "n", Op: rule.Gte, Value: 3.0}}
		}},
	} {
		ch := challenge(a, id(), challenges.Published)
		tc.edit(&ch)
		must(t, s.CreateChallenge(c, ch))
		want := storedChallenge(ch)
		if tc.want != nil {
			tc.want(&want)
		}
		got, err := s.GetChallenge(c, a, ch.ID)
		must(t, err)
		eq(t, tc.name, got, want)
		listed = append(listed, want)
	}
	list, err := s.ListChallenges(c, a, "", "", 0)
	must(t, err)
	eq(t, "listed as read", list, listed)

	ch := challenge(a, id(), challenges.Draft)
	must(t, s.CreateChallenge(c, ch))
	mustIs(t, s.CreateChallenge(c, ch), errs.ErrDuplicate)
	_, err = s.GetChallenge(c, b, ch.ID)
	mustIs(t, err, errs.ErrNotFound)
	_, err = s.GetChallenge(c, a, id())
	mustIs(t, err, errs.ErrNotFound)
	// The same id may exist in another tenant.
	must(t, s.CreateChallenge(c, challenge(b, ch.ID, challenges.Draft)))
	if err := s.CreateChallenge(c, challenge(a, "", challenges.Draft)); err == nil {
		t.Fatal("challenge without an id accepted")
	}

	now := challenge(a, id(), challenges.Draft)
	now.CreatedAt, now.UpdatedAt = time.Time{}, time.Time{}
	before := ms(time.Now())
	must(t, s.CreateChallenge(c, now))
	got, err := s.GetChallenge(c, a, now.ID)
	must(t, err)
	if got.CreatedAt.Before(before) || got.UpdatedAt.Before(before) || got.CreatedAt.After(time.Now()) {
		t.Fatalf("zero times: created %v, updated %v, want now", got.CreatedAt, got.UpdatedAt)
	}
}

func testUpdateChallenge(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	ch := challenge(a, id(), challenges.Draft)
	ch.Eligibility = &challenges.Eligibility{Tiers: []string{"gold"}}
	must(t, s.CreateChallenge(c, ch))

	up := ch
	up.Name, up.Status, up.Version = "Share 5 times", challenges.Published, 2
	up.Rule = fullRule()
	up.Limits, up.Eligibility = &challenges.Limits{DailyCap: 2}, nil
	up.Enrolment, up.Claim, up.MaxCompletions = challenges.OptIn, challenges.ManualClaim, 3
	up.Reward = challenges.Reward{Unlock: "recipe-1"}
	up.UpdatedAt = base.Add(time.Minute)
	up.CreatedAt = base.Add(time.Hour) // ignored: creation time is immutable
	must(t, s.UpdateChallenge(c, up))
	got, err := s.GetChallenge(c, a, ch.ID)
	must(t, err)
	want := up
	want.CreatedAt = ch.CreatedAt
	eq(t, "after update", got, storedChallenge(want))

	// Version conflict: the same update again, and a stale one.
	mustIs(t, s.UpdateChallenge(c, up), errs.ErrDuplicate)
	stale := up
	stale.Version = 2
	stale.Name = "stale"
	mustIs(t, s.UpdateChallenge(c, stale), errs.ErrDuplicate)
	got, err = s.GetChallenge(c, a, ch.ID)
	must(t, err)
	eq(t, "after conflicts", got.Name, "Share 5 times")

	// Back to the plain challenge: optional parts are cleared.
	next := ch
	next.Version = 3
	must(t, s.UpdateChallenge(c, next))
	got, err = s.GetChallenge(c, a, ch.ID)
	must(t, err)
	eq(t, "after clearing", got, storedChallenge(next))

	other := next
	other.Tenant, other.Version = b, 4
	mustIs(t, s.UpdateChallenge(c, other), errs.ErrNotFound)
	missing := challenge(a, id(), challenges.Draft)
	missing.Version = 2
	mustIs(t, s.UpdateChallenge(c, missing), errs.ErrNotFound)
}

// testUpdateChallengeConcurrent races 20 edits of the same version: one
// wins, the others are conflicts, the stored challenge is the winner's,
// and the next version can still be written.
func testUpdateChallengeConcurrent(t *testing.T, s Store) {
	c := ctx(t)
	ch := challenge(tenant(t, "a"), id(), challenges.Draft)
	must(t, s.CreateChallenge(c, ch))
	edit := func(i int, version int64) challenges.Challenge {
		up := ch
		up.Name, up.Version = fmt.Sprint("edit ", i), version
		return up
	}
	winner := oneWins(t, func(i int) error { return s.UpdateChallenge(c, edit(i, 2)) })
	got, err := s.GetChallenge(c, ch.Tenant, ch.ID)
	must(t, err)
	eq(t, "after the race", got, storedChallenge(edit(winner, 2)))
	must(t, s.UpdateChallenge(c, edit(99, 3)))
}

func testListChallenges(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	cids := ids(5)
	statuses := []challenges.Status{challenges.Published, challenges.Draft, challenges.Published, challenges.Archived, challenges.Published}
	var all []challenges.Challenge
	// Created in reverse so the order comes from the id, not insertion.
	for i := len(cids) - 1; i >= 0; i-- {
		must(t, s.CreateChallenge(c, challenge(a, cids[i], statuses[i])))
	}
	for i := range cids {
		all = append(all, storedChallenge(challenge(a, cids[i], statuses[i])))
	}
	must(t, s.CreateChallenge(c, challenge(b, id(), challenges.Published)))

	for _, tc := range []struct {
		name   string
		status challenges.Status
		after  string
		limit  int
		want   []challenges.Challenge
	}{
		{"all", "", "", 10, all},
		{"first page", "", "", 2, all[:2]},
		{"second page", "", cids[1], 2, all[2:4]},
		{"last page", "", cids[3], 2, all[4:]},
		{"past the end", "", cids[4], 2, nil},
		{"published", challenges.Published, "", 10, []challenges.Challenge{all[0], all[2], all[4]}},
		{"published paged", challenges.Published, cids[0], 1, []challenges.Challenge{all[2]}},
		{"archived", challenges.Archived, "", 10, []challenges.Challenge{all[3]}},
		{"default limit", "", "", 0, all},
	} {
		got, err := s.ListChallenges(c, a, tc.status, tc.after, tc.limit)
		must(t, err)
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		eq(t, tc.name, got, tc.want)
	}
	got, err := s.ListChallenges(c, tenant(t, "none"), "", "", 10)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("unknown tenant listed %d challenges", len(got))
	}
}

func testContributions(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	cid := id()
	contrib := func(tn, user, period, goal, ev string, at time.Time) challenges.Contribution {
		return challenges.Contribution{Tenant: tn, ChallengeID: cid, User: user, Period: period,
			Goal: goal, EventID: ev, Amount: 1, At: at}
	}
	e1, e2, e3 := "e1-"+id(), "e2-"+id(), "e3-"+id()
	// Inserted out of order: reads order by (At, EventID, Goal).
	sum := contrib(a, "u1", "", "spend", e3, base)
	sum.Amount = 42_500
	store := contrib(a, "u1", "", "stores", e1, base.Add(time.Minute))
	store.Key = "s:berlin-1"
	first := []challenges.Contribution{
		store,
		contrib(a, "u1", "", "g1", e2, base),
		sum,
		contrib(a, "u1", "", "g1", e1, base),
		contrib(a, "u1", "", "stores", e2, base), // the same event, another goal
	}
	for _, x := range first {
		ok, err := s.AddContribution(c, x)
		must(t, err)
		if !ok {
			t.Fatalf("new contribution %s/%s: inserted=false", x.Goal, x.EventID)
		}
	}
	repeat := contrib(a, "u1", "", "g1", e1, base.Add(time.Hour))
	repeat.Amount = 7
	ok, err := s.AddContribution(c, repeat)
	must(t, err)
	if ok {
		t.Fatal("repeated contribution: inserted=true")
	}
	others := []challenges.Contribution{
		contrib(a, "u1", "2025-W11", "g1", e1, base), // another period
		contrib(a, "u2", "", "g1", e1, base),         // another user
		contrib(b, "u1", "", "g1", e1, base),         // another tenant
	}
	for _, x := range others {
		ok, err := s.AddContribution(c, x)
		must(t, err)
		if !ok {
			t.Fatalf("%+v: inserted=false", x)
		}
	}
	stored := func(xs ...challenges.Contribution) []challenges.Contribution {
		for i := range xs {
			xs[i].At = ms(xs[i].At)
		}
		return xs
	}
	for _, tc := range []struct {
		name                  string
		tn, cid, user, period string
		want                  []challenges.Contribution
	}{
		{"ordered by at, event, goal", a, cid, "u1", "",
			stored(first[3], first[1], first[4], first[2], first[0])},
		{"other period", a, cid, "u1", "2025-W11", stored(others[0])},
		{"other user", a, cid, "u2", "", stored(others[1])},
		{"other tenant", b, cid, "u1", "", stored(others[2])},
		{"unknown period", a, cid, "u1", "2025-W12", nil},
		{"unknown challenge", a, id(), "u1", "", nil},
		{"unknown tenant", tenant(t, "none"), cid, "u1", "", nil},
	} {
		got, err := s.Contributions(c, tc.tn, tc.cid, tc.user, tc.period)
		must(t, err)
		eq(t, tc.name, got, tc.want)
	}

	before := ms(time.Now())
	_, err = s.AddContribution(c, contrib(a, "u3", "", "g1", e1, time.Time{}))
	must(t, err)
	got, err := s.Contributions(c, a, cid, "u3", "")
	must(t, err)
	if len(got) != 1 || got[0].At.Before(before) || got[0].At.After(time.Now()) {
		t.Fatalf("zero At: %+v, want now", got)
	}
}

func testContributionsConcurrent(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	x := challenges.Contribution{Tenant: a, ChallengeID: id(), User: "u1", Goal: "g1", EventID: id(), Amount: 1, At: base}
	type res struct {
		ok  bool
		err error
	}
	out := parallel(20, func(int) res {
		ok, err := s.AddContribution(c, x)
		return res{ok, err}
	})
	n := 0
	for _, r := range out {
		must(t, r.err)
		if r.ok {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d of 20 concurrent contributions inserted, want 1", n)
	}
	got, err := s.Contributions(c, a, x.ChallengeID, "u1", "")
	must(t, err)
	x.At = ms(x.At)
	eq(t, "stored", got, []challenges.Contribution{x})
	tallyIs(t, s, x, base, base.Add(time.Hour), 1)

	// Distinct events racing into one new bucket each count once.
	y := x
	y.ChallengeID = id()
	out = parallel(20, func(i int) res {
		z := y
		z.EventID = fmt.Sprintf("e%d", i%10)
		ok, err := s.AddContribution(c, z)
		return res{ok, err}
	})
	for _, r := range out {
		must(t, r.err)
	}
	tallyIs(t, s, y, base, base.Add(time.Hour), 10)
}

// tallyIs checks the tally of x's goal over buckets starting in [from, to).
func tallyIs(t *testing.T, s Store, x challenges.Contribution, from, to time.Time, want int64) {
	t.Helper()
	got, err := s.Tally(ctx(t), x.Tenant, x.ChallengeID, x.User, x.Period, x.Goal, challenges.TallyBucket(from), to)
	must(t, err)
	if got != want {
		t.Fatalf("tally of %s/%s in [%s, %s) = %d, want %d", x.User, x.Goal, from, to, got, want)
	}
}

func testTallies(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	cid := id()
	h0 := challenges.TallyBucket(base)
	add := func(tn, user, period, goal, ev string, amount int64, at time.Time) challenges.Contribution {
		x := challenges.Contribution{Tenant: tn, ChallengeID: cid, User: user, Period: period,
			Goal: goal, EventID: ev, Amount: amount, At: at}
		_, err := s.AddContribution(c, x)
		must(t, err)
		return x
	}
	add(a, "u1", "", "g", "e1", 1, h0)                                 // first instant of bucket 0
	add(a, "u1", "", "g", "e2", 2, h0.Add(time.Hour-time.Millisecond)) // last instant of bucket 0
	add(a, "u1", "", "g", "e3", 4, h0.Add(time.Hour))                  // bucket 1
	add(a, "u1", "", "g", "e4", 8, h0.Add(5*time.Hour+time.Minute))    // bucket 5
	add(a, "u1", "", "g", "e1", 100, h0.Add(5*time.Hour))              // a repeat adds nothing
	add(a, "u1", "", "spend", "e1", 16, h0)                            // another goal
	add(a, "u1", "2025-W11", "g", "e5", 32, h0)                        // another period
	add(a, "u2", "", "g", "e6", 64, h0)                                // another user
	add(b, "u1", "", "g", "e7", 128, h0)                               // another tenant
	add(a, "u1", "", "g", "e8", 256, h0.Add(-time.Millisecond))        // the bucket before
	d1 := h0.Truncate(24 * time.Hour).Add(24 * time.Hour)              // the next UTC day
	add(a, "u1", "", "g", "e9", 512, d1.Add(26*time.Hour))             // two days on
	add(a, "u1", "", "g", "e10", 1024, d1.Add(72*time.Hour+time.Hour)) // four days on, 01:00
	for _, tc := range []struct {
		name                   string
		tn, user, period, goal string
		from, to               time.Time
		want                   int64
	}{
		{"one bucket", a, "u1", "", "g", h0, h0.Add(time.Hour), 3},
		{"two buckets", a, "u1", "", "g", h0, h0.Add(2 * time.Hour), 7},
		{"one day", a, "u1", "", "g", h0.Add(-time.Hour), h0.Add(24 * time.Hour), 271},
		{"across days", a, "u1", "", "g", h0.Add(-time.Hour), d1.Add(96 * time.Hour), 1807},
		{"whole days", a, "u1", "", "g", d1, d1.Add(72 * time.Hour), 512},
		{"days and hours", a, "u1", "", "g", d1.Add(2 * time.Hour), d1.Add(73*time.Hour + time.Minute), 1536},
		{"days and hours, short of the last", a, "u1", "", "g", d1.Add(2 * time.Hour), d1.Add(73 * time.Hour), 512},
		{"all of time", a, "u1", "", "g", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 1807},
		{"to is exclusive", a, "u1", "", "g", h0, h0.Add(5 * time.Hour), 7},
		{"by bucket start", a, "u1", "", "g", h0.Add(5 * time.Hour), h0.Add(5*time.Hour + time.Millisecond), 8},
		{"bucket before", a, "u1", "", "g", h0.Add(-time.Hour), h0, 256},
		{"empty range", a, "u1", "", "g", h0.Add(2 * time.Hour), h0.Add(5 * time.Hour), 0},
		{"other goal", a, "u1", "", "spend", h0, h0.Add(time.Hour), 16},
		{"other period", a, "u1", "2025-W11", "g", h0, h0.Add(time.Hour), 32},
		{"other user", a, "u2", "", "g", h0, h0.Add(time.Hour), 64},
		{"other tenant", b, "u1", "", "g", h0, h0.Add(time.Hour), 128},
		{"unknown goal", a, "u1", "", "nope", h0, h0.Add(time.Hour), 0},
	} {
		got, err := s.Tally(c, tc.tn, cid, tc.user, tc.period, tc.goal, tc.from, tc.to)
		must(t, err)
		if got != tc.want {
			t.Errorf("%s: tally = %d, want %d", tc.name, got, tc.want)
		}
	}

	events := func(xs []challenges.Contribution) []string {
		var out []string
		for _, x := range xs {
			out = append(out, x.Goal+"/"+x.EventID)
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     []string
	}{
		{"one bucket", h0, h0.Add(time.Hour), []string{"g/e1", "spend/e1", "g/e2"}},
		{"from is inclusive, to exclusive", h0.Add(-time.Millisecond), h0.Add(time.Hour - time.Millisecond), []string{"g/e8", "g/e1", "spend/e1"}},
		{"later", h0.Add(time.Hour), h0.Add(24 * time.Hour), []string{"g/e3", "g/e4"}},
		{"none", h0.Add(2 * time.Hour), h0.Add(5 * time.Hour), nil},
	} {
		got, err := s.ContributionsBetween(c, a, cid, "u1", "", tc.from, tc.to)
		must(t, err)
		eq(t, "between: "+tc.name, events(got), tc.want)
	}

	for _, tc := range []struct {
		name, goal, event string
		ok                bool
		amount            int64
	}{
		{"stored", "g", "e4", true, 8},
		{"first of a repeat", "g", "e1", true, 1},
		{"other goal", "spend", "e1", true, 16},
		{"missing event", "g", "e99", false, 0},
		{"missing goal", "nope", "e1", false, 0},
	} {
		x, ok, err := s.Contribution(c, a, cid, "u1", "", tc.goal, tc.event)
		must(t, err)
		if ok != tc.ok || x.Amount != tc.amount || ok && (x.EventID != tc.event || x.Goal != tc.goal) {
			t.Errorf("contribution %s: %+v ok=%v, want amount %d ok=%v", tc.name, x, ok, tc.amount, tc.ok)
		}
	}
	x, _, err := s.Contribution(c, a, cid, "u1", "", "g", "e4")
	must(t, err)
	if !x.At.Equal(ms(h0.Add(5*time.Hour + time.Minute))) {
		t.Errorf("contribution at = %s", x.At)
	}
}

func testCompletions(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	c1, c2 := id(), id()
	first := challenges.Completion{ID: id(), Tenant: a, ChallengeID: c1, User: "u1", Period: "", EventID: "e1", CompletedAt: base}
	got, inserted, err := s.InsertCompletion(c, first)
	must(t, err)
	want := first
	want.CompletedAt = ms(base)
	if !inserted {
		t.Fatal("first completion: inserted=false")
	}
	eq(t, "first completion", got, want)

	again := challenges.Completion{ID: id(), Tenant: a, ChallengeID: c1, User: "u1", EventID: "e2", CompletedAt: base.Add(time.Hour)}
	got, inserted, err = s.InsertCompletion(c, again)
	must(t, err)
	if inserted {
		t.Fatal("second completion of the period: inserted=true")
	}
	eq(t, "second completion returns the first", got, want)

	// Same id, other period: the id is taken.
	clash := first
	clash.Period = "2025-03"
	_, _, err = s.InsertCompletion(c, clash)
	mustIs(t, err, errs.ErrDuplicate)

	// Repeats of a repeatable challenge: "#n" periods, the same instant,
	// one of them claimed already.
	later := challenges.Completion{ID: id(), Tenant: a, ChallengeID: c1, User: "u1", Period: "#3", EventID: "e3",
		CompletedAt: base.Add(2 * time.Hour), ClaimedAt: msp(base.Add(3 * time.Hour))}
	tie := challenges.Completion{ID: id(), Tenant: a, ChallengeID: c1, User: "u1", Period: "#2", EventID: "e3b", CompletedAt: base.Add(2 * time.Hour)}
	other := challenges.Completion{ID: id(), Tenant: a, ChallengeID: c2, User: "u1", EventID: "e4", CompletedAt: base.Add(time.Hour)}
	for _, x := range []challenges.Completion{later, tie, other,
		{ID: id(), Tenant: a, ChallengeID: c1, User: "u2", EventID: "e5", CompletedAt: base},
		{ID: id(), Tenant: b, ChallengeID: c1, User: "u1", EventID: "e6", CompletedAt: base},
	} {
		got, inserted, err := s.InsertCompletion(c, x)
		must(t, err)
		if !inserted {
			t.Fatalf("%+v: inserted=false", x)
		}
		eq(t, "inserted", got.ClaimedAt, x.ClaimedAt)
	}
	for _, x := range []*challenges.Completion{&later, &tie, &other} {
		x.CompletedAt = ms(x.CompletedAt)
	}
	for _, tc := range []struct {
		name string
		list func() ([]challenges.Completion, error)
		want []challenges.Completion
	}{
		// later and tie share a time; their ids break the tie.
		{"user's, newest first", func() ([]challenges.Completion, error) { return s.UserCompletions(c, a, "u1") },
			[]challenges.Completion{tie, later, other, want}},
		{"one challenge's, oldest first", func() ([]challenges.Completion, error) { return s.ChallengeCompletions(c, a, c1, "u1") },
			[]challenges.Completion{want, later, tie}},
		{"other challenge", func() ([]challenges.Completion, error) { return s.ChallengeCompletions(c, a, c2, "u1") },
			[]challenges.Completion{other}},
		{"unknown user", func() ([]challenges.Completion, error) { return s.ChallengeCompletions(c, a, c1, "nobody") }, nil},
		{"unknown tenant", func() ([]challenges.Completion, error) { return s.UserCompletions(c, tenant(t, "none"), "u1") }, nil},
		{"unknown tenant, one challenge", func() ([]challenges.Completion, error) {
			return s.ChallengeCompletions(c, tenant(t, "none"), c1, "u1")
		}, nil},
	} {
		got, err := tc.list()
		must(t, err)
		eq(t, tc.name, got, tc.want)
	}

	// Defaults: an id and a time are filled in.
	got, inserted, err = s.InsertCompletion(c, challenges.Completion{Tenant: a, ChallengeID: c2, User: "u3", EventID: "e7"})
	must(t, err)
	if !inserted || got.ID == "" || got.CompletedAt.IsZero() {
		t.Fatalf("defaults: %+v inserted=%v", got, inserted)
	}
}

func testCompletionsConcurrent(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	cid := id()
	type res struct {
		c        challenges.Completion
		inserted bool
		err      error
	}
	out := parallel(20, func(i int) res {
		got, inserted, err := s.InsertCompletion(c, challenges.Completion{
			ID: id(), Tenant: a, ChallengeID: cid, User: "u1", Period: "p", EventID: fmt.Sprint("e", i), CompletedAt: base,
		})
		return res{got, inserted, err}
	})
	n := 0
	for _, r := range out {
		must(t, r.err)
		if r.inserted {
			n++
		}
		eq(t, "winner", r.c, out[0].c)
	}
	if n != 1 {
		t.Fatalf("%d of 20 concurrent completions inserted, want 1", n)
	}
	list, err := s.UserCompletions(c, a, "u1")
	must(t, err)
	eq(t, "stored completions", len(list), 1)
}

func testClaimCompletion(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	cid := id()
	done, _, err := s.InsertCompletion(c, challenges.Completion{Tenant: a, ChallengeID: cid, User: "u1", EventID: "e1", CompletedAt: base})
	must(t, err)
	paid, _, err := s.InsertCompletion(c, challenges.Completion{Tenant: a, ChallengeID: cid, User: "u2", EventID: "e2",
		CompletedAt: base, ClaimedAt: &base})
	must(t, err)
	claimedAt := func() *time.Time {
		t.Helper()
		list, err := s.ChallengeCompletions(c, a, cid, "u1")
		must(t, err)
		eq(t, "completions", len(list), 1)
		return list[0].ClaimedAt
	}
	if at := claimedAt(); at != nil {
		t.Fatalf("new completion claimed at %v", at)
	}
	for _, tc := range []struct {
		name    string
		tn, id  string
		at      time.Time
		claimed bool
		err     error
	}{
		{"first claim", a, done.ID, base.Add(time.Hour), true, nil},
		{"second claim", a, done.ID, base.Add(2 * time.Hour), false, nil},
		{"stored claimed", a, paid.ID, base.Add(time.Hour), false, nil},
		{"other tenant", b, done.ID, base, false, errs.ErrNotFound},
		{"unknown completion", a, id(), base, false, errs.ErrNotFound},
	} {
		claimed, err := s.ClaimCompletion(c, tc.tn, tc.id, tc.at)
		if tc.err != nil {
			mustIs(t, err, tc.err)
			continue
		}
		must(t, err)
		eq(t, tc.name, claimed, tc.claimed)
	}
	eq(t, "claimed at the first claim", claimedAt(), msp(base.Add(time.Hour)))
}

func testClaimCompletionConcurrent(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	cid := id()
	done, _, err := s.InsertCompletion(c, challenges.Completion{Tenant: a, ChallengeID: cid, User: "u1", EventID: "e1", CompletedAt: base})
	must(t, err)
	type res struct {
		claimed bool
		err     error
	}
	at := func(i int) time.Time { return base.Add(time.Duration(i+1) * time.Second) }
	out := parallel(20, func(i int) res {
		claimed, err := s.ClaimCompletion(c, a, done.ID, at(i))
		return res{claimed, err}
	})
	winner := -1
	for i, r := range out {
		must(t, r.err)
		if r.claimed {
			if winner >= 0 {
				t.Fatalf("claims %d and %d both succeeded", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no concurrent claim succeeded")
	}
	list, err := s.ChallengeCompletions(c, a, cid, "u1")
	must(t, err)
	eq(t, "claimed at the winner's time", list[0].ClaimedAt, msp(at(winner)))
}

func testJoin(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	cid := id()
	e := challenges.Membership{Tenant: a, ChallengeID: cid, User: "u1", JoinedAt: base}
	want := e
	want.JoinedAt = ms(base)
	got, inserted, err := s.Join(c, e)
	must(t, err)
	if !inserted {
		t.Fatal("first join: inserted=false")
	}
	eq(t, "first join", got, want)

	again := e
	again.JoinedAt = base.Add(time.Hour)
	got, inserted, err = s.Join(c, again)
	must(t, err)
	if inserted {
		t.Fatal("second join: inserted=true")
	}
	eq(t, "second join keeps the first time", got, want)

	for _, x := range []challenges.Membership{
		{Tenant: a, ChallengeID: cid, User: "u2", JoinedAt: base},
		{Tenant: a, ChallengeID: id(), User: "u1", JoinedAt: base},
		{Tenant: b, ChallengeID: cid, User: "u3", JoinedAt: base},
	} {
		_, inserted, err := s.Join(c, x)
		must(t, err)
		if !inserted {
			t.Fatalf("%+v: inserted=false", x)
		}
	}
	for _, tc := range []struct {
		name          string
		tn, cid, user string
		ok            bool
	}{
		{"joined", a, cid, "u1", true},
		{"not joined", a, cid, "u3", false},
		{"other challenge", a, id(), "u2", false},
		{"other tenant", b, cid, "u1", false},
	} {
		got, ok, err := s.Enrolled(c, tc.tn, tc.cid, tc.user)
		must(t, err)
		eq(t, tc.name, ok, tc.ok)
		if ok {
			eq(t, tc.name, got, want)
		}
	}

	before := ms(time.Now())
	got, _, err = s.Join(c, challenges.Membership{Tenant: a, ChallengeID: cid, User: "u4"})
	must(t, err)
	if got.JoinedAt.Before(before) || got.JoinedAt.After(time.Now()) {
		t.Fatalf("zero JoinedAt: %v, want now", got.JoinedAt)
	}
}

func testJoinConcurrent(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	cid := id()
	type res struct {
		e        challenges.Membership
		inserted bool
		err      error
	}
	out := parallel(20, func(i int) res {
		e, inserted, err := s.Join(c, challenges.Membership{Tenant: a, ChallengeID: cid, User: "u1",
			JoinedAt: base.Add(time.Duration(i) * time.Second)})
		return res{e, inserted, err}
	})
	n := 0
	for _, r := range out {
		must(t, r.err)
		if r.inserted {
			n++
		}
		eq(t, "winner", r.e, out[0].e)
	}
	if n != 1 {
		t.Fatalf("%d of 20 concurrent joins inserted, want 1", n)
	}
	got, ok, err := s.Enrolled(c, a, cid, "u1")
	must(t, err)
	eq(t, "enrolled", ok, true)
	eq(t, "enrolment", got, out[0].e)
}

func testUnlocks(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	unlock := func(tn, user, content string, at time.Time) challenges.Unlock {
		return challenges.Unlock{Tenant: tn, User: user, Content: content, Source: "challenge:c1", UnlockedAt: at}
	}
	older := unlock(a, "u1", "recipe-1", base)
	tieA := unlock(a, "u1", "recipe-2", base.Add(time.Hour))
	tieB := unlock(a, "u1", "recipe-3", base.Add(time.Hour))
	for _, u := range []challenges.Unlock{tieA, older, tieB,
		unlock(a, "u2", "recipe-1", base), unlock(b, "u1", "recipe-9", base)} {
		ok, err := s.AddUnlock(c, u)
		must(t, err)
		if !ok {
			t.Fatalf("%+v: inserted=false", u)
		}
	}
	repeat := unlock(a, "u1", "recipe-1", base.Add(24*time.Hour))
	repeat.Source = "challenge:c2"
	ok, err := s.AddUnlock(c, repeat)
	must(t, err)
	if ok {
		t.Fatal("repeated unlock: inserted=true")
	}
	for _, u := range []*challenges.Unlock{&older, &tieA, &tieB} {
		u.UnlockedAt = ms(u.UnlockedAt)
	}
	for _, tc := range []struct {
		name     string
		tn, user string
		want     []challenges.Unlock
	}{
		// Ties by content, descending; the repeat changed nothing.
		{"newest first", a, "u1", []challenges.Unlock{tieB, tieA, older}},
		{"other tenant", b, "u1", []challenges.Unlock{{Tenant: b, User: "u1", Content: "recipe-9", Source: "challenge:c1", UnlockedAt: ms(base)}}},
		{"unknown user", a, "nobody", nil},
	} {
		got, err := s.UserUnlocks(c, tc.tn, tc.user)
		must(t, err)
		eq(t, tc.name, got, tc.want)
	}

	out := parallel(20, func(int) error {
		_, err := s.AddUnlock(c, unlock(a, "u3", "gift", base))
		return err
	})
	for _, err := range out {
		must(t, err)
	}
	got, err := s.UserUnlocks(c, a, "u3")
	must(t, err)
	eq(t, "concurrent unlocks stored", len(got), 1)
}

func testChallengeStats(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	c1, c2 := id(), id()
	add := func(tn, cid, user, period, goal string) {
		t.Helper()
		_, err := s.AddContribution(c, challenges.Contribution{Tenant: tn, ChallengeID: cid, User: user,
			Period: period, Goal: goal, EventID: id(), Amount: 1, At: base})
		must(t, err)
	}
	complete := func(tn, cid, user, period string) {
		t.Helper()
		_, _, err := s.InsertCompletion(c, challenges.Completion{Tenant: tn, ChallengeID: cid, User: user, Period: period, EventID: id(), CompletedAt: base})
		must(t, err)
	}
	join := func(tn, cid, user string) {
		t.Helper()
		_, _, err := s.Join(c, challenges.Membership{Tenant: tn, ChallengeID: cid, User: user, JoinedAt: base})
		must(t, err)
	}
	// c1: u1 contributes in two periods to two goals, u2 once, u3 in
	// another period; u1 completes twice and u2 once; u1 and u4 (who never
	// contributed) joined.
	add(a, c1, "u1", "2025-W10", "g1")
	add(a, c1, "u1", "2025-W10", "g1")
	add(a, c1, "u1", "2025-W11", "g2")
	add(a, c1, "u2", "2025-W10", "g1")
	add(a, c1, "u3", "2025-W12", "g1")
	complete(a, c1, "u1", "2025-W10")
	complete(a, c1, "u1", "2025-W11")
	complete(a, c1, "u2", "2025-W10")
	join(a, c1, "u1")
	join(a, c1, "u4")
	// Another challenge and the same challenge id in another tenant.
	for _, tn := range []string{a, b} {
		cid := c2
		if tn == b {
			cid = c1
		}
		add(tn, cid, "u5", "", "g1")
		add(tn, cid, "u6", "", "g1")
		complete(tn, cid, "u5", "")
		join(tn, cid, "u7")
	}
	for _, tc := range []struct {
		name    string
		tn, cid string
		want    challenges.Stats
	}{
		{"challenge", a, c1, challenges.Stats{Participants: 3, Completions: 3, Completers: 2, Joined: 2}},
		{"other challenge", a, c2, challenges.Stats{Participants: 2, Completions: 1, Completers: 1, Joined: 1}},
		{"other tenant", b, c1, challenges.Stats{Participants: 2, Completions: 1, Completers: 1, Joined: 1}},
		{"unknown challenge", a, id(), challenges.Stats{}},
	} {
		got, err := s.ChallengeStats(c, tc.tn, tc.cid)
		must(t, err)
		eq(t, tc.name, got, tc.want)
	}
}
