package events

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
)

// RuleDoc is a rule (of a challenge or a badge) as a client sent it. It is
// decoded by rule.Parse, strictly, so that a bad rule gets a 422 naming the
// exact field (body.rule.goals[1].filters[0].value) rather than a generic
// decode error, and a misspelt field is refused rather than ignored.
type RuleDoc json.RawMessage

// UnmarshalJSON keeps the raw document for Parse.
func (d *RuleDoc) UnmarshalJSON(b []byte) error {
	*d = append((*d)[:0], b...)
	return nil
}

// Schema documents the rule for OpenAPI; its content is checked by
// rule.Parse, not by schema validation (huma would read the json.Number
// targets as strings).
func (RuleDoc) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{
		Type: huma.TypeObject, AdditionalProperties: true,
		Description: "A rule: {goals: [{id, kind: count|sum|distinct, event_type, prop, filters: [{prop, op, value|values}], target, label}], " +
			"ordered, window: {starts_at, ends_at, rolling, recurrence: daily|weekly|monthly, time_zone}}. See the RuleRule schema.",
	}
}

// Given reports whether the document holds a rule at all.
func (d RuleDoc) Given() bool { return len(d) > 0 && string(d) != "null" }

// Parse decodes the rule and validates it (see ValidateRule).
func (d RuleDoc) Parse() (rule.Rule, error) {
	r, err := rule.Parse(d)
	if err != nil {
		return rule.Rule{}, RuleError(err)
	}
	return r, ValidateRule(r)
}

// ValidateRule checks a normalized rule, and that every event type it
// counts could be in a catalogue (a built-in type or a valid name; the
// services check the tenant's catalogue with CheckRuleTypes). Errors are
// 422s at body.rule.<path>: unknown-event-type for a type no catalogue can
// hold, as events answer, bad-rule for anything else.
func ValidateRule(r rule.Rule) error {
	if err := r.Validate(nil); err != nil {
		return RuleError(err)
	}
	for i, g := range r.Goals {
		if !PlausibleType(g.EventType) {
			return errs.New(errs.Unprocessable, "unknown-event-type", "unknown event type %q", g.EventType).
				OnField(fmt.Sprintf("body.rule.goals[%d].event_type", i))
		}
	}
	return nil
}

// RuleError turns a rule's *FieldError into a 422 bad-rule at
// body.rule.<path>. Other errors pass through.
func RuleError(err error) error {
	var fe *rule.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := "body.rule"
	if fe.Field != "" {
		field += "." + fe.Field
	}
	return errs.New(errs.Unprocessable, "bad-rule", "%s", fe.Message).OnField(field)
}
