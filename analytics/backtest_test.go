package analytics

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/questline/questline/badges"
	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
)

// pagedEvents is an EventScanner over a fixed, id-ordered list.
type pagedEvents []events.Event

func (p pagedEvents) ScanEvents(_ context.Context, _, afterID string, limit int) ([]events.Event, error) {
	var out []events.Event
	for _, e := range p {
		if e.ID > afterID && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func TestReplay(t *testing.T) {
	day := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	// u1 shares twice on each of three days, u2 once a day, u3 twice on day 3.
	var evs pagedEvents
	add := func(user string, d int) {
		at := day.AddDate(0, 0, d).Add(time.Duration(len(evs)) * time.Minute)
		evs = append(evs, events.Event{ID: lowerID(at)[:24] + strconv.FormatInt(int64(100000000000+len(evs)), 10), User: user, Type: "share", OccurredAt: at, ReceivedAt: at})
	}
	for d := range 3 {
		add("u1", d)
		add("u1", d)
		add("u2", d)
	}
	add("u3", 2)
	add("u3", 2)
	parse := func(window string) rule.Rule {
		r, err := rule.Parse([]byte(`{"goals":[{"kind":"count","event_type":"share","target":2}]` + window + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	daily := parse(`,"window":{"recurrence":"daily"}`)
	for _, tc := range []struct {
		name                                  string
		d                                     Draft
		progressed, completed, completions, p int64
	}{
		{"once (u2's second share is on day 2)", Draft{Rule: parse(""), MaxCompletions: 1, Points: 10}, 3, 3, 3, 30},
		{"daily, no cap", Draft{Rule: daily, Points: 5}, 3, 2, 4, 20},
		{"daily, capped at 2", Draft{Rule: daily, MaxCompletions: 2, Points: 5}, 3, 2, 3, 15},
		// Once the edition is gone, users without it are not replayed.
		{"limited edition of 1", Draft{Rule: daily, Limit: 1}, 1, 1, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewService(Config{Events: evs})
			res, err := s.Replay(context.Background(), tc.d, day.Add(-time.Hour), func(int64, time.Time) {})
			if err != nil {
				t.Fatal(err)
			}
			if res.Progressed != tc.progressed || res.Completed != tc.completed || res.Completions != tc.completions || res.Points != tc.p {
				t.Fatalf("%+v", res)
			}
		})
	}
}

// TestRebuild folds every stored event under its write-path key.
func TestRebuild(t *testing.T) {
	var evs pagedEvents
	for i := range scanPage + 5 {
		evs = append(evs, events.Event{ID: lowerID(time.Unix(0, 0))[:24] + strconv.Itoa(100000000000+i), IdempotencyKey: "k" + strconv.Itoa(i),
			User: "u", Type: "share", Source: "player", OccurredAt: time.Unix(1e9, 0)})
	}
	r := &recorder{}
	s := NewService(Config{Store: r, Events: evs})
	j := s.StartRebuild(context.Background(), "t")
	for deadline := time.Now().Add(5 * time.Second); j.Status == "running"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("still running")
		}
		j, _ = s.RebuildJob("t", j.ID)
	}
	if j.Status != "done" || j.Scanned != int64(len(evs)) || len(r.facts) != len(evs) || r.facts[3].Key != "ev:k3" {
		t.Fatalf("%+v, %d facts", j, len(r.facts))
	}
	if _, err := s.RebuildJob("other", j.ID); err == nil {
		t.Fatal("another tenant's rebuild found")
	}
}

// stream builds id-ordered events: each one's id follows its receipt.
type stream struct{ evs pagedEvents }

func (s *stream) add(user, typ string, props map[string]any, at, received time.Time) {
	id := lowerID(received)[:24] + strconv.FormatInt(int64(100000000000+len(s.evs)), 10)
	s.evs = append(s.evs, events.Event{ID: id, Tenant: "t", User: user, Type: typ, Props: props, OccurredAt: at, ReceivedAt: received})
}

// now adds an event received as it occurred.
func (s *stream) now(user, typ string, props map[string]any, at time.Time) {
	s.add(user, typ, props, at, at)
}

func replayDraft(t *testing.T, evs pagedEvents, d Draft, from time.Time) BacktestResult {
	t.Helper()
	res, err := NewService(Config{Events: evs}).Replay(context.Background(), d, from, func(int64, time.Time) {})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestReplayRolling follows the engine's rolling windows: a challenge
// counts (t - span, t] at each event, after its latest completion; a badge
// is also judged at the later contributions whose window holds a late event.
func TestReplayRolling(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	var s stream
	for _, n := range []int{0, 1, 2, 3, 30} { // two completions, then a lone share
		s.now("u1", "share", nil, h(n))
	}
	s.now("u2", "share", nil, h(0))
	s.now("u2", "share", nil, h(25)) // the first share is out of the window by then
	s.now("u3", "share", nil, h(5))
	s.add("u3", "share", nil, h(4), h(6)) // late: only the badge sees it beside the later one
	s.now("u4", "share", nil, h(40))
	s.now("u4", "share", nil, h(40).Add(24*time.Hour)) // exactly a span apart: (t-24h, t] leaves the first out
	r, err := rule.Parse([]byte(`{"goals":[{"kind":"count","event_type":"share","target":2}],"window":{"rolling":"24h"}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                                  string
		d                                     Draft
		progressed, completed, completions, p int64
	}{
		{"challenge, repeatable", Draft{Kind: "challenge", Rule: r, Points: 5}, 4, 1, 2, 10},
		{"challenge, once", Draft{Kind: "challenge", Rule: r, MaxCompletions: 1, Points: 5}, 4, 1, 1, 5},
		{"badge", BadgeDraft(badges.Badge{Rule: r}), 4, 2, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := replayDraft(t, s.evs, tc.d, t0.Add(-time.Hour))
			if res.Progressed != tc.progressed || res.Completed != tc.completed || res.Completions != tc.completions || res.Points != tc.p {
				t.Fatalf("%+v", res)
			}
		})
	}
}

// TestRollingMemory: a user's contributions are kept for the span and the
// late grace only, however long their history.
func TestRollingMemory(t *testing.T) {
	r, err := rule.Parse([]byte(`{"goals":[{"kind":"count","event_type":"share","target":1000}],"window":{"rolling":"1d"}}`))
	if err != nil {
		t.Fatal(err)
	}
	d := Draft{Kind: "challenge", Rule: r}
	var run rollingRun
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for i := range 24 * 30 {
		at := t0.Add(time.Duration(i) * time.Hour)
		if run.count(d, events.Event{ID: strconv.Itoa(i), Type: "share", OccurredAt: at, ReceivedAt: at}, d.hits(events.Event{Type: "share", OccurredAt: at})) {
			t.Fatal("completed")
		}
	}
	if n := len(run.hits); n > 48 {
		t.Fatalf("%d contributions kept for a 1-day window", n)
	}
}
