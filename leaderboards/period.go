package leaderboards

import (
	"fmt"
	"time"
)

// Period is one window period of a board: its name and [Start, End).
// All-time has the zero Start and End.
type Period struct {
	Name  string
	Start time.Time
	End   time.Time
}

// PeriodAt returns the period of w that contains t. Periods are in UTC:
// days start at midnight, weeks on Monday (ISO weeks), months on the 1st.
func PeriodAt(w Window, t time.Time) Period {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch w {
	case Daily:
		return Period{Name: day.Format("2006-01-02"), Start: day, End: day.AddDate(0, 0, 1)}
	case Weekly:
		start := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
		y, wk := start.ISOWeek()
		return Period{Name: fmt.Sprintf("%d-W%02d", y, wk), Start: start, End: start.AddDate(0, 0, 7)}
	case Monthly:
		start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return Period{Name: start.Format("2006-01"), Start: start, End: start.AddDate(0, 1, 0)}
	default:
		return Period{Name: "all"}
	}
}

// ParsePeriod reads a period name of window w, e.g. "2026-11-23" (daily),
// "2026-W48" (weekly), "2026-11" (monthly) or "all".
func ParsePeriod(w Window, name string) (Period, error) {
	var t time.Time
	var err error
	switch w {
	case Daily:
		t, err = time.Parse("2006-01-02", name)
	case Weekly:
		var y, wk int
		if _, err = fmt.Sscanf(name, "%d-W%d", &y, &wk); err == nil && (wk < 1 || wk > 53) {
			err = fmt.Errorf("week %d out of range", wk)
		}
		if err == nil {
			// ISO week 1 holds January 4th.
			jan4 := time.Date(y, 1, 4, 0, 0, 0, 0, time.UTC)
			t = PeriodAt(Weekly, jan4).Start.AddDate(0, 0, 7*(wk-1))
		}
	case Monthly:
		t, err = time.Parse("2006-01", name)
	default:
		if name != "all" {
			err = fmt.Errorf("all-time boards have one period, \"all\"")
		}
	}
	if err != nil {
		return Period{}, fmt.Errorf("period %q: %w", name, err)
	}
	p := PeriodAt(w, t)
	if p.Name != name {
		return Period{}, fmt.Errorf("period %q: not a %s period name (e.g. %q)", name, w, p.Name)
	}
	return p, nil
}

// endOfTime closes the all-time period for range queries.
var endOfTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// bounds returns [from, to) for ledger queries; all-time spans everything.
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
