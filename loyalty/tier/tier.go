// Package tier is the arithmetic of loyalty tiers: which tier a
// qualifying value reaches, when a user's tier is next reviewed (a
// calendar date or the anniversary of reaching it, in a time zone), and
// what a review does: upgrades at once, downgrades only at a review, at
// most one tier per review, after a grace period with a notice. It does
// no I/O, so every boundary is a table test.
package tier

import (
	"cmp"
	"fmt"
	"time"

	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/loyalty/earn"
)

// Basis is what a tier's threshold is measured in.
type Basis string

// The bases.
const (
	Lifetime Basis = "lifetime_points" // points earned ever (spending and expiry do not lower it)
	Rolling  Basis = "rolling_points"  // points earned in the last 12 months
	Spend    Basis = "spend"           // lifetime qualifying spend: the sum of a numeric prop of an event type, in its unit
)

// Mode is when tiers are reviewed for downgrades.
type Mode string

// The review modes.
const (
	Calendar    Mode = "calendar"    // every year on month/day, local midnight
	Anniversary Mode = "anniversary" // every year on the day the user reached their tier
)

// Tier is one level of the programme.
type Tier struct {
	Name      string `json:"name" minLength:"1" maxLength:"64" doc:"e.g. gold; challenges' eligibility and earn rules' tier_multipliers name it."`
	Threshold int64  `json:"threshold" minimum:"0" maximum:"1000000000000" doc:"The qualifying value that reaches it."`
	// Benefits.
	EarnMultiplier earn.Decimal `json:"earn_multiplier,omitempty" doc:"Multiplies what every earn rule pays members of this tier (e.g. 1.5), unless the rule's own tier_multipliers names the tier; combined with campaigns by the rule's stacking."`
	Rewards        []string     `json:"rewards,omitempty" maxItems:"100" doc:"Ids of rewards reserved to this tier and above."`
	Perks          []string     `json:"perks,omitempty" maxItems:"20" doc:"Free-text benefits shown to players."`
}

// Review says when downgrades happen.
type Review struct {
	Mode     Mode   `json:"mode" enum:"calendar,anniversary"`
	Month    int    `json:"month,omitempty" minimum:"0" maximum:"12" doc:"calendar: the review date's month (default 1)."`
	Day      int    `json:"day,omitempty" minimum:"0" maximum:"31" doc:"calendar: the review date's day (default 1); a day past the month's end is its last day."`
	TimeZone string `json:"time_zone,omitempty" maxLength:"64" doc:"IANA zone of review dates; default UTC."`
}

// Programme is a tenant's tiers.
type Programme struct {
	Basis      Basis  `json:"basis" enum:"lifetime_points,rolling_points,spend"`
	SpendEvent string `json:"spend_event,omitempty" maxLength:"64" doc:"spend: the event type that spends (default purchase)."`
	SpendProp  string `json:"spend_prop,omitempty" maxLength:"64" doc:"spend: its numeric prop, counted to the cent (default amount); thresholds are in its unit."`
	Tiers      []Tier `json:"tiers" minItems:"1" maxItems:"20" doc:"Ordered by threshold, lowest first."`
	Review     Review `json:"review"`
	GraceDays  int    `json:"grace_days,omitempty" minimum:"0" maximum:"366" doc:"A user below their tier at a review keeps it this many days more, with a notice (tier.grace push), and drops one tier only if still below then."`
}

func bad(field, format string, args ...any) error {
	return errs.New(errs.Unprocessable, "bad-tiers", format, args...).OnField("body." + field)
}

// Normalize validates p and fills its defaults.
func Normalize(p Programme) (Programme, error) {
	switch p.Basis {
	case Lifetime, Rolling:
		if p.SpendEvent != "" || p.SpendProp != "" {
			return Programme{}, bad("spend_event", "spend_event and spend_prop are for the spend basis")
		}
	case Spend:
		p.SpendEvent, p.SpendProp = cmp.Or(p.SpendEvent, "purchase"), cmp.Or(p.SpendProp, "amount")
		if !rule.ValidName(p.SpendProp) {
			return Programme{}, bad("spend_prop", "a prop name: 1-64 letters, digits, _ : or -")
		}
	default:
		return Programme{}, bad("basis", "basis is lifetime_points, rolling_points or spend")
	}
	if len(p.Tiers) == 0 || len(p.Tiers) > 20 {
		return Programme{}, bad("tiers", "1 to 20 tiers")
	}
	seen := map[string]bool{}
	for i, t := range p.Tiers {
		switch {
		case t.Name == "" || len(t.Name) > 64:
			return Programme{}, bad(fmt.Sprintf("tiers[%d].name", i), "names are 1 to 64 characters")
		case seen[t.Name]:
			return Programme{}, bad(fmt.Sprintf("tiers[%d].name", i), "%q is named twice", t.Name)
		case t.Threshold < 0:
			return Programme{}, bad(fmt.Sprintf("tiers[%d].threshold", i), "thresholds are 0 or more")
		case i > 0 && t.Threshold <= p.Tiers[i-1].Threshold:
			return Programme{}, bad(fmt.Sprintf("tiers[%d].threshold", i), "thresholds rise strictly from tier to tier")
		case t.EarnMultiplier != "" && !earn.ValidMultiplier(t.EarnMultiplier):
			return Programme{}, bad(fmt.Sprintf("tiers[%d].earn_multiplier", i), "a multiplier is above 0, at most 100, with at most 3 decimals")
		}
		seen[t.Name] = true
	}
	r := &p.Review
	if r.TimeZone == "" {
		r.TimeZone = "UTC"
	}
	if _, err := rule.LoadZone(r.TimeZone); err != nil {
		return Programme{}, bad("review.time_zone", "%q is not an IANA time zone", r.TimeZone)
	}
	switch r.Mode {
	case Calendar:
		r.Month, r.Day = max(r.Month, 1), max(r.Day, 1)
		if r.Month > 12 || r.Day > 31 {
			return Programme{}, bad("review.month", "month is 1-12 and day 1-31")
		}
	case Anniversary:
		if r.Month != 0 || r.Day != 0 {
			return Programme{}, bad("review.month", "month and day are for calendar reviews")
		}
	default:
		return Programme{}, bad("review.mode", "mode is calendar or anniversary")
	}
	if p.GraceDays < 0 || p.GraceDays > 366 {
		return Programme{}, bad("grace_days", "grace_days is 0 to 366")
	}
	return p, nil
}

// Rank is a tier's position (0 = lowest), -1 for no tier or one the
// programme lacks.
func (p Programme) Rank(name string) int {
	for i, t := range p.Tiers {
		if t.Name == name {
			return i
		}
	}
	return -1
}

// Qualify returns the rank of the highest tier value reaches (-1: none).
func (p Programme) Qualify(value int64) int {
	r := -1
	for i, t := range p.Tiers {
		if value >= t.Threshold {
			r = i
		}
	}
	return r
}

// Name returns the name of a rank ("" for -1).
func (p Programme) Name(rank int) string {
	if rank < 0 || rank >= len(p.Tiers) {
		return ""
	}
	return p.Tiers[rank].Name
}

// Window is the span of points a rolling basis counts at now.
func Window(now time.Time) (from, to time.Time) { return now.AddDate(-1, 0, 0), now }

// NextReview returns the first review instant strictly after now, for a
// user who reached their tier at since: local midnight of the calendar
// date, or of the anniversary of since, in the review's zone. A date past
// the end of a month (Feb 29 in other years, a 31st) falls on the month's
// last day.
func (p Programme) NextReview(since, now time.Time) time.Time {
	loc, _ := rule.LoadZone(p.Review.TimeZone)
	month, day := time.Month(p.Review.Month), p.Review.Day
	if p.Review.Mode == Anniversary {
		s := since.In(loc)
		month, day = s.Month(), s.Day()
	}
	y := now.In(loc).Year()
	for {
		t := localDate(y, month, day, loc)
		if t.After(now) && (p.Review.Mode != Anniversary || t.After(since)) {
			return t.UTC()
		}
		y++
	}
}

// localDate is local midnight of y-m-d in loc, with d clamped to the
// month's last day; a midnight skipped by DST is the first instant after.
func localDate(y int, m time.Month, d int, loc *time.Location) time.Time {
	last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	t := time.Date(y, m, min(d, last), 0, 0, 0, 0, loc)
	if t.Day() != min(d, last) { // clocks jumped over midnight
		_, end := t.ZoneBounds()
		return end
	}
	return t
}

// State is a user's standing in the programme.
type State struct {
	Tier       string     `json:"tier"`
	Since      time.Time  `json:"since"`
	ReviewAt   time.Time  `json:"review_at"`
	GraceUntil *time.Time `json:"grace_until,omitempty"`
	Manual     bool       `json:"manual,omitempty"`
	Locked     bool       `json:"locked,omitempty"`
}

// Outcome is what an evaluation did.
type Outcome int

// The outcomes.
const (
	Unchanged Outcome = iota
	Upgraded
	Downgraded
	Notice // below the tier at a review: grace started
	Rescheduled
)

// Upgrade moves st up at once when value reaches a higher tier than st's
// (a locked tier stays). Any grace ends, and the next review counts from
// now.
func (p Programme) Upgrade(st State, value int64, now time.Time) (State, Outcome) {
	if st.Locked {
		return st, Unchanged
	}
	target := p.Qualify(value)
	cur := p.Rank(st.Tier)
	if target <= cur {
		if target == cur && st.GraceUntil != nil {
			st.GraceUntil = nil // requalified during grace
			st.ReviewAt = p.NextReview(st.Since, now)
			return st, Rescheduled
		}
		return st, Unchanged
	}
	return State{Tier: p.Name(target), Since: now, ReviewAt: p.NextReview(now, now)}, Upgraded
}

// Due reports whether st's review has come at now.
func (st State) Due(now time.Time) bool { return !st.ReviewAt.IsZero() && !now.Before(st.ReviewAt) }

// Reviewed applies a due review: a user still qualifying keeps their tier
// (or rises); one below it gets a grace period with a notice when the
// programme grants one, and drops exactly one tier when there is none or
// it has run out. A locked tier is only rescheduled. Not due: unchanged.
func (p Programme) Reviewed(st State, value int64, now time.Time) (State, Outcome) {
	if !st.Due(now) {
		return st, Unchanged
	}
	if st.Locked {
		st.ReviewAt = p.NextReview(st.Since, now)
		return st, Rescheduled
	}
	cur := p.Rank(st.Tier)
	if target := p.Qualify(value); target >= cur {
		if target > cur {
			return p.Upgrade(st, value, now)
		}
		st.GraceUntil, st.ReviewAt = nil, p.NextReview(st.Since, now)
		return st, Rescheduled
	}
	if st.GraceUntil == nil && p.GraceDays > 0 {
		until := st.ReviewAt.AddDate(0, 0, p.GraceDays)
		st.GraceUntil, st.ReviewAt = &until, until
		return st, Notice
	}
	st = State{Tier: p.Name(cur - 1), Since: now}
	st.ReviewAt = p.NextReview(now, now)
	if st.Tier == "" {
		st.ReviewAt = time.Time{} // nothing left to review
	}
	return st, Downgraded
}
