package rule

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zones must load on machines without a zoneinfo database
)

// Counts reports whether an event that occurred at occurredAt and was
// received at receivedAt counts, and in which period: occurred_at must be
// inside the window and at most FutureSkew after receipt, and the event must
// arrive less than LateGrace after its period ends. Pass the stored
// received_at, not the time of processing, so that a replay decides the same.
func (w Window) Counts(occurredAt, receivedAt time.Time) (Period, bool) {
	if occurredAt.After(receivedAt.Add(FutureSkew)) {
		return Period{}, false
	}
	p, ok := w.PeriodAt(occurredAt)
	if !ok || !p.End.IsZero() && !receivedAt.Before(p.End.Add(LateGrace)) {
		return Period{}, false
	}
	return p, true
}

// PeriodAt returns the period containing t, or false if t is outside
// [StartsAt, EndsAt). A recurring window's periods follow the local
// calendar of its time zone, clipped to StartsAt and EndsAt; any other
// window has one period, keyed "", spanning StartsAt to EndsAt.
func (w Window) PeriodAt(t time.Time) (Period, bool) {
	if w.StartsAt != nil && t.Before(*w.StartsAt) || w.EndsAt != nil && !t.Before(*w.EndsAt) {
		return Period{}, false
	}
	var p Period
	if w.Rolling == "" {
		p = calendar(w.Recurrence, t.In(w.location()))
	}
	if w.StartsAt != nil && p.Start.Before(*w.StartsAt) {
		p.Start = w.StartsAt.UTC()
	}
	if w.EndsAt != nil && (p.End.IsZero() || w.EndsAt.Before(p.End)) {
		p.End = w.EndsAt.UTC()
	}
	return p, true
}

// ResetsAt returns when the period current at now ends, so that clients
// need not work it out: the end of today's, this week's or this month's
// period, else EndsAt. Before StartsAt it is the end of the first period.
// It is nil when nothing will reset: a window without an end, a window
// already over, or a rolling window, whose reset depends on the data.
func (w Window) ResetsAt(now time.Time) *time.Time {
	if w.Rolling != "" {
		return nil
	}
	if w.StartsAt != nil && now.Before(*w.StartsAt) {
		now = *w.StartsAt
	}
	p, ok := w.PeriodAt(now)
	if !ok || p.End.IsZero() {
		return nil
	}
	return &p.End
}

// RollingFrom returns the start of a rolling window ending at now:
// contributions that occurred in (RollingFrom(now), now] count. It is the
// zero Time for a window that is not rolling.
func (w Window) RollingFrom(now time.Time) time.Time {
	d, err := rollingDuration(w.Rolling)
	if err != nil {
		return time.Time{}
	}
	return now.Add(-d)
}

// calendar returns the recurrence period containing the local time t.
func calendar(rec Recurrence, t time.Time) Period {
	y, m, d := t.Date()
	loc := t.Location()
	switch rec {
	case Daily:
		return period(t.Format(time.DateOnly), midnight(y, m, d, loc), midnight(y, m, d+1, loc))
	case Weekly:
		monday := d - (int(t.Weekday())+6)%7
		wy, wk := t.ISOWeek()
		return period(fmt.Sprintf("%04d-W%02d", wy, wk), midnight(y, m, monday, loc), midnight(y, m, monday+7, loc))
	case Monthly:
		return period(t.Format("2006-01"), midnight(y, m, 1, loc), midnight(y, m+1, 1, loc))
	}
	return Period{}
}

func period(key string, start, end time.Time) Period {
	return Period{Key: key, Start: start.UTC(), End: end.UTC()}
}

// midnight returns the first instant of the local date y-m-d; d may be out
// of range, as in time.Date. time.Date alone is not enough where DST
// changes at midnight: it resolves a missing midnight to either side and
// a repeated midnight to either occurrence.
func midnight(y int, m time.Month, d int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if t.Day() != time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Day() {
		// Clocks jumped over midnight and t is the evening before, in the
		// old offset: the day begins at the jump.
		_, end := t.ZoneBounds()
		return end
	}
	// If clocks fell back to midnight just before t, midnight happened
	// once already, in the previous offset.
	start, _ := t.ZoneBounds()
	if !start.IsZero() {
		_, cur := t.Zone()
		_, prev := start.Add(-time.Nanosecond).Zone()
		if earlier := t.Add(-time.Duration(prev-cur) * time.Second); prev > cur && earlier.Before(start) {
			return earlier
		}
	}
	return t
}

// location returns the window's time zone, UTC if it is unset or (in a
// window that did not validate) unknown.
func (w Window) location() *time.Location {
	loc, err := LoadZone(w.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

var (
	zonePattern = regexp.MustCompile(`^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$`)
	zones       sync.Map // IANA name -> *time.Location: loading one parses the database
)

// LoadZone loads an IANA time zone, caching it, so that callers asking per
// event (or per ledger entry in a rebuild) do not parse tzdata each time;
// "" is UTC. "Local" is refused because it depends on the machine.
func LoadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if name == "Local" || len(name) > 64 || !zonePattern.MatchString(name) {
		return nil, errors.New("not an IANA time zone name")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

var errRolling = errors.New(`use a Go duration such as "24h" or whole days such as "7d"`)

// rollingDuration parses a rolling span: a Go duration or whole days
// ("7d"), from 1m to 366d.
func rollingDuration(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || len(days) > 3 || days[0] < '0' || days[0] > '9' {
			return 0, errRolling
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, errRolling
		}
	}
	if d < time.Minute || d > 366*24*time.Hour {
		return 0, errors.New("must be from 1m to 366d")
	}
	return d, nil
}

// Forever is the Reach of a window whose rule may read every contribution
// it ever counted: a single period with no start, such as an all-time
// distinct count.
const Forever time.Duration = -1

// Reach is how far back from now a rule over w may still read the
// contributions it counted, so that a retention prune keeps them: the span
// of a rolling window; the longest period of a recurrence plus the late
// grace (a period is read whole while it takes events); since StartsAt for
// a single period still open at now, nothing once it closed for good; and
// Forever for a single period without a start. Rules that read folded
// tallies instead need less (see challenges' retention targets).
func (w Window) Reach(now time.Time) time.Duration {
	if d, err := rollingDuration(w.Rolling); w.Rolling != "" && err == nil {
		return d
	}
	if w.EndsAt != nil && !now.Before(w.EndsAt.Add(LateGrace)) {
		return 0
	}
	const hour = time.Hour
	switch w.Recurrence {
	case Daily:
		return 25*hour + LateGrace
	case Weekly:
		return 7*24*hour + hour + LateGrace
	case Monthly:
		return 31*24*hour + hour + LateGrace
	}
	if w.StartsAt == nil {
		return Forever
	}
	return max(now.Sub(*w.StartsAt), 0)
}
