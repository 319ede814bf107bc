package rule

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"
)

// Limits on a rule, so that one definition cannot make matching slow or a
// document huge.
const (
	maxGoals     = 10
	maxFilters   = 16
	maxValues    = 100
	maxString    = 256 // bytes, for labels and string operands
	maxCountGoal = 1_000_000
)

var (
	// Goal ids and prop names: as intake's prop names, which exclude "."
	// and a leading "$" that document stores read as paths and operators.
	namePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_:-]{0,63}$`)
	// Event types may also hold dots, as system types do (challenge.completed).
	typePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$`)
)

// ValidName reports whether s may name a prop (or a goal): the rule every
// prop name of an event also follows.
func ValidName(s string) bool { return namePattern.MatchString(s) }

// Validate checks a normalized rule and returns the first problem as a
// *FieldError. knownType, if not nil, says which event types exist; with
// nil any syntactically valid type passes.
func (r Rule) Validate(knownType func(string) bool) error {
	if len(r.Goals) == 0 || len(r.Goals) > maxGoals {
		return &FieldError{"goals", "give 1 to 10 goals"}
	}
	ids := make(map[string]bool, len(r.Goals))
	for i, g := range r.Goals {
		path := "goals[" + strconv.Itoa(i) + "]"
		if err := g.validate(path, knownType); err != nil {
			return err
		}
		if ids[g.ID] {
			return &FieldError{path + ".id", fmt.Sprintf("another goal already has the id %q", g.ID)}
		}
		ids[g.ID] = true
	}
	return r.Window.validate("window")
}

func (g Goal) validate(path string, knownType func(string) bool) error {
	if !namePattern.MatchString(g.ID) {
		return &FieldError{path + ".id", "use 1-64 letters, digits, _ : or -"}
	}
	if g.Kind != Count && g.Kind != Sum && g.Kind != Distinct {
		return &FieldError{path + ".kind", "must be count, sum or distinct"}
	}
	if !typePattern.MatchString(g.EventType) {
		return &FieldError{path + ".event_type", "use 1-64 letters, digits, _ . : or -"}
	}
	if knownType != nil && !knownType(g.EventType) {
		return &FieldError{path + ".event_type", fmt.Sprintf("unknown event type %q", g.EventType)}
	}
	switch {
	case g.Kind == Count && g.Prop != "":
		return &FieldError{path + ".prop", "count goals take no prop"}
	case g.Kind != Count && g.Prop == "":
		return &FieldError{path + ".prop", fmt.Sprintf("%s goals need the prop they measure", g.Kind)}
	case g.Prop != "" && !namePattern.MatchString(g.Prop):
		return &FieldError{path + ".prop", "use 1-64 letters, digits, _ : or -"}
	}
	if len(g.Filters) > maxFilters {
		return &FieldError{path + ".filters", "at most 16 filters"}
	}
	for j, f := range g.Filters {
		if err := f.validate(path + ".filters[" + strconv.Itoa(j) + "]"); err != nil {
			return err
		}
	}
	if err := g.validateTarget(path + ".target"); err != nil {
		return err
	}
	if len(g.Label) > maxString || !utf8.ValidString(g.Label) {
		return &FieldError{path + ".label", "at most 256 bytes of UTF-8"}
	}
	return nil
}

func (g Goal) validateTarget(path string) error {
	if g.Target == "" {
		return &FieldError{path, "required"}
	}
	v, ok := parseScaled(string(g.Target))
	if g.Kind == Sum {
		if !ok || v <= 0 {
			return &FieldError{path, "sum targets are numbers above 0 and at most 1e12, with at most 3 decimals"}
		}
		return nil
	}
	if !ok || v%Scale != 0 || v < Scale || v > maxCountGoal*Scale {
		return &FieldError{path, "count and distinct targets are whole numbers from 1 to 1000000"}
	}
	return nil
}

func (f Filter) validate(path string) error {
	if !namePattern.MatchString(f.Prop) {
		return &FieldError{path + ".prop", "use 1-64 letters, digits, _ : or -"}
	}
	switch f.Op {
	case Eq, Ne:
		return f.shape(path, true, 0, 0, scalar)
	case In, NotIn:
		return f.shape(path, false, 1, maxValues, scalar)
	case Gt, Gte, Lt, Lte:
		return f.shape(path, true, 0, 0, numeric)
	case Between:
		if err := f.shape(path, false, 2, 2, numeric); err != nil {
			return err
		}
		lo, _ := number(f.Values[0])
		hi, _ := number(f.Values[1])
		if lo > hi {
			return &FieldError{path + ".values", "low must not exceed high"}
		}
		return nil
	case Exists, NotExists:
		return f.shape(path, false, 0, 0, nil)
	}
	return &FieldError{path + ".op", "must be one of eq, ne, in, not_in, gt, gte, lt, lte, between, exists, not_exists"}
}

// shape checks that a filter has a Value if (and only if) wantValue, and
// between minValues and maxValues Values, each operand passing check.
func (f Filter) shape(path string, wantValue bool, minValues, maxValues int, check func(any) string) error {
	switch {
	case wantValue && f.Value == nil:
		return &FieldError{path + ".value", fmt.Sprintf("%s needs a value", f.Op)}
	case !wantValue && f.Value != nil:
		return &FieldError{path + ".value", fmt.Sprintf("%s takes no value", f.Op)}
	case maxValues == 0 && len(f.Values) > 0:
		return &FieldError{path + ".values", fmt.Sprintf("%s takes no values", f.Op)}
	case len(f.Values) < minValues || len(f.Values) > maxValues:
		if minValues == maxValues {
			return &FieldError{path + ".values", fmt.Sprintf("%s needs exactly %d values", f.Op, minValues)}
		}
		return &FieldError{path + ".values", fmt.Sprintf("%s needs %d to %d values", f.Op, minValues, maxValues)}
	}
	if wantValue {
		if msg := check(f.Value); msg != "" {
			return &FieldError{path + ".value", msg}
		}
	}
	for k, v := range f.Values {
		if msg := check(v); msg != "" {
			return &FieldError{path + ".values[" + strconv.Itoa(k) + "]", msg}
		}
	}
	return nil
}

// scalar checks an operand of eq, ne, in and not_in.
func scalar(v any) string {
	switch x := v.(type) {
	case bool:
		return ""
	case string:
		if len(x) > maxString || !utf8.ValidString(x) {
			return "at most 256 bytes of UTF-8"
		}
		return ""
	}
	if _, ok := number(v); ok {
		return ""
	}
	return "must be a string, a finite number or a boolean"
}

// numeric checks an operand of the comparisons and between.
func numeric(v any) string {
	if _, ok := number(v); !ok {
		return "must be a finite number"
	}
	return ""
}

func (w Window) validate(path string) error {
	if err := validTime(w.StartsAt, path+".starts_at"); err != nil {
		return err
	}
	if err := validTime(w.EndsAt, path+".ends_at"); err != nil {
		return err
	}
	if w.StartsAt != nil && w.EndsAt != nil && !w.EndsAt.After(*w.StartsAt) {
		return &FieldError{path + ".ends_at", "must be after starts_at"}
	}
	if w.Rolling != "" {
		if _, err := rollingDuration(w.Rolling); err != nil {
			return &FieldError{path + ".rolling", err.Error()}
		}
	}
	switch w.Recurrence {
	case Once, Daily, Weekly, Monthly:
	default:
		return &FieldError{path + ".recurrence", "must be daily, weekly or monthly"}
	}
	if w.Rolling != "" && w.Recurrence != Once {
		return &FieldError{path + ".recurrence", "a window is either rolling or recurring, not both"}
	}
	if _, err := LoadZone(w.TimeZone); err != nil {
		return &FieldError{path + ".time_zone", "unknown time zone; use an IANA name such as Europe/Paris"}
	}
	return nil
}

// validTime keeps times within what JSON and RFC 3339 can carry, so a
// valid rule always encodes.
func validTime(t *time.Time, path string) error {
	if t != nil && (t.UTC().Year() < 1 || t.UTC().Year() > 9999) {
		return &FieldError{path, "must be between the years 1 and 9999"}
	}
	return nil
}
