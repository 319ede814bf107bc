package loyalty_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/loyalty"
	"github.com/questline/questline/loyalty/earn"
)

// rulesOnly serves a tenant's earn rules and referral terms from memory:
// the benchmark measures what earn rules add to an event, not storage.
type rulesOnly struct {
	loyalty.Store
	rules []loyalty.EarnRule
}

func (r rulesOnly) ListEarnRules(_ context.Context, _, after string, _ int) ([]loyalty.EarnRule, error) {
	if after != "" {
		return nil, nil
	}
	return r.rules, nil
}

func (r rulesOnly) Tiers(context.Context, string) (loyalty.Programme, bool, error) {
	return loyalty.Programme{}, false, nil
}

func (r rulesOnly) ReferralProgramme(context.Context, string) (loyalty.ReferralProgramme, bool, error) {
	return loyalty.ReferralProgramme{}, false, nil
}

// BenchmarkPreview50 is the in-memory cost earn rules add to an event
// that none of a tenant's 50 active rules matches (45 on other types, 5
// on purchases of other stores): the cached index lookup and the filters,
// in the preview that keeps such events on the one-write path.
//
//	go test ./loyalty -run '^$' -bench Preview50 -benchmem
func BenchmarkPreview50(b *testing.B) {
	kinds := []string{"visit", "share", "checkin", "like", "comment", "view", "app_open", "signup", "subscription"}
	var rs []loyalty.EarnRule
	for i := range 50 {
		r := earn.Rule{Kind: earn.Fixed, EventType: kinds[i%len(kinds)], Points: 5}
		if i%10 == 0 {
			r = earn.Rule{Kind: earn.Rate, EventType: "purchase", Prop: "amount", Rate: "1",
				Filters: []rule.Filter{{Prop: "store", Op: rule.Eq, Value: fmt.Sprint("s", i)}}}
		}
		rs = append(rs, loyalty.EarnRule{ID: fmt.Sprint(i), Status: loyalty.Active, Rule: r})
	}
	s := loyalty.NewService(loyalty.Config{Store: rulesOnly{rules: rs}})
	ev := events.Event{Tenant: "acme", User: "u", Type: "purchase", OccurredAt: time.Now(),
		Props: map[string]any{"amount": 42.5, "store": "main"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		quiet, err := s.Preview(ctx, ev, nil)
		if err != nil || !quiet {
			b.Fatal(quiet, err)
		}
	}
}
