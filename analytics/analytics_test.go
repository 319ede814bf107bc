package analytics

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/questline/questline/events"
)

// recorder keeps the facts it is given.
type recorder struct {
	Store
	facts []Fact
}

func (r *recorder) RecordFact(_ context.Context, f Fact) (bool, error) {
	r.facts = append(r.facts, f)
	return true, nil
}

func TestHandleEventCounts(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ev   events.Event
		want map[string]int64
		user bool
	}{
		{"player event", events.Event{Type: "share", Source: "player", User: "u"}, map[string]int64{MetricEvents: 1}, true},
		{"completion", events.Event{Type: "challenge.completed", Source: "system", User: "u", Props: map[string]any{"challenge_id": "c1"}},
			map[string]int64{MetricCompletions: 1, "challenge:c1:completions": 1}, false},
		{"badge", events.Event{Type: "badge.unlocked", Source: "system", User: "u", Props: map[string]any{"badge_id": "b1"}},
			map[string]int64{MetricBadges: 1, "badge:b1:unlocks": 1}, false},
		{"expiry", events.Event{Type: "points.expired", Source: "system", User: "u", Props: map[string]any{"amount": float64(-40)}},
			map[string]int64{MetricExpired: 40}, false},
		{"redemption", events.Event{Type: "reward.redeemed", Source: "system", User: "u", Props: map[string]any{"reward_id": "r1", "cost": float64(300)}},
			map[string]int64{MetricRedeemed: 1, MetricSpent: 300, "reward:r1:redemptions": 1}, false},
		{"quiz attempt passed after 2 answers", events.Event{Type: "quiz.completed", Source: "system", User: "u", Props: map[string]any{
			"quiz_id": "q1", "kind": "quiz", "score": float64(7), "max_score": float64(10), "passed": true, "answered": float64(2), "questions": float64(3)}},
			map[string]int64{MetricQuizCompletions: 1, MetricQuizPasses: 1, "quiz:q1:completions": 1, "quiz:q1:passes": 1,
				"quiz:q1:score": 7, "quiz:q1:max_score": 10, "quiz:q1:self_paced": 1, "quiz:q1:answered:2": 1}, false},
		{"live quiz player", events.Event{Type: "quiz.completed", Source: "system", User: "u", Props: map[string]any{
			"quiz_id": "q1", "kind": "live", "score": float64(1800), "max_score": float64(3000), "passed": false}},
			map[string]int64{MetricQuizCompletions: 1, "quiz:q1:completions": 1, "quiz:q1:score": 1800, "quiz:q1:max_score": 3000}, false},
		{"ugc approval", events.Event{Type: "ugc.approved", Source: "system", User: "u", Props: map[string]any{"submission_id": "s1"}},
			map[string]int64{MetricUGCApproved: 1}, false},
		{"contest prize", events.Event{Type: "contest.won", Source: "system", User: "u", Props: map[string]any{"contest_id": "c1"}},
			map[string]int64{MetricContestWinners: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			tc.ev.ID, tc.ev.OccurredAt = "e1", at
			if _, err := NewService(Config{Store: r}).HandleEvent(context.Background(), tc.ev, nil); err != nil {
				t.Fatal(err)
			}
			f := r.facts[0]
			if f.Key != "ev:e1" || !maps.Equal(f.Counts, tc.want) || (f.User != "") != tc.user || (len(f.Firsts) == 3) != tc.user {
				t.Fatalf("fact %+v", f)
			}
		})
	}
}
