package earn

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
)

func mustCompile(t *testing.T, r Rule) Plan {
	t.Helper()
	p, err := Compile(r)
	if err != nil {
		t.Fatalf("compile %+v: %v", r, err)
	}
	return p
}

var noon = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC) // a Wednesday

// TestPay walks sequences of events through one rule each and checks every
// payout: rounding, punch cards, caps across period boundaries and zones,
// and multipliers with both stacking policies.
func TestPay(t *testing.T) {
	perEUR := Rule{Kind: Rate, EventType: "purchase", Prop: "amount", Rate: "1"}
	type step struct {
		props map[string]any
		tier  string
		at    time.Time
		want  int64
	}
	amount := func(v float64) map[string]any { return map[string]any{"amount": v} }
	cases := []struct {
		name  string
		rule  Rule
		steps []step
	}{
		{"rate rounds down per event, exact to the cent", perEUR, []step{
			{amount(42.99), "", noon, 42}, {amount(0.99), "", noon, 0}, {amount(100), "", noon, 100},
			{amount(0.1 + 0.2), "", noon, 0}, {amount(1e6), "", noon, 1_000_000},
		}},
		{"a sub-cent amount is truncated to the cent", Rule{Kind: Rate, EventType: "purchase", Prop: "amount", Rate: "100"}, []step{
			{amount(1.009), "", noon, 100}, {amount(0.015), "", noon, 1},
		}},
		{"fractional rate", Rule{Kind: Rate, EventType: "purchase", Prop: "amount", Rate: "0.5"}, []step{
			{amount(3), "", noon, 1}, {amount(3.99), "", noon, 1}, {amount(4), "", noon, 2},
		}},
		{"missing, negative or text amount pays nothing", perEUR, []step{
			{map[string]any{}, "", noon, 0}, {amount(-5), "", noon, 0}, {map[string]any{"amount": "42"}, "", noon, 0},
		}},
		{"fixed per event", Rule{Kind: Fixed, EventType: "visit", Points: 5}, []step{
			{nil, "", noon, 5}, {nil, "", noon, 5},
		}},
		{"punch card: every 3rd event", Rule{Kind: Nth, EventType: "visit", Points: 50, Every: 3}, []step{
			{nil, "", noon, 0}, {nil, "", noon, 0}, {nil, "", noon, 50}, {nil, "", noon, 0}, {nil, "", noon, 0}, {nil, "", noon, 50},
		}},
		{"daily cap, reset at local midnight", Rule{Kind: Fixed, EventType: "visit", Points: 40, Caps: Caps{PerDay: 100}, TimeZone: "Europe/Paris"}, []step{
			{nil, "", noon, 40}, {nil, "", noon, 40}, {nil, "", noon, 20}, {nil, "", noon, 0},
			// 23:30 UTC on the 2nd is already the 3rd in Paris.
			{nil, "", time.Date(2026, 12, 2, 23, 30, 0, 0, time.UTC), 40},
			// A late event of the 2nd: capped alone, the 3rd's tally kept.
			{nil, "", noon, 40},
			{nil, "", time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC), 40},
			{nil, "", time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), 20},
		}},
		{"weekly and monthly caps together, across a month end", Rule{Kind: Fixed, EventType: "visit", Points: 30, Caps: Caps{PerWeek: 50, PerMonth: 70}}, []step{
			{nil, "", time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), 30}, // Mon, week 48
			{nil, "", time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), 20}, // week cap
			{nil, "", time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), 20}, // Mon week 49: month cap 70
			{nil, "", time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), 30},  // week 49 has 30 left; new month
			{nil, "", time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC), 0},
		}},
		{"leap day is its own day", Rule{Kind: Fixed, EventType: "visit", Points: 10, Caps: Caps{PerDay: 10}}, []step{
			{nil, "", time.Date(2028, 2, 28, 23, 0, 0, 0, time.UTC), 10},
			{nil, "", time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC), 10},
			{nil, "", time.Date(2028, 2, 29, 22, 0, 0, 0, time.UTC), 0},
			{nil, "", time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC), 10},
		}},
		{"tier multiplier", Rule{Kind: Rate, EventType: "purchase", Prop: "amount", Rate: "1", TierMultipliers: map[string]Decimal{"gold": "1.5"}}, []step{
			{amount(10.99), "gold", noon, 16}, {amount(10.99), "silver", noon, 10}, {amount(10.99), "", noon, 10},
		}},
		{"weekend campaign in a zone, highest wins", Rule{Kind: Fixed, EventType: "visit", Points: 10, TimeZone: "America/New_York",
			TierMultipliers: map[string]Decimal{"gold": "1.5"},
			Campaigns:       []Campaign{{Name: "double weekend", Weekdays: []string{"sat", "sun"}, Multiplier: "2"}}}, []step{
			{nil, "gold", time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC), 15}, // Friday 22:00 in New York
			{nil, "gold", time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC), 20}, // Saturday 01:00
			{nil, "", time.Date(2026, 12, 7, 4, 59, 0, 0, time.UTC), 20},    // Sunday 23:59
			{nil, "", time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC), 10},     // Monday
		}},
		{"product stacking, dated campaign", Rule{Kind: Fixed, EventType: "visit", Points: 10, Stacking: Product,
			TierMultipliers: map[string]Decimal{"gold": "1.5"},
			Campaigns: []Campaign{{Name: "launch", StartsAt: "2026-12-01T00:00", EndsAt: "2026-12-03", Multiplier: "3"},
				{Name: "weekday", Weekdays: []string{"wed"}, Multiplier: "1.1"}}}, []step{
			{nil, "gold", noon, 49}, // 10 x 1.5 x 3 x 1.1 = 49.5
			{nil, "", noon, 33},
			{nil, "gold", time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), 15}, // the launch ended
		}},
		{"multiplied then capped", Rule{Kind: Fixed, EventType: "visit", Points: 60, Caps: Caps{PerDay: 100},
			Campaigns: []Campaign{{Name: "x2", Multiplier: "2"}}}, []step{
			{nil, "", noon, 100}, {nil, "", noon, 0},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustCompile(t, c.rule)
			var st State
			for i, s := range c.steps {
				var got int64
				got, st = p.Pay(s.props, Member{Tier: s.tier}, s.at, st)
				if got != s.want {
					t.Fatalf("step %d: paid %d, want %d (state %+v)", i, got, s.want, st)
				}
			}
			if st.Count != int64(len(c.steps)) {
				t.Fatalf("count %d after %d events", st.Count, len(c.steps))
			}
		})
	}
}

// TestProgrammeMultiplier: the tier programme's multiplier applies to a
// member of the tier unless the rule has its own for it.
func TestProgrammeMultiplier(t *testing.T) {
	p := mustCompile(t, Rule{Kind: Fixed, EventType: "visit", Points: 10, TierMultipliers: map[string]Decimal{"gold": "3"}})
	for _, c := range []struct {
		m    Member
		want int64
	}{
		{Member{Tier: "silver", Multiplier: "1.25"}, 12},
		{Member{Tier: "gold", Multiplier: "1.25"}, 30},
		{Member{Multiplier: "2"}, 10}, // no tier, no multiplier
		{Member{Tier: "bronze"}, 10},
	} {
		if got, _ := p.Pay(nil, c.m, noon, State{}); got != c.want {
			t.Errorf("%+v: paid %d, want %d", c.m, got, c.want)
		}
	}
}

// TestCompileRefuses names the field of every bad rule.
func TestCompileRefuses(t *testing.T) {
	cases := []struct {
		name  string
		rule  Rule
		field string
	}{
		{"no kind", Rule{EventType: "visit"}, "body.kind"},
		{"rate without prop", Rule{Kind: Rate, EventType: "purchase", Rate: "1"}, "body.prop"},
		{"rate zero", Rule{Kind: Rate, EventType: "purchase", Prop: "amount", Rate: "0"}, "body.rate"},
		{"rate too precise", Rule{Kind: Rate, EventType: "purchase", Prop: "amount", Rate: "0.0001"}, "body.rate"},
		{"fixed without points", Rule{Kind: Fixed, EventType: "visit"}, "body.points"},
		{"fixed with rate", Rule{Kind: Fixed, EventType: "visit", Points: 1, Rate: "1"}, "body.rate"},
		{"nth every 1", Rule{Kind: Nth, EventType: "visit", Points: 1, Every: 1}, "body.every"},
		{"bad event type", Rule{Kind: Fixed, EventType: "$x", Points: 1}, "body.event_type"},
		{"bad filter", Rule{Kind: Fixed, EventType: "visit", Points: 1, Filters: []rule.Filter{{Prop: "a", Op: "near"}}}, "body.filters[0].op"},
		{"bad zone", Rule{Kind: Fixed, EventType: "visit", Points: 1, TimeZone: "Mars/Olympus"}, "body.time_zone"},
		{"bad stacking", Rule{Kind: Fixed, EventType: "visit", Points: 1, Stacking: "sum"}, "body.stacking"},
		{"negative cap", Rule{Kind: Fixed, EventType: "visit", Points: 1, Caps: Caps{PerWeek: -1}}, "body.caps"},
		{"tier multiplier zero", Rule{Kind: Fixed, EventType: "visit", Points: 1, TierMultipliers: map[string]Decimal{"gold": "0"}}, "body.tier_multipliers.gold"},
		{"campaign weekday", Rule{Kind: Fixed, EventType: "visit", Points: 1, Campaigns: []Campaign{{Name: "x", Multiplier: "2", Weekdays: []string{"fri", "someday"}}}}, "body.campaigns[0].weekdays[1]"},
		{"campaign ends before start", Rule{Kind: Fixed, EventType: "visit", Points: 1, Campaigns: []Campaign{{Name: "x", Multiplier: "2", StartsAt: "2026-12-05", EndsAt: "2026-12-04"}}}, "body.campaigns[0].ends_at"},
		{"campaign multiplier", Rule{Kind: Fixed, EventType: "visit", Points: 1, Campaigns: []Campaign{{Name: "x", Multiplier: "101"}}}, "body.campaigns[0].multiplier"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile(c.rule)
			e, ok := errs.As(err)
			if !ok || e.Kind != errs.Unprocessable || e.Field != c.field {
				t.Fatalf("got %v (field %q), want a 422 at %s", err, fieldOf(e), c.field)
			}
		})
	}
}

func fieldOf(e *errs.Error) string {
	if e == nil {
		return ""
	}
	return e.Field
}

// FuzzCompile: any rule document either compiles or is refused with a 422;
// a compiled rule prices any props without panicking and never pays a
// negative amount.
func FuzzCompile(f *testing.F) {
	f.Add([]byte(`{"kind":"rate","event_type":"purchase","prop":"amount","rate":"1.5","caps":{"per_day":100}}`), []byte(`{"amount":42.5}`))
	f.Add([]byte(`{"kind":"nth","event_type":"visit","points":5,"every":3,"campaigns":[{"name":"w","weekdays":["sat"],"multiplier":"2"}]}`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, doc, props []byte) {
		var r Rule
		if json.Unmarshal(doc, &r) != nil {
			return
		}
		p, err := Compile(r)
		if err != nil {
			if e, ok := errs.As(err); !ok || e.Kind != errs.Unprocessable {
				t.Fatalf("not a 422: %v", err)
			}
			return
		}
		var ps map[string]any
		_ = json.Unmarshal(props, &ps)
		var st State
		for range 3 {
			var got int64
			got, st = p.Pay(ps, Member{Tier: "gold", Multiplier: "2"}, noon, st)
			if got < 0 {
				t.Fatalf("negative payout %d", got)
			}
		}
	})
}
