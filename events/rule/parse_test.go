package rule

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	got, err := Parse([]byte(`{
		"goals": [
			{"kind": "sum", "event_type": "purchase", "prop": "amount", "target": 1.50e2,
			 "filters": [{"prop": "currency", "op": "in", "values": ["EUR", "USD"]},
			             {"prop": "amount", "op": "between", "values": [1, 1000]}],
			 "label": "Spend 150"},
			{"id": "stores", "kind": "distinct", "event_type": "visit", "prop": "store_id", "target": 4.0, "filters": []},
			{"kind": "count", "event_type": "challenge.completed", "target": 1}
		],
		"ordered": true,
		"window": {"starts_at": "2026-11-23T09:00:00.123456+05:30", "ends_at": "2026-12-01T00:00:00Z",
		           "recurrence": "weekly", "time_zone": "Europe/Paris"}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 23, 3, 30, 0, 123e6, time.UTC)
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	want := Rule{
		Goals: []Goal{
			{ID: "g1", Kind: Sum, EventType: "purchase", Prop: "amount", Target: "150", Label: "Spend 150", Filters: []Filter{
				{Prop: "currency", Op: In, Values: []any{"EUR", "USD"}},
				{Prop: "amount", Op: Between, Values: []any{1.0, 1000.0}},
			}},
			{ID: "stores", Kind: Distinct, EventType: "visit", Prop: "store_id", Target: "4"},
			{ID: "g3", Kind: Count, EventType: "challenge.completed", Target: "1"},
		},
		Ordered: true,
		Window:  Window{StartsAt: &start, EndsAt: &end, Recurrence: Weekly, TimeZone: "Europe/Paris"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", got, want)
	}
}

func TestNormalize(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 999999, time.FixedZone("x", 3600))
	r := Rule{Goals: []Goal{
		{Kind: Count, Target: "5.0", Filters: []Filter{{Op: Eq, Value: 3}, {Op: In, Values: []any{int64(1), json.Number("2.5"), "3"}}, {Op: Exists, Values: []any{}}}},
		{ID: "x", Kind: Sum, Target: "0.1000"},
		{Kind: Sum, Target: "0.0001"}, // invalid: left for Validate
	}, Window: Window{StartsAt: &at}}
	r.Normalize()
	want := Rule{Goals: []Goal{
		{ID: "g1", Kind: Count, Target: "5", Filters: []Filter{{Op: Eq, Value: 3.0}, {Op: In, Values: []any{1.0, 2.5, "3"}}, {Op: Exists}}},
		{ID: "x", Kind: Sum, Target: "0.1"},
		{ID: "g3", Kind: Sum, Target: "0.0001"},
	}, Window: Window{StartsAt: ptr(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)), TimeZone: "UTC"}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("Normalize =\n%+v\nwant\n%+v", r, want)
	}
}

// Building blocks for the error table.
const countGoal = `{"kind": "count", "event_type": "share", "target": 1}`

func withGoal(fields string) string {
	return `{"goals": [` + countGoal + `, {"kind": "count", "event_type": "share", "target": 1, ` + fields + `}]}`
}

func withFilter(filter string) string {
	return `{"goals": [{"kind": "count", "event_type": "share", "target": 1, "filters": [{"prop": "p", "op": "eq", "value": 1}, ` + filter + `]}]}`
}

func withWindow(fields string) string {
	return `{"goals": [` + countGoal + `], "window": {` + fields + `}}`
}

func repeat(s string, n int) string {
	return strings.TrimSuffix(strings.Repeat(s+", ", n), ", ")
}

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("x", 257)
	tests := []struct {
		name, json, field string
	}{
		// Not a rule at all.
		{"empty", ``, ""},
		{"syntax", `{"goals": [}`, ""},
		{"truncated", `{"goals": [`, ""},
		{"two values", `{"goals": [` + countGoal + `]} {}`, ""},
		{"trailing garbage", `{"goals": [` + countGoal + `]} x`, ""},
		{"array", `[]`, ""},
		{"string", `"rule"`, ""},
		{"null", `null`, "goals"},

		// Shape: exact names, JSON types.
		{"unknown field", `{"goals": [` + countGoal + `], "name": "x"}`, "name"},
		{"field names are case-sensitive", `{"Goals": [` + countGoal + `]}`, "Goals"},
		{"unknown goal field", withGoal(`"extra": 1`), "goals[1].extra"},
		{"unknown filter field", withFilter(`{"prop": "p", "op": "exists", "vaule": 1}`), "goals[0].filters[1].vaule"},
		{"unknown window field", withWindow(`"timezone": "UTC"`), "window.timezone"},
		{"goals not an array", `{"goals": {}}`, "goals"},
		{"goal not an object", `{"goals": [` + countGoal + `, 3]}`, "goals[1]"},
		{"kind not a string", withGoal(`"kind": 3`), "goals[1].kind"},
		{"target as a string", withGoal(`"target": "5"`), "goals[1].target"},
		{"target as a bool", withGoal(`"target": true`), "goals[1].target"},
		{"filters not an array", withGoal(`"filters": {}`), "goals[1].filters"},
		{"value out of range", withFilter(`{"prop": "p", "op": "eq", "value": 1e400}`), "goals[0].filters[1].value"},
		{"values item out of range", withFilter(`{"prop": "p", "op": "in", "values": [1, -1e400]}`), "goals[0].filters[1].values[1]"},
		{"nested number out of range", withFilter(`{"prop": "p", "op": "eq", "value": {"a": [1e999]}}`), "goals[0].filters[1].value"},
		{"ordered not a bool", `{"goals": [` + countGoal + `], "ordered": "yes"}`, "ordered"},
		{"window not an object", `{"goals": [` + countGoal + `], "window": []}`, "window"},
		{"starts_at not a time", withWindow(`"starts_at": "tomorrow"`), "window.starts_at"},
		{"starts_at a number", withWindow(`"starts_at": 5`), "window.starts_at"},
		{"ends_at without zone", withWindow(`"ends_at": "2026-11-23T00:00:00"`), "window.ends_at"},

		// Goals.
		{"no goals", `{"goals": []}`, "goals"},
		{"goals missing", `{}`, "goals"},
		{"11 goals", `{"goals": [` + repeat(countGoal, 11) + `]}`, "goals"},
		{"bad id", withGoal(`"id": "a.b"`), "goals[1].id"},
		{"long id", withGoal(`"id": "` + strings.Repeat("a", 65) + `"`), "goals[1].id"},
		{"duplicate id", `{"goals": [{"id": "a", "kind": "count", "event_type": "share", "target": 1}, {"id": "a", "kind": "count", "event_type": "share", "target": 1}]}`, "goals[1].id"},
		{"id clashes with a default", `{"goals": [{"id": "g2", "kind": "count", "event_type": "share", "target": 1}, ` + countGoal + `]}`, "goals[1].id"},
		{"unknown kind", withGoal(`"kind": "max"`), "goals[1].kind"},
		{"missing kind", `{"goals": [{"event_type": "share", "target": 1}]}`, "goals[0].kind"},
		{"missing event_type", `{"goals": [{"kind": "count", "target": 1}]}`, "goals[0].event_type"},
		{"bad event_type", withGoal(`"event_type": "a b"`), "goals[1].event_type"},
		{"long event_type", withGoal(`"event_type": "` + strings.Repeat("a", 65) + `"`), "goals[1].event_type"},
		{"count with a prop", withGoal(`"prop": "amount"`), "goals[1].prop"},
		{"sum without a prop", withGoal(`"kind": "sum"`), "goals[1].prop"},
		{"distinct without a prop", withGoal(`"kind": "distinct"`), "goals[1].prop"},
		{"bad prop", withGoal(`"kind": "sum", "prop": "$amount"`), "goals[1].prop"},
		{"dotted prop", withGoal(`"kind": "distinct", "prop": "a.b"`), "goals[1].prop"},
		{"17 filters", withGoal(`"filters": [` + repeat(`{"prop": "p", "op": "exists"}`, 17) + `]`), "goals[1].filters"},
		{"missing target", `{"goals": [{"kind": "count", "event_type": "share"}]}`, "goals[0].target"},
		{"count target 0", withGoal(`"target": 0`), "goals[1].target"},
		{"count target negative", withGoal(`"target": -1`), "goals[1].target"},
		{"count target fraction", withGoal(`"target": 1.5`), "goals[1].target"},
		{"count target too big", withGoal(`"target": 1000001`), "goals[1].target"},
		{"count target huge", withGoal(`"target": 1e400`), "goals[1].target"},
		{"distinct target fraction", withGoal(`"kind": "distinct", "prop": "store", "target": 2.5`), "goals[1].target"},
		{"sum target 0", withGoal(`"kind": "sum", "prop": "amount", "target": 0`), "goals[1].target"},
		{"sum target negative", withGoal(`"kind": "sum", "prop": "amount", "target": -5`), "goals[1].target"},
		{"sum target 4 decimals", withGoal(`"kind": "sum", "prop": "amount", "target": 0.0001`), "goals[1].target"},
		{"sum target too big", withGoal(`"kind": "sum", "prop": "amount", "target": 1e13`), "goals[1].target"},
		{"long label", withGoal(`"label": "` + long + `"`), "goals[1].label"},

		// Filters.
		{"bad filter prop", withFilter(`{"prop": "a.b", "op": "exists"}`), "goals[0].filters[1].prop"},
		{"missing filter prop", withFilter(`{"op": "exists"}`), "goals[0].filters[1].prop"},
		{"unknown op", withFilter(`{"prop": "p", "op": "like", "value": "x"}`), "goals[0].filters[1].op"},
		{"missing op", withFilter(`{"prop": "p", "value": "x"}`), "goals[0].filters[1].op"},
		{"eq without value", withFilter(`{"prop": "p", "op": "eq"}`), "goals[0].filters[1].value"},
		{"eq null", withFilter(`{"prop": "p", "op": "eq", "value": null}`), "goals[0].filters[1].value"},
		{"eq with values", withFilter(`{"prop": "p", "op": "eq", "value": 1, "values": [1]}`), "goals[0].filters[1].values"},
		{"eq an array", withFilter(`{"prop": "p", "op": "eq", "value": [1]}`), "goals[0].filters[1].value"},
		{"eq an object", withFilter(`{"prop": "p", "op": "ne", "value": {}}`), "goals[0].filters[1].value"},
		{"eq a long string", withFilter(`{"prop": "p", "op": "eq", "value": "` + long + `"}`), "goals[0].filters[1].value"},
		{"in without values", withFilter(`{"prop": "p", "op": "in"}`), "goals[0].filters[1].values"},
		{"in empty", withFilter(`{"prop": "p", "op": "not_in", "values": []}`), "goals[0].filters[1].values"},
		{"in with value", withFilter(`{"prop": "p", "op": "in", "value": 1, "values": [1]}`), "goals[0].filters[1].value"},
		{"in 101 values", withFilter(`{"prop": "p", "op": "in", "values": [` + repeat("1", 101) + `]}`), "goals[0].filters[1].values"},
		{"in an object", withFilter(`{"prop": "p", "op": "in", "values": [1, {}]}`), "goals[0].filters[1].values[1]"},
		{"in null", withFilter(`{"prop": "p", "op": "not_in", "values": [null]}`), "goals[0].filters[1].values[0]"},
		{"in a long string", withFilter(`{"prop": "p", "op": "in", "values": ["a", "` + long + `"]}`), "goals[0].filters[1].values[1]"},
		{"gt without value", withFilter(`{"prop": "p", "op": "gt"}`), "goals[0].filters[1].value"},
		{"gt a string", withFilter(`{"prop": "p", "op": "gte", "value": "5"}`), "goals[0].filters[1].value"},
		{"lt a bool", withFilter(`{"prop": "p", "op": "lt", "value": true}`), "goals[0].filters[1].value"},
		{"lte with values", withFilter(`{"prop": "p", "op": "lte", "value": 1, "values": [2]}`), "goals[0].filters[1].values"},
		{"between with value", withFilter(`{"prop": "p", "op": "between", "value": 1}`), "goals[0].filters[1].value"},
		{"between one value", withFilter(`{"prop": "p", "op": "between", "values": [1]}`), "goals[0].filters[1].values"},
		{"between three values", withFilter(`{"prop": "p", "op": "between", "values": [1, 2, 3]}`), "goals[0].filters[1].values"},
		{"between a string low", withFilter(`{"prop": "p", "op": "between", "values": ["a", 2]}`), "goals[0].filters[1].values[0]"},
		{"between a string high", withFilter(`{"prop": "p", "op": "between", "values": [1, "b"]}`), "goals[0].filters[1].values[1]"},
		{"between low above high", withFilter(`{"prop": "p", "op": "between", "values": [5, 1]}`), "goals[0].filters[1].values"},
		{"exists with value", withFilter(`{"prop": "p", "op": "exists", "value": true}`), "goals[0].filters[1].value"},
		{"not_exists with values", withFilter(`{"prop": "p", "op": "not_exists", "values": [1]}`), "goals[0].filters[1].values"},

		// Window.
		{"ends before it starts", withWindow(`"starts_at": "2026-11-23T00:00:00Z", "ends_at": "2026-11-22T00:00:00Z"`), "window.ends_at"},
		{"ends as it starts", withWindow(`"starts_at": "2026-11-23T00:00:00Z", "ends_at": "2026-11-23T01:00:00+01:00"`), "window.ends_at"},
		{"ends within the same millisecond", withWindow(`"starts_at": "2026-11-23T00:00:00.0001Z", "ends_at": "2026-11-23T00:00:00.0009Z"`), "window.ends_at"},
		{"starts past year 9999 in UTC", withWindow(`"starts_at": "9999-12-31T23:00:00-05:00"`), "window.starts_at"},
		{"ends before year 1 in UTC", withWindow(`"ends_at": "0001-01-01T00:00:00+01:00"`), "window.ends_at"},
		{"rolling without unit", withWindow(`"rolling": "7"`), "window.rolling"},
		{"rolling fractional days", withWindow(`"rolling": "1.5d"`), "window.rolling"},
		{"rolling signed days", withWindow(`"rolling": "+7d"`), "window.rolling"},
		{"rolling too short", withWindow(`"rolling": "59s"`), "window.rolling"},
		{"rolling negative", withWindow(`"rolling": "-1h"`), "window.rolling"},
		{"rolling too long", withWindow(`"rolling": "367d"`), "window.rolling"},
		{"rolling too long in hours", withWindow(`"rolling": "8785h"`), "window.rolling"},
		{"unknown recurrence", withWindow(`"recurrence": "yearly"`), "window.recurrence"},
		{"rolling and recurring", withWindow(`"rolling": "7d", "recurrence": "daily"`), "window.recurrence"},
		{"unknown time zone", withWindow(`"time_zone": "Mars/Olympus_Mons"`), "window.time_zone"},
		{"Local time zone", withWindow(`"time_zone": "Local"`), "window.time_zone"},
		{"path as time zone", withWindow(`"time_zone": "../../etc/passwd"`), "window.time_zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.json))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse error = %v (%T), want a *FieldError on %q", err, err, tt.field)
			}
			if fe.Field != tt.field || fe.Message == "" {
				t.Errorf("Parse error = %q on %q, want one on %q", fe.Message, fe.Field, tt.field)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	tests := []struct{ name, json string }{
		{"10 goals", `{"goals": [` + repeat(countGoal, 10) + `]}`},
		{"16 filters", withGoal(`"filters": [` + repeat(`{"prop": "p", "op": "exists"}`, 16) + `]`)},
		{"100 values", withFilter(`{"prop": "p", "op": "in", "values": [` + repeat(`"v"`, 100) + `]}`)},
		{"count target 1000000", withGoal(`"target": 1000000`)},
		{"count target 5.0", withGoal(`"target": 5.0`)},
		{"sum target 0.001", withGoal(`"kind": "sum", "prop": "amount", "target": 0.001`)},
		{"sum target 1e12", withGoal(`"kind": "sum", "prop": "amount", "target": 1e12`)},
		{"256-byte label", withGoal(`"label": "` + strings.Repeat("é", 128) + `"`)},
		{"between one point", withFilter(`{"prop": "p", "op": "between", "values": [1, 1]}`)},
		{"in mixed kinds", withFilter(`{"prop": "p", "op": "in", "values": ["a", 1, true]}`)},
		{"null value for exists", withFilter(`{"prop": "p", "op": "exists", "value": null}`)},
		{"rolling 1m", withWindow(`"rolling": "1m"`)},
		{"rolling 366d", withWindow(`"rolling": "366d"`)},
		{"rolling 1h30m", withWindow(`"rolling": "1h30m"`)},
		{"time zone with three parts", withWindow(`"time_zone": "America/Argentina/Buenos_Aires"`)},
		{"time zone Etc", withWindow(`"time_zone": "Etc/GMT+5"`)},
		{"system event type", `{"goals": [{"kind": "count", "event_type": "challenge.completed", "target": 1}]}`},
	}
	for _, tt := range tests {
		if _, err := Parse([]byte(tt.json)); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestValidateKnownType(t *testing.T) {
	r, err := Parse([]byte(`{"goals": [` + countGoal + `, {"kind": "count", "event_type": "teleport", "target": 1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	known := func(t string) bool { return t == "share" }
	var fe *FieldError
	if err := r.Validate(known); !errors.As(err, &fe) || fe.Field != "goals[1].event_type" {
		t.Errorf("Validate = %v, want an error on goals[1].event_type", err)
	}
	if err := r.Validate(nil); err != nil {
		t.Errorf("Validate(nil) = %v", err)
	}
}

// TestValidateGoRules covers rules built in Go rather than parsed, which
// can hold what JSON cannot.
func TestValidateGoRules(t *testing.T) {
	ok := Goal{ID: "g1", Kind: Count, EventType: "share", Target: "1"}
	withFilter := func(f Filter) Rule {
		g := ok
		g.Filters = []Filter{f}
		return Rule{Goals: []Goal{g}}
	}
	tests := []struct {
		name  string
		r     Rule
		field string
	}{
		{"no id (not normalized)", Rule{Goals: []Goal{{Kind: Count, EventType: "share", Target: "1"}}}, "goals[0].id"},
		{"target not a JSON number", Rule{Goals: []Goal{{ID: "g1", Kind: Count, EventType: "share", Target: "+1"}}}, "goals[0].target"},
		{"invalid UTF-8 label", Rule{Goals: []Goal{{ID: "g1", Kind: Count, EventType: "share", Target: "1", Label: "\xff"}}}, "goals[0].label"},
		{"invalid UTF-8 value", withFilter(Filter{Prop: "p", Op: Eq, Value: "\xff"}), "goals[0].filters[0].value"},
		{"NaN value", withFilter(Filter{Prop: "p", Op: Gt, Value: math.NaN()}), "goals[0].filters[0].value"},
		{"unsupported number type", withFilter(Filter{Prop: "p", Op: Eq, Value: int32(1)}), "goals[0].filters[0].value"},
		{"year 10000", Rule{Goals: []Goal{ok}, Window: Window{EndsAt: ptr(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))}}, "window.ends_at"},
	}
	for _, tt := range tests {
		var fe *FieldError
		if err := tt.r.Validate(nil); !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%s: Validate = %v, want an error on %q", tt.name, err, tt.field)
		}
	}
}

func TestFieldError(t *testing.T) {
	if got := (&FieldError{"goals[0].target", "required"}).Error(); got != "goals[0].target: required" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&FieldError{"", "invalid JSON"}).Error(); got != "invalid JSON" {
		t.Errorf("Error() = %q", got)
	}
}

func TestParseRepeatedKey(t *testing.T) {
	_, err := Parse([]byte(`{"goals": [{"kind": 3}], "goals": [` + countGoal + `]}`))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "" {
		t.Errorf("Parse = %v, want a *FieldError on the document", err)
	}
}
