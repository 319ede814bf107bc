package rule

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzParse: Parse never panics, fails only with a *FieldError, and a rule
// it accepts validates, encodes, and parses back to an equal rule.
func FuzzParse(f *testing.F) {
	seeds := []string{
		`{"goals": [{"kind": "count", "event_type": "share", "target": 3}]}`,
		`{"goals": [{"kind": "sum", "event_type": "purchase", "prop": "amount", "target": 100.5,
		  "filters": [{"prop": "currency", "op": "in", "values": ["EUR", "USD"]},
		              {"prop": "amount", "op": "between", "values": [0.5, 1e3]},
		              {"prop": "coupon", "op": "not_exists"}]}],
		  "window": {"recurrence": "monthly", "time_zone": "Asia/Kolkata"}}`,
		`{"goals": [{"id": "a", "kind": "distinct", "event_type": "visit", "prop": "store_id", "target": 4, "label": "Visit 4 stores"},
		            {"kind": "count", "event_type": "share", "target": 1, "filters": [{"prop": "ok", "op": "eq", "value": true}]}],
		  "ordered": true,
		  "window": {"starts_at": "2026-11-23T09:00:00.123456+05:30", "ends_at": "2026-12-01T00:00:00Z", "rolling": "7d"}}`,
		`{"goals": [{"kind": "count", "event_type": "like", "target": 1e0, "filters": [{"prop": "n", "op": "gte", "value": -0}]}], "window": {"recurrence": "weekly", "time_zone": "Pacific/Chatham"}}`,
		withFilter(`{"prop": "p", "op": "between", "values": [5, 1]}`),
		withFilter(`{"prop": "p", "op": "eq", "value": 1e400}`),
		withWindow(`"starts_at": "9999-12-31T23:00:00-05:00"`),
		withWindow(`"rolling": "7d", "recurrence": "daily"`),
		withGoal(`"target": "5"`),
		`{"Goals": []}`,
		`{"goals": [{}]} {}`,
		`[]`,
		``,
		`null`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q) = %v (%T), want a *FieldError", data, err, err)
			}
			return
		}
		if err := r.Validate(nil); err != nil {
			t.Fatalf("Parse(%q) accepted a rule that does not validate: %v", data, err)
		}
		enc, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("Parse(%q) accepted a rule that does not encode: %v", data, err)
		}
		again, err := Parse(enc)
		if err != nil {
			t.Fatalf("re-parsing %s: %v", enc, err)
		}
		if !reflect.DeepEqual(r, again) {
			t.Fatalf("round trip changed the rule:\n%+v\n%s\n%+v", r, enc, again)
		}
	})
}
