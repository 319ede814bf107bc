package challenges

import (
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
)

// Definition is what a manager writes to create a challenge.
type Definition struct {
	Name         string            `json:"name" minLength:"1" maxLength:"200"`
	Description  string            `json:"description,omitempty" maxLength:"2000"`
	EventType    string            `json:"event_type" minLength:"1" maxLength:"64" doc:"The event that counts, e.g. share."`
	Filter       map[string]string `json:"filter,omitempty" maxProperties:"16" doc:"Props the event must carry with exactly these values."`
	Target       int64             `json:"target" minimum:"1" maximum:"1000000" doc:"How many matching events complete the challenge."`
	RewardPoints int64             `json:"reward_points,omitempty" minimum:"0" maximum:"1000000000"`
	StartsAt     *time.Time        `json:"starts_at,omitempty" doc:"Events that occurred before this do not count."`
	EndsAt       *time.Time        `json:"ends_at,omitempty" doc:"Events that occurred at or after this do not count."`
}

func (d Definition) validate() error {
	if !events.KnownType(d.EventType) {
		return errs.New(errs.Unprocessable, "unknown-event-type", "event type %q is not one this tenant accepts", d.EventType).OnField("body.event_type")
	}
	for k, v := range d.Filter {
		if k == "" || len(k) > 64 || len(v) > 256 {
			return errs.New(errs.Unprocessable, "bad-filter", "filter keys are 1-64 characters and values at most 256").OnField("body.filter")
		}
	}
	if d.StartsAt != nil && d.EndsAt != nil && !d.EndsAt.After(*d.StartsAt) {
		return errs.New(errs.Unprocessable, "bad-window", "ends_at must be after starts_at").OnField("body.ends_at")
	}
	return nil
}

func (d Definition) apply(c *Challenge) {
	c.Name, c.Description, c.EventType, c.Filter = d.Name, d.Description, d.EventType, d.Filter
	c.Target, c.RewardPoints = d.Target, d.RewardPoints
	c.StartsAt, c.EndsAt = utc(d.StartsAt), utc(d.EndsAt)
}

func (c Challenge) definition() Definition {
	return Definition{
		Name: c.Name, Description: c.Description, EventType: c.EventType, Filter: c.Filter,
		Target: c.Target, RewardPoints: c.RewardPoints, StartsAt: c.StartsAt, EndsAt: c.EndsAt,
	}
}

// Patch changes some fields of a challenge; absent fields stay as they are.
type Patch struct {
	Name         *string           `json:"name,omitempty" minLength:"1" maxLength:"200"`
	Description  *string           `json:"description,omitempty" maxLength:"2000"`
	EventType    *string           `json:"event_type,omitempty" minLength:"1" maxLength:"64"`
	Filter       map[string]string `json:"filter,omitempty" maxProperties:"16"`
	Target       *int64            `json:"target,omitempty" minimum:"1" maximum:"1000000"`
	RewardPoints *int64            `json:"reward_points,omitempty" minimum:"0" maximum:"1000000000"`
	StartsAt     *time.Time        `json:"starts_at,omitempty"`
	EndsAt       *time.Time        `json:"ends_at,omitempty"`
}

func (p Patch) changesRules() bool {
	return p.EventType != nil || p.Filter != nil || p.Target != nil || p.RewardPoints != nil || p.StartsAt != nil
}

func (p Patch) apply(c *Challenge) {
	if p.Name != nil {
		c.Name = *p.Name
	}
	if p.Description != nil {
		c.Description = *p.Description
	}
	if p.EventType != nil {
		c.EventType = *p.EventType
	}
	if p.Filter != nil {
		c.Filter = p.Filter
	}
	if p.Target != nil {
		c.Target = *p.Target
	}
	if p.RewardPoints != nil {
		c.RewardPoints = *p.RewardPoints
	}
	if p.StartsAt != nil {
		c.StartsAt = utc(p.StartsAt)
	}
	if p.EndsAt != nil {
		c.EndsAt = utc(p.EndsAt)
	}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Millisecond)
	return &u
}

// counts reports whether ev counts towards c: right type, inside the
// challenge's window by occurred_at, every filter prop equal.
func (c Challenge) counts(ev events.Event) bool {
	if ev.Type != c.EventType {
		return false
	}
	if c.StartsAt != nil && ev.OccurredAt.Before(*c.StartsAt) {
		return false
	}
	if c.EndsAt != nil && !ev.OccurredAt.Before(*c.EndsAt) {
		return false
	}
	for k, want := range c.Filter {
		if events.PropString(ev.Props[k]) != want {
			return false
		}
	}
	return true
}
