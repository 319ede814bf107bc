package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/loyalty"
	"github.com/questline/questline/loyalty/earn"
)

// BenchmarkEarnRulesEventPath sends purchases through the wired event
// path (intake checks, every rule handler, the store) of three embedded
// nodes in one run, one event to each in turn (each going first in turn)
// so that the machine's changing load falls on all of them alike: a node with no earn rules,
// one with 50 active earn rules the purchases do not match (45 on other
// types, 5 on purchases of other stores), and one with the same 50 plus
// a rule paying every purchase (a ledger credit more per event, for
// scale). It reports each node's time per event and the 50 rules'
// overhead in percent.
//
//	go test ./cmd/server -run '^$' -bench EarnRulesEventPath -benchtime 3000x
func BenchmarkEarnRulesEventPath(b *testing.B) {
	ctx := context.Background()
	nodes := []*app{benchNode(b, false, false), benchNode(b, true, false), benchNode(b, true, true)}
	key := auth.Principal{Tenant: "acme", Subject: "key:bench", APIKey: true, Scopes: []string{auth.ScopeEventsWrite}}
	spent := make([]time.Duration, len(nodes))
	b.ResetTimer()
	for i := range b.N {
		for j := range nodes {
			n := (i + j) % len(nodes) // each node goes first in turn
			a := nodes[n]
			start := time.Now()
			cat, err := a.types.Catalog(ctx, "acme")
			if err != nil {
				b.Fatal(err)
			}
			ev, err := events.AcceptIn(cat, key, events.Input{Type: "purchase", UserID: fmt.Sprint("u", i%100),
				Props: map[string]any{"amount": 42.5, "store": "main"}}, fmt.Sprint("k", i), time.Now())
			if err == nil {
				_, err = a.events.Ingest(ctx, ev)
			}
			if err != nil {
				b.Fatal(err)
			}
			spent[n] += time.Since(start)
		}
	}
	per := func(n int) float64 { return float64(spent[n].Nanoseconds()) / float64(b.N) }
	b.ReportMetric(per(0), "ns/event-rules=0")
	b.ReportMetric(per(1), "ns/event-rules=50")
	b.ReportMetric(per(2), "ns/event-rules=50+1paying")
	b.ReportMetric(100*(per(1)-per(0))/per(0), "%overhead-of-50")
}

// benchNode opens an embedded node with, if rules, 50 earn rules the
// benchmark's purchases do not match, and if payer one that pays them.
func benchNode(b *testing.B, rules, payer bool) *app {
	b.Helper()
	ctx := context.Background()
	a := embeddedApp(b)
	kinds := []string{"visit", "share", "checkin", "like", "comment", "view", "app_open", "signup", "subscription"}
	var defs []earn.Rule
	for i := range 50 {
		if !rules {
			break
		}
		r := earn.Rule{Kind: earn.Fixed, EventType: kinds[i%len(kinds)], Points: 5}
		if i%10 == 0 {
			r = earn.Rule{Kind: earn.Rate, EventType: "purchase", Prop: "amount", Rate: "1",
				Filters: []rule.Filter{{Prop: "store", Op: rule.Eq, Value: fmt.Sprint("s", i)}}}
		}
		defs = append(defs, r)
	}
	if payer {
		defs = append(defs, earn.Rule{Kind: earn.Rate, EventType: "purchase", Prop: "amount", Rate: "1"})
	}
	for i, r := range defs {
		if _, err := a.loyalty.Create(ctx, "acme", loyalty.Definition{Name: fmt.Sprint("rule ", i), Rule: r}); err != nil {
			b.Fatal(err)
		}
	}
	return a
}
