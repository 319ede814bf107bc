package challenges

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/profiles"
)

func TestCounted(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	// share builds a contribution at base+min minutes sharing target key.
	share := func(min int, key string) rule.Contribution {
		return rule.Contribution{Amount: 1, Key: key, At: base.Add(time.Duration(min) * time.Minute)}
	}
	render := func(cs []rule.Contribution) string {
		var b []string
		for _, c := range cs {
			b = append(b, fmt.Sprintf("%d%s", int(c.At.Sub(base).Minutes()), c.Key))
		}
		return strings.Join(b, " ")
	}
	tests := []struct {
		name     string
		cs       []rule.Contribution
		distinct bool
		gap      time.Duration
		cap      int64
		want     string
	}{
		{"no limits", []rule.Contribution{share(0, "a"), share(1, "a")}, false, 0, 0, "0a 1a"},
		{"distinct only", []rule.Contribution{share(0, "a"), share(1, "a"), share(2, "b")}, true, 0, 0, "0a 2b"},
		{"interval", []rule.Contribution{share(0, "a"), share(5, "b"), share(10, "c"), share(19, "d"), share(20, "e")}, true, 10 * time.Minute, 0, "0a 10c 20e"},
		{"repeat target does not use the interval", []rule.Contribution{share(0, "a"), share(10, "a"), share(11, "b")}, true, 10 * time.Minute, 0, "0a 11b"},
		{"daily cap", []rule.Contribution{share(0, "a"), share(1, "b"), share(2, "c"), share(3, "d")}, true, 0, 2, "0a 1b"},
		// 22:59 and 23:00 UTC fall on two Paris days (midnight is 23:00 UTC).
		{"cap resets at local midnight", []rule.Contribution{share(779, "a"), share(780, "b"), share(781, "c")}, true, 0, 1, "779a 780b"},
		{"interval and cap", []rule.Contribution{share(0, "a"), share(3, "b"), share(6, "c"), share(9, "d")}, true, 5 * time.Minute, 1, "0a"},
	}
	for _, tc := range tests {
		if got := render(counted(tc.cs, tc.distinct, tc.gap, tc.cap, paris)); got != tc.want {
			t.Errorf("%s: counted = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCompletionSlot(t *testing.T) {
	comp := func(period string) Completion { return Completion{Period: period} }
	daily := Challenge{Rule: rule.Rule{Window: rule.Window{Recurrence: rule.Daily}}}
	capped := daily
	capped.MaxCompletions = 2
	rolling := Challenge{Rule: rule.Rule{Window: rule.Window{Rolling: "7d"}}, MaxCompletions: 3}
	tests := []struct {
		name   string
		c      Challenge
		period string
		comps  []Completion
		slot   string
		ok     bool
	}{
		{"one-off first", Challenge{MaxCompletions: 1}, "", nil, "", true},
		{"one-off again", Challenge{MaxCompletions: 1}, "", []Completion{comp("")}, "", false},
		{"daily new day", daily, "2026-11-24", []Completion{comp("2026-11-23")}, "2026-11-24", true},
		{"daily same day", daily, "2026-11-23", []Completion{comp("2026-11-23")}, "", false},
		{"daily cap reached", capped, "2026-11-25", []Completion{comp("2026-11-23"), comp("2026-11-24")}, "", false},
		{"rolling next", rolling, "", []Completion{comp("#1")}, "#2", true},
		{"rolling cap", rolling, "", []Completion{comp("#1"), comp("#2"), comp("#3")}, "", false},
	}
	for _, tc := range tests {
		slot, ok := completionSlot(tc.c, tc.period, tc.comps)
		if slot != tc.slot || ok != tc.ok {
			t.Errorf("%s: slot %q %v, want %q %v", tc.name, slot, ok, tc.slot, tc.ok)
		}
	}
}

func TestEligible(t *testing.T) {
	gold := profiles.Attributes{Tier: "gold", Segments: []string{"vip", "fr"}}
	for _, tc := range []struct {
		e    Eligibility
		a    profiles.Attributes
		want bool
	}{
		{Eligibility{}, profiles.Attributes{}, true},
		{Eligibility{Tiers: []string{"gold", "silver"}}, gold, true},
		{Eligibility{Tiers: []string{"silver"}}, gold, false},
		{Eligibility{Segments: []string{"de", "fr"}}, gold, true},
		{Eligibility{Segments: []string{"de"}}, gold, false},
		{Eligibility{Tiers: []string{"gold"}, Segments: []string{"de"}}, gold, false},
		{Eligibility{Tiers: []string{"gold"}}, profiles.Attributes{}, false},
	} {
		if got := eligible(tc.e, tc.a); got != tc.want {
			t.Errorf("eligible(%+v, %+v) = %v", tc.e, tc.a, got)
		}
	}
}
