package norm

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events/rule"
)

// DecodeRule decodes a rule stored as JSON and normalizes it
// (rule.Normalize), so that a rule reads the same from either backend
// whatever form its numbers took in storage: a target written "1.50"
// reads "1.5", a filter's number reads as float64, an empty time zone as
// "UTC".
func DecodeRule(b []byte) (rule.Rule, error) {
	var r rule.Rule
	if err := json.Unmarshal(b, &r); err != nil {
		return rule.Rule{}, err
	}
	r.Normalize()
	return r, nil
}

// LegacyChallenge is what a challenge held before rules existed (SQLite
// schema version 1, and MongoDB documents of that release, whose field
// names the bson tags give): one event type with equality filters, a count
// target, a reward in points and optional start and end.
type LegacyChallenge struct {
	EventType    string            `bson:"event_type,omitempty"`
	Filter       map[string]string `bson:"filter,omitempty"`
	Target       int64             `bson:"target,omitempty"`
	RewardPoints int64             `bson:"reward_points,omitempty"`
	StartsAt     *time.Time        `bson:"starts_at,omitempty"`
	EndsAt       *time.Time        `bson:"ends_at,omitempty"`
}

// Upgrade sets c's rule and settings to what l meant: one count goal "g1"
// over l.EventType with one eq filter per Filter entry (sorted by prop, so
// the result does not depend on map order), counting in [StartsAt, EndsAt)
// in UTC; every player enrolled, the points paid on completion, once.
func (l LegacyChallenge) Upgrade(c *challenges.Challenge) {
	var filters []rule.Filter
	for _, prop := range slices.Sorted(maps.Keys(l.Filter)) {
		filters = append(filters, rule.Filter{Prop: prop, Op: rule.Eq, Value: l.Filter[prop]})
	}
	c.Rule = rule.Rule{
		Goals: []rule.Goal{{
			ID: "g1", Kind: rule.Count, EventType: l.EventType,
			Target: json.Number(strconv.FormatInt(l.Target, 10)), Filters: filters,
		}},
		Window: rule.Window{StartsAt: TruncPtr(l.StartsAt), EndsAt: TruncPtr(l.EndsAt), TimeZone: "UTC"},
	}
	c.Reward = challenges.Reward{Points: l.RewardPoints}
	c.Enrolment, c.Claim, c.MaxCompletions = challenges.Auto, challenges.AutoClaim, 1
}
