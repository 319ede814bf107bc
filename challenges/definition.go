package challenges

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
)

// Definition is what a manager writes to create a challenge. A one-goal
// count challenge may be written in shorthand (event_type, filter, target,
// starts_at, ends_at) instead of rule.
type Definition struct {
	Name           string         `json:"name" minLength:"1" maxLength:"200"`
	Description    string         `json:"description,omitempty" maxLength:"2000"`
	Rule           events.RuleDoc `json:"rule,omitempty"`
	Limits         *Limits        `json:"limits,omitempty"`
	Enrolment      Enrolment      `json:"enrolment,omitempty" enum:"auto,opt_in" default:"auto"`
	Eligibility    *Eligibility   `json:"eligibility,omitempty"`
	Reward         *Reward        `json:"reward,omitempty"`
	Claim          ClaimMode      `json:"claim,omitempty" enum:"auto,manual" default:"auto"`
	MaxCompletions *int64         `json:"max_completions,omitempty" minimum:"0" maximum:"100000" doc:"Completions per user: default 1 for a one-off challenge, 0 (once per period, no overall cap) for a recurring or rolling one."`

	// The shorthand for a one-goal count challenge.
	EventType    string            `json:"event_type,omitempty" maxLength:"64" doc:"Shorthand: the event that counts, e.g. share."`
	Filter       map[string]string `json:"filter,omitempty" maxProperties:"16" doc:"Shorthand: props the event must carry with exactly these values."`
	Target       int64             `json:"target,omitempty" minimum:"0" maximum:"1000000" doc:"Shorthand: how many matching events complete it."`
	RewardPoints int64             `json:"reward_points,omitempty" minimum:"0" maximum:"1000000000" doc:"Shorthand for reward.points."`
	StartsAt     *time.Time        `json:"starts_at,omitempty" doc:"Shorthand for rule.window.starts_at."`
	EndsAt       *time.Time        `json:"ends_at,omitempty" doc:"Shorthand for rule.window.ends_at."`
}

// challenge validates d and returns the challenge it defines (without
// identity or lifecycle fields).
func (d Definition) challenge() (Challenge, error) {
	r, err := d.rule()
	if err != nil {
		return Challenge{}, err
	}
	c := Challenge{
		Name: d.Name, Description: d.Description, Rule: r, Limits: d.Limits,
		Enrolment: d.Enrolment, Eligibility: d.Eligibility, Claim: d.Claim,
	}
	if d.Reward != nil {
		c.Reward = *d.Reward
	}
	if d.RewardPoints != 0 {
		if c.Reward.Points != 0 {
			return Challenge{}, invalid("reward_points", "give reward.points or reward_points, not both")
		}
		c.Reward.Points = d.RewardPoints
	}
	if c.Enrolment == "" {
		c.Enrolment = Auto
	}
	if c.Claim == "" {
		c.Claim = AutoClaim
	}
	c.MaxCompletions = 1
	if r.Window.Recurrence != rule.Once || r.Window.Rolling != "" {
		c.MaxCompletions = 0
	}
	if d.MaxCompletions != nil {
		c.MaxCompletions = *d.MaxCompletions
	}
	return c, c.validate()
}

// rule parses the rule, or builds one from the shorthand.
func (d Definition) rule() (rule.Rule, error) {
	short := d.EventType != "" || d.Filter != nil || d.Target != 0 || d.StartsAt != nil || d.EndsAt != nil
	if d.Rule.Given() {
		if short {
			return rule.Rule{}, invalid("rule", "give rule or the shorthand (event_type, filter, target, starts_at, ends_at), not both")
		}
		return d.Rule.Parse()
	}
	if d.EventType == "" || d.Target < 1 {
		return rule.Rule{}, invalid("rule", "a challenge needs a rule, or event_type and a target of at least 1")
	}
	g := rule.Goal{Kind: rule.Count, EventType: d.EventType, Target: json.Number(fmt.Sprint(d.Target))}
	for _, k := range slices.Sorted(maps.Keys(d.Filter)) {
		g.Filters = append(g.Filters, rule.Filter{Prop: k, Op: rule.Eq, Value: d.Filter[k]})
	}
	r := rule.Rule{Goals: []rule.Goal{g}, Window: rule.Window{StartsAt: d.StartsAt, EndsAt: d.EndsAt}}
	r.Normalize()
	if err := events.ValidateRule(r); err != nil {
		// Shorthand fields map one to one onto the rule's first goal.
		if e, ok := errs.As(err); ok {
			e.Field = strings.NewReplacer("body.rule.goals[0].filters", "body.filter", "body.rule.goals[0].", "body.",
				"body.rule.window.", "body.").Replace(e.Field)
		}
		return rule.Rule{}, err
	}
	return r, nil
}

func invalid(field, format string, args ...any) error {
	return errs.New(errs.Unprocessable, "bad-challenge", format, args...).OnField("body." + field)
}

// validate checks what the rule package does not: the challenge's own
// settings and how they fit the rule.
func (c Challenge) validate() error {
	if c.Limits != nil {
		if c.Limits.MinInterval != "" {
			d, err := time.ParseDuration(c.Limits.MinInterval)
			if err != nil || d < time.Second || d > 31*24*time.Hour {
				return invalid("limits.min_interval", "min_interval is a duration from 1s to 744h, e.g. 10m")
			}
		}
		if c.Limits.DailyCap < 0 {
			return invalid("limits.daily_cap", "daily_cap cannot be negative")
		}
	}
	if c.Eligibility != nil {
		for i, t := range append(slices.Clone(c.Eligibility.Tiers), c.Eligibility.Segments...) {
			if t == "" || len(t) > 64 {
				return invalid("eligibility", "entry %d: tiers and segments are 1-64 characters", i)
			}
		}
	}
	if c.Reward.Unlock != "" && !contentKey(c.Reward.Unlock) {
		return invalid("reward.unlock", "unlock is a content key of letters, digits, '-', '_', '.', ':' and '/'")
	}
	once := c.Rule.Window.Recurrence == rule.Once && c.Rule.Window.Rolling == ""
	if once && c.MaxCompletions > 1 {
		return invalid("max_completions", "a one-off challenge completes once; give the rule a recurrence or a rolling window to repeat it")
	}
	if once && c.MaxCompletions == 0 {
		return invalid("max_completions", "a one-off challenge completes once: max_completions is 1")
	}
	return nil
}

func contentKey(s string) bool {
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/", r)
		if !ok {
			return false
		}
	}
	return s != ""
}

// Patch changes some fields of a challenge; absent fields stay as they are.
// What a published challenge may change is decided by Service.Update.
type Patch struct {
	Name           *string        `json:"name,omitempty" minLength:"1" maxLength:"200"`
	Description    *string        `json:"description,omitempty" maxLength:"2000"`
	Rule           events.RuleDoc `json:"rule,omitempty"`
	Limits         *Limits        `json:"limits,omitempty"`
	Enrolment      *Enrolment     `json:"enrolment,omitempty" enum:"auto,opt_in"`
	Eligibility    *Eligibility   `json:"eligibility,omitempty"`
	Reward         *Reward        `json:"reward,omitempty"`
	Claim          *ClaimMode     `json:"claim,omitempty" enum:"auto,manual"`
	MaxCompletions *int64         `json:"max_completions,omitempty" minimum:"0" maximum:"100000"`
	EndsAt         *time.Time     `json:"ends_at,omitempty" doc:"Moves the rule window's end."`
}

// apply returns c with the patch applied, validated.
func (p Patch) apply(c Challenge) (Challenge, error) {
	if p.Name != nil {
		c.Name = *p.Name
	}
	if p.Description != nil {
		c.Description = *p.Description
	}
	if p.Rule.Given() {
		r, err := p.Rule.Parse()
		if err != nil {
			return Challenge{}, err
		}
		c.Rule = r
	}
	if p.EndsAt != nil {
		c.Rule.Window.EndsAt = p.EndsAt
		c.Rule.Normalize()
		if err := events.ValidateRule(c.Rule); err != nil {
			return Challenge{}, err
		}
	}
	if p.Limits != nil {
		c.Limits = p.Limits
	}
	if p.Enrolment != nil {
		c.Enrolment = *p.Enrolment
	}
	if p.Eligibility != nil {
		c.Eligibility = p.Eligibility
	}
	if p.Reward != nil {
		c.Reward = *p.Reward
	}
	if p.Claim != nil {
		c.Claim = *p.Claim
	}
	if p.MaxCompletions != nil {
		c.MaxCompletions = *p.MaxCompletions
	}
	return c, c.validate()
}
