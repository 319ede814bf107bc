package badges

import (
	"encoding/json"
	"github.com/questline/questline/events"
	"strings"
	"testing"
	"time"

	"github.com/questline/questline/internal/errs"
)

const (
	shares   = `{"goals":[{"kind":"count","event_type":"share","target":3}]}`
	oneShare = `{"goals":[{"kind":"count","event_type":"share","target":1}]}`
	spend    = `{"goals":[{"kind":"sum","event_type":"purchase","prop":"amount","target":0.5}]}`
)

func TestDefinition(t *testing.T) {
	tiers := func(targets ...string) []Tier {
		out := make([]Tier, len(targets))
		for i, tg := range targets {
			out[i] = Tier{Name: string(rune('a' + i)), Target: json.Number(tg)}
		}
		return out
	}
	tests := []struct {
		name  string
		d     Definition
		field string // "" = valid
	}{
		{"plain", Definition{Name: "Sharer", Rule: events.RuleDoc(shares)}, ""},
		{"system events", Definition{Name: "Lifetime", Rule: events.RuleDoc(`{"goals":[{"kind":"sum","event_type":"points.earned","prop":"amount","target":1000}]}`)}, ""},
		{"everything", Definition{Name: "x", Description: "d", ImageURL: "https://cdn.example.com/b.png", Rule: events.RuleDoc(shares), Hidden: true, Limit: 100, ValidFor: "30d"}, ""},
		{"no rule", Definition{Name: "x"}, "body.rule"},
		{"null rule", Definition{Name: "x", Rule: events.RuleDoc(`null`)}, "body.rule"},
		{"rule not an object", Definition{Name: "x", Rule: events.RuleDoc(`[1]`)}, "body.rule"},
		{"rule unknown field", Definition{Name: "x", Rule: events.RuleDoc(`{"goals":[],"extra":1}`)}, "body.rule.extra"},
		{"rule bad target", Definition{Name: "x", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"share","target":0}]}`)}, "body.rule.goals[0].target"},
		{"rule impossible event type", Definition{Name: "x", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"fly!","target":1}]}`)}, "body.rule.goals[0].event_type"},
		{"no name", Definition{Rule: events.RuleDoc(shares)}, "body.name"},
		{"long name", Definition{Name: strings.Repeat("é", 201), Rule: events.RuleDoc(shares)}, "body.name"},
		{"long description", Definition{Name: "x", Description: strings.Repeat("d", 2001), Rule: events.RuleDoc(shares)}, "body.description"},
		{"http image", Definition{Name: "x", ImageURL: "http://cdn.example.com/b.png", Rule: events.RuleDoc(shares)}, "body.image_url"},
		{"relative image", Definition{Name: "x", ImageURL: "/b.png", Rule: events.RuleDoc(shares)}, "body.image_url"},
		{"negative limit", Definition{Name: "x", Limit: -1, Rule: events.RuleDoc(shares)}, "body.limit"},
		{"huge limit", Definition{Name: "x", Limit: 2_000_000_000, Rule: events.RuleDoc(shares)}, "body.limit"},
		{"valid_for hours", Definition{Name: "x", ValidFor: "720h", Rule: events.RuleDoc(shares)}, ""},
		{"valid_for days", Definition{Name: "x", ValidFor: "3650d", Rule: events.RuleDoc(shares)}, ""},
		{"valid_for too short", Definition{Name: "x", ValidFor: "30s", Rule: events.RuleDoc(shares)}, "body.valid_for"},
		{"valid_for too long", Definition{Name: "x", ValidFor: "3651d", Rule: events.RuleDoc(shares)}, "body.valid_for"},
		{"valid_for zero days", Definition{Name: "x", ValidFor: "0d", Rule: events.RuleDoc(shares)}, "body.valid_for"},
		{"valid_for signed days", Definition{Name: "x", ValidFor: "+7d", Rule: events.RuleDoc(shares)}, "body.valid_for"},
		{"valid_for words", Definition{Name: "x", ValidFor: "a month", Rule: events.RuleDoc(shares)}, "body.valid_for"},
		{"tiers", Definition{Name: "x", Rule: events.RuleDoc(oneShare), Tiers: tiers("1", "5", "10")}, ""},
		{"tiers of a sum", Definition{Name: "x", Rule: events.RuleDoc(spend), Tiers: tiers("0.500", "1.25", "100")}, ""},
		{"first tier not the goal's target", Definition{Name: "x", Rule: events.RuleDoc(shares), Tiers: tiers("1", "5")}, "body.tiers[0].target"},
		{"too many tiers", Definition{Name: "x", Rule: events.RuleDoc(oneShare), Tiers: tiers("1", "2", "3", "4", "5", "6")}, "body.tiers"},
		{"tiers of two goals", Definition{Name: "x", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"share","target":1},{"kind":"count","event_type":"like","target":1}]}`), Tiers: tiers("1")}, "body.tiers"},
		{"tier without name", Definition{Name: "x", Rule: events.RuleDoc(oneShare), Tiers: []Tier{{Target: "1"}}}, "body.tiers[0].name"},
		{"tier name twice", Definition{Name: "x", Rule: events.RuleDoc(oneShare), Tiers: []Tier{{Name: "gold", Target: "1"}, {Name: "gold", Target: "2"}}}, "body.tiers[1].name"},
		{"tier name too long", Definition{Name: "x", Rule: events.RuleDoc(oneShare), Tiers: []Tier{{Name: strings.Repeat("g", 33), Target: "1"}}}, "body.tiers[0].name"},
		{"tier not a number", Definition{Name: "x", Rule: events.RuleDoc(oneShare), Tiers: tiers("many")}, "body.tiers[0].target"},
		{"tier missing", Definition{Name: "x", Rule: events.RuleDoc(oneShare), Tiers: tiers("")}, "body.tiers[0].target"},
		{"later tier not a number", Definition{Name: "x", Rule: events.RuleDoc(oneShare), Tiers: tiers("1", "lots")}, "body.tiers[1].target"},
		{"fractional count tier", Definition{Name: "x", Rule: events.RuleDoc(oneShare), Tiers: tiers("1", "2.5")}, "body.tiers[1].target"},
		{"count tier too high", Definition{Name: "x", Rule: events.RuleDoc(oneShare), Tiers: tiers("1", "1000001")}, "body.tiers[1].target"},
		{"tiers descending", Definition{Name: "x", Rule: events.RuleDoc(oneShare), Tiers: tiers("5", "2")}, "body.tiers[1].target"},
		{"tiers equal", Definition{Name: "x", Rule: events.RuleDoc(spend), Tiers: tiers("0.5", "0.50")}, "body.tiers[1].target"},
	}
	for _, tc := range tests {
		b, err := tc.d.badge()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if e, ok := errs.As(err); !ok || e.Kind != errs.Unprocessable || e.Field != tc.field {
			t.Errorf("%s: error %v (field %q), want a 422 at %s; got badge %+v", tc.name, err, fieldOf(err), tc.field, b)
		}
	}
}

func TestTiersNormalized(t *testing.T) {
	d := Definition{Name: "x", Rule: events.RuleDoc(spend), Tiers: []Tier{{Name: "bronze", Target: "0.50"}, {Name: "gold", Target: "1e2"}}}
	b, err := d.badge()
	if err != nil {
		t.Fatal(err)
	}
	if b.Tiers[0].Target != "0.5" || b.Tiers[1].Target != "100" {
		t.Errorf("tiers %+v, want targets 0.5 and 100", b.Tiers)
	}
	if d.Tiers[0].Target != "0.50" {
		t.Errorf("the definition's tiers changed: %+v", d.Tiers)
	}
}

func TestPatch(t *testing.T) {
	b, err := Definition{Name: "x", Rule: events.RuleDoc(oneShare), Tiers: []Tier{{Name: "bronze", Target: "1"}, {Name: "gold", Target: "5"}}}.badge()
	if err != nil {
		t.Fatal(err)
	}
	name, bad, none := "Sharer", "ftp://x", []Tier{}
	tests := []struct {
		name  string
		p     Patch
		field string
	}{
		{"name", Patch{Name: &name}, ""},
		{"bad image", Patch{ImageURL: &bad}, "body.image_url"},
		{"new rule keeps tiers", Patch{Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"like","target":1}]}`)}, ""},
		{"new rule another target", Patch{Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"like","target":2}]}`)}, "body.tiers[0].target"},
		{"new rule of two goals", Patch{Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"like","target":1},{"kind":"count","event_type":"share","target":1}]}`)}, "body.tiers"},
		{"no tiers leaves the goal's target", Patch{Tiers: &none}, ""},
		{"bad rule", Patch{Rule: events.RuleDoc(`{"goals":"many"}`)}, "body.rule.goals"},
	}
	for _, tc := range tests {
		next, err := tc.p.apply(b)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			} else if next.ID != b.ID || next.Version != b.Version {
				t.Errorf("%s: identity changed: %+v", tc.name, next)
			}
			continue
		}
		if fieldOf(err) != tc.field {
			t.Errorf("%s: error %v (field %q), want one at %s", tc.name, err, fieldOf(err), tc.field)
		}
	}
}

func TestSameTerms(t *testing.T) {
	a, _ := Definition{Name: "x", Rule: events.RuleDoc(shares)}.badge()
	b, _ := Definition{Name: "y", Description: "other words", Hidden: true, Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"share","target":3.0}],"window":{"time_zone":"UTC"}}`)}.badge()
	if !sameTerms(a, b) {
		t.Error("the same rule written differently, or a new name, changed the terms")
	}
	for _, c := range []Badge{withLimit(a, 5), withValidity(a, "1d")} {
		if sameTerms(a, c) {
			t.Errorf("%+v has the terms of %+v", c, a)
		}
	}
}

func withLimit(b Badge, n int64) Badge     { b.Limit = n; return b }
func withValidity(b Badge, d string) Badge { b.ValidFor = d; return b }

func TestValidFor(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1m", time.Minute, true},
		{"720h", 720 * time.Hour, true},
		{"30d", 30 * 24 * time.Hour, true},
		{"3650d", 3650 * 24 * time.Hour, true},
		{"59s", 0, false},
		{"3651d", 0, false},
		{"87601h", 0, false},
		{"d", 0, false},
		{"-1d", 0, false},
		{"1.5d", 0, false},
		{"10000d", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, err := validFor(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("validFor(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzDefinition(f *testing.F) {
	for _, s := range []string{
		`{"name":"x","rule":` + shares + `}`,
		`{"name":"x","rule":` + oneShare + `,"tiers":[{"name":"a","target":"1"},{"name":"b","target":"2"}]}`,
		`{"name":"x","rule":` + spend + `,"tiers":[{"name":"a","target":"0.001"}],"limit":3,"valid_for":"30d","image_url":"https://x/y"}`,
		`{"name":"x","rule":{"goals":[{"kind":"distinct","event_type":"visit","prop":"store","target":2,"filters":[{"prop":"a","op":"between","values":[1,2]}]}],"window":{"rolling":"7d"}}}`,
		`{"name":"x","rule":{"goals":[{"kind":"count","event_type":"share","target":1}],"ordered":true,"window":{"recurrence":"monthly","time_zone":"Asia/Tokyo"}},"tiers":[]}`,
		`{"rule":null,"tiers":[{"target":"1e400"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Definition
		if json.Unmarshal(data, &d) != nil {
			return
		}
		_, err := d.badge()
		if err == nil {
			return
		}
		e, ok := errs.As(err)
		if !ok || e.Kind != errs.Unprocessable && e.Kind != errs.Invalid || e.Field == "" {
			t.Fatalf("definition %s: error %#v, want a 422 or 400 naming a field", data, err)
		}
	})
}

func fieldOf(err error) string {
	if e, ok := errs.As(err); ok {
		return e.Field
	}
	return ""
}
