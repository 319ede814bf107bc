package challenges

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
)

// listOnly serves ListChallenges from memory: the benchmark measures rule
// evaluation, not storage.
type listOnly struct {
	Store
	cs []Challenge
}

func (l listOnly) ListChallenges(_ context.Context, _ string, _ Status, after string, limit int) ([]Challenge, error) {
	if after != "" {
		return nil, nil
	}
	return l.cs, nil
}

// BenchmarkEvaluate1000 evaluates one event against a tenant's 1,000 active
// challenges: the by-type index lookup, then goal matching and the window
// check for each candidate. types is how many event types the challenges
// spread over (1 = every challenge is a candidate: the worst case).
//
//	go test ./challenges -run '^$' -bench Evaluate1000 -benchmem
func BenchmarkEvaluate1000(b *testing.B) {
	kinds := []string{"share", "visit", "checkin", "like", "comment", "view", "app_open", "purchase", "signup", "referral"}
	for _, types := range []int{10, 1} {
		b.Run(fmt.Sprintf("types=%d", types), func(b *testing.B) {
			cs := make([]Challenge, 1000)
			for i := range cs {
				g := rule.Goal{Kind: rule.Count, EventType: kinds[i%types], Target: json.Number("3"),
					Filters: []rule.Filter{{Prop: "channel", Op: rule.In, Values: []any{"ig", "wa", fmt.Sprint("c", i)}}}}
				if i%3 == 0 {
					g = rule.Goal{Kind: rule.Sum, EventType: kinds[i%types], Prop: "amount", Target: json.Number("100"),
						Filters: []rule.Filter{{Prop: "amount", Op: rule.Gte, Value: float64(i % 50)}}}
				}
				r := rule.Rule{Goals: []rule.Goal{g}, Window: rule.Window{Recurrence: rule.Weekly, TimeZone: "Europe/Paris"}}
				r.Normalize()
				cs[i] = Challenge{ID: fmt.Sprint(i), Status: Published, Rule: r}
			}
			s := NewService(Config{Store: listOnly{cs: cs}})
			ctx := context.Background()
			now := time.Now()
			ev := events.Event{Tenant: "acme", User: "u", Type: "share", OccurredAt: now, ReceivedAt: now,
				Props: map[string]any{"channel": "ig", "amount": 42.5}}
			b.ReportAllocs()
			b.ResetTimer()
			matched := 0
			for range b.N {
				candidates, err := s.active(ctx, ev.Tenant, ev.Type)
				if err != nil {
					b.Fatal(err)
				}
				matched = 0
				m := newMatcher(ev)
				for _, c := range candidates {
					if _, ok := m.match(c); ok {
						matched++
					}
				}
			}
			b.ReportMetric(float64(matched), "matched")
		})
	}
}
