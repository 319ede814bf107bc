package badges

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
)

// Limits of a definition, checked here as well as by the request schema,
// so that Go callers get the same answers as HTTP ones.
const (
	maxName        = 200
	maxDescription = 2000
	maxImageURL    = 2048
	maxTiers       = 5
	maxTierName    = 32
	maxLimit       = 1_000_000_000
	minValidFor    = time.Minute
	maxValidFor    = 3650 * 24 * time.Hour
)

// Definition is what a manager writes to create a badge.
type Definition struct {
	Name        string         `json:"name" minLength:"1" maxLength:"200"`
	Description string         `json:"description,omitempty" maxLength:"2000"`
	ImageURL    string         `json:"image_url,omitempty" maxLength:"2048" doc:"An https URL."`
	Rule        events.RuleDoc `json:"rule"`
	Tiers       []Tier         `json:"tiers,omitempty" maxItems:"5" doc:"Levels of one goal, ascending, e.g. bronze 10, silver 50, gold 100. Each is awarded once reached."`
	Hidden      bool           `json:"hidden,omitempty" doc:"A secret badge: players do not see it until they earn it."`
	Limit       int64          `json:"limit,omitempty" minimum:"0" maximum:"1000000000" doc:"A limited edition: only the first limit earners of each tier get it, numbered 1..limit; 0 = unlimited."`
	ValidFor    string         `json:"valid_for,omitempty" maxLength:"16" doc:"Awards expire this long after they are earned: a Go duration (720h) or whole days (30d), 1m to 3650d. Empty: forever."`
}

// badge validates d and returns the badge it defines (without identity
// or lifecycle fields).
func (d Definition) badge() (Badge, error) {
	if !d.Rule.Given() {
		return Badge{}, invalid("bad-rule", "rule", "a badge needs a rule: its criterion")
	}
	r, err := rule.Parse(d.Rule)
	if err != nil {
		return Badge{}, events.RuleError(err)
	}
	b := Badge{
		Name: d.Name, Description: d.Description, ImageURL: d.ImageURL, Rule: r,
		Tiers: d.Tiers, Hidden: d.Hidden, Limit: d.Limit, ValidFor: d.ValidFor,
	}
	if err := b.check(); err != nil {
		return Badge{}, err
	}
	return b, nil
}

// Patch changes some fields of a badge; absent fields stay as they are.
// A published or archived badge may change only name, description,
// image_url and hidden (see Service.Update).
type Patch struct {
	Name        *string        `json:"name,omitempty" minLength:"1" maxLength:"200"`
	Description *string        `json:"description,omitempty" maxLength:"2000"`
	ImageURL    *string        `json:"image_url,omitempty" maxLength:"2048"`
	Hidden      *bool          `json:"hidden,omitempty"`
	Rule        events.RuleDoc `json:"rule,omitempty"`
	Tiers       *[]Tier        `json:"tiers,omitempty" maxItems:"5" doc:"Replaces every tier; [] makes a plain badge."`
	Limit       *int64         `json:"limit,omitempty" minimum:"0" maximum:"1000000000"`
	ValidFor    *string        `json:"valid_for,omitempty" maxLength:"16" doc:"Empty string: awards never expire."`
}

// apply returns b with the patch applied, validated.
func (p Patch) apply(b Badge) (Badge, error) {
	if p.Rule.Given() {
		r, err := rule.Parse(p.Rule)
		if err != nil {
			return Badge{}, events.RuleError(err)
		}
		b.Rule = r
	}
	set(&b.Name, p.Name)
	set(&b.Description, p.Description)
	set(&b.ImageURL, p.ImageURL)
	set(&b.Hidden, p.Hidden)
	set(&b.Tiers, p.Tiers)
	set(&b.Limit, p.Limit)
	set(&b.ValidFor, p.ValidFor)
	if err := b.check(); err != nil {
		return Badge{}, err
	}
	return b, nil
}

// changesTerms reports whether p touches how the badge is awarded.
func (p Patch) changesTerms() bool {
	return p.Rule.Given() || p.Tiers != nil || p.Limit != nil || p.ValidFor != nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// check validates b, normalizing its rule and tier targets.
func (b *Badge) check() error {
	if err := b.checkFields(); err != nil {
		return err
	}
	// Normalizing writes to these; they may be the caller's or a stored
	// badge's.
	b.Rule.Goals, b.Tiers = slices.Clone(b.Rule.Goals), slices.Clone(b.Tiers)
	b.Rule.Normalize()
	if err := events.ValidateRule(b.Rule); err != nil {
		return err
	}
	return b.checkTiers()
}

func (b Badge) checkFields() error {
	switch {
	case b.Name == "" || utf8.RuneCountInString(b.Name) > maxName:
		return invalid("bad-badge", "name", "name is 1 to %d characters", maxName)
	case utf8.RuneCountInString(b.Description) > maxDescription:
		return invalid("bad-badge", "description", "description is at most %d characters", maxDescription)
	case b.ImageURL != "" && !httpsURL(b.ImageURL):
		return invalid("bad-badge", "image_url", "image_url is an https URL of at most %d bytes", maxImageURL)
	case b.Limit < 0 || b.Limit > maxLimit:
		return invalid("bad-badge", "limit", "limit is 0 (unlimited) to %d", maxLimit)
	case len(b.Tiers) > maxTiers:
		return invalid("bad-tiers", "tiers", "at most %d tiers", maxTiers)
	}
	if b.ValidFor != "" {
		if _, err := validFor(b.ValidFor); err != nil {
			return invalid("bad-badge", "valid_for", "%s", err.Error())
		}
	}
	return nil
}

// checkTiers checks each tier's name and target, normalizing the target,
// once the rule is valid. Tiers are levels of the rule's single goal, and
// the first is reached when the rule is met: its target is the goal's.
// Saying so twice is redundant, but the rule alone then tells when the
// badge is earned, as it does for a plain badge.
func (b *Badge) checkTiers() error {
	if len(b.Tiers) == 0 {
		return nil
	}
	if len(b.Rule.Goals) != 1 {
		return invalid("bad-tiers", "tiers", "tiers are levels of one goal: give the rule exactly one goal")
	}
	seen := map[string]bool{}
	var prev int64
	for i := range b.Tiers {
		t := &b.Tiers[i]
		at := "tiers[" + strconv.Itoa(i) + "]"
		if t.Name == "" || utf8.RuneCountInString(t.Name) > maxTierName || seen[t.Name] {
			return invalid("bad-tiers", at+".name", "tier names are 1 to %d characters, each different", maxTierName)
		}
		seen[t.Name] = true
		probe := rule.Rule{Goals: []rule.Goal{b.Rule.Goals[0]}}
		probe.Goals[0].Target = json.Number(t.Target)
		probe.Normalize()
		var fe *rule.FieldError
		if err := probe.Validate(nil); errors.As(err, &fe) {
			return invalid("bad-tiers", at+".target", "%s", fe.Message)
		}
		t.Target = probe.Goals[0].Target
		n := probe.Goals[0].Threshold()
		if i > 0 && n <= prev {
			return invalid("bad-tiers", at+".target", "each tier's target must be above the one before")
		}
		prev = n
	}
	if goal := b.Rule.Goals[0].Target; b.Tiers[0].Target != goal {
		return invalid("bad-tiers", "tiers[0].target",
			"the first tier is reached when the rule is met: its target must be the goal's, %s", goal)
	}
	return nil
}

func httpsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && len(s) <= maxImageURL && u.Scheme == "https" && u.Host != ""
}

// validFor parses a validity: a Go duration ("720h") or whole days
// ("30d"), from 1m to 3650d.
func validFor(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || len(days) > 4 || days[0] < '0' || days[0] > '9' {
			return 0, errors.New(`valid_for is a Go duration such as "720h" or whole days such as "30d"`)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, errors.New(`valid_for is a Go duration such as "720h" or whole days such as "30d"`)
		}
	}
	if d < minValidFor || d > maxValidFor {
		return 0, errors.New("valid_for is from 1m to 3650d")
	}
	return d, nil
}

func invalid(code, field, format string, args ...any) error {
	return errs.New(errs.Unprocessable, code, format, args...).OnField("body." + field)
}
