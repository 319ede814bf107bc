package points

import (
	"fmt"
	"time"

	"github.com/questline/questline/internal/errs"
)

// Expiry modes of a Policy.
const (
	ExpireNever    = "never"
	ExpireMonths   = "months"   // at the end of the day N months after the day earned
	ExpireQuarters = "quarters" // at the end of the Nth quarter after the quarter earned
)

// Limits of a Policy.
const (
	MaxPendingDays = 365
	MaxExpiryN     = 120
	MaxNoticeDays  = 90
)

// Policy is a tenant's rule for new lots: how long points stay pending,
// when they expire, and how long before that users are told. Days, months
// and quarters are calendar ones in TimeZone, so "the end of the day" is
// midnight where the brand is.
type Policy struct {
	PendingDays int    `json:"pending_days" required:"false" minimum:"0" maximum:"365" doc:"Days a new lot stays pending (e.g. a return window); 0 = available at once."`
	Expiry      string `json:"expiry" required:"false" enum:"never,months,quarters" doc:"never; months: at the end of the day ExpiryN months after the day earned; quarters: at the end of the ExpiryN-th quarter after the quarter earned (0 = the quarter earned)."`
	ExpiryN     int    `json:"expiry_n" required:"false" minimum:"0" maximum:"120" doc:"N of the expiry mode."`
	TimeZone    string `json:"time_zone" required:"false" maxLength:"64" doc:"IANA time zone of days, months and quarters; empty = UTC."`
	NoticeDays  int    `json:"notice_days" required:"false" minimum:"0" maximum:"90" doc:"Days before an expiry that points.expiring is emitted; 0 = never."`
}

// DefaultPolicy is the policy of a tenant that set none: points are
// available at once and never expire.
var DefaultPolicy = Policy{Expiry: ExpireNever}

// Validate checks p and says which field is wrong.
func (p Policy) Validate() error {
	bad := func(field, format string, args ...any) error {
		return errs.New(errs.Unprocessable, "bad-policy", format, args...).OnField("body." + field)
	}
	switch {
	case p.PendingDays < 0 || p.PendingDays > MaxPendingDays:
		return bad("pending_days", "pending_days must be within 0..%d", MaxPendingDays)
	case p.NoticeDays < 0 || p.NoticeDays > MaxNoticeDays:
		return bad("notice_days", "notice_days must be within 0..%d", MaxNoticeDays)
	case p.ExpiryN < 0 || p.ExpiryN > MaxExpiryN:
		return bad("expiry_n", "expiry_n must be within 0..%d", MaxExpiryN)
	}
	switch p.Expiry {
	case ExpireNever, ExpireQuarters:
	case ExpireMonths:
		if p.ExpiryN < 1 {
			return bad("expiry_n", "points expiring after months need expiry_n of at least 1")
		}
	default:
		return bad("expiry", "expiry must be never, months or quarters, not %q", p.Expiry)
	}
	if _, err := p.location(); err != nil {
		return bad("time_zone", "unknown time zone %q", p.TimeZone)
	}
	return nil
}

func (p Policy) location() (*time.Location, error) {
	if p.TimeZone == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("points: policy time zone: %w", err)
	}
	return loc, nil
}

// Lot returns the lot a credit of amount earned at makes under p.
func (p Policy) Lot(e Entry) Lot {
	avail := p.AvailableAt(e.CreatedAt)
	return Lot{
		ID: e.ID, User: e.User, Key: e.Key, Amount: e.Amount, Remaining: e.Amount,
		EarnedAt: e.CreatedAt, AvailableAt: avail, ExpiresAt: p.ExpiresAt(e.CreatedAt, avail),
	}
}

// AvailableAt is when points earned at stop being pending: PendingDays
// later, rounded up to the hour, so a wallet keeps at most one pending
// bucket per hour.
func (p Policy) AvailableAt(earned time.Time) time.Time {
	if p.PendingDays == 0 {
		return earned
	}
	t := earned.Add(time.Duration(p.PendingDays) * 24 * time.Hour)
	if r := t.Truncate(time.Hour); !r.Equal(t) {
		t = r.Add(time.Hour)
	}
	return t.UTC()
}

// ExpiresAt is when points earned at, available from avail, expire (the
// zero time: never). An expiry that would come before the points are
// available is counted from avail instead.
func (p Policy) ExpiresAt(earned, avail time.Time) time.Time {
	exp := p.expiryFrom(earned)
	if !exp.IsZero() && !exp.After(avail) {
		exp = p.expiryFrom(avail)
	}
	return exp
}

func (p Policy) expiryFrom(t time.Time) time.Time {
	loc, err := p.location()
	if err != nil || p.Expiry == ExpireNever || p.Expiry == "" {
		return time.Time{}
	}
	l := t.In(loc)
	switch p.Expiry {
	case ExpireMonths:
		y, m, d := addMonths(l.Year(), l.Month(), l.Day(), p.ExpiryN)
		return time.Date(y, m, d+1, 0, 0, 0, 0, loc).UTC()
	case ExpireQuarters:
		q := (int(l.Month()) - 1) / 3 // 0-based quarter of the year
		first := time.Month(q*3 + 1)
		return time.Date(l.Year(), first+time.Month(3*(p.ExpiryN+1)), 1, 0, 0, 0, 0, loc).UTC()
	}
	return time.Time{}
}

// addMonths adds n calendar months to a date, clamping the day to the
// length of the month reached (31 January + 1 month = 28 or 29 February),
// where time.AddDate would run over into March.
func addMonths(y int, m time.Month, d, n int) (int, time.Month, int) {
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).AddDate(0, n, 0)
	last := first.AddDate(0, 1, -1).Day()
	return first.Year(), first.Month(), min(d, last)
}
