package challenges

import (
	"encoding/json"
	"github.com/questline/questline/events"
	"testing"
	"time"

	"github.com/questline/questline/internal/errs"
)

func TestDefinition(t *testing.T) {
	now := time.Now()
	later := now.Add(time.Hour)
	one, three := int64(1), int64(3)
	rule := func(s string) events.RuleDoc { return events.RuleDoc(s) }
	tests := []struct {
		name  string
		d     Definition
		field string // "" = valid
	}{
		{"shorthand", Definition{Name: "x", EventType: "share", Target: 3}, ""},
		{"shorthand impossible event type", Definition{Name: "x", EventType: "fly!", Target: 3}, "body.event_type"},
		{"shorthand end before start", Definition{Name: "x", EventType: "share", Target: 3, StartsAt: &later, EndsAt: &now}, "body.ends_at"},
		{"shorthand bad filter prop", Definition{Name: "x", EventType: "share", Target: 3, Filter: map[string]string{"": "a"}}, "body.filter[0].prop"},
		{"neither rule nor shorthand", Definition{Name: "x"}, "body.rule"},
		{"both rule and shorthand", Definition{Name: "x", EventType: "share", Target: 1, Rule: rule(`{"goals":[{"kind":"count","event_type":"share","target":1}]}`)}, "body.rule"},
		{"rule", Definition{Name: "x", Rule: rule(`{"goals":[{"kind":"sum","event_type":"purchase","prop":"amount","target":100}],"window":{"recurrence":"weekly","time_zone":"Europe/Paris"}}`)}, ""},
		{"rule bad target", Definition{Name: "x", Rule: rule(`{"goals":[{"kind":"count","event_type":"share","target":0}]}`)}, "body.rule.goals[0].target"},
		{"rule bad filter", Definition{Name: "x", Rule: rule(`{"goals":[{"kind":"count","event_type":"share","target":1,"filters":[{"prop":"a","op":"gt","value":"x"}]}]}`)}, "body.rule.goals[0].filters[0].value"},
		{"rule impossible event type", Definition{Name: "x", Rule: rule(`{"goals":[{"kind":"count","event_type":"fly!","target":1}]}`)}, "body.rule.goals[0].event_type"},
		{"rule unknown field", Definition{Name: "x", Rule: rule(`{"goals":[],"extra":1}`)}, "body.rule.extra"},
		{"rule not JSON object", Definition{Name: "x", Rule: rule(`[1]`)}, "body.rule"},
		{"one-off repeated", Definition{Name: "x", EventType: "share", Target: 1, MaxCompletions: &three}, "body.max_completions"},
		{"recurring capped", Definition{Name: "x", MaxCompletions: &three, Rule: rule(`{"goals":[{"kind":"count","event_type":"share","target":1}],"window":{"recurrence":"daily"}}`)}, ""},
		{"one-off once", Definition{Name: "x", EventType: "share", Target: 1, MaxCompletions: &one}, ""},
		{"bad interval", Definition{Name: "x", EventType: "share", Target: 1, Limits: &Limits{MinInterval: "soon"}}, "body.limits.min_interval"},
		{"bad unlock key", Definition{Name: "x", EventType: "share", Target: 1, Reward: &Reward{Unlock: "a b"}}, "body.reward.unlock"},
		{"points twice", Definition{Name: "x", EventType: "share", Target: 1, RewardPoints: 5, Reward: &Reward{Points: 5}}, "body.reward_points"},
		{"empty segment", Definition{Name: "x", EventType: "share", Target: 1, Eligibility: &Eligibility{Segments: []string{""}}}, "body.eligibility"},
	}
	for _, tc := range tests {
		c, err := tc.d.challenge()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if e, ok := errs.As(err); !ok || e.Kind != errs.Unprocessable || e.Field != tc.field {
			t.Errorf("%s: error %v (field %q), want a 422 at %s; got challenge %+v", tc.name, err, fieldOf(err), tc.field, c)
		}
	}
}

func fieldOf(err error) string {
	if e, ok := errs.As(err); ok {
		return e.Field
	}
	return ""
}

func TestDefinitionDefaults(t *testing.T) {
	c, err := Definition{Name: "x", EventType: "share", Target: 3, Filter: map[string]string{"b": "2", "a": "1"}, RewardPoints: 50}.challenge()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(c.Rule)
	if got, want := string(raw), `{"goals":[{"id":"g1","kind":"count","event_type":"share","filters":[{"prop":"a","op":"eq","value":"1"},{"prop":"b","op":"eq","value":"2"}],"target":3}],"window":{"time_zone":"UTC"}}`; got != want {
		t.Errorf("shorthand rule = %s\nwant %s", got, want)
	}
	if c.Enrolment != Auto || c.Claim != AutoClaim || c.MaxCompletions != 1 || c.Reward.Points != 50 {
		t.Errorf("defaults = %+v", c)
	}
	r, err := Definition{Name: "x", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"share","target":1}],"window":{"rolling":"7d"}}`)}.challenge()
	if err != nil || r.MaxCompletions != 0 {
		t.Errorf("rolling default cap = %d, %v; want 0", r.MaxCompletions, err)
	}
}

func TestChangesCounting(t *testing.T) {
	base, err := Definition{Name: "x", EventType: "share", Target: 3}.challenge()
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	name, pts := "n", Reward{Points: 9}
	opt := OptIn
	for _, tc := range []struct {
		name string
		p    Patch
		want bool
	}{
		{"name", Patch{Name: &name}, false},
		{"end", Patch{EndsAt: &end}, false},
		{"reward", Patch{Reward: &pts}, false},
		{"rule", Patch{Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"share","target":4}]}`)}, true},
		{"limits", Patch{Limits: &Limits{DailyCap: 2}}, true},
		{"enrolment", Patch{Enrolment: &opt}, true},
	} {
		next, err := tc.p.apply(base)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := changesCounting(base, next); got != tc.want {
			t.Errorf("%s: changesCounting = %v, want %v", tc.name, got, tc.want)
		}
	}
}
