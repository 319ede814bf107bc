package storagetest

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/analytics"
	"github.com/questline/questline/badges"
	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/retention"
)

// RetentionStore is what the retention cases need: a whole backend and
// the prune's own methods.
type RetentionStore interface {
	Store
	retention.Store
	analytics.Store
}

// RunRetention runs the retention cases against stores made by open (as
// for Run). Prunes of contributions and scores may keep everything where a
// store cannot keep their tallies or totals exact (MongoDB on FerretDB):
// the cases then check that nothing was lost.
func RunRetention(t *testing.T, open func(t *testing.T) RetentionStore) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s RetentionStore)
	}{
		{"Settings", testRetentionSettings},
		{"PruneEvents", testPruneEvents},
		{"PruneContributions", testPruneContributions},
		{"PruneBadgeContributions", testPruneBadgeContributions},
		{"PruneScores", testPruneScores},
		{"FoldScore", testFoldScore},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// IDAt is a UUIDv7 minted at t, as the intake mints event ids: for
// histories written into the past.
func IDAt(t time.Time) string {
	u := uuid.Must(uuid.NewV7())
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(t.UnixMilli()))
	copy(u[:6], ts[2:])
	return u.String()
}

// cutoff is the prune's "before" in the cases; old lies before it.
var (
	cutoff = ms(base.Add(-30 * 24 * time.Hour))
	old    = cutoff.Add(-48 * time.Hour)
)

func testRetentionSettings(t *testing.T, s RetentionStore) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	if _, ok, err := s.RetentionDays(c, a); err != nil || ok {
		t.Fatalf("unset: ok %v, %v", ok, err)
	}
	for _, days := range []int{30, 500} {
		must(t, s.SetRetentionDays(c, a, days, base))
		if got, ok, err := s.RetentionDays(c, a); err != nil || !ok || got != days {
			t.Fatalf("after setting %d: %d, %v, %v", days, got, ok, err)
		}
	}
	if _, ok, err := s.RetentionDays(c, b); err != nil || ok {
		t.Fatalf("another tenant's setting leaked: ok %v, %v", ok, err)
	}
}

func testPruneEvents(t *testing.T, s RetentionStore) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	add := func(tn, key string, at time.Time) events.Event {
		e := event(tn, key, at)
		e.ID = IDAt(at)
		_, _, err := s.InsertEvent(c, e)
		must(t, err)
		return e
	}
	done := func(e events.Event) {
		must(t, s.MarkProcessed(c, e.Tenant, e.ID, events.Result{EventID: e.ID}, e.ReceivedAt))
	}
	oldDone, oldDead, oldWaiting := add(a, "old-done", old), add(a, "old-dead", old.Add(time.Hour)), add(a, "old-waiting", old.Add(2*time.Hour))
	newDone, otherOld := add(a, "new-done", cutoff.Add(time.Hour)), add(b, "other-old", old)
	for _, e := range []events.Event{oldDone, newDone, otherOld} {
		done(e)
	}
	// Each event counted in the analytics rollups, as the write path does.
	fact := func(e events.Event) analytics.Fact {
		return analytics.Fact{Tenant: e.Tenant, Key: analytics.EventMarkPrefix + e.IdempotencyKey, At: e.OccurredAt,
			Counts: map[string]int64{analytics.MetricEvents: 1}}
	}
	all := []events.Event{oldDone, oldDead, oldWaiting, newDone, otherOld}
	for _, e := range all {
		if fresh, err := s.RecordFact(c, fact(e)); err != nil || !fresh {
			t.Fatalf("count %s: fresh %v, %v", e.IdempotencyKey, fresh, err)
		}
	}
	dead := old.Add(3 * time.Hour)
	must(t, s.RecordAttempt(c, a, oldDead.ID, events.Attempt{Attempts: 5, NextAt: dead, DeadAt: &dead, DeadReason: "poison"}))

	if at, ok, err := s.PendingSince(c, a); err != nil || !ok || !at.Equal(ms(oldDead.ReceivedAt)) {
		t.Fatalf("pending since: %v, %v, %v; want the dead event's %v", at, ok, err, ms(oldDead.ReceivedAt))
	}
	var reported int64
	n, err := s.PruneEvents(c, a, cutoff, func(d int64) { reported = d })
	must(t, err)
	if n != 2 || reported != 2 {
		t.Fatalf("pruned %d (reported %d), want the old processed and the old dead event", n, reported)
	}
	// Only the waiting event is pending now.
	if at, ok, err := s.PendingSince(c, a); err != nil || !ok || !at.Equal(ms(oldWaiting.ReceivedAt)) {
		t.Fatalf("pending since after the prune: %v, %v, %v", at, ok, err)
	}
	// A pruned event's key is forgotten, its analytics marker with it:
	// sending it again makes a new event, counted once more. A kept
	// event's marker stays, so it never counts twice.
	for _, tc := range []struct {
		e    events.Event
		kept bool
	}{{oldDone, false}, {oldDead, false}, {oldWaiting, true}, {newDone, true}, {otherOld, true}} {
		if fresh, err := s.RecordFact(c, fact(tc.e)); err != nil || fresh == tc.kept {
			t.Errorf("%s: marker kept %v (%v), want %v", tc.e.IdempotencyKey, !fresh, err, tc.kept)
		}
		stored, inserted, err := s.InsertEvent(c, tc.e)
		must(t, err)
		if kept := !inserted && stored.ID == tc.e.ID; kept != tc.kept {
			t.Errorf("%s: kept %v, want %v", tc.e.IdempotencyKey, kept, tc.kept)
		}
	}
	tenants, err := s.EventTenants(c)
	must(t, err)
	if !slices.Contains(tenants, a) || !slices.Contains(tenants, b) {
		t.Errorf("event tenants %v lack %s or %s", tenants, a, b)
	}
}

func testPruneContributions(t *testing.T, s RetentionStore) {
	c := ctx(t)
	a := tenant(t, "a")
	contrib := func(cid, user string, at time.Time) challenges.Contribution {
		return challenges.Contribution{Tenant: a, ChallengeID: cid, User: user, Period: "", Goal: "g1",
			EventID: IDAt(at), Amount: 2, At: at}
	}
	var sent []challenges.Contribution
	for i := range 5 {
		sent = append(sent, contrib("c1", fmt.Sprintf("u%d", i%2), old.Add(time.Duration(i)*time.Hour)),
			contrib("c1", fmt.Sprintf("u%d", i%2), cutoff.Add(time.Duration(i)*time.Hour)),
			contrib("c2", "u0", old.Add(time.Duration(i)*time.Hour)))
	}
	for _, x := range sent {
		_, err := s.AddContribution(c, x)
		must(t, err)
	}
	tally := func(cid, user string) int64 {
		n, err := s.Tally(c, a, cid, user, "", "g1", startOfTally, endOfTally)
		must(t, err)
		return n
	}
	before := map[string]int64{"u0": tally("c1", "u0"), "u1": tally("c1", "u1")}
	n, err := s.PruneContributions(c, a, "c1", cutoff, nil)
	must(t, err)
	if n != 0 && n != 5 {
		t.Fatalf("pruned %d contributions, want the 5 old ones (or none where tallies read them)", n)
	}
	for user, want := range before {
		if got := tally("c1", user); got != want {
			t.Errorf("%s's tally %d after the prune, want %d", user, got, want)
		}
		xs, err := s.Contributions(c, a, "c1", user, "")
		must(t, err)
		for _, x := range xs {
			if n > 0 && x.At.Before(cutoff) {
				t.Errorf("%s: contribution at %v survived the prune", user, x.At)
			}
		}
		if n > 0 && len(xs) == 0 {
			t.Errorf("%s: the prune took the new contributions too", user)
		}
	}
	if xs, err := s.Contributions(c, a, "c2", "u0", ""); err != nil || len(xs) != 5 {
		t.Errorf("another challenge's contributions: %d, %v; want 5", len(xs), err)
	}
}

// The bounds of Tally for a whole period.
var (
	startOfTally = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	endOfTally   = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

func testPruneBadgeContributions(t *testing.T, s RetentionStore) {
	c := ctx(t)
	a := tenant(t, "a")
	for i, at := range []time.Time{old, old.Add(time.Hour), cutoff, cutoff.Add(time.Hour)} {
		_, err := s.AddBadgeContribution(c, badges.Contribution{Tenant: a, BadgeID: "b1", User: "u1", Goal: "g1",
			EventID: IDAt(at), Amount: 1, Key: fmt.Sprint(i), At: at})
		must(t, err)
	}
	n, err := s.PruneBadgeContributions(c, a, "b1", cutoff, nil)
	must(t, err)
	xs, err := s.BadgeContributions(c, a, "b1", "u1", "")
	must(t, err)
	if n != 2 || len(xs) != 2 || xs[0].At.Before(cutoff) {
		t.Fatalf("pruned %d, kept %v; want the 2 old ones gone", n, xs)
	}
}

func testPruneScores(t *testing.T, s RetentionStore) {
	c := ctx(t)
	a := tenant(t, "a")
	values := map[string][]int64{"u1": {5, 7, 2}, "u2": {4}}
	for user, vs := range values {
		for i, v := range vs {
			at := old.Add(time.Duration(i) * time.Hour)
			if i == len(vs)-1 {
				at = cutoff.Add(time.Hour) // the member's latest score is kept
			}
			x := score(a, "b1", user, IDAt(at), v, at)
			x.Period, x.Aggregation = "all", leaderboards.Sum
			_, err := s.AddScore(c, x)
			must(t, err)
		}
	}
	total := func(user string) int64 {
		v, _, _, err := s.Total(c, a, "b1", "all", user, leaderboards.Sum, time.Unix(0, 0), endOfTally)
		must(t, err)
		return v
	}
	n, err := s.PruneScores(c, a, "b1", cutoff, nil)
	must(t, err)
	if n != 0 && n != 2 {
		t.Fatalf("pruned %d scores, want the 2 old ones (or none where totals are not exact)", n)
	}
	for user, want := range map[string]int64{"u1": 14, "u2": 4} {
		if got := total(user); got != want {
			t.Errorf("%s's total %d after the prune, want %d", user, got, want)
		}
	}
	sums := map[string]int64{}
	ok, err := s.ScanTotals(c, a, "b1", func(r leaderboards.TotalRow) error {
		if r.Period != "all" {
			t.Errorf("total of period %q", r.Period)
		}
		sums[r.User] += r.Value
		return nil
	})
	must(t, err)
	if !ok {
		if n != 0 {
			t.Fatal("scores pruned from a board whose totals are not exact")
		}
		return
	}
	if sums["u1"] != 14 || sums["u2"] != 4 {
		t.Errorf("scanned totals %v, want u1 14, u2 4", sums)
	}
	if k, ok, err := s.CountTotals(c, a, "b1"); err != nil || !ok || k < 2 {
		t.Errorf("count totals: %d, %v, %v", k, ok, err)
	}
}

// testFoldScore: the total FoldScore returns, when it knows it, is the one
// Total reads, after scores that beat the total and scores that do not;
// a repeat of an event is not known (its caller reads the total).
func testFoldScore(t *testing.T, s RetentionStore) {
	c := ctx(t)
	a := tenant(t, "a")
	values := []int64{5, 3, 9, 9, 2}
	for _, agg := range []leaderboards.Aggregation{leaderboards.Sum, leaderboards.Best, leaderboards.Latest} {
		board := "b-" + string(agg)
		for i, v := range values {
			x := score(a, board, "u1", fmt.Sprintf("e%d", i), v, base.Add(time.Duration(i%3)*time.Minute))
			x.Period, x.Aggregation = "all", agg
			f, err := s.FoldScore(c, x)
			must(t, err)
			want, at, _, err := s.Total(c, a, board, "all", "u1", agg, time.Unix(0, 0), endOfTally)
			must(t, err)
			if !f.Inserted || f.Known && (f.Total.Value != want || !f.Total.At.Equal(at) || f.Total.User != "u1" || f.Total.Period != "all") {
				t.Errorf("%s, score %d: folded %+v, total %d at %v", agg, i, f, want, at)
			}
			if again, err := s.FoldScore(c, x); err != nil || again.Inserted || again.Known {
				t.Errorf("%s, repeat of score %d: %+v, %v", agg, i, again, err)
			}
		}
	}
}
