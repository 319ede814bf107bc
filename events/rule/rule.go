// Package rule is Questline's rule language: the goals that challenges and
// badges set over the event stream, the windows they count in, and the pure
// functions that match events, fold progress and place events in periods.
// It does no I/O and imports no other Questline package, so events,
// challenges and badges can all build on it.
//
// # Rules
//
// A Rule is 1 to 10 goals, all of which must be met, and a window:
//
//	{"goals": [{"kind": "sum", "event_type": "purchase", "prop": "amount", "target": 100,
//	            "filters": [{"prop": "currency", "op": "eq", "value": "EUR"}]},
//	           {"kind": "distinct", "event_type": "visit", "prop": "store_id", "target": 4}],
//	 "window": {"recurrence": "weekly", "time_zone": "Europe/Paris"}}
//
// Parse decodes, normalizes and validates a rule. Every error it returns is a
// *FieldError naming the field at fault by its JSON path, such as
// "goals[1].filters[0].values", so an API can answer 422 at the field.
//
// # Units
//
// Progress and targets are int64 in the goal's own unit: events for count,
// distinct values for distinct, and thousandths (Scale) for sum. Sums are
// therefore exact: 0.1 + 0.2 is 300 thousandths, precisely a 0.3 target.
// A sum counts a prop only if it is a JSON number from 0 to 1e12 with at
// most 3 decimals. Anything else (the string "42.50", a negative refund,
// 0.0001, NaN) means the event does not count for that goal, rather than
// counting approximately. FormatScaled renders a sum for people.
//
// # Props
//
// Props arrive as decoded JSON: numbers (float64, json.Number, or int and
// int64 from Go callers), strings, booleans, null, arrays and objects.
//
//   - A missing prop and a JSON null are the same thing, absent: senders use
//     both for "no value". exists is false and not_exists true; eq, in and
//     the comparisons are false; ne and not_in are true.
//   - Numbers compare numerically as float64 (3 equals 3.0); strings and
//     booleans compare exactly. Kinds never mix: the string "3" is not the
//     number 3, so a number sent as a string is not a number.
//   - gt, gte, lt, lte and between (inclusive) take numbers and match only
//     numbers. Times are not comparable in filters.
//   - Arrays and objects are present but equal nothing.
//   - A distinct goal counts canonical keys of the prop's value: "n:3" for
//     the number 3 or 3.0, "s:3" for the string "3", "b:true" for true.
//     Absent, array and object values do not count. Numbers beyond 2^53 lose
//     precision as float64; send such ids as strings.
//
// # Time
//
// Rules count an event by its occurred_at, never by when it arrives, so
// events arriving late or out of order give the same result as in order.
// Window.Counts decides whether an event counts at all:
//
//   - occurred_at must lie in the window's [starts_at, ends_at);
//   - occurred_at more than FutureSkew after received_at is rejected, since
//     the sender's clock is wrong (intake allows the same 5 minutes);
//   - an event whose period, or challenge, has ended still counts towards it
//     if it was received less than LateGrace after the end; after that it is
//     dropped, so a period's result is final a day after the period closes.
//
// Recurring windows (daily; weekly, as ISO weeks from Monday; monthly) follow
// the calendar of the window's time zone. A period starts at local midnight;
// its Start and End are real instants, so a DST day lasts 23 or 25 hours; its
// Key names the local date: "2026-11-23", "2026-W48" or "2026-11". Progress
// starts afresh each period and a challenge can be completed once per period:
// callers key progress and completions by Period.Key. A rolling window such
// as "7d" counts contributions that occurred in (now-7d, now].
//
// # Steps
//
// In an ordered rule the goals are steps: a goal counts only once every goal
// before it is met, and stops counting once it is met itself. Counting says
// which goals an incoming event may advance; Progress recomputes the same
// from stored contributions by occurred_at, which is what makes late events
// safe: a step counts contributions that occurred strictly after the
// previous step was met.
package rule

import (
	"encoding/json"
	"time"
)

// Scale is the number of sum units in one unit of a prop: sums are kept
// in thousandths so that adding decimals is exact.
const Scale = 1000

// LateGrace is how long after a period (or challenge) ends an event that
// occurred inside it may still arrive and count.
const LateGrace = 24 * time.Hour

// FutureSkew is how far past its receipt an event's occurred_at may be: a
// sender's clock may run a little fast, but not more than intake allows.
const FutureSkew = 5 * time.Minute

// Event is what rules look at. Callers convert their own event type.
type Event struct {
	Type       string
	Props      map[string]any
	OccurredAt time.Time
}

// Op is a filter operator.
type Op string

// The filter operators. See the package documentation for how each treats
// missing props and values of another kind.
const (
	Eq        Op = "eq"         // Value equals the prop
	Ne        Op = "ne"         // Value does not equal the prop, or it is absent
	In        Op = "in"         // the prop equals one of Values
	NotIn     Op = "not_in"     // the prop equals none of Values, or is absent
	Gt        Op = "gt"         // the prop is a number > Value
	Gte       Op = "gte"        // the prop is a number >= Value
	Lt        Op = "lt"         // the prop is a number < Value
	Lte       Op = "lte"        // the prop is a number <= Value
	Between   Op = "between"    // the prop is a number in [Values[0], Values[1]]
	Exists    Op = "exists"     // the prop is present and not null
	NotExists Op = "not_exists" // the prop is absent or null
)

// Filter is a condition on one prop of an event.
type Filter struct {
	Prop string `json:"prop"`
	Op   Op     `json:"op"`
	// Value is the operand of eq and ne (a string, number or boolean) and
	// of gt, gte, lt and lte (a number).
	Value any `json:"value,omitempty"`
	// Values are the operands of in and not_in (1 to 100 strings, numbers
	// or booleans) and of between (exactly [low, high], numbers, inclusive).
	Values []any `json:"values,omitempty"`
}

// Kind is what a goal measures.
type Kind string

// The goal kinds.
const (
	Count    Kind = "count"    // matching events
	Sum      Kind = "sum"      // a numeric prop over matching events, in thousandths
	Distinct Kind = "distinct" // distinct values of a prop over matching events
)

// Goal is one thing a player must do.
type Goal struct {
	// ID is a stable key for the goal's progress. Normalize defaults it to
	// "g1", "g2"... by position.
	ID        string `json:"id,omitempty"`
	Kind      Kind   `json:"kind"`
	EventType string `json:"event_type"`
	// Prop is the number a sum adds up or the value a distinct goal counts
	// (e.g. store_id). Count goals have none.
	Prop    string   `json:"prop,omitempty"`
	Filters []Filter `json:"filters,omitempty"`
	// Target is the progress that meets the goal, as written: a whole
	// number from 1 to 1,000,000 for count and distinct; for sum a number
	// above 0, at most 1e12, with at most 3 decimals. It is a json.Number so
	// that the decimal is kept exactly; Threshold converts it.
	Target json.Number `json:"target"`
	// Label tells players what counts.
	Label string `json:"label,omitempty"`
}

// Recurrence is how often a window's progress starts afresh.
type Recurrence string

// The recurrences. Periods follow the window's local calendar.
const (
	Once    Recurrence = ""        // one period: the whole window
	Daily   Recurrence = "daily"   // from local midnight
	Weekly  Recurrence = "weekly"  // ISO weeks, from local midnight on Monday
	Monthly Recurrence = "monthly" // from local midnight on the 1st
)

// Window is when events count.
type Window struct {
	// StartsAt and EndsAt bound occurred_at: [StartsAt, EndsAt).
	StartsAt *time.Time `json:"starts_at,omitempty"`
	EndsAt   *time.Time `json:"ends_at,omitempty"`
	// Rolling counts only the trailing span before now: a Go duration
	// ("24h", "30m") or a number of days ("7d"), from 1m to 366d.
	Rolling    string     `json:"rolling,omitempty"`
	Recurrence Recurrence `json:"recurrence,omitempty"`
	// TimeZone is the IANA zone of the recurrence calendar; default UTC.
	TimeZone string `json:"time_zone,omitempty"`
}

// Rule is a set of goals over the event stream and the window they count in.
type Rule struct {
	Goals []Goal `json:"goals"`
	// Ordered makes the goals steps: each counts only once those before it
	// are met.
	Ordered bool   `json:"ordered,omitempty"`
	Window  Window `json:"window"`
}

// Contribution is what one event adds to one goal.
type Contribution struct {
	// Amount is 1 for count and distinct, thousandths for sum.
	Amount int64
	// Key is the distinct value's canonical key; empty for other kinds.
	Key string
	// At is the event's occurred_at.
	At time.Time
}

// Period is a span of a window in which progress accumulates.
type Period struct {
	// Key names the period: the local date, ISO week or month of a
	// recurring window; empty for the single period of any other window.
	Key string
	// Start and End bound the period, [Start, End), clipped to the window's
	// StartsAt and EndsAt. A zero Start or End means unbounded.
	Start, End time.Time
}

// FieldError is a problem with one field of a rule.
type FieldError struct {
	// Field is the JSON path of the field relative to the rule, such as
	// "goals[0].target"; empty when the problem is the document as a whole.
	Field   string
	Message string
}

// Error returns the field's path and the message.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}
