package events

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
)

// PropType is the JSON kind a prop of a tenant's event type must have.
type PropType string

// The prop types a schema may name.
const (
	PropText    PropType = "string"
	PropNumber  PropType = "number"
	PropBoolean PropType = "boolean"
)

// PropSpec is one prop of an event type's schema.
type PropSpec struct {
	Name     string   `json:"name" minLength:"1" maxLength:"64" doc:"Prop name, as rules filter on it."`
	Type     PropType `json:"type" enum:"string,number,boolean"`
	Required bool     `json:"required,omitempty" doc:"Intake refuses an event without it (422 naming the prop)."`
	Enum     []any    `json:"enum,omitempty" maxItems:"100" doc:"The only values allowed, of the prop's type."`
	Min      *float64 `json:"min,omitempty" doc:"Numbers: the least value allowed (inclusive)."`
	Max      *float64 `json:"max,omitempty" doc:"Numbers: the greatest value allowed (inclusive)."`
}

// Who may send a tenant's event type, as the API spells it.
const (
	SendersPlayers = "players"
	SendersTrusted = "trusted"
)

// TypeSpec is one event type of a tenant's catalogue.
type TypeSpec struct {
	Name        string     `json:"name" minLength:"1" maxLength:"64" doc:"Event type, e.g. store_visit."`
	Senders     string     `json:"senders" enum:"players,trusted" doc:"players: the app may send it for its user; trusted: only a back end with an API key."`
	Description string     `json:"description,omitempty" maxLength:"500"`
	Props       []PropSpec `json:"props,omitempty" maxItems:"32" doc:"The prop schema. A type with a schema refuses props it does not declare; one without takes any props."`
	Builtin     bool       `json:"builtin" readOnly:"true" doc:"Set on the built-in default types (a tenant may redefine those); ignored on input."`
}

// Catalogue is a tenant's own event types, on top of the built-in ones.
type Catalogue struct {
	Tenant    string     `json:"-"`
	Types     []TypeSpec `json:"types"`
	Version   int64      `json:"version"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// maxTenantTypes bounds a catalogue, so intake's lookup stays a map read
// and a catalogue document stays small.
const maxTenantTypes = 200

// Catalog is a tenant's effective catalogue, built-in and own types
// together, ready for intake: a map read per event.
type Catalog struct {
	types map[string]TypeSpec
	// senders holds every known type's sender, built-in and own.
	senders map[string]Sender
}

// builtinCatalog is the catalogue of a tenant that defined nothing.
var builtinCatalog = compile(nil)

// compile merges the built-ins and a tenant's types.
func compile(own []TypeSpec) *Catalog {
	c := &Catalog{types: map[string]TypeSpec{}, senders: maps.Clone(types)}
	for _, t := range own {
		c.types[t.Name] = t
		c.senders[t.Name] = senderOf(t.Senders)
	}
	return c
}

func senderOf(s string) Sender {
	if s == SendersPlayers {
		return ClientAllowed
	}
	return TrustedOnly
}

// Sender returns who may send t, and whether the tenant knows t at all.
func (c *Catalog) Sender(t string) (Sender, bool) {
	s, ok := c.senders[t]
	return s, ok
}

// Known reports whether the tenant accepts events of type t.
func (c *Catalog) Known(t string) bool {
	_, ok := c.senders[t]
	return ok
}

// List is the effective catalogue in name order: built-ins not redefined
// (flagged builtin) and the tenant's own, system types left out.
func (c *Catalog) List() []TypeSpec {
	out := make([]TypeSpec, 0, len(c.senders))
	for _, name := range slices.Sorted(maps.Keys(c.senders)) {
		if t, ok := c.types[name]; ok {
			out = append(out, t)
			continue
		}
		switch types[name] {
		case SystemOnly:
			continue
		case ClientAllowed:
			out = append(out, TypeSpec{Name: name, Senders: SendersPlayers, Builtin: true})
		default:
			out = append(out, TypeSpec{Name: name, Senders: SendersTrusted, Builtin: true})
		}
	}
	return out
}

// CheckProps validates an event's props against t's schema, if the tenant
// gave t one: 422 bad-prop at body.props.<name>.
func (c *Catalog) CheckProps(t string, props map[string]any) error {
	spec, ok := c.types[t]
	if !ok || len(spec.Props) == 0 {
		return nil
	}
	bad := func(name, format string, args ...any) error {
		return errs.New(errs.Unprocessable, "bad-prop", format, args...).OnField("body.props." + name)
	}
	for _, p := range spec.Props {
		v, present := props[p.Name]
		if !present || v == nil {
			if p.Required {
				return bad(p.Name, "%s events need the prop %q", t, p.Name)
			}
			continue
		}
		if msg := p.check(v); msg != "" {
			return bad(p.Name, "prop %q %s", p.Name, msg)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(props)) {
		if !slices.ContainsFunc(spec.Props, func(p PropSpec) bool { return p.Name == k }) {
			return bad(k, "%s events have no prop %q", t, k)
		}
	}
	return nil
}

// check returns what is wrong with v for p, or "".
func (p PropSpec) check(v any) string {
	if !kindOf(p.Type, v) {
		return "must be a " + string(p.Type)
	}
	if len(p.Enum) > 0 && !slices.ContainsFunc(p.Enum, func(e any) bool { return e == v }) {
		return "must be one of the type's enum values"
	}
	if x, ok := v.(float64); ok {
		if p.Min != nil && x < *p.Min {
			return fmt.Sprintf("must be at least %v", *p.Min)
		}
		if p.Max != nil && x > *p.Max {
			return fmt.Sprintf("must be at most %v", *p.Max)
		}
	}
	return ""
}

func kindOf(t PropType, v any) bool {
	switch v.(type) {
	case string:
		return t == PropText
	case float64:
		return t == PropNumber
	case bool:
		return t == PropBoolean
	}
	return false
}

// Normalize checks a tenant's types and returns them sorted by name: 422
// at body.types[i].<field> naming what is wrong. System types are
// reserved; built-in ones may be redefined (to give them a schema).
func Normalize(in []TypeSpec) ([]TypeSpec, error) {
	bad := func(field, format string, args ...any) error {
		return errs.New(errs.Unprocessable, "bad-event-type", format, args...).OnField("body.types" + field)
	}
	if len(in) > maxTenantTypes {
		return nil, bad("", "at most %d event types", maxTenantTypes)
	}
	out := make([]TypeSpec, len(in))
	seen := map[string]bool{}
	for i, t := range in {
		at := fmt.Sprintf("[%d]", i)
		switch {
		case !validTypeName(t.Name):
			return nil, bad(at+".name", "event type names are 1-64 lower-case letters, digits, _ - or . (not leading)")
		case types[t.Name] == SystemOnly && KnownType(t.Name):
			return nil, errs.New(errs.Unprocessable, "reserved-event-type", "%q is raised by Questline itself", t.Name).OnField("body.types" + at + ".name")
		case seen[t.Name]:
			return nil, bad(at+".name", "%q is defined twice", t.Name)
		case t.Senders != SendersPlayers && t.Senders != SendersTrusted:
			return nil, bad(at+".senders", "senders is players or trusted")
		}
		seen[t.Name] = true
		t.Builtin = false
		t.Props = slices.Clone(t.Props)
		if err := checkSchema(t.Props, at); err != nil {
			return nil, err
		}
		out[i] = t
	}
	slices.SortFunc(out, func(a, b TypeSpec) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// validTypeName is a type name: rule names allow more, but a tenant's
// types also become system-event-like names in webhooks and docs.
func validTypeName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' || s[0] == '-' || s[0] == '_' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func checkSchema(props []PropSpec, at string) error {
	bad := func(j int, field, format string, args ...any) error {
		return errs.New(errs.Unprocessable, "bad-event-type", format, args...).
			OnField(fmt.Sprintf("body.types%s.props[%d]%s", at, j, field))
	}
	seen := map[string]bool{}
	for j, p := range props {
		switch {
		case !rule.ValidName(p.Name):
			return bad(j, ".name", "prop names are 1-64 letters, digits, _ : or -")
		case seen[p.Name]:
			return bad(j, ".name", "prop %q is declared twice", p.Name)
		case p.Type != PropText && p.Type != PropNumber && p.Type != PropBoolean:
			return bad(j, ".type", "type is string, number or boolean")
		case (p.Min != nil || p.Max != nil) && p.Type != PropNumber:
			return bad(j, ".min", "min and max are for numbers")
		case p.Min != nil && p.Max != nil && *p.Min > *p.Max:
			return bad(j, ".max", "max must not be below min")
		case p.Min != nil && (math.IsInf(*p.Min, 0) || math.IsNaN(*p.Min)), p.Max != nil && (math.IsInf(*p.Max, 0) || math.IsNaN(*p.Max)):
			return bad(j, ".min", "min and max are finite numbers")
		}
		for k, e := range p.Enum {
			if !kindOf(p.Type, e) {
				return bad(j, fmt.Sprintf(".enum[%d]", k), "enum values must be of the prop's type")
			}
		}
		seen[p.Name] = true
	}
	return nil
}

// Uses is what a tenant's published rules depend on: event type -> props
// they filter on, sum or count distinct ("" stands for the type itself).
type Uses map[string]map[string]bool

// Add records that a rule uses prop of type t ("" = the type only).
func (u Uses) Add(t, prop string) {
	if u[t] == nil {
		u[t] = map[string]bool{}
	}
	u[t][""] = true
	if prop != "" {
		u[t][prop] = true
	}
}

// AddRule records the types and props a rule's goals use.
func (u Uses) AddRule(r rule.Rule) {
	for _, g := range r.Goals {
		u.Add(g.EventType, g.Prop)
		for _, f := range g.Filters {
			u.Add(g.EventType, f.Prop)
		}
	}
}

// Conflict returns the first (type, prop) of what published rules use
// that the catalogue next takes away, or ok=false: an own type dropped
// (built-in ones stay), or a schema that does not declare a used prop.
func (u Uses) Conflict(next []TypeSpec) (typ, prop string, ok bool) {
	byName := map[string]TypeSpec{}
	for _, t := range next {
		byName[t.Name] = t
	}
	for _, t := range slices.Sorted(maps.Keys(u)) {
		n, defined := byName[t]
		if !defined {
			if !KnownType(t) {
				return t, "", true
			}
			continue
		}
		if len(n.Props) == 0 {
			continue
		}
		for _, p := range slices.Sorted(maps.Keys(u[t])) {
			if p != "" && !slices.ContainsFunc(n.Props, func(q PropSpec) bool { return q.Name == p }) {
				return t, p, true
			}
		}
	}
	return "", "", false
}
