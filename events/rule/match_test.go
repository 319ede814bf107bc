package rule

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// props holds a value of every kind a decoded event can carry; "missing"
// is absent.
var props = map[string]any{
	"num":   42.0,
	"frac":  42.5,
	"neg":   -3.0,
	"jnum":  json.Number("42.0"),
	"int":   42,
	"int64": int64(42),
	"nan":   math.NaN(),
	"str":   "42",
	"word":  "gold",
	"empty": "",
	"yes":   true,
	"no":    false,
	"null":  nil,
	"arr":   []any{"gold", 42.0},
	"obj":   map[string]any{"word": "gold"},
}

func TestFilterMatch(t *testing.T) {
	vs := func(v ...any) []any { return v } // the Values of in, not_in and between
	tests := []struct {
		prop    string
		op      Op
		operand any // Value, or Values if a []any
		want    bool
	}{
		// eq: numbers numerically, strings and booleans exactly, never across kinds.
		{"num", Eq, 42.0, true},
		{"num", Eq, 42, true},
		{"num", Eq, json.Number("42"), true},
		{"jnum", Eq, 42.0, true},
		{"int", Eq, 42.0, true},
		{"int64", Eq, 42.0, true},
		{"frac", Eq, 42.0, false},
		{"frac", Eq, 42.5, true},
		{"num", Eq, "42", false},
		{"str", Eq, "42", true},
		{"str", Eq, 42.0, false},
		{"word", Eq, "gold", true},
		{"word", Eq, "Gold", false},
		{"empty", Eq, "", true},
		{"yes", Eq, true, true},
		{"yes", Eq, false, false},
		{"no", Eq, false, true},
		{"yes", Eq, "true", false},
		{"yes", Eq, 1.0, false},
		{"nan", Eq, math.NaN(), false},
		{"null", Eq, "gold", false},
		{"missing", Eq, "gold", false},
		{"missing", Eq, false, false},
		{"arr", Eq, "gold", false},
		{"obj", Eq, "gold", false},
		// ne: the negation of eq, so absent props are not equal.
		{"num", Ne, 42.0, false},
		{"num", Ne, 43.0, true},
		{"jnum", Ne, 42.0, false},
		{"str", Ne, 42.0, true},
		{"word", Ne, "gold", false},
		{"word", Ne, "silver", true},
		{"yes", Ne, true, false},
		{"no", Ne, true, true},
		{"null", Ne, "gold", true},
		{"missing", Ne, "gold", true},
		{"arr", Ne, "gold", true},
		{"obj", Ne, "gold", true},
		// in and not_in: eq against each value.
		{"num", In, vs(1.0, 42.0), true},
		{"num", In, vs("42"), false},
		{"num", In, vs("gold", 42.0), true},
		{"jnum", In, vs(42.0), true},
		{"str", In, vs("42", "x"), true},
		{"str", In, vs(42.0), false},
		{"word", In, vs("silver", "gold"), true},
		{"word", In, vs("silver", "bronze"), false},
		{"yes", In, vs(false, true), true},
		{"no", In, vs(true), false},
		{"null", In, vs("gold"), false},
		{"missing", In, vs("gold"), false},
		{"arr", In, vs("gold"), false},
		{"num", NotIn, vs(1.0, 2.0), true},
		{"num", NotIn, vs(42.0), false},
		{"str", NotIn, vs(42.0), true},
		{"word", NotIn, vs("gold"), false},
		{"yes", NotIn, vs(false), true},
		{"null", NotIn, vs("gold"), true},
		{"missing", NotIn, vs("gold"), true},
		{"obj", NotIn, vs("gold"), true},
		// Comparisons: numbers only.
		{"num", Gt, 41.0, true},
		{"num", Gt, 42.0, false},
		{"num", Gte, 42.0, true},
		{"num", Gte, 42.5, false},
		{"num", Lt, 43.0, true},
		{"num", Lt, 42.0, false},
		{"num", Lte, 42.0, true},
		{"num", Lte, 41.9, false},
		{"frac", Gt, 42.0, true},
		{"neg", Lt, 0.0, true},
		{"neg", Gt, -3.5, true},
		{"jnum", Gte, 42.0, true},
		{"int", Lt, 43.0, true},
		{"int64", Gt, 41, true},
		{"nan", Gt, 0.0, false},
		{"nan", Lt, 0.0, false},
		{"str", Gt, 1.0, false},
		{"word", Lt, 1e9, false},
		{"yes", Gt, 0.0, false},
		{"null", Lt, 100.0, false},
		{"missing", Gt, 0.0, false},
		{"missing", Lte, 0.0, false},
		{"arr", Gt, 0.0, false},
		{"num", Gt, "41", false}, // a rule that did not validate
		// between: inclusive at both ends.
		{"num", Between, vs(42.0, 42.0), true},
		{"num", Between, vs(40.0, 41.99), false},
		{"frac", Between, vs(42.0, 42.5), true},
		{"frac", Between, vs(42.5, 43.0), true},
		{"frac", Between, vs(42.501, 43.0), false},
		{"frac", Between, vs(41.0, 42.499), false},
		{"neg", Between, vs(-5.0, 0.0), true},
		{"jnum", Between, vs(0.0, 100.0), true},
		{"str", Between, vs(0.0, 100.0), false},
		{"yes", Between, vs(0.0, 1.0), false},
		{"null", Between, vs(0.0, 100.0), false},
		{"missing", Between, vs(0.0, 100.0), false},
		{"num", Between, vs(0.0), false}, // a rule that did not validate
		// exists and not_exists: null is absent.
		{"num", Exists, nil, true},
		{"str", Exists, nil, true},
		{"empty", Exists, nil, true},
		{"no", Exists, nil, true},
		{"arr", Exists, nil, true},
		{"obj", Exists, nil, true},
		{"null", Exists, nil, false},
		{"missing", Exists, nil, false},
		{"num", NotExists, nil, false},
		{"no", NotExists, nil, false},
		{"null", NotExists, nil, true},
		{"missing", NotExists, nil, true},
		// An unknown op matches nothing.
		{"num", "like", 42.0, false},
	}
	for _, tt := range tests {
		f := Filter{Prop: tt.prop, Op: tt.op, Value: tt.operand}
		if v, ok := tt.operand.([]any); ok {
			f.Value, f.Values = nil, v
		}
		if got := f.Match(props); got != tt.want {
			t.Errorf("%s %s %v = %v, want %v", tt.prop, tt.op, tt.operand, got, tt.want)
		}
	}
	// Nothing matches against no props but the absent-friendly ops.
	for _, op := range []Op{Ne, NotIn, NotExists} {
		if !(Filter{Prop: "x", Op: op, Value: "y", Values: []any{"y"}}).Match(nil) {
			t.Errorf("%s on nil props = false, want true", op)
		}
	}
}

func TestGoalMatch(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	purchase := func(p map[string]any) Event { return Event{Type: "purchase", Props: p, OccurredAt: at} }
	eur := []Filter{{Prop: "currency", Op: Eq, Value: "EUR"}}
	tests := []struct {
		name string
		g    Goal
		e    Event
		want Contribution
		ok   bool
	}{
		{"count", Goal{Kind: Count, EventType: "share"}, Event{Type: "share", OccurredAt: at}, Contribution{Amount: 1, At: at}, true},
		{"count, other type", Goal{Kind: Count, EventType: "share"}, Event{Type: "like", OccurredAt: at}, Contribution{}, false},
		{"count, filters hold", Goal{Kind: Count, EventType: "purchase", Filters: eur}, purchase(map[string]any{"currency": "EUR"}), Contribution{Amount: 1, At: at}, true},
		{"count, a filter fails", Goal{Kind: Count, EventType: "purchase", Filters: eur}, purchase(map[string]any{"currency": "USD"}), Contribution{}, false},
		{"count, all filters must hold", Goal{Kind: Count, EventType: "purchase", Filters: append(eur, Filter{Prop: "amount", Op: Gte, Value: 10.0})},
			purchase(map[string]any{"currency": "EUR", "amount": 9.99}), Contribution{}, false},
		{"sum", Goal{Kind: Sum, EventType: "purchase", Prop: "amount"}, purchase(map[string]any{"amount": 42.5}), Contribution{Amount: 42500, At: at}, true},
		{"sum, zero", Goal{Kind: Sum, EventType: "purchase", Prop: "amount"}, purchase(map[string]any{"amount": 0.0}), Contribution{Amount: 0, At: at}, true},
		{"sum, negative", Goal{Kind: Sum, EventType: "purchase", Prop: "amount"}, purchase(map[string]any{"amount": -5.0}), Contribution{}, false},
		{"sum, too precise", Goal{Kind: Sum, EventType: "purchase", Prop: "amount"}, purchase(map[string]any{"amount": 0.0001}), Contribution{}, false},
		{"sum, string", Goal{Kind: Sum, EventType: "purchase", Prop: "amount"}, purchase(map[string]any{"amount": "42.50"}), Contribution{}, false},
		{"sum, missing", Goal{Kind: Sum, EventType: "purchase", Prop: "amount"}, purchase(nil), Contribution{}, false},
		{"sum, filtered out", Goal{Kind: Sum, EventType: "purchase", Prop: "amount", Filters: eur}, purchase(map[string]any{"amount": 5.0}), Contribution{}, false},
		{"distinct", Goal{Kind: Distinct, EventType: "visit", Prop: "store_id"}, Event{Type: "visit", Props: map[string]any{"store_id": "s1"}, OccurredAt: at}, Contribution{Amount: 1, Key: "s:s1", At: at}, true},
		{"distinct, missing", Goal{Kind: Distinct, EventType: "visit", Prop: "store_id"}, Event{Type: "visit", OccurredAt: at}, Contribution{}, false},
		{"unknown kind", Goal{Kind: "max", EventType: "share"}, Event{Type: "share"}, Contribution{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.g.Match(tt.e)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Match = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestDistinctKey(t *testing.T) {
	tests := []struct {
		in   any
		want string // "" when the value does not count
	}{
		{3.0, "n:3"},
		{json.Number("3.0"), "n:3"},
		{json.Number("3e0"), "n:3"},
		{3, "n:3"},
		{int64(3), "n:3"},
		{math.Copysign(0, -1), "n:0"},
		{2.5, "n:2.5"},
		{-7.0, "n:-7"},
		{1e20, "n:1e+20"},
		{9007199254740991.0, "n:9007199254740991"},
		{"3", "s:3"},
		{"", "s:"},
		{json.Number("3x"), ""},
		{"n:3", "s:n:3"},
		{true, "b:true"},
		{false, "b:false"},
		{nil, ""},
		{math.NaN(), ""},
		{math.Inf(1), ""},
		{[]any{"a"}, ""},
		{map[string]any{}, ""},
	}
	for _, tt := range tests {
		got, ok := distinctKey(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("distinctKey(%#v) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}
