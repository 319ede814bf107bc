package badges

import (
	"context"
	"errors"
	"fmt"
	"github.com/questline/questline/events"
	"slices"
	"testing"
	"time"

	"github.com/questline/questline/internal/errs"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustBadge(t *testing.T, d Definition) Badge {
	t.Helper()
	b, err := d.badge()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// contributions makes one contribution to goal per amount, an hour apart.
func contributions(goal string, amounts ...int64) []Contribution {
	cs := make([]Contribution, len(amounts))
	for i, a := range amounts {
		cs[i] = Contribution{Goal: goal, EventID: fmt.Sprint(i), Amount: a, At: t0.Add(time.Duration(i) * time.Hour)}
	}
	return cs
}

func TestReach(t *testing.T) {
	tiered := mustBadge(t, Definition{Name: "x", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"share","target":2}]}`),
		Tiers: []Tier{{Name: "bronze", Target: "2"}, {Name: "silver", Target: "5"}, {Name: "gold", Target: "10"}}})
	spent := mustBadge(t, Definition{Name: "x", Rule: events.RuleDoc(`{"goals":[{"kind":"sum","event_type":"purchase","prop":"amount","target":0.3}]}`),
		Tiers: []Tier{{Name: "bronze", Target: "0.3"}, {Name: "gold", Target: "1000"}}})
	both := mustBadge(t, Definition{Name: "x", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"share","target":2},{"kind":"count","event_type":"like","target":1}]}`)})
	ones := func(n int) []int64 { return slices.Repeat([]int64{1}, n) }
	tests := []struct {
		name string
		b    Badge
		cs   []Contribution
		want int
	}{
		{"none", tiered, nil, 0},
		{"below the first tier", tiered, contributions("g1", ones(1)...), 0},
		{"first tier", tiered, contributions("g1", ones(2)...), 1},
		{"between tiers", tiered, contributions("g1", ones(9)...), 2},
		{"every tier at once", tiered, contributions("g1", ones(10)...), 3},
		{"beyond the top", tiered, contributions("g1", ones(50)...), 3},
		{"exact decimal sum", spent, contributions("g1", 100, 200), 1}, // 0.1 + 0.2
		{"sum short by a thousandth", spent, contributions("g1", 100, 199), 0},
		{"sum top tier", spent, contributions("g1", 999_999, 1), 2},
		{"plain, one goal of two", both, contributions("g1", ones(5)...), 0},
		{"plain, both goals", both, append(contributions("g1", 1, 1), contributions("g2", 1)...), 1},
	}
	for _, tc := range tests {
		if got := tc.b.reach(tc.cs, t0); got != tc.want {
			t.Errorf("%s: reach = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// A late event completes the rolling windows it would have completed had
// it arrived in order: those ending at later contributions within a span.
func TestReachRollingLate(t *testing.T) {
	b := mustBadge(t, Definition{Name: "x", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"share","target":2}],"window":{"rolling":"7d"}}`)})
	day := 24 * time.Hour
	at := func(days ...int) []Contribution {
		cs := make([]Contribution, len(days))
		for i, d := range days {
			cs[i] = Contribution{Goal: "g1", EventID: fmt.Sprint(i), Amount: 1, At: t0.Add(time.Duration(d) * day)}
		}
		return cs
	}
	tests := []struct {
		name string
		cs   []Contribution
		late int // the day the judged event occurred
		want int
	}{
		{"in order", at(0, 3), 3, 1},
		{"late, a later one within the span", at(0, 3), 0, 1},
		{"late, a later one beyond the span", at(0, 7), 0, 0},
		{"in order, an earlier one beyond the span", at(0, 7), 7, 0},
		{"late, the later ones a span apart", at(0, 5, 12), 5, 1},
	}
	for _, tc := range tests {
		if got := b.reach(tc.cs, t0.Add(time.Duration(tc.late)*day)); got != tc.want {
			t.Errorf("%s: reach = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// fakeEditions numbers awards as the Store contract says: a user holding
// the slot gets it back, a taken edition is ErrDuplicate.
type fakeEditions struct {
	awards   []Award
	count    int64 // what CountAwards answers, possibly stale
	inserts  int
	countErr error
}

func (f *fakeEditions) CountAwards(context.Context, string, string, string) (int64, error) {
	return f.count, f.countErr
}

func (f *fakeEditions) InsertAward(_ context.Context, a Award) (Award, bool, error) {
	f.inserts++
	for _, x := range f.awards {
		if x.User == a.User && x.Tier == a.Tier && x.Period == a.Period {
			return x, false, nil
		}
	}
	for _, x := range f.awards {
		if x.Tier == a.Tier && x.Edition == a.Edition {
			return Award{}, false, fmt.Errorf("fake: %w", errs.ErrDuplicate)
		}
	}
	f.awards = append(f.awards, a)
	return a, true, nil
}

func TestClaimEdition(t *testing.T) {
	held := func(users ...string) []Award {
		out := make([]Award, len(users))
		for i, u := range users {
			out[i] = Award{User: u, Edition: int64(i + 1)}
		}
		return out
	}
	boom := errors.New("boom")
	tests := []struct {
		name     string
		store    fakeEditions
		limit    int64
		edition  int64 // 0: none
		inserted bool
		err      error
		inserts  int
	}{
		{"first", fakeEditions{}, 3, 1, true, nil, 1},
		{"next", fakeEditions{awards: held("a", "b"), count: 2}, 3, 3, true, nil, 1},
		{"stale count", fakeEditions{awards: held("a", "b"), count: 0}, 3, 3, true, nil, 3},
		{"sold out", fakeEditions{awards: held("a", "b", "c"), count: 3}, 3, 0, false, errSoldOut, 0},
		{"sold out, count stale", fakeEditions{awards: held("a", "b", "c"), count: 1}, 3, 0, false, errSoldOut, 2},
		{"held already", fakeEditions{awards: held("a", "u"), count: 1}, 3, 2, false, nil, 1},
		{"count fails", fakeEditions{countErr: boom}, 3, 0, false, boom, 0},
	}
	for _, tc := range tests {
		a, inserted, err := claimEdition(context.Background(), &tc.store, Award{User: "u"}, tc.limit)
		if a.Edition != tc.edition || inserted != tc.inserted || !errors.Is(err, tc.err) || tc.store.inserts != tc.inserts {
			t.Errorf("%s: edition %d, inserted %v, err %v after %d inserts; want %d, %v, %v after %d",
				tc.name, a.Edition, inserted, err, tc.store.inserts, tc.edition, tc.inserted, tc.err, tc.inserts)
		}
	}
}

func TestNextAndComplete(t *testing.T) {
	b := Badge{ID: "b", Tiers: []Tier{{Name: "bronze"}, {Name: "silver"}}}
	plain := Badge{ID: "p"}
	aw := func(tier, period string) Award { return Award{BadgeID: "b", Tier: tier, Period: period} }
	tests := []struct {
		name   string
		b      Badge
		as     []Award
		period string
		next   int
	}{
		{"nothing", b, nil, "", 0},
		{"bronze", b, []Award{aw("bronze", "")}, "", 1},
		{"all", b, []Award{aw("silver", ""), aw("bronze", "")}, "", -1},
		{"another period", b, []Award{aw("bronze", "2026-02")}, "2026-03", 0},
		{"plain held", plain, []Award{{BadgeID: "p"}}, "", -1},
		{"plain, expired still held", plain, []Award{{BadgeID: "p", ExpiresAt: &t0}}, "", -1},
	}
	for _, tc := range tests {
		if got := tc.b.next(tc.as, tc.period); got != tc.next {
			t.Errorf("%s: next = %d, want %d", tc.name, got, tc.next)
		}
		h := holdings{}
		for _, a := range tc.as {
			h[slot{a.BadgeID, a.Tier, a.Period}] = a
		}
		if got := h.complete(tc.b, tc.period); got != (tc.next < 0) {
			t.Errorf("%s: complete = %v", tc.name, got)
		}
	}
}

func TestVisible(t *testing.T) {
	tests := []struct {
		status Status
		hidden bool
		held   bool
		want   bool
	}{
		{Draft, false, false, false},
		{Published, false, false, true},
		{Published, true, false, false},
		{Published, true, true, true},
		{Archived, false, false, false},
		{Archived, false, true, true},
		{Archived, true, true, true},
	}
	for _, tc := range tests {
		if got := visible(Badge{Status: tc.status, Hidden: tc.hidden}, tc.held); got != tc.want {
			t.Errorf("visible(%s, hidden %v, held %v) = %v", tc.status, tc.hidden, tc.held, got)
		}
	}
}

func TestShowcased(t *testing.T) {
	b := Badge{ID: "b", Name: "Spender", Tiers: []Tier{{Name: "bronze"}, {Name: "silver"}, {Name: "gold"}}}
	past, future := t0.Add(-time.Hour), t0.Add(time.Hour)
	aw := func(tier, period string, at time.Time, exp *time.Time) Award {
		return Award{BadgeID: "b", Tier: tier, Period: period, AwardedAt: at, ExpiresAt: exp}
	}
	tests := []struct {
		name    string
		as      []Award // newest first
		ok      bool
		tier    string
		periods int
	}{
		{"none", nil, false, "", 0},
		{"all expired", []Award{aw("gold", "", past, &past)}, false, "", 0},
		{"highest tier", []Award{aw("bronze", "", t0, nil), aw("silver", "", past, nil)}, true, "silver", 1},
		{"expired top tier left out", []Award{aw("gold", "", t0, &past), aw("silver", "", past, &future)}, true, "silver", 1},
		{"earned in two periods", []Award{aw("bronze", "2026-03", t0, nil), aw("bronze", "2026-02", past, nil)}, true, "bronze", 2},
	}
	for _, tc := range tests {
		e, ok := showcased(b, tc.as, t0)
		if ok != tc.ok || e.Tier != tc.tier || e.Periods != tc.periods {
			t.Errorf("%s: %+v, %v; want tier %q in %d periods, %v", tc.name, e, ok, tc.tier, tc.periods, tc.ok)
		}
	}
	if e, _ := showcased(b, []Award{aw("bronze", "2026-03", t0, nil), aw("bronze", "2026-02", past, nil)}, t0); !e.AwardedAt.Equal(t0) {
		t.Errorf("shows the award of %v, want the newest", e.AwardedAt)
	}
}

func TestExpired(t *testing.T) {
	past, future := t0.Add(-time.Millisecond), t0.Add(time.Millisecond)
	for _, tc := range []struct {
		exp  *time.Time
		want bool
	}{{nil, false}, {&past, true}, {&t0, true}, {&future, false}} {
		if got := expired(Award{ExpiresAt: tc.exp}, t0); got != tc.want {
			t.Errorf("expires %v: expired = %v", tc.exp, got)
		}
	}
}
