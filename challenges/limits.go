package challenges

import (
	"time"

	"github.com/questline/questline/events/rule"
)

// counted returns the contributions that count under the limits, in
// occurred_at order: one at least minInterval after the previous counted
// one, at most dailyCap counted per local day, and, for a distinct goal,
// only a value not counted before (so sharing the same post again neither
// counts nor uses up the interval or the day's cap). cs must be in
// (At, EventID) order, as the store returns them. Deciding from the
// ordered history rather than at arrival is what makes the outcome the same
// whatever the arrival order, the retries or the concurrency.
func counted(cs []rule.Contribution, distinct bool, minInterval time.Duration, dailyCap int64, loc *time.Location) []rule.Contribution {
	if minInterval <= 0 && dailyCap <= 0 && !distinct {
		return cs
	}
	var out []rule.Contribution
	seen := map[string]bool{}
	var last time.Time
	var day string
	var today int64
	for _, c := range cs {
		if distinct && seen[c.Key] {
			continue
		}
		if minInterval > 0 && len(out) > 0 && c.At.Sub(last) < minInterval {
			continue
		}
		if d := c.At.In(loc).Format(time.DateOnly); d != day {
			day, today = d, 0
		}
		if dailyCap > 0 && today >= dailyCap {
			continue
		}
		out = append(out, c)
		seen[c.Key], last = true, c.At
		today++
	}
	return out
}
