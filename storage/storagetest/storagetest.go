// Package storagetest is the conformance suite every storage backend must
// pass. The same table of cases runs against SQLite (always) and MongoDB
// (when MONGO_URI is set), so the two backends cannot drift apart: same
// errors, same ordering, same Go types and the same time precision for the
// same input.
//
// The conventions it pins down:
//   - absent rows wrap errs.ErrNotFound; a taken unique key on a Create
//     method or a version conflict wraps errs.ErrDuplicate;
//   - "insert or return existing" methods return the first row and
//     inserted=false on a repeat, also under concurrency (exactly one
//     caller sees inserted=true);
//   - times come back in UTC, truncated to the millisecond;
//   - props and results round-trip as encoding/json decodes them (numbers
//     as float64), rules come back normalized (rule.Normalize), and empty
//     maps and slices come back nil;
//   - every read is confined to its tenant.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/auth"
	"github.com/questline/questline/badges"
	"github.com/questline/questline/challenges"
	"github.com/questline/questline/contests"
	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
	"github.com/questline/questline/profiles"
	"github.com/questline/questline/quizzes"
	"github.com/questline/questline/ugc"
)

// Store is everything a backend implements.
type Store interface {
	events.Store
	challenges.Store
	badges.Store
	points.Store
	leaderboards.Store
	auth.KeyStore
	audit.Store
	profiles.Store
	LoyaltyStore
	contests.Store
	quizzes.Store
	ugc.Store
	Ping(context.Context) error
}

// Run runs every case against stores made by open. open must return a
// fresh, empty store and arrange (with t.Cleanup) to close and discard it.
func Run(t *testing.T, open func(t *testing.T) Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"Ping", testPing},
		{"CanceledContext", testCanceledContext},

		{"InsertEvent", testInsertEvent},
		{"InsertEventDefaults", testInsertEventDefaults},
		{"InsertEventIDClash", testInsertEventIDClash},
		{"InsertEventConcurrent", testInsertEventConcurrent},
		{"EventPropsRoundTrip", testEventPropsRoundTrip},
		{"MarkProcessed", testMarkProcessed},
		{"Unprocessed", testUnprocessed},
		{"EventAttempts", testEventAttempts},
		{"DeadEvents", testDeadEvents},

		{"Challenges", testChallenges},
		{"UpdateChallenge", testUpdateChallenge},
		{"UpdateChallengeConcurrent", testUpdateChallengeConcurrent},
		{"ListChallenges", testListChallenges},
		{"Contributions", testContributions},
		{"ContributionsConcurrent", testContributionsConcurrent},
		{"Tallies", testTallies},
		{"Completions", testCompletions},
		{"CompletionsConcurrent", testCompletionsConcurrent},
		{"ClaimCompletion", testClaimCompletion},
		{"ClaimCompletionConcurrent", testClaimCompletionConcurrent},
		{"Join", testJoin},
		{"JoinConcurrent", testJoinConcurrent},
		{"Unlocks", testUnlocks},
		{"ChallengeStats", testChallengeStats},

		{"Badges", testBadges},
		{"UpdateBadge", testUpdateBadge},
		{"UpdateBadgeConcurrent", testUpdateBadgeConcurrent},
		{"ListBadges", testListBadges},
		{"BadgeContributions", testBadgeContributions},
		{"InsertAward", testInsertAward},
		{"InsertAwardConcurrent", testInsertAwardConcurrent},
		{"LimitedEdition", testLimitedEdition},
		{"UserAwards", testUserAwards},
		{"HeldAwards", testHeldAwards},

		{"InsertEntry", testInsertEntry},
		{"InsertEntryConcurrent", testInsertEntryConcurrent},
		{"Totals", testTotals},
		{"EarnedBetween", testEarnedBetween},
		{"EarnedBetweenPrefix", testEarnedBetweenPrefix},
		{"Entries", testEntries},
		{"ScanEntries", testScanEntries},

		{"Boards", testBoards},
		{"BoardDefinition", testBoardDefinition},
		{"BoardBuild", testBoardBuild},
		{"AddScore", testAddScore},
		{"AddScoreConcurrent", testAddScoreConcurrent},
		{"AggregateScores", testAggregateScores},
		{"BoardTotals", testBoardTotals},
		{"BoardTotalsConcurrent", testBoardTotalsConcurrent},
		{"PointsBoardFold", testPointsBoardFold},
		{"FoldScores", testFoldScores},
		{"ScanScores", testScanScores},
		{"Exclusions", testExclusions},
		{"BoardFeed", testBoardFeed},
		{"BoardFeedConcurrentClaims", testBoardFeedConcurrentClaims},

		{"APIKeys", testAPIKeys},

		{"Audit", testAudit},
		{"AuditDefaults", testAuditDefaults},
		{"Profiles", testProfiles},
		{"ProfilesMany", testProfilesMany},
		{"Attributes", testAttributes},

		{"UserEvents", testUserEvents},
		{"UserErasure", testUserErasure},
		{"UserErasureKeepsTotals", testUserErasureKeepsTotals},
		{"UserErasureLarge", testUserErasureLarge},
		{"UserErasedTwice", testUserErasedTwice},
		{"UserErasureConcurrent", testUserErasureConcurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, open(t))
		})
	}
}

// --- helpers ---------------------------------------------------------------

// base has sub-millisecond digits on purpose: stores truncate to ms.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// ms is what a store returns for t.
func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

func msp(t time.Time) *time.Time { v := ms(t); return &v }

func id() string { return uuid.Must(uuid.NewV7()).String() }

// ids returns n UUIDv7s in increasing order.
func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = id()
	}
	return out
}

// tenant returns a tenant name unique to this test, so a backend that
// leaks across tenants cannot pass by accident.
func tenant(t *testing.T, tag string) string {
	return fmt.Sprintf("%s-%s", tag, uuid.NewString()[:8])
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want one wrapping %v", err, target)
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

// oneWins runs update(i) for i in 0..19 at once and returns the i of the
// only one that succeeded; every other must be a version conflict
// (errs.ErrDuplicate).
func oneWins(t *testing.T, update func(i int) error) int {
	t.Helper()
	winner := -1
	for i, err := range parallel(20, update) {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("concurrent edits %d and %d of one version both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, errs.ErrDuplicate):
			t.Fatalf("edit %d: %v, want a success or errs.ErrDuplicate", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no concurrent edit succeeded")
	}
	return winner
}

// parallel runs fn n times at once and returns every result.
func parallel[T any](n int, fn func(i int) T) []T {
	out := make([]T, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			out[i] = fn(i)
		}(i)
	}
	close(start)
	wg.Wait()
	return out
}

func event(tn, key string, at time.Time) events.Event {
	return events.Event{
		ID: id(), Tenant: tn, User: "u1", Type: "share",
		Props:      map[string]any{"channel": "instagram"},
		OccurredAt: at, ReceivedAt: at, IdempotencyKey: key,
		Source: "player", Fingerprint: "fp-" + key,
	}
}

// stored is e as a store returns it after an insert.
func stored(e events.Event) events.Event {
	e.OccurredAt, e.ReceivedAt = ms(e.OccurredAt), ms(e.ReceivedAt)
	return e
}

// --- general ---------------------------------------------------------------

func testPing(t *testing.T, s Store) {
	must(t, s.Ping(ctx(t)))
}

func testCanceledContext(t *testing.T, s Store) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.InsertEvent(c, event(tenant(t, "a"), "k", base)); err == nil {
		t.Fatal("InsertEvent with a canceled context succeeded")
	}
	if _, err := s.GetChallenge(c, "a", "x"); err == nil || errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("GetChallenge with a canceled context: %v, want a context error", err)
	}
}

// --- events ----------------------------------------------------------------

func testInsertEvent(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	first := event(a, "k1", base)
	got, inserted, err := s.InsertEvent(c, first)
	must(t, err)
	if !inserted {
		t.Fatal("first insert: inserted=false")
	}
	eq(t, "first insert", got, stored(first))

	// A repeat of the key with another id and payload returns the first.
	again := event(a, "k1", base.Add(time.Hour))
	again.Type, again.Fingerprint = "purchase", "other"
	got, inserted, err = s.InsertEvent(c, again)
	must(t, err)
	if inserted {
		t.Fatal("repeat of key: inserted=true")
	}
	eq(t, "repeat of key", got, stored(first))

	// Keys are per tenant.
	other := event(b, "k1", base)
	got, inserted, err = s.InsertEvent(c, other)
	must(t, err)
	if !inserted {
		t.Fatal("same key in another tenant: inserted=false")
	}
	eq(t, "other tenant", got, stored(other))

	// A time in another zone comes back as the same instant in UTC.
	zoned := event(a, "k2", base.In(time.FixedZone("X", 5*3600+1800)))
	got, _, err = s.InsertEvent(c, zoned)
	must(t, err)
	if got.OccurredAt.Location() != time.UTC || !got.OccurredAt.Equal(ms(base)) {
		t.Fatalf("OccurredAt = %v, want %v in UTC", got.OccurredAt, ms(base))
	}
	got, _, err = s.InsertEvent(c, event(a, "k2", base))
	must(t, err)
	eq(t, "zoned time read back", got.OccurredAt, ms(base))
}

func testInsertEventDefaults(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	e := event(a, "", base)
	e.ID, e.ReceivedAt, e.Props = "", time.Time{}, map[string]any{}
	before := time.Now()
	got, inserted, err := s.InsertEvent(c, e)
	must(t, err)
	if !inserted || got.ID == "" || got.IdempotencyKey != got.ID {
		t.Fatalf("defaults: inserted=%v id=%q key=%q, want a fresh id used as key", inserted, got.ID, got.IdempotencyKey)
	}
	if got.ReceivedAt.Before(ms(before)) || got.ReceivedAt.After(time.Now()) {
		t.Fatalf("ReceivedAt = %v, want now", got.ReceivedAt)
	}
	if got.Props != nil {
		t.Fatalf("empty props = %#v, want nil", got.Props)
	}
	again, inserted, err := s.InsertEvent(c, events.Event{Tenant: a, IdempotencyKey: got.ID})
	must(t, err)
	if inserted {
		t.Fatal("repeat: inserted=true")
	}
	eq(t, "defaults read back", again, got)
}

func testInsertEventIDClash(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	e := event(a, "k1", base)
	_, _, err := s.InsertEvent(c, e)
	must(t, err)
	e.IdempotencyKey = "k2"
	_, _, err = s.InsertEvent(c, e)
	mustIs(t, err, errs.ErrDuplicate)
}

func testInsertEventConcurrent(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	type res struct {
		e        events.Event
		inserted bool
		err      error
	}
	out := parallel(20, func(i int) res {
		e := event(a, "same", base.Add(time.Duration(i)*time.Second))
		got, inserted, err := s.InsertEvent(c, e)
		return res{got, inserted, err}
	})
	n := 0
	for _, r := range out {
		must(t, r.err)
		if r.inserted {
			n++
		}
		eq(t, "winner", r.e.ID, out[0].e.ID)
	}
	if n != 1 {
		t.Fatalf("%d of 20 concurrent inserts of one key inserted, want 1", n)
	}
}

func testEventPropsRoundTrip(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	e := event(a, "k", base)
	e.Props = map[string]any{
		"int":    3,
		"int64":  int64(1) << 40,
		"float":  42.5,
		"string": "x",
		"bool":   true,
		"null":   nil,
		"nested": map[string]any{"a": 1, "list": []any{"x", 2, map[string]any{"deep": false}}},
		"ints":   []int{1, 2},
		"strs":   []string{"p", "q"},
		"time":   base,
	}
	want := map[string]any{
		"int":    float64(3),
		"int64":  float64(int64(1) << 40),
		"float":  42.5,
		"string": "x",
		"bool":   true,
		"null":   nil,
		"nested": map[string]any{"a": float64(1), "list": []any{"x", float64(2), map[string]any{"deep": false}}},
		"ints":   []any{float64(1), float64(2)},
		"strs":   []any{"p", "q"},
		"time":   base.Format(time.RFC3339Nano),
	}
	got, _, err := s.InsertEvent(c, e)
	must(t, err)
	eq(t, "props returned by insert", got.Props, want)
	got, _, err = s.InsertEvent(c, event(a, "k", base))
	must(t, err)
	eq(t, "props read back", got.Props, want)
	list, err := s.Unprocessed(c, base.Add(time.Second), 10)
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("Unprocessed = %d events, want 1", len(list))
	}
	eq(t, "props from Unprocessed", list[0].Props, want)
}

func testMarkProcessed(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	e := event(a, "k", base)
	_, _, err := s.InsertEvent(c, e)
	must(t, err)
	r := events.Result{
		EventID:     e.ID,
		Progress:    []events.Progress{{ChallengeID: "c1", Name: "Share 3", Current: 2, Target: 3}},
		Completions: []events.Completion{},
		Points:      []events.Points{{Amount: 50, Reason: "challenge", Balance: 1 << 40}},
	}
	at := base.Add(1500 * time.Microsecond)
	must(t, s.MarkProcessed(c, a, e.ID, r, at))

	got, _, err := s.InsertEvent(c, event(a, "k", base))
	must(t, err)
	if !got.Processed || got.ProcessedAt == nil || !reflect.DeepEqual(*got.ProcessedAt, ms(at)) {
		t.Fatalf("after MarkProcessed: processed=%v at=%v, want true at %v", got.Processed, got.ProcessedAt, ms(at))
	}
	if got.Result == nil {
		t.Fatal("after MarkProcessed: Result is nil")
	}
	eq(t, "result round trip", *got.Result, r)

	// Only the first processing counts.
	must(t, s.MarkProcessed(c, a, e.ID, events.Result{EventID: "other"}, at.Add(time.Hour)))
	got, _, err = s.InsertEvent(c, event(a, "k", base))
	must(t, err)
	eq(t, "result after a second MarkProcessed", *got.Result, r)
	eq(t, "processed_at after a second MarkProcessed", *got.ProcessedAt, ms(at))

	// Nil slices stay nil.
	e2 := event(a, "k2", base)
	_, _, err = s.InsertEvent(c, e2)
	must(t, err)
	must(t, s.MarkProcessed(c, a, e2.ID, events.Result{EventID: e2.ID, Replayed: true}, at))
	got, _, err = s.InsertEvent(c, event(a, "k2", base))
	must(t, err)
	eq(t, "result with nil slices", *got.Result, events.Result{EventID: e2.ID, Replayed: true})

	mustIs(t, s.MarkProcessed(c, b, e.ID, r, at), errs.ErrNotFound)
	mustIs(t, s.MarkProcessed(c, a, id(), r, at), errs.ErrNotFound)
}

func testUnprocessed(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	// Inserted out of order, across two tenants.
	var want []events.Event
	for _, x := range []struct {
		tn  string
		sec int
	}{{b, 3}, {a, 1}, {a, 4}, {b, 2}, {a, 5}, {b, 6}} {
		e := event(x.tn, fmt.Sprintf("k%d", x.sec), base.Add(time.Duration(x.sec)*time.Second))
		got, _, err := s.InsertEvent(c, e)
		must(t, err)
		want = append(want, got)
	}
	byTime := func(secs ...int) []events.Event {
		var out []events.Event
		for _, sec := range secs {
			for _, e := range want {
				if e.ReceivedAt.Equal(ms(base.Add(time.Duration(sec) * time.Second))) {
					out = append(out, e)
				}
			}
		}
		return out
	}
	got, err := s.Unprocessed(c, base.Add(10*time.Second), 100)
	must(t, err)
	eq(t, "all unprocessed, oldest first", got, byTime(1, 2, 3, 4, 5, 6))

	got, err = s.Unprocessed(c, base.Add(10*time.Second), 2)
	must(t, err)
	eq(t, "limit", got, byTime(1, 2))

	// receivedBefore is exclusive.
	got, err = s.Unprocessed(c, ms(base.Add(4*time.Second)), 100)
	must(t, err)
	eq(t, "received before 4s", got, byTime(1, 2, 3))

	// Processed events drop out.
	two := byTime(2)[0]
	must(t, s.MarkProcessed(c, two.Tenant, two.ID, events.Result{EventID: two.ID}, base))
	got, err = s.Unprocessed(c, base.Add(10*time.Second), 3)
	must(t, err)
	eq(t, "after processing one", got, byTime(1, 3, 4))

	got, err = s.Unprocessed(c, base, 100)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("nothing received before base, got %d", len(got))
	}
}

// --- points ----------------------------------------------------------------

func entry(tn, user, key string, amount int64, at time.Time) points.Entry {
	return points.Entry{ID: id(), Tenant: tn, User: user, Amount: amount, Key: key, Reason: "test", EventID: "e-" + key, CreatedAt: at}
}

func storedEntry(e points.Entry) points.Entry {
	e.CreatedAt = ms(e.CreatedAt)
	return e
}

func testInsertEntry(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	first := entry(a, "u1", "challenge:c1", 50, base)
	got, inserted, err := s.InsertEntry(c, first)
	must(t, err)
	if !inserted {
		t.Fatal("first entry: inserted=false")
	}
	eq(t, "first entry", got, storedEntry(first))

	got, inserted, err = s.InsertEntry(c, entry(a, "u1", "challenge:c1", 999, base.Add(time.Hour)))
	must(t, err)
	if inserted {
		t.Fatal("repeated key: inserted=true")
	}
	eq(t, "repeated key returns the first", got, storedEntry(first))

	clash := first
	clash.Key = "other"
	_, _, err = s.InsertEntry(c, clash)
	mustIs(t, err, errs.ErrDuplicate)

	_, inserted, err = s.InsertEntry(c, entry(b, "u1", "challenge:c1", 50, base))
	must(t, err)
	if !inserted {
		t.Fatal("same key in another tenant: inserted=false")
	}

	got, inserted, err = s.InsertEntry(c, points.Entry{Tenant: a, User: "u1", Amount: 1, Key: "defaults"})
	must(t, err)
	if !inserted || got.ID == "" || got.CreatedAt.IsZero() {
		t.Fatalf("defaults: %+v inserted=%v", got, inserted)
	}
}

func testInsertEntryConcurrent(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	type res struct {
		e        points.Entry
		inserted bool
		err      error
	}
	out := parallel(20, func(i int) res {
		got, inserted, err := s.InsertEntry(c, entry(a, "u1", "once", int64(i+1), base))
		return res{got, inserted, err}
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
		t.Fatalf("%d of 20 concurrent entries inserted, want 1", n)
	}
	tot, err := s.Totals(c, a, "u1")
	must(t, err)
	eq(t, "balance", tot.Balance, out[0].e.Amount)
}

func testTotals(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	for i, amt := range []int64{10, 5, -3, 1 << 40} {
		_, _, err := s.InsertEntry(c, entry(a, "u1", fmt.Sprint("k", i), amt, base))
		must(t, err)
	}
	_, _, err := s.InsertEntry(c, entry(a, "u2", "k", 7, base))
	must(t, err)
	_, _, err = s.InsertEntry(c, entry(b, "u1", "k", 100, base))
	must(t, err)
	for _, tc := range []struct {
		name     string
		tn, user string
		want     points.Totals
	}{
		{"u1", a, "u1", points.Totals{Balance: 12 + 1<<40, Earned: 15 + 1<<40}},
		{"u2", a, "u2", points.Totals{Balance: 7, Earned: 7}},
		{"other tenant", b, "u1", points.Totals{Balance: 100, Earned: 100}},
		{"unknown user", a, "nobody", points.Totals{}},
		{"unknown tenant", tenant(t, "none"), "u1", points.Totals{}},
	} {
		got, err := s.Totals(c, tc.tn, tc.user)
		must(t, err)
		eq(t, tc.name, got, tc.want)
	}
}

func testEarnedBetween(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	from := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	to := from.Add(7 * 24 * time.Hour)
	for i, x := range []struct {
		amt int64
		at  time.Time
	}{
		{1, from.Add(-time.Millisecond)},   // before the window
		{2, from},                          // first instant: in
		{4, from.Add(time.Hour)},           // in
		{-8, from.Add(2 * time.Hour)},      // spending: never earned
		{16, to.Add(-time.Millisecond)},    // last millisecond: in
		{32, to},                           // end is exclusive
		{64, to.Add(time.Microsecond)},     // truncates to `to`: out
		{128, from.Add(-time.Microsecond)}, // truncates to from-1ms: out
	} {
		_, _, err := s.InsertEntry(c, entry(a, "u1", fmt.Sprint("k", i), x.amt, x.at))
		must(t, err)
	}
	_, _, err := s.InsertEntry(c, entry(b, "u1", "k", 1000, from.Add(time.Hour)))
	must(t, err)
	for _, tc := range []struct {
		name     string
		tn       string
		from, to time.Time
		want     int64
		last     time.Time
	}{
		{"window", a, from, to, 2 + 4 + 16, ms(to.Add(-time.Millisecond))},
		// The spending at 2h is the newest entry but not the last earning.
		{"spending is not earning", a, from, from.Add(3 * time.Hour), 2 + 4, from.Add(time.Hour)},
		{"empty window", a, from, from, 0, time.Time{}},
		{"everything", a, from.Add(-time.Hour), to.Add(time.Hour), 1 + 2 + 4 + 16 + 32 + 64 + 128, to},
		{"other tenant", b, from, to, 1000, from.Add(time.Hour)},
		{"unknown user", tenant(t, "none"), from, to, 0, time.Time{}},
	} {
		got, last, err := s.EarnedBetween(c, tc.tn, "u1", "", tc.from, tc.to)
		must(t, err)
		eq(t, tc.name, got, tc.want)
		eq(t, tc.name+": last", last, tc.last)
	}
}

func testEarnedBetweenPrefix(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	from := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	at := func(min int) time.Time { return from.Add(time.Duration(min) * time.Minute) }
	for _, x := range []struct {
		tn, user, key string
		amt           int64
		at            time.Time
	}{
		{a, "u1", "challenge:c1:", 1, at(30)}, // the prefix itself starts with the prefix
		{a, "u1", "challenge:c1:u1:1", 2, at(60)},
		{a, "u1", "challenge:c1:\u00fc", 4, at(90)},         // non-ASCII after the prefix
		{a, "u1", "challenge:c1:\U0001f600", 4096, at(100)}, // bytes above 0xef after it
		{a, "u1", "challenge:c1:u1:2", 8, at(120)},
		{a, "u1", "challenge:c1:refund", -100, at(150)}, // spending never counts
		{a, "u1", "challenge:c10:u1", 16, at(180)},      // shares "challenge:c1" only
		{a, "u1", "challenge:c1", 32, at(240)},          // the prefix without its colon
		{a, "u1", "challenge:c1;", 64, at(300)},         // the byte after ':'
		{a, "u1", "quiz:q.z:1", 128, at(360)},
		{a, "u1", "quiz:qaz:1", 256, at(420)}, // would match q.z as a pattern
		{a, "u1", "challenge:c1:late", 512, to},
		{a, "u2", "challenge:c1:u2", 1024, at(60)},
		{b, "u1", "challenge:c1:b", 2048, at(60)},
	} {
		_, _, err := s.InsertEntry(c, entry(x.tn, x.user, x.key, x.amt, x.at))
		must(t, err)
	}
	for _, tc := range []struct {
		name, tn, prefix string
		to               time.Time
		want             int64
		last             time.Time
	}{
		{"any key", a, "", to, 1 + 2 + 4 + 4096 + 8 + 16 + 32 + 64 + 128 + 256, at(420)},
		{"challenge c1", a, "challenge:c1:", to, 1 + 2 + 4 + 4096 + 8, at(120)},
		{"challenge c1 until 2h", a, "challenge:c1:", at(120), 1 + 2 + 4 + 4096, at(100)},
		{"without the colon", a, "challenge:c1", to, 1 + 2 + 4 + 4096 + 8 + 16 + 32 + 64, at(300)},
		{"whole key", a, "challenge:c1:u1:1", to, 2, at(60)},
		{"pattern characters are literal", a, "quiz:q.z:", to, 128, at(360)},
		{"non-ASCII prefix", a, "challenge:c1:\u00fc", to, 4, at(90)},
		{"no match", a, "contest:", to, 0, time.Time{}},
		{"other tenant", b, "challenge:c1:", to, 2048, at(60)},
	} {
		got, last, err := s.EarnedBetween(c, tc.tn, "u1", tc.prefix, from, tc.to)
		must(t, err)
		eq(t, tc.name, got, tc.want)
		eq(t, tc.name+": last", last, tc.last)
	}
}

func testEntries(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	var all []points.Entry
	for i := 0; i < 5; i++ {
		e := entry(a, "u1", fmt.Sprint("k", i), int64(i+1), base.Add(time.Duration(i)*time.Minute))
		_, _, err := s.InsertEntry(c, e)
		must(t, err)
		all = append(all, storedEntry(e))
	}
	_, _, err := s.InsertEntry(c, entry(a, "u2", "k", 1, base))
	must(t, err)
	_, _, err = s.InsertEntry(c, entry(b, "u1", "k", 1, base))
	must(t, err)
	rev := func(es ...points.Entry) []points.Entry { return es }
	for _, tc := range []struct {
		name   string
		before string
		limit  int
		want   []points.Entry
	}{
		{"newest", "", 2, rev(all[4], all[3])},
		{"next page", all[3].ID, 2, rev(all[2], all[1])},
		{"last page", all[1].ID, 2, rev(all[0])},
		{"past the end", all[0].ID, 2, nil},
		{"default limit", "", 0, rev(all[4], all[3], all[2], all[1], all[0])},
	} {
		got, err := s.Entries(c, a, "u1", tc.before, tc.limit)
		must(t, err)
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		eq(t, tc.name, got, tc.want)
	}
	got, err := s.Entries(c, tenant(t, "none"), "u1", "", 10)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("unknown tenant has %d entries", len(got))
	}
}

func testScanEntries(t *testing.T, s Store) {
	c := ctx(t)
	// Tenant names sort a < b whatever the random suffix.
	a, b := "a-"+tenant(t, "s"), "b-"+tenant(t, "s")
	// More than one page of a paging implementation (1000 rows).
	const na, nb = 1205, 3
	ea := make([]points.Entry, na)
	for i := range ea {
		ea[i] = storedEntry(entry(a, fmt.Sprint("u", i%7), fmt.Sprint("k", i), 1, base))
	}
	var eb []points.Entry
	for i := 0; i < nb; i++ {
		eb = append(eb, storedEntry(entry(b, "u1", fmt.Sprint("k", i), 1, base)))
	}
	// Insert from several goroutines, in scrambled order.
	errsOut := parallel(8, func(w int) error {
		for i := w; i < na; i += 8 {
			if _, _, err := s.InsertEntry(c, ea[(i*7919)%na]); err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errsOut {
		must(t, err)
	}
	for i := len(eb) - 1; i >= 0; i-- {
		_, _, err := s.InsertEntry(c, eb[i])
		must(t, err)
	}

	collect := func(tn string) []points.Entry {
		var out []points.Entry
		must(t, s.ScanEntries(c, tn, func(e points.Entry) error {
			out = append(out, e)
			return nil
		}))
		return out
	}
	eq(t, "scan tenant a", collect(a), ea)
	eq(t, "scan tenant b", collect(b), eb)
	eq(t, "scan every tenant", collect(""), append(append([]points.Entry{}, ea...), eb...))
	if got := collect(tenant(t, "none")); len(got) != 0 {
		t.Fatalf("unknown tenant scanned %d entries", len(got))
	}

	stop := errors.New("stop")
	n := 0
	err := s.ScanEntries(c, a, func(points.Entry) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	mustIs(t, err, stop)
	eq(t, "visited before stop", n, 3)

	for _, tc := range []struct {
		tn   string
		want int64
	}{{a, na}, {b, nb}, {"", na + nb}, {tenant(t, "none"), 0}} {
		got, err := s.CountEntries(c, tc.tn)
		must(t, err)
		eq(t, "count "+tc.tn, got, tc.want)
	}
}

// --- leaderboards ------------------------------------------------------------

// board is a points board as the first schema knew them.
func board(tn, bid, name string, w leaderboards.Window) leaderboards.Board {
	return leaderboards.Board{ID: bid, Tenant: tn, Name: name, Source: leaderboards.FromPoints, Window: w, CreatedAt: base}
}

// storedBoard is b as a store returns it: times in UTC milliseconds, and
// the defaults of a definition that leaves fields out.
func storedBoard(b leaderboards.Board) leaderboards.Board {
	if b.Source == "" {
		b.Source = leaderboards.FromPoints
	}
	if b.Aggregation == "" {
		b.Aggregation = leaderboards.Sum
	}
	if b.TimeZone == "" {
		b.TimeZone = "UTC"
	}
	b.CreatedAt = ms(b.CreatedAt)
	if b.StartsAt != nil {
		b.StartsAt = msp(*b.StartsAt)
	}
	if b.EndsAt != nil {
		b.EndsAt = msp(*b.EndsAt)
	}
	return b
}

// testBoardBuild: a board's build is stored with it; one owner at a time
// holds its lease, which another can take only once it lapses, and a
// build that is ready, or a board without one, cannot be claimed.
func testBoardBuild(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	b := leaderboards.Board{ID: id(), Tenant: a, Name: "Points", Window: leaderboards.AllTime, CreatedAt: base,
		Build: &leaderboards.Build{State: leaderboards.Building}}
	plain := leaderboards.Board{ID: id(), Tenant: a, Name: "Events", Source: leaderboards.FromEvents, EventType: "checkin", Window: leaderboards.AllTime, CreatedAt: base}
	must(t, s.CreateBoard(c, b))
	must(t, s.CreateBoard(c, plain))
	build := func(what string) leaderboards.Build {
		t.Helper()
		got, err := s.GetBoard(c, a, b.ID)
		must(t, err)
		if got.Build == nil {
			t.Fatalf("%s: board lost its build", what)
		}
		list, err := s.ListBoards(c, a)
		must(t, err)
		if len(list) != 2 || list[0].ID != b.ID && list[1].ID != b.ID {
			t.Fatalf("%s: list = %+v", what, list)
		}
		for _, l := range list {
			if l.ID == b.ID && !reflect.DeepEqual(l.Build, got.Build) {
				t.Fatalf("%s: listed build %+v, got %+v", what, l.Build, got.Build)
			}
			if l.ID == plain.ID && l.Build != nil {
				t.Fatalf("%s: board without a build listed with %+v", what, l.Build)
			}
		}
		return *got.Build
	}
	claim := func(owner string, now time.Time, want bool) {
		t.Helper()
		ok, err := s.ClaimBuild(c, a, b.ID, owner, now, now.Add(15*time.Second))
		must(t, err)
		if ok != want {
			t.Fatalf("ClaimBuild(%s at %s) = %v, want %v", owner, now, ok, want)
		}
	}
	save := func(owner string, g leaderboards.Build, want bool) {
		t.Helper()
		ok, err := s.SaveBuild(c, a, b.ID, owner, g)
		must(t, err)
		if ok != want {
			t.Fatalf("SaveBuild(%s, %+v) = %v, want %v", owner, g, ok, want)
		}
	}
	if g := build("created"); g.State != leaderboards.Building || g.Owner != "" || g.Done != 0 {
		t.Fatalf("new build = %+v", g)
	}
	claim("n1", base, true)
	claim("n2", base.Add(time.Second), false) // n1 holds it
	save("n2", leaderboards.Build{State: leaderboards.Ready}, false)
	save("n1", leaderboards.Build{State: leaderboards.Building, Done: 40, Total: 100, Owner: "n1", LeaseUntil: base.Add(20 * time.Second)}, true)
	if g := build("progress"); g.Done != 40 || g.Total != 100 || g.Owner != "n1" || !g.LeaseUntil.Equal(ms(base.Add(20*time.Second))) {
		t.Fatalf("build after progress = %+v", g)
	}
	claim("n2", base.Add(19*time.Second), false) // renewed
	claim("n2", base.Add(20*time.Second), true)  // lapsed: n1 crashed
	save("n1", leaderboards.Build{State: leaderboards.Ready}, false)
	retry := base.Add(time.Hour)
	save("n2", leaderboards.Build{State: leaderboards.Failed, Error: "boom", LeaseUntil: retry}, true)
	if g := build("failed"); g.State != leaderboards.Failed || g.Error != "boom" || g.Owner != "" {
		t.Fatalf("failed build = %+v", g)
	}
	claim("n3", retry.Add(-time.Millisecond), false) // waits for its retry time
	claim("n3", retry, true)
	if g := build("retried"); g.State != leaderboards.Building || g.Owner != "n3" {
		t.Fatalf("retried build = %+v", g)
	}
	save("n3", leaderboards.Build{State: leaderboards.Ready, Done: 100, Total: 100}, true)
	if g := build("ready"); g.State != leaderboards.Ready || g.Done != 100 || g.Error != "" {
		t.Fatalf("ready build = %+v", g)
	}
	claim("n4", retry.Add(time.Hour), false)
	ok, err := s.ClaimBuild(c, a, plain.ID, "n4", base, base.Add(time.Minute))
	must(t, err)
	if ok {
		t.Fatal("claimed the build of a board that has none")
	}
}

func testBoards(t *testing.T, s Store) {
	c := ctx(t)
	a, b := "a-"+tenant(t, "t"), "b-"+tenant(t, "t")
	got, err := s.Tenants(c)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("fresh store has board tenants %v", got)
	}
	bids := ids(3)
	var want []leaderboards.Board
	for i := len(bids) - 1; i >= 0; i-- {
		must(t, s.CreateBoard(c, board(a, bids[i], fmt.Sprint("Board ", i), leaderboards.Weekly)))
	}
	for i := range bids {
		want = append(want, storedBoard(board(a, bids[i], fmt.Sprint("Board ", i), leaderboards.Weekly)))
	}
	must(t, s.CreateBoard(c, board(b, bids[0], "B", leaderboards.AllTime)))
	mustIs(t, s.CreateBoard(c, board(a, bids[1], "again", leaderboards.Daily)), errs.ErrDuplicate)

	one, err := s.GetBoard(c, a, bids[1])
	must(t, err)
	eq(t, "get board", one, want[1])
	_, err = s.GetBoard(c, b, bids[1])
	mustIs(t, err, errs.ErrNotFound)
	list, err := s.ListBoards(c, a)
	must(t, err)
	eq(t, "list boards", list, want)
	list, err = s.ListBoards(c, tenant(t, "none"))
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("unknown tenant has %d boards", len(list))
	}
	got, err = s.Tenants(c)
	must(t, err)
	eq(t, "tenants", got, []string{a, b})
}

func testBoardDefinition(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	zone := time.FixedZone("X", -5*3600)
	starts, ends := base.In(zone), base.Add(48*time.Hour+1500*time.Microsecond)
	for _, tc := range []struct {
		name string
		b    leaderboards.Board
	}{
		{"every field", leaderboards.Board{
			ID: id(), Tenant: a, Name: "Quiz stars", Source: leaderboards.FromEvents,
			EventType: "quiz_finished", Prop: "score", Aggregation: leaderboards.Best,
			Window: leaderboards.Custom, TimeZone: "Europe/Berlin",
			StartsAt: &starts, EndsAt: &ends,
			Scope:         &leaderboards.Scope{Type: "quiz", ID: "q1"},
			RetentionDays: 30, MaxPerEvent: 1000, CreatedAt: base,
		}},
		{"scoped points board", leaderboards.Board{
			ID: id(), Tenant: a, Name: "Challenge race", Source: leaderboards.FromPoints,
			Aggregation: leaderboards.Sum, Window: leaderboards.Daily, TimeZone: "America/New_York",
			Scope: &leaderboards.Scope{Type: "challenge", ID: "c1"}, CreatedAt: base,
		}},
		{"latest without a prop", leaderboards.Board{
			ID: id(), Tenant: a, Name: "Last check-in", Source: leaderboards.FromEvents,
			EventType: "check_in", Aggregation: leaderboards.Latest, Window: leaderboards.Monthly,
			TimeZone: "Asia/Tokyo", RetentionDays: 365, CreatedAt: base,
		}},
		// A definition as the first schema stored it reads as a points
		// board summing in UTC.
		{"defaults", leaderboards.Board{ID: id(), Tenant: a, Name: "Old", Window: leaderboards.Weekly, CreatedAt: base}},
	} {
		must(t, s.CreateBoard(c, tc.b))
		got, err := s.GetBoard(c, a, tc.b.ID)
		must(t, err)
		want := storedBoard(tc.b)
		eq(t, tc.name, got, want)
		if got.StartsAt != nil && got.StartsAt.Location() != time.UTC {
			t.Fatalf("%s: StartsAt in %v, want UTC", tc.name, got.StartsAt.Location())
		}
		list, err := s.ListBoards(c, a)
		must(t, err)
		found := false
		for _, l := range list {
			if l.ID == tc.b.ID {
				eq(t, tc.name+" in list", l, want)
				found = true
			}
		}
		if !found {
			t.Fatalf("%s: not listed", tc.name)
		}
	}

	// ExtendBoard moves the close and nothing else, for its tenant only.
	cb := leaderboards.Board{ID: id(), Tenant: a, Name: "Contest", Source: leaderboards.FromEvents, EventType: "visit",
		Aggregation: leaderboards.Sum, Window: leaderboards.Custom, TimeZone: "UTC", StartsAt: &starts, EndsAt: &ends,
		RetentionDays: 365, CreatedAt: base}
	must(t, s.CreateBoard(c, cb))
	later := ends.Add(36 * time.Hour)
	must(t, s.ExtendBoard(c, a, cb.ID, later))
	got, err := s.GetBoard(c, a, cb.ID)
	must(t, err)
	want := storedBoard(cb)
	storedLater := later.UTC().Truncate(time.Millisecond)
	want.EndsAt = &storedLater
	eq(t, "extended board", got, want)
	if err := s.ExtendBoard(c, tenant(t, "other"), cb.ID, later); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("another tenant's board extended: %v", err)
	}

	b := leaderboards.Board{ID: id(), Tenant: a, Name: "now"}
	before := ms(time.Now())
	must(t, s.CreateBoard(c, b))
	got, err = s.GetBoard(c, a, b.ID)
	must(t, err)
	if got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now()) {
		t.Fatalf("CreatedAt = %v, want now", got.CreatedAt)
	}
	if err := s.CreateBoard(c, leaderboards.Board{Tenant: a, Name: "no id"}); err == nil {
		t.Fatal("board without an id accepted")
	}
}

func score(tn, board, user, event string, v int64, at time.Time) leaderboards.Score {
	return leaderboards.Score{Tenant: tn, Board: board, User: user, EventID: event, Value: v, At: at}
}

func testAddScore(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	for _, tc := range []struct {
		name string
		sc   leaderboards.Score
		want bool
	}{
		{"first", score(a, "b1", "u1", "e1", 5, base), true},
		{"same event again", score(a, "b1", "u1", "e1", 5, base), false},
		// The event decides, not what it scored.
		{"same event, other value and user", score(a, "b1", "u2", "e1", 50, base.Add(time.Hour)), false},
		{"same event, other board", score(a, "b2", "u1", "e1", 7, base), true},
		{"same event, other tenant", score(b, "b1", "u1", "e1", 9, base), true},
		{"other event", score(a, "b1", "u1", "e2", 1, base), true},
	} {
		inserted, err := s.AddScore(c, tc.sc)
		must(t, err)
		eq(t, tc.name, inserted, tc.want)
	}
	v, at, ok, err := s.AggregateScores(c, a, "b1", "u1", leaderboards.Sum, base, base.Add(2*time.Hour))
	must(t, err)
	eq(t, "sum after repeats", []any{v, at, ok}, []any{int64(6), ms(base), true})
	v, _, ok, err = s.AggregateScores(c, a, "b1", "u2", leaderboards.Sum, base, base.Add(2*time.Hour))
	must(t, err)
	eq(t, "the repeat's user scored nothing", []any{v, ok}, []any{int64(0), false})

	if _, err := s.AddScore(c, score(a, "b1", "u1", "", 1, base)); err == nil {
		t.Fatal("score without an event id accepted")
	}
	if _, err := s.AddScore(c, score(a, "", "u1", "e3", 1, base)); err == nil {
		t.Fatal("score without a board accepted")
	}

	// A zero At is the time of the call.
	before := ms(time.Now())
	_, err = s.AddScore(c, score(a, "b3", "u1", "e1", 1, time.Time{}))
	must(t, err)
	_, at, ok, err = s.AggregateScores(c, a, "b3", "u1", leaderboards.Latest, before, time.Now().Add(time.Second))
	must(t, err)
	if !ok || at.After(time.Now()) {
		t.Fatalf("score with a zero time: at=%v ok=%v, want now", at, ok)
	}
}

func testAddScoreConcurrent(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	type res struct {
		inserted bool
		err      error
	}
	out := parallel(20, func(i int) res {
		inserted, err := s.AddScore(c, score(a, "b1", "u1", "same", int64(i+1), base))
		return res{inserted, err}
	})
	n := 0
	for _, r := range out {
		must(t, r.err)
		if r.inserted {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d of 20 concurrent scores of one event inserted, want 1", n)
	}
	cnt, err := s.CountScores(c, a, "b1")
	must(t, err)
	eq(t, "stored scores", cnt, int64(1))
}

// testBoardTotals checks Total against AggregateScores: scores of three
// boards, one per aggregation, over two periods and three members, sent
// out of order, with repeats that carry other values, equal times and
// equal values, negative values and several UTC days in one period.
func testBoardTotals(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	day := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	periods := []struct {
		name     string
		from, to time.Time
	}{{"2025-W11", day, day.Add(7 * 24 * time.Hour)}, {"2025-W12", day.Add(7 * 24 * time.Hour), day.Add(14 * 24 * time.Hour)}}
	aggs := []leaderboards.Aggregation{leaderboards.Sum, leaderboards.Best, leaderboards.Latest}
	type sent struct {
		user   string
		value  int64
		offset time.Duration // from the period's start
	}
	scores := []sent{
		{"u1", 5, 3 * time.Hour}, {"u1", 9, 30 * time.Hour}, {"u1", 9, 2 * time.Hour}, {"u1", -4, 50 * time.Hour},
		{"u1", 7, 50 * time.Hour}, {"u1", 1, time.Millisecond}, {"u2", -3, time.Hour}, {"u2", -3, time.Hour},
		{"u2", -8, 100 * time.Hour}, {"u3", 12, 6*24*time.Hour + 23*time.Hour},
	}
	for _, agg := range aggs {
		board := "b-" + string(agg)
		for pi, p := range periods {
			for i, sc := range scores {
				x := score(a, board, sc.user, fmt.Sprintf("e%d-%d", pi, i), sc.value, p.from.Add(sc.offset))
				x.Period, x.Aggregation = p.name, agg
				_, err := s.AddScore(c, x)
				must(t, err)
				if i%3 == 0 { // a repeat: the event decides, not what it carries
					x.Value, x.At = x.Value+100, x.At.Add(time.Minute)
					_, err := s.AddScore(c, x)
					must(t, err)
				}
			}
		}
		// Another tenant's score changes nothing here; one without a
		// period is stored (and folded nowhere).
		other := score(b, board, "u1", "e0-0", 1000, periods[0].from)
		other.Period, other.Aggregation = periods[0].name, agg
		_, err := s.AddScore(c, other)
		must(t, err)
		_, err = s.AddScore(c, score(a, board, "u9", "no-period", 1000, periods[0].from.Add(time.Hour)))
		must(t, err)
	}
	for _, agg := range aggs {
		board := "b-" + string(agg)
		for _, p := range periods {
			for _, u := range []string{"u1", "u2", "u3", "nobody"} {
				v, at, ok, err := s.Total(c, a, board, p.name, u, agg, p.from, p.to)
				must(t, err)
				wv, wat, wok, err := s.AggregateScores(c, a, board, u, agg, p.from, p.to)
				must(t, err)
				eq(t, fmt.Sprintf("total of %s in %s of %s", u, p.name, agg), []any{v, at, ok}, []any{wv, wat, wok})
			}
		}
	}
	if _, _, ok, err := s.Total(c, a, "b-sum", "2025-W13", "u1", leaderboards.Sum, day, day); err != nil || ok {
		t.Fatalf("total of an empty period: ok=%v, %v", ok, err)
	}
	bad := score(a, "b-x", "u1", "e1", 1, day)
	bad.Period, bad.Aggregation = "2025-W11", "median"
	if _, err := s.AddScore(c, bad); err == nil {
		t.Fatal("score with an unknown aggregation accepted")
	}
}

// testPointsBoardFold: what a points board folds (leaderboards'
// ledgerScore): credits keyed by their ledger keys and a reversal under
// its own key, worth the credit negated at the credit's time, so the
// total drops and its At stays the latest credit's; every repeat, of a
// credit or of the reversal, folds nothing and says so.
func testPointsBoardFold(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	t0 := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	steps := []struct {
		key      string
		value    int64
		at       time.Time
		inserted bool
		total    int64
		last     time.Time
	}{
		{"challenge:c1:u1", 40, t0, true, 40, t0},
		{"purchase:p1", 15, t0.Add(time.Hour), true, 55, t0.Add(time.Hour)},
		{"challenge:c1:u1", 40, t0, false, 55, t0.Add(time.Hour)},
		{points.ReversalKey("challenge:c1:u1"), -40, t0, true, 15, t0.Add(time.Hour)},
		{points.ReversalKey("challenge:c1:u1"), -40, t0, false, 15, t0.Add(time.Hour)},
		{"purchase:p1", 15, t0.Add(time.Hour), false, 15, t0.Add(time.Hour)},
	}
	for i, st := range steps {
		sc := score(a, "pts", "u1", st.key, st.value, st.at)
		sc.Period, sc.Aggregation = "all", leaderboards.Sum
		f, err := s.FoldScore(c, sc)
		must(t, err)
		if f.Inserted != st.inserted || f.Known && (f.Total.Value != st.total || !f.Total.At.Equal(st.last)) {
			t.Fatalf("step %d (%s): folded %+v, want inserted=%v total %d at %s", i, st.key, f, st.inserted, st.total, st.last)
		}
		v, at, ok, err := s.Total(c, a, "pts", "all", "u1", leaderboards.Sum, time.Unix(0, 0), t0.Add(24*time.Hour))
		must(t, err)
		eq(t, fmt.Sprintf("step %d (%s): total", i, st.key), []any{v, at, ok}, []any{st.total, st.last, true})
	}
}

// testFoldScores: a batch folds each key once, as AddScore would: a key
// AddScore stored already, and a key given twice in the batch, count once;
// the batch run again inserts and folds nothing; batches racing over the
// same keys for a new member fold each key once between them.
func testFoldScores(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	day := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return day.Add(time.Duration(n) * time.Hour) }
	type fold struct {
		v  int64
		at time.Time
	}
	for _, tc := range []struct {
		agg    leaderboards.Aggregation
		u1, u2 fold
	}{
		{leaderboards.Sum, fold{19, h(50)}, fold{7, h(3)}},
		{leaderboards.Best, fold{9, h(2)}, fold{7, h(3)}},
		{leaderboards.Latest, fold{-4, h(50)}, fold{7, h(3)}},
	} {
		board := "b-" + string(tc.agg)
		sc := func(user, key string, v int64, at time.Time) leaderboards.Score {
			x := score(a, board, user, key, v, at)
			x.Period, x.Aggregation = "all", tc.agg
			return x
		}
		_, err := s.AddScore(c, sc("u1", "e1", 5, h(1)))
		must(t, err)
		batch := []leaderboards.Score{sc("u1", "e1", 5, h(1)), sc("u1", "e2", 9, h(30)), sc("u1", "e3", 9, h(2)),
			sc("u1", "e2", 9, h(30)), sc("u2", "e4", 7, h(3)), sc("u1", "e5", -4, h(50))}
		for run, want := range []int{4, 0} {
			n, err := s.FoldScores(c, batch)
			must(t, err)
			eq(t, fmt.Sprintf("%s run %d: inserted", tc.agg, run), n, want)
			for user, w := range map[string]fold{"u1": tc.u1, "u2": tc.u2} {
				v, at, ok, err := s.Total(c, a, board, "all", user, tc.agg, h(0), h(72))
				must(t, err)
				eq(t, fmt.Sprintf("%s run %d: %s's total", tc.agg, run, user), []any{v, at, ok}, []any{w.v, w.at, true})
			}
		}
	}

	var race []leaderboards.Score
	for i := range 10 {
		x := score(a, "race", "u3", fmt.Sprint("k", i), int64(i+1), h(i))
		x.Period, x.Aggregation = "all", leaderboards.Sum
		race = append(race, x)
	}
	type result struct {
		n   int
		err error
	}
	inserted := 0
	for _, r := range parallel(8, func(i int) result {
		n, err := s.FoldScores(c, race[i%3:]) // overlapping batches
		return result{n, err}
	}) {
		must(t, r.err)
		inserted += r.n
	}
	eq(t, "racing batches: inserted", inserted, 10)
	v, at, ok, err := s.Total(c, a, "race", "all", "u3", leaderboards.Sum, h(0), h(72))
	must(t, err)
	eq(t, "racing batches: total", []any{v, at, ok}, []any{int64(55), h(9), true})
}

// testBoardTotalsConcurrent: copies of one event racing fold once, and
// distinct events racing into a new total all count.
func testBoardTotalsConcurrent(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	for _, agg := range []leaderboards.Aggregation{leaderboards.Sum, leaderboards.Best, leaderboards.Latest} {
		board := "b-" + string(agg)
		out := parallel(20, func(i int) error {
			x := score(a, board, "u1", fmt.Sprintf("e%d", i%10), int64(i%10+1), base.Add(time.Duration(i%10)*time.Second))
			x.Period, x.Aggregation = "all", agg
			_, err := s.AddScore(c, x)
			return err
		})
		for _, err := range out {
			must(t, err)
		}
		want := map[leaderboards.Aggregation][]any{
			leaderboards.Sum:    {int64(55), ms(base.Add(9 * time.Second)), true},
			leaderboards.Best:   {int64(10), ms(base.Add(9 * time.Second)), true},
			leaderboards.Latest: {int64(10), ms(base.Add(9 * time.Second)), true},
		}[agg]
		v, at, ok, err := s.Total(c, a, board, "all", "u1", agg, base, base.Add(time.Hour))
		must(t, err)
		eq(t, "concurrent "+string(agg), []any{v, at, ok}, want)
	}
}

func testAggregateScores(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	from := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	hour := func(h int) time.Time { return from.Add(time.Duration(h) * time.Hour) }
	// Listed in a scrambled order, so insertion order cannot stand in for
	// time order.
	for _, sc := range []leaderboards.Score{
		score(a, "b1", "u1", "e08", 6, to.Add(-time.Millisecond)), // last instant: in
		score(a, "b1", "u1", "e04", 7, hour(2)),                   // ties e03 on value, later
		score(a, "b1", "u1", "e09", 100, to),                      // end is exclusive
		score(a, "b1", "u1", "e02", 3, from),                      // first instant: in
		score(a, "b1", "u1", "e06", 0, hour(3)),                   // ties e05 on time, higher
		score(a, "b1", "u1", "e01", 5, from.Add(-time.Millisecond)),
		score(a, "b1", "u1", "e07", 4, to.Add(-time.Millisecond)), // ties e08 on time, lower
		score(a, "b1", "u1", "e05", -2, hour(3)),
		score(a, "b1", "u1", "e10", 100, to.Add(500*time.Microsecond)), // truncates to `to`: out
		score(a, "b1", "u1", "e03", 7, hour(1)),
		score(a, "b1", "u1", "e11", -5, hour(30)), // alone in [30h, 31h)
		score(a, "b1", "u1", "e12", 0, hour(32)),  // alone in [32h, 33h)
		score(a, "b1", "u2", "e13", 1000, hour(1)),
		score(a, "b2", "u1", "e14", 2000, hour(1)),
		score(b, "b1", "u1", "e15", 3000, hour(1)),
	} {
		_, err := s.AddScore(c, sc)
		must(t, err)
	}
	type fold struct {
		v  int64
		at time.Time
		ok bool
	}
	r := func(v int64, at time.Time) fold { return fold{v, ms(at), true} }
	none := fold{}
	for _, tc := range []struct {
		name              string
		tn, board, user   string
		from, to          time.Time
		sum, best, latest fold
	}{
		{"window", a, "b1", "u1", from, to,
			r(3+7+7-2+0+4+6, to.Add(-time.Millisecond)), r(7, hour(1)), r(6, to.Add(-time.Millisecond))},
		{"up to 3h", a, "b1", "u1", from, hour(3).Add(time.Millisecond),
			r(3+7+7-2+0, hour(3)), r(7, hour(1)), r(0, hour(3))},
		{"only the 3h tie", a, "b1", "u1", hour(3), hour(3).Add(time.Millisecond),
			r(-2, hour(3)), r(0, hour(3)), r(0, hour(3))},
		{"first instant only", a, "b1", "u1", from, from.Add(time.Millisecond),
			r(3, from), r(3, from), r(3, from)},
		{"negative", a, "b1", "u1", hour(30), hour(31), r(-5, hour(30)), r(-5, hour(30)), r(-5, hour(30))},
		{"zero", a, "b1", "u1", hour(32), hour(33), r(0, hour(32)), r(0, hour(32)), r(0, hour(32))},
		{"everything", a, "b1", "u1", from.Add(-time.Hour), hour(48),
			r(5+3+7+7-2+0+4+6+100+100-5+0, hour(32)), r(100, to), r(0, hour(32))},
		{"empty window", a, "b1", "u1", from, from, none, none, none},
		{"no scores in window", a, "b1", "u1", hour(25), hour(29), none, none, none},
		{"other user", a, "b1", "u2", from, to, r(1000, hour(1)), r(1000, hour(1)), r(1000, hour(1))},
		{"other board", a, "b2", "u1", from, to, r(2000, hour(1)), r(2000, hour(1)), r(2000, hour(1))},
		{"other tenant", b, "b1", "u1", from, to, r(3000, hour(1)), r(3000, hour(1)), r(3000, hour(1))},
		{"unknown user", a, "b1", "nobody", from, to, none, none, none},
	} {
		for _, x := range []struct {
			agg  leaderboards.Aggregation
			want fold
		}{{leaderboards.Sum, tc.sum}, {leaderboards.Best, tc.best}, {leaderboards.Latest, tc.latest}} {
			v, at, ok, err := s.AggregateScores(c, tc.tn, tc.board, tc.user, x.agg, tc.from, tc.to)
			must(t, err)
			eq(t, fmt.Sprintf("%s: %s", tc.name, x.agg), fold{v, at, ok}, x.want)
		}
	}
	if _, _, _, err := s.AggregateScores(c, a, "b1", "u1", "median", from, to); err == nil {
		t.Fatal("unknown aggregation accepted")
	}
}

func testScanScores(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	// More than one page of a paging implementation (1000 rows).
	const n = 1205
	want := make([]leaderboards.Score, n)
	for i := range want {
		want[i] = score(a, "b1", fmt.Sprint("u", i%7), fmt.Sprintf("e%05d", i), int64(i-600), base.Add(time.Duration(i)*time.Second))
	}
	// Insert from several goroutines, in scrambled order.
	errsOut := parallel(8, func(w int) error {
		for i := w; i < n; i += 8 {
			if _, err := s.AddScore(c, want[(i*7919)%n]); err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errsOut {
		must(t, err)
	}
	for _, sc := range []leaderboards.Score{
		score(a, "b2", "u1", "e00001", 1, base),
		score(b, "b1", "u1", "e00001", 1, base),
	} {
		_, err := s.AddScore(c, sc)
		must(t, err)
	}
	for i := range want {
		want[i].At = ms(want[i].At)
	}

	collect := func(tn, board string) []leaderboards.Score {
		var out []leaderboards.Score
		must(t, s.ScanScores(c, tn, board, func(sc leaderboards.Score) error {
			out = append(out, sc)
			return nil
		}))
		return out
	}
	eq(t, "scan board, in event order", collect(a, "b1"), want)
	eq(t, "scan other board", collect(a, "b2"), []leaderboards.Score{score(a, "b2", "u1", "e00001", 1, ms(base))})
	if got := collect(a, "none"); len(got) != 0 {
		t.Fatalf("unknown board scanned %d scores", len(got))
	}

	stop := errors.New("stop")
	visited := 0
	err := s.ScanScores(c, a, "b1", func(leaderboards.Score) error {
		visited++
		if visited == 3 {
			return stop
		}
		return nil
	})
	mustIs(t, err, stop)
	eq(t, "visited before stop", visited, 3)

	for _, tc := range []struct {
		tn, board string
		want      int64
	}{{a, "b1", n}, {a, "b2", 1}, {b, "b1", 1}, {a, "none", 0}, {tenant(t, "none"), "b1", 0}} {
		got, err := s.CountScores(c, tc.tn, tc.board)
		must(t, err)
		eq(t, "count "+tc.tn+"/"+tc.board, got, tc.want)
	}
}

func testExclusions(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	ex := func(tn, board, user, by, reason string, at time.Time) leaderboards.Exclusion {
		return leaderboards.Exclusion{Tenant: tn, Board: board, User: user, By: by, Reason: reason, At: at}
	}
	stored := func(e leaderboards.Exclusion) leaderboards.Exclusion { e.At = ms(e.At); return e }
	u2 := ex(a, "b1", "u2", "m1", "bot", base)
	u1 := ex(a, "b1", "u1", "m2", "multi-accounting", base.Add(time.Hour))
	for _, e := range []leaderboards.Exclusion{u2, u1,
		ex(a, "b2", "u3", "m1", "other board", base),
		ex(b, "b1", "u1", "m9", "other tenant", base),
	} {
		must(t, s.Exclude(c, e))
	}
	list, err := s.Exclusions(c, a, "b1")
	must(t, err)
	eq(t, "exclusions in user order", list, []leaderboards.Exclusion{stored(u1), stored(u2)})

	// Excluding again replaces who, why and when.
	again := ex(a, "b1", "u2", "m3", "still a bot", base.Add(2*time.Hour))
	must(t, s.Exclude(c, again))
	list, err = s.Exclusions(c, a, "b1")
	must(t, err)
	eq(t, "after replacing", list, []leaderboards.Exclusion{stored(u1), stored(again)})

	must(t, s.Reinstate(c, a, "b1", "u1"))
	mustIs(t, s.Reinstate(c, a, "b1", "u1"), errs.ErrNotFound)
	mustIs(t, s.Reinstate(c, a, "b1", "u3"), errs.ErrNotFound)                 // excluded from b2 only
	mustIs(t, s.Reinstate(c, tenant(t, "none"), "b1", "u2"), errs.ErrNotFound) // a's exclusion
	list, err = s.Exclusions(c, a, "b1")
	must(t, err)
	eq(t, "after reinstating", list, []leaderboards.Exclusion{stored(again)})

	list, err = s.Exclusions(c, a, "")
	must(t, err)
	eq(t, "every board's, in board and user order", list, []leaderboards.Exclusion{stored(again), stored(ex(a, "b2", "u3", "m1", "other board", base))})
	list, err = s.Exclusions(c, b, "b1")
	must(t, err)
	eq(t, "other tenant", list, []leaderboards.Exclusion{stored(ex(b, "b1", "u1", "m9", "other tenant", base))})
	list, err = s.Exclusions(c, a, "none")
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("unknown board has %d exclusions", len(list))
	}

	before := ms(time.Now())
	must(t, s.Exclude(c, ex(a, "b3", "u1", "m1", "", time.Time{})))
	list, err = s.Exclusions(c, a, "b3")
	must(t, err)
	if len(list) != 1 || list[0].At.Before(before) || list[0].At.After(time.Now()) {
		t.Fatalf("exclusion with a zero time: %+v, want one at now", list)
	}
}

// --- API keys ----------------------------------------------------------------

func testAPIKeys(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	kids := ids(3)
	keys := []auth.APIKey{
		{ID: kids[0], Tenant: a, Name: "POS", Prefix: "ql_abc", Hash: "hash-0-" + a, Scopes: []string{"events:write", "users:read"}, CreatedAt: base},
		{ID: kids[1], Tenant: a, Name: "shop", Prefix: "ql_def", Hash: "hash-1-" + a, CreatedAt: base.Add(time.Second)},
		{ID: kids[2], Tenant: b, Name: "other", Prefix: "ql_ghi", Hash: "hash-2-" + b, Scopes: []string{"events:write"}, CreatedAt: base},
	}
	for i := len(keys) - 1; i >= 0; i-- {
		must(t, s.CreateAPIKey(c, keys[i]))
	}
	want := make([]auth.APIKey, len(keys))
	for i, k := range keys {
		k.CreatedAt = ms(k.CreatedAt)
		want[i] = k
	}

	got, err := s.APIKeyByHash(c, keys[0].Hash)
	must(t, err)
	eq(t, "by hash", got, want[0])
	_, err = s.APIKeyByHash(c, "no-such-hash")
	mustIs(t, err, errs.ErrNotFound)

	dup := keys[0]
	dup.ID = id()
	mustIs(t, s.CreateAPIKey(c, dup), errs.ErrDuplicate) // hash taken
	dup = keys[1]
	dup.Hash = "fresh"
	mustIs(t, s.CreateAPIKey(c, dup), errs.ErrDuplicate) // id taken

	list, err := s.ListAPIKeys(c, a)
	must(t, err)
	eq(t, "list", list, want[:2])
	list, err = s.ListAPIKeys(c, tenant(t, "none"))
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("unknown tenant has %d keys", len(list))
	}

	at := base.Add(time.Hour + 1500*time.Microsecond)
	must(t, s.RevokeAPIKey(c, a, kids[0], at))
	must(t, s.RevokeAPIKey(c, a, kids[0], at.Add(time.Hour))) // keeps the first time
	got, err = s.APIKeyByHash(c, keys[0].Hash)
	must(t, err)
	want[0].RevokedAt = msp(at)
	eq(t, "revoked", got, want[0])

	mustIs(t, s.RevokeAPIKey(c, b, kids[1], at), errs.ErrNotFound) // a's key, b's tenant
	mustIs(t, s.RevokeAPIKey(c, a, id(), at), errs.ErrNotFound)
	list, err = s.ListAPIKeys(c, a)
	must(t, err)
	eq(t, "list after revoke", list, want[:2])
}

// --- audit -------------------------------------------------------------------

func testAudit(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	aids := ids(5)
	var all []audit.Entry
	for i, eid := range aids {
		e := audit.Entry{ID: eid, Tenant: a, Actor: "m1", Action: "leaderboard.exclude",
			Subject: fmt.Sprintf("leaderboard:b1/user:u%d", i), At: base.Add(time.Duration(i) * time.Minute)}
		switch i {
		case 1:
			e.Detail = map[string]string{"reason": "bot", "by": "key:k1"}
		case 2:
			e.Detail = map[string]string{} // comes back nil
		}
		all = append(all, e)
	}
	// Appended out of order: the id, not the arrival, orders the log.
	for _, i := range []int{3, 0, 4, 2, 1} {
		must(t, s.AppendAudit(c, all[i]))
	}
	must(t, s.AppendAudit(c, audit.Entry{ID: id(), Tenant: b, Actor: "m9", Action: "x", Subject: "y", At: base}))
	for i := range all {
		all[i].At = ms(all[i].At)
		if len(all[i].Detail) == 0 {
			all[i].Detail = nil
		}
	}
	rev := func(es ...audit.Entry) []audit.Entry { return es }
	for _, tc := range []struct {
		name   string
		before string
		limit  int
		want   []audit.Entry
	}{
		{"newest", "", 2, rev(all[4], all[3])},
		{"next page", all[3].ID, 2, rev(all[2], all[1])},
		{"last page", all[1].ID, 2, rev(all[0])},
		{"past the end", all[0].ID, 2, nil},
		{"default limit", "", 0, rev(all[4], all[3], all[2], all[1], all[0])},
	} {
		got, err := s.ListAudit(c, a, tc.before, tc.limit)
		must(t, err)
		eq(t, tc.name, got, tc.want)
	}

	dup := all[2]
	dup.Action = "rewritten"
	mustIs(t, s.AppendAudit(c, dup), errs.ErrDuplicate)
	got, err := s.ListAudit(c, a, all[3].ID, 1)
	must(t, err)
	eq(t, "entry after a duplicate append", got, rev(all[2]))

	got, err = s.ListAudit(c, tenant(t, "none"), "", 10)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("unknown tenant has %d audit entries", len(got))
	}
}

func testAuditDefaults(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	before := ms(time.Now())
	must(t, s.AppendAudit(c, audit.Entry{Tenant: a, Actor: "m1", Action: "profile.hide", Subject: "user:u1"}))
	must(t, s.AppendAudit(c, audit.Entry{Tenant: a, Actor: "m1", Action: "profile.show", Subject: "user:u1"}))
	got, err := s.ListAudit(c, a, "", 10)
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("got %d entries, want 2", len(got))
	}
	// Fresh ids are UUIDv7: the later append lists first.
	eq(t, "newest first", []string{got[0].Action, got[1].Action}, []string{"profile.show", "profile.hide"})
	for _, e := range got {
		if e.ID == "" || e.At.Before(before) || e.At.After(time.Now()) {
			t.Fatalf("defaults: %+v, want an id and now", e)
		}
	}
}

// --- profiles ----------------------------------------------------------------

// byUser sorts profiles, which a store may return in any order.
func byUser(ps []profiles.Profile) []profiles.Profile {
	slices.SortFunc(ps, func(x, y profiles.Profile) int { return strings.Compare(x.User, y.User) })
	return ps
}

func testProfiles(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	u1 := profiles.Profile{User: "u1", Tenant: a, Name: "Ada", AvatarURL: "https://img.example/ada.png", UpdatedAt: base}
	u2 := profiles.Profile{User: "u2", Tenant: a, Name: "Grace", UpdatedAt: base}
	for _, p := range []profiles.Profile{u1, u2,
		{User: "u3", Tenant: a, Name: "Edsger", UpdatedAt: base},
		{User: "u1", Tenant: b, Name: "Other tenant", UpdatedAt: base},
	} {
		must(t, s.PutProfile(c, p))
	}
	stored := func(p profiles.Profile) profiles.Profile { p.UpdatedAt = ms(p.UpdatedAt); return p }

	got, err := s.Profiles(c, a, []string{"u2", "nobody", "u1", "u2"})
	must(t, err)
	eq(t, "batch with unknown and repeated ids", byUser(got), []profiles.Profile{stored(u1), stored(u2)})

	// Put replaces the whole profile.
	u1b := profiles.Profile{User: "u1", Tenant: a, Name: "Ada L.", UpdatedAt: base.Add(time.Hour)}
	must(t, s.PutProfile(c, u1b))
	got, err = s.Profiles(c, a, []string{"u1"})
	must(t, err)
	eq(t, "after replacing", got, []profiles.Profile{stored(u1b)})
	got, err = s.Profiles(c, b, []string{"u1", "u2"})
	must(t, err)
	eq(t, "other tenant", got, []profiles.Profile{stored(profiles.Profile{User: "u1", Tenant: b, Name: "Other tenant", UpdatedAt: base})})

	for _, tc := range []struct {
		name  string
		tn    string
		users []string
	}{
		{"no users", a, nil},
		{"empty list", a, []string{}},
		{"unknown users", a, []string{"x", "y"}},
		{"unknown tenant", tenant(t, "none"), []string{"u1"}},
	} {
		got, err := s.Profiles(c, tc.tn, tc.users)
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("%s: got %d profiles", tc.name, len(got))
		}
	}

	before := ms(time.Now())
	must(t, s.PutProfile(c, profiles.Profile{User: "u4", Tenant: a, Name: "Now"}))
	got, err = s.Profiles(c, a, []string{"u4"})
	must(t, err)
	if len(got) != 1 || got[0].UpdatedAt.Before(before) || got[0].UpdatedAt.After(time.Now()) {
		t.Fatalf("profile with a zero time: %+v, want one updated now", got)
	}
	if err := s.PutProfile(c, profiles.Profile{Tenant: a, Name: "no user"}); err == nil {
		t.Fatal("profile without a user accepted")
	}
}

// testProfilesMany asks for more users than fit one IN list of a chunking
// implementation (500). Only every third known user has a profile: what
// is tested is the length of the list asked for, with hits in every chunk,
// and fewer writes keep the test quick on a slow server.
func testProfilesMany(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	const n = 1203
	var want []profiles.Profile
	var users []string
	for i := range n {
		u := fmt.Sprintf("u%05d", i)
		users = append(users, u, fmt.Sprintf("x%05d", i)) // the x ones unknown
		if i%3 == 0 {
			want = append(want, profiles.Profile{User: u, Tenant: a, Name: fmt.Sprint("Player ", i), UpdatedAt: ms(base)})
		}
	}
	errsOut := parallel(8, func(w int) error {
		for i := w; i < len(want); i += 8 {
			if err := s.PutProfile(c, want[i]); err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errsOut {
		must(t, err)
	}
	// Reversed, so that no chunk boundary lines up with sorted order.
	slices.Reverse(users)
	got, err := s.Profiles(c, a, users)
	must(t, err)
	eq(t, "many profiles", byUser(got), want)
}

func testAttributes(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	_, ok, err := s.GetAttributes(c, a, "u1")
	must(t, err)
	eq(t, "before any put", ok, false)

	for _, tc := range []struct {
		name string
		put  profiles.Attributes
		want profiles.Attributes
	}{
		{"first put",
			profiles.Attributes{User: "u1", Tenant: a, Tier: "gold", Segments: []string{"vip", "beta"}, UpdatedAt: base},
			profiles.Attributes{User: "u1", Tenant: a, Tier: "gold", Segments: []string{"vip", "beta"}, UpdatedAt: ms(base)}},
		{"replaced whole",
			profiles.Attributes{User: "u1", Tenant: a, Segments: []string{"churn-risk"}, UpdatedAt: base.Add(time.Hour)},
			profiles.Attributes{User: "u1", Tenant: a, Segments: []string{"churn-risk"}, UpdatedAt: ms(base.Add(time.Hour))}},
		{"segments emptied",
			profiles.Attributes{User: "u1", Tenant: a, Tier: "silver", Segments: []string{}, UpdatedAt: base},
			profiles.Attributes{User: "u1", Tenant: a, Tier: "silver", UpdatedAt: ms(base)}},
	} {
		must(t, s.PutAttributes(c, tc.put))
		got, ok, err := s.GetAttributes(c, a, "u1")
		must(t, err)
		eq(t, tc.name+": found", ok, true)
		eq(t, tc.name, got, tc.want)
	}
	for _, tc := range []struct{ name, tn, user string }{
		{"other user", a, "u2"},
		{"other tenant", b, "u1"},
	} {
		_, ok, err := s.GetAttributes(c, tc.tn, tc.user)
		must(t, err)
		eq(t, tc.name, ok, false)
	}

	before := ms(time.Now())
	must(t, s.PutAttributes(c, profiles.Attributes{User: "u3", Tenant: a, Tier: "bronze"}))
	got, _, err := s.GetAttributes(c, a, "u3")
	must(t, err)
	if got.UpdatedAt.Before(before) || got.UpdatedAt.After(time.Now()) {
		t.Fatalf("zero UpdatedAt: %v, want now", got.UpdatedAt)
	}
	if err := s.PutAttributes(c, profiles.Attributes{Tenant: a, Tier: "gold"}); err == nil {
		t.Fatal("attributes without a user accepted")
	}
}
