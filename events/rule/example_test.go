package rule_test

import (
	"fmt"
	"time"

	"github.com/questline/questline/events/rule"
)

// A caller's path for one incoming event: find the rules that care about
// its type, match the goals that count now, and place the event in its
// period by occurred_at.
func Example() {
	r, err := rule.Parse([]byte(`{
		"goals": [{"kind": "sum", "event_type": "purchase", "prop": "amount", "target": 100,
		           "filters": [{"prop": "currency", "op": "eq", "value": "EUR"}]}],
		"window": {"recurrence": "weekly", "time_zone": "Europe/Paris"}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	ix := rule.NewIndex([]rule.Rule{r}, rule.Rule.EventTypes)

	e := rule.Event{
		Type:       "purchase",
		Props:      map[string]any{"amount": 42.5, "currency": "EUR"},
		OccurredAt: time.Date(2026, 11, 29, 23, 30, 0, 0, time.UTC), // Monday 00:30 in Paris
	}
	received := e.OccurredAt.Add(2 * time.Hour)
	for _, r := range ix.For(e.Type) {
		p, ok := r.Window.Counts(e.OccurredAt, received)
		if !ok {
			continue
		}
		for _, g := range r.Goals {
			if c, ok := g.Match(e); ok {
				fmt.Printf("%s: +%s of %s in %s, which resets at %s\n", g.ID, rule.FormatScaled(c.Amount),
					g.Target, p.Key, p.End.Format(time.RFC3339))
			}
		}
	}
	_, err = rule.Parse([]byte(`{"goals": [{"kind": "count", "event_type": "share", "target": 2.5}]}`))
	fmt.Println(err)
	// Output:
	// g1: +42.5 of 100 in 2026-W49, which resets at 2026-12-06T23:00:00Z
	// goals[0].target: count and distinct targets are whole numbers from 1 to 1000000
}
