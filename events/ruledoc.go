package events

import (
	"encoding/json"
	"errors"
	"strings"

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

// Parse decodes the rule and validates it against the event catalogue.
// Errors are 422s at body.rule.<path> (see RuleError).
func (d RuleDoc) Parse() (rule.Rule, error) {
	r, err := rule.Parse(d)
	if err == nil {
		err = r.Validate(KnownType)
	}
	if err != nil {
		return rule.Rule{}, RuleError(err)
	}
	return r, nil
}

// RuleError turns a rule's *FieldError into a 422 at body.rule.<path>:
// unknown-event-type for a type not in the catalogue (as events answer),
// bad-rule otherwise. Other errors pass through.
func RuleError(err error) error {
	var fe *rule.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := "body.rule"
	if fe.Field != "" {
		field += "." + fe.Field
	}
	return errs.New(errs.Unprocessable, RuleCode(fe), "%s", fe.Message).OnField(field)
}

// RuleCode is the problem type of a rule error.
func RuleCode(fe *rule.FieldError) string {
	if strings.HasSuffix(fe.Field, "event_type") && strings.HasPrefix(fe.Message, "unknown event type") {
		return "unknown-event-type"
	}
	return "bad-rule"
}
