package analytics

import (
	"slices"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
)

// rollingHit is one event's contribution to a goal of a rolling window.
type rollingHit struct {
	rule.Contribution
	goal, event string
}

// later orders contributions as the challenge store does: by occurred_at,
// then event id.
func (h rollingHit) later(o rollingHit) bool {
	return h.At.After(o.At) || h.At.Equal(o.At) && h.event > o.event
}

// rollingRun is a user's replay state on a rolling window: the
// contributions a later event may still count, and the one of the latest
// completion (a challenge starts afresh after it).
type rollingRun struct {
	hits  []rollingHit
	after *rollingHit
}

// count adds hits of ev and reports whether they complete c, with the
// engine's semantics: progress at time t counts the contributions that
// occurred in (t - span, t] after the latest completion's; a challenge is
// judged at the event's occurred_at, a badge (EveryEnd) also at each later
// contribution whose window holds the event.
//
// Memory is bounded by the window: contributions that occurred a span
// before the late-arrival grace of the event's receipt are dropped, since
// no event arriving within the grace can count them (the engine's
// retention prunes them too).
func (r *rollingRun) count(c Draft, ev events.Event, hits map[string]rule.Contribution) bool {
	w := c.Rule.Window
	for id, x := range hits {
		r.hits = append(r.hits, rollingHit{Contribution: x, goal: id, event: ev.ID})
	}
	cut := w.RollingFrom(ev.ReceivedAt.Add(-rule.LateGrace))
	r.hits = slices.DeleteFunc(r.hits, func(h rollingHit) bool { return !h.At.After(cut) })
	at := ev.OccurredAt
	ends := []time.Time{at}
	if c.EveryEnd {
		for _, h := range r.hits {
			if h.At.After(at) && w.RollingFrom(h.At).Before(at) {
				ends = append(ends, h.At)
			}
		}
	}
	for _, end := range ends {
		if c.Rule.Met(c.Rule.Progress(r.counted(w, end))) {
			done := rollingHit{Contribution: rule.Contribution{At: at}, event: ev.ID}
			r.after = &done
			r.hits = slices.DeleteFunc(r.hits, func(h rollingHit) bool { return !h.later(done) })
			return true
		}
	}
	return false
}

// counted returns, by goal, the contributions the window ending at end holds.
func (r *rollingRun) counted(w rule.Window, end time.Time) map[string][]rule.Contribution {
	from := w.RollingFrom(end)
	goals := map[string][]rule.Contribution{}
	for _, h := range r.hits {
		if h.At.After(from) && !h.At.After(end) && (r.after == nil || h.later(*r.after)) {
			goals[h.goal] = append(goals[h.goal], h.Contribution)
		}
	}
	return goals
}
