package rule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Parse decodes a rule from JSON strictly (exact field names, no unknown
// fields, one value only), normalizes it and validates it with any event
// type allowed: check the catalogue with Validate. Every error is a
// *FieldError.
func Parse(data []byte) (Rule, error) {
	var r Rule
	if err := decode(data, &r); err != nil {
		return Rule{}, err
	}
	r.Normalize()
	if err := r.Validate(nil); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// Normalize fills in defaults and puts values in canonical form, so that
// equal rules compare and encode equal: goal ids "g1", "g2"... by position,
// targets as plain decimals ("1.50" and "15e-1" become "1.5"), numeric
// operands as float64, time zone "UTC", and times in UTC truncated to the
// millisecond.
func (r *Rule) Normalize() {
	for i := range r.Goals {
		g := &r.Goals[i]
		if g.ID == "" {
			g.ID = "g" + strconv.Itoa(i+1)
		}
		if v, ok := parseScaled(string(g.Target)); ok {
			g.Target = json.Number(FormatScaled(v))
		}
		if len(g.Filters) == 0 {
			g.Filters = nil
		}
		for j := range g.Filters {
			g.Filters[j].normalize()
		}
	}
	w := &r.Window
	if w.TimeZone == "" {
		w.TimeZone = "UTC"
	}
	w.StartsAt, w.EndsAt = utcMillis(w.StartsAt), utcMillis(w.EndsAt)
}

func (f *Filter) normalize() {
	f.Value = canonical(f.Value)
	if len(f.Values) == 0 {
		f.Values = nil
	}
	for k := range f.Values {
		f.Values[k] = canonical(f.Values[k])
	}
}

// canonical turns any number type into float64, the type JSON decodes to.
func canonical(v any) any {
	if f, ok := number(v); ok {
		return f
	}
	return v
}

func utcMillis(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Millisecond)
	return &u
}

// decode reads exactly one JSON value into r. encoding/json alone would
// do, but its errors drop slice indices ("goals.filters.op"), it matches
// field names case-insensitively and it takes "12" for a json.Number; so the
// document is first decoded generically and checked against r's type, which
// gives every error an exact path.
func decode(data []byte, r *Rule) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return syntaxError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &FieldError{"", "invalid JSON: unexpected data after the rule"}
	}
	if err := checkShape(v, reflect.TypeFor[Rule](), ""); err != nil {
		return err
	}
	if err := json.Unmarshal(data, r); err != nil {
		// Only a repeated key gets here: the shape check sees its last
		// value, encoding/json every one.
		return &FieldError{"", "invalid rule: " + err.Error()}
	}
	return nil
}

func syntaxError(err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return &FieldError{"", fmt.Sprintf("invalid JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))}
	case err == io.EOF:
		return &FieldError{"", "invalid JSON: empty document"}
	}
	return &FieldError{"", "invalid JSON: unexpected end"}
}

var (
	timeType   = reflect.TypeFor[time.Time]()
	numberType = reflect.TypeFor[json.Number]()
)

// checkShape reports the first place (taking object keys in sorted order)
// where the generically decoded JSON value v does not fit the Go type t.
// A null fits anything, leaving the zero value, as in encoding/json.
func checkShape(v any, t reflect.Type, path string) error {
	if v == nil {
		return nil
	}
	switch t {
	case timeType:
		s, ok := v.(string)
		if !ok || new(time.Time).UnmarshalText([]byte(s)) != nil {
			return &FieldError{path, "must be an RFC 3339 time such as 2026-11-23T00:00:00Z"}
		}
		return nil
	case numberType:
		if _, ok := v.(json.Number); !ok {
			return &FieldError{path, "must be a number"}
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return checkShape(v, t.Elem(), path)
	case reflect.String:
		if _, ok := v.(string); !ok {
			return &FieldError{path, "must be a string"}
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return &FieldError{path, "must be true or false"}
		}
	case reflect.Slice:
		a, ok := v.([]any)
		if !ok {
			return &FieldError{path, "must be an array"}
		}
		for i, x := range a {
			if err := checkShape(x, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case reflect.Struct:
		return checkObject(v, t, path)
	case reflect.Interface:
		if !fitsFloat(v) {
			return &FieldError{path, "number out of range"}
		}
	}
	return nil
}

// checkObject checks a JSON object against struct type t: every key must
// be one of t's JSON field names, exactly.
func checkObject(v any, t reflect.Type, path string) error {
	obj, ok := v.(map[string]any)
	if !ok {
		if path == "" {
			return &FieldError{path, "must be a JSON object"}
		}
		return &FieldError{path, "must be an object"}
	}
	fields := make(map[string]reflect.Type, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fields[name] = f.Type
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		sub := k
		if path != "" {
			sub = path + "." + k
		}
		ft, ok := fields[k]
		if !ok {
			return &FieldError{sub, "unknown field"}
		}
		if err := checkShape(obj[k], ft, sub); err != nil {
			return err
		}
	}
	return nil
}

// fitsFloat reports whether every number in a free-form value fits a
// float64, which is what encoding/json will decode it to.
func fitsFloat(v any) bool {
	switch x := v.(type) {
	case json.Number:
		_, err := strconv.ParseFloat(string(x), 64)
		return err == nil
	case []any:
		return !slices.ContainsFunc(x, func(e any) bool { return !fitsFloat(e) })
	case map[string]any:
		for _, e := range x {
			if !fitsFloat(e) {
				return false
			}
		}
	}
	return true
}
