package norm

import (
	"encoding/json"
	"github.com/questline/questline/badges"
	"github.com/questline/questline/challenges"
)

// ChallengeSpec is the stored form of a challenge's definition beyond its
// name, status and rule, shared by both backends so they cannot drift:
// SQLite keeps it as JSON in one column, MongoDB inlines it in the
// document. Its own types (converted from the domain's, which have the
// same fields) keep what is stored independent of the API's JSON tags.
type ChallengeSpec struct {
	Limits         *Limits      `json:"limits,omitempty" bson:"limits"`
	Enrolment      string       `json:"enrolment,omitempty" bson:"enrolment"`
	Eligibility    *Eligibility `json:"eligibility,omitempty" bson:"eligibility"`
	Reward         Reward       `json:"reward" bson:"reward"`
	Claim          string       `json:"claim,omitempty" bson:"claim"`
	MaxCompletions int64        `json:"max_completions,omitempty" bson:"max_completions"`
}

// Limits is the stored form of challenges.Limits.
type Limits struct {
	MinInterval string `json:"min_interval,omitempty" bson:"min_interval"`
	DailyCap    int64  `json:"daily_cap,omitempty" bson:"daily_cap"`
}

// Eligibility is the stored form of challenges.Eligibility.
type Eligibility struct {
	Tiers    []string `json:"tiers,omitempty" bson:"tiers"`
	Segments []string `json:"segments,omitempty" bson:"segments"`
}

// Reward is the stored form of challenges.Reward.
type Reward struct {
	Points int64  `json:"points,omitempty" bson:"points"`
	Badge  string `json:"badge,omitempty" bson:"badge"`
	Unlock string `json:"unlock,omitempty" bson:"unlock"`
}

// ChallengeSpecOf returns the stored form of c's definition.
func ChallengeSpecOf(c challenges.Challenge) ChallengeSpec {
	sp := ChallengeSpec{
		Enrolment: string(c.Enrolment), Reward: Reward(c.Reward),
		Claim: string(c.Claim), MaxCompletions: c.MaxCompletions,
	}
	if c.Limits != nil {
		l := Limits(*c.Limits)
		sp.Limits = &l
	}
	if c.Eligibility != nil {
		e := Eligibility{Tiers: Strings(c.Eligibility.Tiers), Segments: Strings(c.Eligibility.Segments)}
		sp.Eligibility = &e
	}
	return sp
}

// Apply copies the spec's fields into c. Empty eligibility lists come
// back nil, but a present Eligibility (or Limits) stays present.
func (sp ChallengeSpec) Apply(c *challenges.Challenge) {
	c.Enrolment, c.Reward = challenges.Enrolment(sp.Enrolment), challenges.Reward(sp.Reward)
	c.Claim, c.MaxCompletions = challenges.ClaimMode(sp.Claim), sp.MaxCompletions
	c.Limits, c.Eligibility = nil, nil
	if sp.Limits != nil {
		l := challenges.Limits(*sp.Limits)
		c.Limits = &l
	}
	if sp.Eligibility != nil {
		c.Eligibility = &challenges.Eligibility{
			Tiers: Strings(sp.Eligibility.Tiers), Segments: Strings(sp.Eligibility.Segments),
		}
	}
}

// BadgeSpec is the stored form of a badge's definition beyond its name,
// status and rule, as ChallengeSpec is for challenges.
type BadgeSpec struct {
	Tiers    []Tier `json:"tiers,omitempty" bson:"tiers"`
	Hidden   bool   `json:"hidden,omitempty" bson:"hidden"`
	Limit    int64  `json:"limit,omitempty" bson:"limit"`
	ValidFor string `json:"valid_for,omitempty" bson:"valid_for"`
}

// Tier is the stored form of badges.Tier.
type Tier struct {
	Name   string `json:"name" bson:"name"`
	Target string `json:"target" bson:"target"`
}

// BadgeSpecOf returns the stored form of b's definition.
func BadgeSpecOf(b badges.Badge) BadgeSpec {
	sp := BadgeSpec{Hidden: b.Hidden, Limit: b.Limit, ValidFor: b.ValidFor}
	for _, t := range b.Tiers {
		sp.Tiers = append(sp.Tiers, Tier{Name: t.Name, Target: t.Target.String()})
	}
	return sp
}

// Apply copies the spec's fields into b; no tiers come back nil.
func (sp BadgeSpec) Apply(b *badges.Badge) {
	b.Hidden, b.Limit, b.ValidFor, b.Tiers = sp.Hidden, sp.Limit, sp.ValidFor, nil
	for _, t := range sp.Tiers {
		b.Tiers = append(b.Tiers, badges.Tier{Name: t.Name, Target: json.Number(t.Target)})
	}
}
