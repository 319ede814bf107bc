package storagetest

import (
	"testing"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
)

// unprocessedIDs lists the ids Unprocessed returns before t.
func unprocessedIDs(t *testing.T, s Store, before time.Time) []string {
	t.Helper()
	evs, err := s.Unprocessed(ctx(t), before, 100)
	must(t, err)
	out := []string{}
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

func deadIDs(t *testing.T, s Store, tn, before string, limit int) []string {
	t.Helper()
	evs, err := s.DeadEvents(ctx(t), tn, before, limit)
	must(t, err)
	out := []string{}
	for _, e := range evs {
		if e.DeadAt == nil || e.DeadReason == "" || e.Processed {
			t.Fatalf("dead event %s: dead_at %v reason %q processed %v", e.ID, e.DeadAt, e.DeadReason, e.Processed)
		}
		out = append(out, e.ID)
	}
	return out
}

// testEventAttempts: a failed try keeps an event out of Unprocessed until
// its next attempt; counts and times never go back; processed events are
// left alone.
func testEventAttempts(t *testing.T, s Store) {
	c := ctx(t)
	a := tenant(t, "a")
	var evs []events.Event
	for i, k := range []string{"k1", "k2", "k3"} {
		e, _, err := s.InsertEvent(c, event(a, k, base.Add(time.Duration(i+1)*time.Second)))
		must(t, err)
		evs = append(evs, e)
	}
	if evs[0].Attempts != 0 || evs[0].NextAttemptAt != nil || evs[0].DeadAt != nil {
		t.Fatalf("fresh event has retry state %+v", evs[0])
	}
	later := base.Add(time.Hour)
	must(t, s.RecordAttempt(c, a, evs[0].ID, events.Attempt{Attempts: 1, NextAt: later}))
	eq(t, "while backing off", unprocessedIDs(t, s, base.Add(10*time.Second)), []string{evs[1].ID, evs[2].ID})
	eq(t, "once due", unprocessedIDs(t, s, later.Add(time.Millisecond)), []string{evs[0].ID, evs[1].ID, evs[2].ID})

	// A stale sweeper's record does not turn the count or the time back.
	must(t, s.RecordAttempt(c, a, evs[0].ID, events.Attempt{Attempts: 0, NextAt: base}))
	got, _, err := s.InsertEvent(c, event(a, "k1", base))
	must(t, err)
	if got.Attempts != 1 || got.NextAttemptAt == nil || !got.NextAttemptAt.Equal(ms(later)) {
		t.Fatalf("after a stale record: attempts %d next %v, want 1 at %v", got.Attempts, got.NextAttemptAt, ms(later))
	}

	// Processed events are left alone.
	must(t, s.MarkProcessed(c, a, evs[1].ID, events.Result{EventID: evs[1].ID}, base))
	must(t, s.RecordAttempt(c, a, evs[1].ID, events.Attempt{Attempts: 3, NextAt: later}))
	got, _, err = s.InsertEvent(c, event(a, "k2", base))
	must(t, err)
	if got.Attempts != 0 {
		t.Fatalf("processed event got attempts %d", got.Attempts)
	}
}

// testDeadEvents: dead events leave Unprocessed for a per-tenant list,
// newest first, and come back by Revive; one stored dead (a system event
// past the depth limit) is listed the same way.
func testDeadEvents(t *testing.T, s Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	one, _, err := s.InsertEvent(c, event(a, "k1", base))
	must(t, err)
	live, _, err := s.InsertEvent(c, event(a, "k2", base))
	must(t, err)
	deadAt := base.Add(time.Minute)
	must(t, s.RecordAttempt(c, a, one.ID, events.Attempt{Attempts: 10, NextAt: deadAt, DeadAt: &deadAt, DeadReason: "too-many-attempts"}))
	loop := event(a, "k3", base)
	loop.DeadAt, loop.DeadReason = &deadAt, "system-event-depth"
	two, _, err := s.InsertEvent(c, loop)
	must(t, err)
	if two.DeadAt == nil || !two.DeadAt.Equal(ms(deadAt)) || two.DeadReason != "system-event-depth" {
		t.Fatalf("stored dead: %+v", two)
	}

	eq(t, "due", unprocessedIDs(t, s, base.Add(24*time.Hour)), []string{live.ID})
	eq(t, "dead, newest first", deadIDs(t, s, a, "", 10), []string{two.ID, one.ID})
	eq(t, "dead, page 2", deadIDs(t, s, a, two.ID, 10), []string{one.ID})
	eq(t, "dead, limit", deadIDs(t, s, a, "", 1), []string{two.ID})
	eq(t, "other tenant's dead", deadIDs(t, s, b, "", 10), []string{})
	n, err := s.CountDead(c)
	must(t, err)
	eq(t, "dead count", n, int64(2))

	// A dead event stays dead when a late record arrives.
	must(t, s.RecordAttempt(c, a, one.ID, events.Attempt{Attempts: 11, NextAt: deadAt}))
	eq(t, "still dead", deadIDs(t, s, a, "", 10), []string{two.ID, one.ID})

	_, err = s.Revive(c, b, one.ID)
	mustIs(t, err, errs.ErrNotFound)
	_, err = s.Revive(c, a, live.ID)
	mustIs(t, err, errs.ErrNotFound)
	back, err := s.Revive(c, a, one.ID)
	must(t, err)
	if back.ID != one.ID || back.Attempts != 0 || back.NextAttemptAt != nil || back.DeadAt != nil || back.DeadReason != "" {
		t.Fatalf("revived: %+v", back)
	}
	_, err = s.Revive(c, a, one.ID)
	mustIs(t, err, errs.ErrNotFound)
	eq(t, "due after revive", unprocessedIDs(t, s, base.Add(time.Second)), []string{one.ID, live.ID})

	// Processing a dead event (a retry by its sender) takes it off the list.
	must(t, s.MarkProcessed(c, a, two.ID, events.Result{EventID: two.ID}, base))
	eq(t, "dead after processing", deadIDs(t, s, a, "", 10), []string{})
	n, err = s.CountDead(c)
	must(t, err)
	eq(t, "dead count after", n, int64(0))
}
