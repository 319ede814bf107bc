package analytics

import (
	"context"
	"strconv"
	"testing"
	"time"

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
