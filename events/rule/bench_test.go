package rule

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchRules makes n rules of 1-3 goals with 0-3 filters each, their goals
// spread over the given event types.
func benchRules(n int, types []string) []Rule {
	rng := rand.New(rand.NewPCG(7, 11))
	filters := []Filter{
		{Prop: "currency", Op: Eq, Value: "EUR"},
		{Prop: "amount", Op: Gte, Value: 10.0},
		{Prop: "channel", Op: In, Values: []any{"app", "web"}},
		{Prop: "store_id", Op: NotIn, Values: []any{"s1", "s2", "s3", "s4", "s5"}},
		{Prop: "amount", Op: Between, Values: []any{1.0, 100.0}},
		{Prop: "coupon", Op: NotExists},
	}
	kinds := []Goal{
		{Kind: Count, Target: "5"},
		{Kind: Sum, Prop: "amount", Target: "100"},
		{Kind: Distinct, Prop: "store_id", Target: "4"},
	}
	rules := make([]Rule, n)
	for i := range rules {
		for j := range 1 + rng.IntN(3) {
			g := kinds[rng.IntN(len(kinds))]
			g.ID = fmt.Sprintf("g%d", j+1)
			g.EventType = types[rng.IntN(len(types))]
			for range rng.IntN(4) {
				g.Filters = append(g.Filters, filters[rng.IntN(len(filters))])
			}
			rules[i].Goals = append(rules[i].Goals, g)
		}
		rules[i].Window = Window{Recurrence: Daily, TimeZone: "Europe/Paris"}
	}
	return rules
}

var benchEvent = Event{
	Type:       "purchase",
	Props:      map[string]any{"amount": 42.5, "currency": "EUR", "store_id": "s12", "channel": "app"},
	OccurredAt: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
}

// evaluate matches e against every goal of every rule indexed under its
// type, as a caller does for one incoming event.
func evaluate(ix *Index[Rule], e Event) (matched int) {
	for _, r := range ix.For(e.Type) {
		for _, g := range r.Goals {
			if _, ok := g.Match(e); ok {
				matched++
			}
		}
	}
	return matched
}

var sink int

// BenchmarkEvaluate1000: one tenant's 1,000 rules over 10 event types.
func BenchmarkEvaluate1000(b *testing.B) {
	types := []string{"purchase", "share", "visit", "checkin", "like", "comment", "view", "signup", "referral", "app_open"}
	ix := NewIndex(benchRules(1000, types), Rule.EventTypes)
	for b.Loop() {
		sink = evaluate(ix, benchEvent)
	}
	b.ReportMetric(float64(len(ix.For(benchEvent.Type))), "candidates")
}

// BenchmarkEvaluate1000SameType is the worst case: all 1,000 rules count
// the event's type.
func BenchmarkEvaluate1000SameType(b *testing.B) {
	ix := NewIndex(benchRules(1000, []string{"purchase"}), Rule.EventTypes)
	for b.Loop() {
		sink = evaluate(ix, benchEvent)
	}
	b.ReportMetric(float64(len(ix.For(benchEvent.Type))), "candidates")
}

// BenchmarkCounts places an event in a daily period of a time zone, which
// callers do for each rule the event matches.
func BenchmarkCounts(b *testing.B) {
	w := Window{Recurrence: Daily, TimeZone: "Europe/Paris"}
	received := benchEvent.OccurredAt.Add(time.Second)
	for b.Loop() {
		p, _ := w.Counts(benchEvent.OccurredAt, received)
		sink = len(p.Key)
	}
}

func BenchmarkParse(b *testing.B) {
	data := []byte(`{"goals": [{"kind": "sum", "event_type": "purchase", "prop": "amount", "target": 100,
		"filters": [{"prop": "currency", "op": "in", "values": ["EUR", "USD"]}, {"prop": "amount", "op": "gte", "value": 10}]},
		{"kind": "distinct", "event_type": "visit", "prop": "store_id", "target": 4}],
		"window": {"recurrence": "weekly", "time_zone": "Europe/Paris"}}`)
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
