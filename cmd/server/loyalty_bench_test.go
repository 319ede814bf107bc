package main

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/config"
	"github.com/questline/questline/loyalty"
	"github.com/questline/questline/loyalty/earn"
)

// BenchmarkEarnRulesEventPath sends purchases through the wired event
// path (intake checks, every rule handler, the store) of an embedded node,
// in one run: with no earn rules, with 50 active earn rules that the
// purchases do not match (45 on other types, 5 on purchases from other
// stores), and with the same 50 plus one rule that pays every purchase
// (a ledger write more per event, for scale).
//
//	go test ./cmd/server -run '^$' -bench EarnRulesEventPath -benchtime 3000x
func BenchmarkEarnRulesEventPath(b *testing.B) {
	kinds := []string{"visit", "share", "checkin", "like", "comment", "view", "app_open", "signup", "subscription"}
	for _, c := range []struct {
		name         string
		rules, payer bool
	}{{"rules=0", false, false}, {"rules=50", true, false}, {"rules=50+1paying", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			cfg, err := config.Load(nil, func(k string) string {
				return map[string]string{"QL_DATA_DIR": b.TempDir(), "QL_JWT_SECRET": testSecret, "QL_LOG_LEVEL": "error"}[k]
			}, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			a, err := newApp(ctx, cfg, newLogger(io.Discard, cfg.LogLevel))
			if err != nil {
				b.Fatal(err)
			}
			defer a.close()
			if c.rules {
				for i := range 50 {
					r := earn.Rule{Kind: earn.Fixed, EventType: kinds[i%len(kinds)], Points: 5}
					if i%10 == 0 {
						r = earn.Rule{Kind: earn.Rate, EventType: "purchase", Prop: "amount", Rate: "1",
							Filters: []rule.Filter{{Prop: "store", Op: rule.Eq, Value: fmt.Sprint("s", i)}}}
					}
					benchRule(b, a, fmt.Sprint("rule ", i), r)
				}
			}
			if c.payer {
				benchRule(b, a, "per EUR", earn.Rule{Kind: earn.Rate, EventType: "purchase", Prop: "amount", Rate: "1"})
			}
			key := auth.Principal{Tenant: "acme", Subject: "key:bench", APIKey: true, Scopes: []string{auth.ScopeEventsWrite}}
			cat, err := a.types.Catalog(ctx, "acme")
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				ev, err := events.AcceptIn(cat, key, events.Input{Type: "purchase", UserID: fmt.Sprint("u", i%100),
					Props: map[string]any{"amount": 42.5, "store": "main"}}, fmt.Sprint("k", i), time.Now())
				if err == nil {
					_, err = a.events.Ingest(ctx, ev)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

func benchRule(b *testing.B, a *app, name string, r earn.Rule) {
	b.Helper()
	if _, err := a.loyalty.Create(context.Background(), "acme", loyalty.Definition{Name: name, Rule: r}); err != nil {
		b.Fatal(err)
	}
}
