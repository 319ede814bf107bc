package rule

import (
	"encoding/json"
	"math"
	"strconv"
)

// Match reports whether e counts for g, and what it adds: the event type
// must be g's, every filter must hold and, for sum and distinct, g's prop
// must carry a value the goal can use (see the package documentation).
// Match ignores time; Window decides when events count.
func (g Goal) Match(e Event) (Contribution, bool) {
	if e.Type != g.EventType {
		return Contribution{}, false
	}
	for _, f := range g.Filters {
		if !f.Match(e.Props) {
			return Contribution{}, false
		}
	}
	c := Contribution{Amount: 1, At: e.OccurredAt}
	switch g.Kind {
	case Count:
	case Sum:
		v, ok := scaled(e.Props[g.Prop])
		if !ok || v < 0 {
			return Contribution{}, false
		}
		c.Amount = v
	case Distinct:
		k, ok := distinctKey(e.Props[g.Prop])
		if !ok {
			return Contribution{}, false
		}
		c.Key = k
	default:
		return Contribution{}, false
	}
	return c, true
}

// Match reports whether props satisfy f.
func (f Filter) Match(props map[string]any) bool {
	v := props[f.Prop] // a missing prop reads as nil, the same as null
	switch f.Op {
	case Exists:
		return v != nil
	case NotExists:
		return v == nil
	case Eq:
		return equal(v, f.Value)
	case Ne:
		return !equal(v, f.Value)
	case In:
		return f.in(v)
	case NotIn:
		return !f.in(v)
	}
	x, ok := number(v)
	if !ok {
		return false
	}
	switch f.Op {
	case Gt, Gte, Lt, Lte:
		y, ok := number(f.Value)
		return ok && compare(f.Op, x, y)
	case Between:
		if len(f.Values) != 2 {
			return false
		}
		lo, ok1 := number(f.Values[0])
		hi, ok2 := number(f.Values[1])
		return ok1 && ok2 && lo <= x && x <= hi
	}
	return false
}

func (f Filter) in(v any) bool {
	for _, w := range f.Values {
		if equal(v, w) {
			return true
		}
	}
	return false
}

func compare(op Op, x, y float64) bool {
	switch op {
	case Gt:
		return x > y
	case Gte:
		return x >= y
	case Lt:
		return x < y
	}
	return x <= y
}

// equal compares a prop with an operand: strings and booleans exactly,
// numbers numerically, and nothing across kinds. Absent, null, arrays and
// objects equal nothing.
func equal(prop, operand any) bool {
	switch x := prop.(type) {
	case string:
		y, ok := operand.(string)
		return ok && x == y
	case bool:
		y, ok := operand.(bool)
		return ok && x == y
	}
	x, ok1 := number(prop)
	y, ok2 := number(operand)
	return ok1 && ok2 && x == y
}

// number returns v as a finite float64 if it is a number.
func number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(x), 64); err != nil {
			return 0, false
		}
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// distinctKey is the canonical key of a distinct value: its kind, so the
// string "3" and the number 3 differ, and its canonical text, so 3 and 3.0
// are the same.
func distinctKey(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return "s:" + x, true
	case bool:
		return "b:" + strconv.FormatBool(x), true
	}
	f, ok := number(v)
	if !ok {
		return "", false
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return "n:" + strconv.FormatInt(int64(f), 10), true
	}
	return "n:" + strconv.FormatFloat(f, 'g', -1, 64), true
}
