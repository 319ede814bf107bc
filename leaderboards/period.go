package leaderboards

import (
	"errors"
	"fmt"
	"time"

	"github.com/questline/questline/events/rule"
)

// Period is one window period of a board: its name and [Start, End).
// The all-time period has the zero Start and End.
type Period struct {
	Name  string
	Start time.Time
	End   time.Time
}

// The names of the periods that are not calendar periods.
const (
	allPeriod    = "all"
	customPeriod = "custom"
)

// location returns the board's time zone; validation guarantees it loads.
// rule.LoadZone caches zones, so rebuilds may ask per ledger entry.
func (b Board) location() *time.Location {
	loc, err := rule.LoadZone(b.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// periodAt returns the period of b that contains t; ok is false when t lies
// outside a custom window, so nothing at t counts.
func (b Board) periodAt(t time.Time) (p Period, ok bool) {
	switch b.Window {
	case AllTime:
		return Period{Name: allPeriod}, true
	case Custom:
		p = Period{Name: customPeriod, Start: *b.StartsAt, End: *b.EndsAt}
		return p, !t.Before(p.Start) && t.Before(p.End)
	}
	return b.calendarPeriod(t), true
}

// window is b's window in the rule language, whose periods and late-arrival
// grace challenges share. An all-time window has one endless period; a
// custom one, [StartsAt, EndsAt).
func (b Board) window() rule.Window {
	w := rule.Window{TimeZone: b.TimeZone, StartsAt: b.StartsAt, EndsAt: b.EndsAt}
	switch b.Window {
	case Daily, Weekly, Monthly:
		w.Recurrence = rule.Recurrence(b.Window)
	}
	return w
}

// calendarPeriod returns the daily, weekly (ISO, from Monday) or monthly
// period of b holding t. They are the rule language's recurring periods, so
// boards and challenges keep one calendar: local midnights in the board's
// zone, true instants (a day with a daylight-saving change lasts 23 or 25
// hours), keys such as "2026-11-23", "2026-W48" and "2026-11".
func (b Board) calendarPeriod(t time.Time) Period {
	p, _ := rule.Window{Recurrence: rule.Recurrence(b.Window), TimeZone: b.TimeZone}.PeriodAt(t)
	return Period{Name: p.Key, Start: p.Start, End: p.End}
}

// errPeriodRange reports a well-formed period name outside the span the
// engines hold (MinTime to MaxTime): nothing can score there, and its
// instants may not even be expressible in JSON (years past 9999).
var errPeriodRange = errors.New("period outside 1970..2286")

// parsePeriod reads a period name of b: "2026-11-23" (daily), "2026-W48"
// (weekly), "2026-11" (monthly), "all" or "custom". A name whose period
// does not lie within [MinTime, MaxTime] is errPeriodRange.
func (b Board) parsePeriod(name string) (Period, error) {
	loc := b.location()
	var t time.Time
	var err error
	switch b.Window {
	case AllTime, Custom:
		p, _ := b.periodAt(time.Time{})
		if name != p.Name {
			return Period{}, fmt.Errorf("period %q: a %s board has one period, %q", name, b.Window, p.Name)
		}
		return p, nil
	case Daily:
		t, err = time.ParseInLocation("2006-01-02", name, loc)
	case Weekly:
		var y, wk int
		if _, err = fmt.Sscanf(name, "%d-W%d", &y, &wk); err == nil && (wk < 1 || wk > 53) {
			err = fmt.Errorf("week %d out of range", wk)
		}
		if err == nil && (y < MinTime.Year() || y > MaxTime.Year()) {
			return Period{}, fmt.Errorf("period %q: %w", name, errPeriodRange)
		}
		if err == nil {
			// ISO week 1 holds January 4th.
			jan4 := time.Date(y, 1, 4, 12, 0, 0, 0, loc)
			t = jan4.AddDate(0, 0, 7*(wk-1))
		}
	case Monthly:
		t, err = time.ParseInLocation("2006-01", name, loc)
	}
	if err != nil {
		return Period{}, fmt.Errorf("period %q: %w", name, err)
	}
	p := b.calendarPeriod(t)
	if p.Start.Before(MinTime) || p.End.After(MaxTime) {
		return Period{}, fmt.Errorf("period %q: %w", name, errPeriodRange)
	}
	if p.Name != name {
		return Period{}, fmt.Errorf("period %q: not a %s period name (e.g. %q)", name, b.Window, p.Name)
	}
	return p, nil
}

// retention is how long b's finished periods stay readable.
func (b Board) retention() time.Duration {
	return time.Duration(b.RetentionDays) * 24 * time.Hour
}

// expiresAt is when period p of b stops being readable; zero for never
// (the all-time period, and any board without a retention).
func (b Board) expiresAt(p Period) time.Time {
	if p.End.IsZero() || b.RetentionDays == 0 {
		return time.Time{}
	}
	return p.End.Add(b.retention())
}

// expired reports whether period p of b is past its retention at now.
func (b Board) expired(p Period, now time.Time) bool {
	exp := b.expiresAt(p)
	return !exp.IsZero() && !now.Before(exp)
}

// endOfTime closes the all-time period for range queries.
var endOfTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// bounds returns [from, to) for source queries; all-time spans everything.
func (p Period) bounds() (from, to time.Time) {
	if p.End.IsZero() {
		return time.Unix(0, 0).UTC(), endOfTime
	}
	return p.Start, p.End
}

// engineKey names a board period in the engine. The hash tag keeps every
// period of one board in one Redis Cluster slot.
func engineKey(tenant, board, period string) string {
	return "ql:lb:{" + tenant + ":" + board + "}:" + period
}
