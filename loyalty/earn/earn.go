// Package earn is the arithmetic of earn rules: what one event pays under
// one rule, given what the rule paid the user before. It does no I/O, so
// every case (rates rounded down to the point, punch cards, caps per
// calendar period in a time zone, tier and campaign multipliers and how
// they stack) is a table test.
//
// Money is never a float: a prop's amount is read as exact thousandths
// (rule.Scaled) and truncated to cents; rates and multipliers are exact
// thousandths; a payout is the product rounded down once, at the end.
package earn

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
)

// Kind is how a rule pays.
type Kind string

// The kinds of earn rule.
const (
	Rate  Kind = "rate"  // rate points per unit of a numeric prop (1 point per EUR)
	Fixed Kind = "fixed" // points per matching event (per visit)
	Nth   Kind = "nth"   // points on every Nth matching event (a punch card)
)

// Stacking is how several multipliers that apply at once combine.
type Stacking string

// The stacking policies.
const (
	Highest Stacking = "highest" // the greatest one applies
	Product Stacking = "product" // all of them multiply
)

// Caps bound what a rule pays one user per calendar period of the rule's
// time zone; 0 is no cap.
type Caps struct {
	PerDay   int64 `json:"per_day,omitempty" minimum:"0" maximum:"1000000000" doc:"Most points per user per local day."`
	PerWeek  int64 `json:"per_week,omitempty" minimum:"0" maximum:"1000000000" doc:"Most points per user per ISO week (from Monday)."`
	PerMonth int64 `json:"per_month,omitempty" minimum:"0" maximum:"1000000000" doc:"Most points per user per calendar month."`
}

// Campaign multiplies what a rule pays while it runs: between local
// times of the rule's zone, on some weekdays, or both (every weekend of
// December).
type Campaign struct {
	Name       string   `json:"name" minLength:"1" maxLength:"100"`
	StartsAt   string   `json:"starts_at,omitempty" doc:"Local date-time in the rule's time zone, e.g. 2026-12-05T00:00; omit for no start."`
	EndsAt     string   `json:"ends_at,omitempty" doc:"Local date-time (exclusive); omit for no end."`
	Weekdays   []string `json:"weekdays,omitempty" maxItems:"7" doc:"Local weekdays it runs on: mon, tue, ... sun; omit for every day."`
	Multiplier Decimal  `json:"multiplier" doc:"e.g. 2 for double points; above 0, at most 100, at most 3 decimals."`
}

// Rule is an earn rule as managers write it.
type Rule struct {
	Kind            Kind               `json:"kind" enum:"rate,fixed,nth"`
	EventType       string             `json:"event_type" minLength:"1" maxLength:"64"`
	Prop            string             `json:"prop,omitempty" maxLength:"64" doc:"rate: the numeric prop paid for, e.g. amount."`
	Rate            Decimal            `json:"rate,omitempty" doc:"rate: points per unit of prop, e.g. 1 (per EUR) or 0.5; at most 3 decimals. The prop is counted to the cent and the payout rounded down."`
	Points          int64              `json:"points,omitempty" minimum:"0" maximum:"1000000" doc:"fixed: points per event; nth: points on every Nth event."`
	Every           int64              `json:"every,omitempty" minimum:"0" maximum:"10000" doc:"nth: the Nth matching event pays (10: the 10th, 20th, ...)."`
	Filters         []rule.Filter      `json:"filters,omitempty" maxItems:"10" doc:"Conditions on the event's props, as in challenge rules."`
	Caps            Caps               `json:"caps,omitzero"`
	TimeZone        string             `json:"time_zone,omitempty" maxLength:"64" doc:"IANA zone of caps and campaigns; default UTC."`
	TierMultipliers map[string]Decimal `json:"tier_multipliers,omitempty" maxProperties:"20" doc:"Multiplier by the user's tier, e.g. {\"gold\": 1.5}."`
	Campaigns       []Campaign         `json:"campaigns,omitempty" maxItems:"20"`
	Stacking        Stacking           `json:"stacking,omitempty" enum:"highest,product" doc:"How a tier multiplier and campaigns that apply together combine; default highest."`
}

// Plan is a validated rule, ready to price events.
type Plan struct {
	Rule
	rate      int64            // thousandths of a point per unit
	tiers     map[string]int64 // thousandths
	campaigns []campaign
	loc       *time.Location
}

type campaign struct {
	from, to time.Time // zero: open
	days     uint8     // bit per time.Weekday; 0: every day
	mult     int64     // thousandths
}

// Bounds of a rule.
const (
	maxRate = 1_000_000 * rule.Scale
	maxMult = 100 * rule.Scale
)

// Compile validates r and returns its plan. Errors are 422 bad-earn-rule
// at body.<field> (the JSON path of the field at fault).
func Compile(r Rule) (Plan, error) {
	p := Plan{Rule: r}
	if p.Stacking == "" {
		p.Stacking = Highest
	}
	if p.TimeZone == "" {
		p.TimeZone = "UTC"
	}
	if err := p.checkKind(); err != nil {
		return Plan{}, err
	}
	if err := p.checkFilters(); err != nil {
		return Plan{}, err
	}
	loc, err := rule.LoadZone(p.TimeZone)
	if err != nil {
		return Plan{}, bad("time_zone", "%q is not an IANA time zone", p.TimeZone)
	}
	p.loc = loc
	switch {
	case p.Stacking != Highest && p.Stacking != Product:
		return Plan{}, bad("stacking", "stacking is highest or product")
	case p.Caps.PerDay < 0 || p.Caps.PerWeek < 0 || p.Caps.PerMonth < 0:
		return Plan{}, bad("caps", "caps are 0 (none) or more")
	}
	p.tiers = map[string]int64{}
	for tier, m := range p.TierMultipliers {
		v, ok := multiplier(m)
		if !ok || tier == "" || len(tier) > 64 {
			return Plan{}, bad("tier_multipliers."+tier, "a tier multiplier is above 0, at most 100, with at most 3 decimals")
		}
		p.tiers[tier] = v
	}
	for i, c := range p.Campaigns {
		cc, err := compileCampaign(c, loc, fmt.Sprintf("campaigns[%d]", i))
		if err != nil {
			return Plan{}, err
		}
		p.campaigns = append(p.campaigns, cc)
	}
	return p, nil
}

func (p *Plan) checkKind() error {
	switch p.Kind {
	case Rate:
		v, ok := p.Rate.thousandths()
		if !rule.ValidName(p.Prop) {
			return bad("prop", "a rate rule names the numeric prop it pays for")
		}
		if !ok || v <= 0 || v > maxRate {
			return bad("rate", "rate is above 0, at most 1000000, with at most 3 decimals")
		}
		if p.Points != 0 || p.Every != 0 {
			return bad("points", "points and every are for fixed and nth rules")
		}
		p.rate = v
	case Fixed, Nth:
		if p.Points < 1 || p.Points > 1_000_000 {
			return bad("points", "points is 1 to 1000000")
		}
		if p.Prop != "" || p.Rate != "" {
			return bad("rate", "prop and rate are for rate rules")
		}
		if p.Kind == Fixed && p.Every != 0 {
			return bad("every", "every is for nth rules")
		}
		if p.Kind == Nth && (p.Every < 2 || p.Every > 10_000) {
			return bad("every", "every is 2 to 10000")
		}
	default:
		return bad("kind", "kind is rate, fixed or nth")
	}
	return nil
}

// checkFilters validates the event type's name and the filters with the
// rule language's own checks.
func (p *Plan) checkFilters() error {
	g := rule.Goal{Kind: rule.Count, EventType: p.EventType, Filters: p.Filters, Target: "1"}
	r := rule.Rule{Goals: []rule.Goal{g}}
	r.Normalize()
	if err := r.Validate(nil); err != nil {
		if fe, ok := err.(*rule.FieldError); ok {
			return bad(strings.TrimPrefix(fe.Field, "goals[0]."), "%s", fe.Message)
		}
		return bad("filters", "%v", err)
	}
	p.Filters = r.Goals[0].Filters
	return nil
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func compileCampaign(c Campaign, loc *time.Location, at string) (campaign, error) {
	var cc campaign
	var ok bool
	if cc.mult, ok = multiplier(c.Multiplier); !ok {
		return campaign{}, bad(at+".multiplier", "a multiplier is above 0, at most 100, with at most 3 decimals")
	}
	if c.Name == "" || len(c.Name) > 100 {
		return campaign{}, bad(at+".name", "a campaign has a name of 1 to 100 characters")
	}
	var err error
	if cc.from, err = localTime(c.StartsAt, loc); err != nil {
		return campaign{}, bad(at+".starts_at", "a local date-time such as 2026-12-05T00:00")
	}
	if cc.to, err = localTime(c.EndsAt, loc); err != nil {
		return campaign{}, bad(at+".ends_at", "a local date-time such as 2026-12-07T00:00")
	}
	if !cc.from.IsZero() && !cc.to.IsZero() && !cc.to.After(cc.from) {
		return campaign{}, bad(at+".ends_at", "ends_at must be after starts_at")
	}
	for j, d := range c.Weekdays {
		wd, ok := weekdays[d]
		if !ok {
			return campaign{}, bad(fmt.Sprintf("%s.weekdays[%d]", at, j), "weekdays are mon, tue, wed, thu, fri, sat, sun")
		}
		cc.days |= 1 << wd
	}
	return cc, nil
}

// localTime reads a local date-time of loc ("" is zero). A time that DST
// skips resolves as time.Date does.
func localTime(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("earn: bad local time %q", s)
}

func multiplier(n Decimal) (int64, bool) {
	v, ok := n.thousandths()
	return v, ok && v > 0 && v <= maxMult
}

func bad(field, format string, args ...any) error {
	return errs.New(errs.Unprocessable, "bad-earn-rule", format, args...).OnField("body." + field)
}

// Matches reports whether an event's props pass every filter.
func (p Plan) Matches(props map[string]any) bool {
	for _, f := range p.Filters {
		if !f.Match(props) {
			return false
		}
	}
	return true
}

// Stateful reports whether the rule needs what it paid the user before: a
// punch card counts events, caps sum payouts per period.
func (p Plan) Stateful() bool { return p.Kind == Nth || p.Caps != (Caps{}) }

// Tally is what a rule paid one user in one calendar period.
type Tally struct {
	Key  string `json:"key,omitempty"` // the period, e.g. 2026-12-02, 2026-W49, 2026-12
	Paid int64  `json:"paid,omitempty"`
}

// State is what a rule folded for one user over the events it counted:
// one event at a time, never by rereading their history.
type State struct {
	Count int64 `json:"count"`           // matching events so far
	Total int64 `json:"total,omitempty"` // points paid so far
	Day   Tally `json:"day,omitzero"`
	Week  Tally `json:"week,omitzero"`
	Month Tally `json:"month,omitzero"`
}

// Member is who an event pays: their tier ("" = none) and the earn
// multiplier their tier programme gives it ("" = none). A rule's own
// tier_multipliers entry for the tier takes the programme's place.
type Member struct {
	Tier       string
	Multiplier Decimal
}

// ValidMultiplier reports whether d is a multiplier a rule or a tier may
// give: above 0, at most 100, at most 3 decimals.
func ValidMultiplier(d Decimal) bool {
	_, ok := multiplier(d)
	return ok
}

// Pay prices one matching event for a member that occurred at, after prev, and returns the payout and the state after.
// A late event of an older period than the state's counts against that
// period's cap as if nothing had been paid in it (the fold keeps only the
// latest period), and leaves the state's period alone.
func (p Plan) Pay(props map[string]any, m Member, at time.Time, prev State) (int64, State) {
	next := prev
	next.Count++
	payout := p.multiply(p.base(props, next.Count), m, at)
	caps := []struct {
		t     *Tally
		limit int64
		rec   rule.Recurrence
	}{{&next.Day, p.Caps.PerDay, rule.Daily}, {&next.Week, p.Caps.PerWeek, rule.Weekly}, {&next.Month, p.Caps.PerMonth, rule.Monthly}}
	keys := make([]string, len(caps))
	for i, c := range caps {
		if c.limit > 0 {
			var left int64
			keys[i], left = p.left(*c.t, c.limit, c.rec, at)
			payout = max(0, min(payout, left))
		}
	}
	next.Total += payout
	for i, c := range caps {
		switch {
		case c.limit == 0 || keys[i] < c.t.Key:
			// No cap, or a late event of an older period: the fold keeps
			// the latest period.
		case keys[i] == c.t.Key:
			c.t.Paid += payout
		default:
			*c.t = Tally{Key: keys[i], Paid: payout}
		}
	}
	return payout, next
}

// base is the payout before multipliers as a fraction over baseScale: a
// rate's amount in cents times its rate in thousandths.
func (p Plan) base(props map[string]any, count int64) *big.Int {
	switch p.Kind {
	case Rate:
		v, ok := rule.Scaled(props[p.Prop])
		if !ok || v <= 0 {
			return new(big.Int)
		}
		cents := v / (rule.Scale / 100)
		return new(big.Int).Mul(big.NewInt(cents), big.NewInt(p.rate))
	case Nth:
		if count%p.Every != 0 {
			return new(big.Int)
		}
	}
	return big.NewInt(p.Points * baseScale)
}

// baseScale is the denominator of base: cents times thousandths.
const baseScale = 100 * rule.Scale

// Multiplier returns the multiplier (in thousandths, as a fraction over
// the returned denominator) that applies to a member at a time.
func (p Plan) Multiplier(m Member, at time.Time) (num, den *big.Int) {
	var ms []int64
	if v, ok := p.tiers[m.Tier]; ok && m.Tier != "" {
		ms = append(ms, v)
	} else if v, ok := multiplier(m.Multiplier); ok && m.Tier != "" {
		ms = append(ms, v)
	}
	for _, c := range p.campaigns {
		if c.runs(at.In(p.loc)) {
			ms = append(ms, c.mult)
		}
	}
	num, den = big.NewInt(1), big.NewInt(1)
	if len(ms) == 0 {
		return num, den
	}
	if p.Stacking == Highest {
		return big.NewInt(highest(ms)), big.NewInt(rule.Scale)
	}
	for _, m := range ms {
		num.Mul(num, big.NewInt(m))
		den.Mul(den, big.NewInt(rule.Scale))
	}
	return num, den
}

func (p Plan) multiply(base *big.Int, m Member, at time.Time) int64 {
	num, den := p.Multiplier(m, at)
	v := new(big.Int).Mul(base, num)
	v.Quo(v, den.Mul(den, big.NewInt(baseScale)))
	if !v.IsInt64() {
		return 0
	}
	return v.Int64()
}

func (c campaign) runs(local time.Time) bool {
	if !c.from.IsZero() && local.Before(c.from) || !c.to.IsZero() && !local.Before(c.to) {
		return false
	}
	return c.days == 0 || c.days&(1<<local.Weekday()) != 0
}

// left returns the period of at and what limit leaves in it after t (a
// period older than t's counts as unpaid: the fold keeps only the latest).
func (p Plan) left(t Tally, limit int64, rec rule.Recurrence, at time.Time) (string, int64) {
	per, _ := rule.Window{Recurrence: rec, TimeZone: p.TimeZone}.PeriodAt(at)
	if per.Key == t.Key {
		return per.Key, limit - t.Paid
	}
	return per.Key, limit
}

func highest(ms []int64) int64 {
	h := ms[0]
	for _, v := range ms[1:] {
		h = max(h, v)
	}
	return h
}
