package points

import (
	"testing"
	"time"

	"github.com/questline/questline/internal/errs"
)

func TestPolicyDates(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	for _, tc := range []struct {
		name          string
		p             Policy
		earned        string
		avail, expire string // "" = never (expire) / = earned (avail)
	}{
		{"never", Policy{Expiry: ExpireNever}, "2026-03-10T12:00:00Z", "", ""},
		{"12 months, end of day UTC", Policy{Expiry: ExpireMonths, ExpiryN: 12}, "2026-03-10T12:00:00Z", "", "2027-03-11T00:00:00Z"},
		{"31 Jan + 1 month is the end of February", Policy{Expiry: ExpireMonths, ExpiryN: 1}, "2026-01-31T08:00:00Z", "", "2026-03-01T00:00:00Z"},
		{"31 Jan + 1 month in a leap year", Policy{Expiry: ExpireMonths, ExpiryN: 1}, "2028-01-31T08:00:00Z", "", "2028-03-01T00:00:00Z"},
		{"leap day + 12 months", Policy{Expiry: ExpireMonths, ExpiryN: 12}, "2028-02-29T10:00:00Z", "", "2029-03-01T00:00:00Z"},
		{"leap day + 48 months", Policy{Expiry: ExpireMonths, ExpiryN: 48}, "2028-02-29T10:00:00Z", "", "2032-03-01T00:00:00Z"},
		{"local day differs from UTC day", Policy{Expiry: ExpireMonths, ExpiryN: 1, TimeZone: "Pacific/Auckland"},
			"2026-05-31T13:00:00Z", "", "2026-07-01T12:00:00Z"}, // 1 June 01:00 NZST → end of 1 July NZST
		{"end of day across DST", Policy{Expiry: ExpireMonths, ExpiryN: 1, TimeZone: "Europe/Paris"},
			"2026-03-01T10:00:00Z", "", "2026-04-01T22:00:00Z"}, // 1 March CET → end of 1 April CEST
		{"end of this quarter", Policy{Expiry: ExpireQuarters, ExpiryN: 0}, "2026-02-10T00:00:00Z", "", "2026-04-01T00:00:00Z"},
		{"end of the 4th quarter after", Policy{Expiry: ExpireQuarters, ExpiryN: 4}, "2026-11-30T00:00:00Z", "", "2028-01-01T00:00:00Z"},
		{"last instant of a quarter", Policy{Expiry: ExpireQuarters, ExpiryN: 1}, "2026-06-30T23:59:59Z", "", "2026-10-01T00:00:00Z"},
		{"quarter in a time zone", Policy{Expiry: ExpireQuarters, ExpiryN: 0, TimeZone: "America/New_York"},
			"2026-04-01T02:00:00Z", "", "2026-04-01T04:00:00Z"}, // still 31 March in New York
		{"pending rounds up to the hour", Policy{Expiry: ExpireNever, PendingDays: 14}, "2026-03-10T12:00:01Z", "2026-03-24T13:00:00Z", ""},
		{"pending on the hour", Policy{Expiry: ExpireNever, PendingDays: 14}, "2026-03-10T12:00:00Z", "2026-03-24T12:00:00Z", ""},
		{"expiry before availability counts from it", Policy{Expiry: ExpireQuarters, ExpiryN: 0, PendingDays: 30},
			"2026-03-20T00:00:00Z", "2026-04-19T00:00:00Z", "2026-07-01T00:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); err != nil {
				t.Fatal(err)
			}
			l := tc.p.Lot(Entry{ID: "l", Amount: 5, CreatedAt: utc(tc.earned)})
			wantAvail := utc(tc.earned)
			if tc.avail != "" {
				wantAvail = utc(tc.avail)
			}
			if !l.AvailableAt.Equal(wantAvail) {
				t.Errorf("available at %s, want %s", l.AvailableAt, wantAvail)
			}
			var wantExp time.Time
			if tc.expire != "" {
				wantExp = utc(tc.expire)
			}
			if !l.ExpiresAt.Equal(wantExp) {
				t.Errorf("expires at %s, want %s", l.ExpiresAt, wantExp)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		p     Policy
		field string
	}{
		{Policy{Expiry: "weeks"}, "body.expiry"},
		{Policy{Expiry: ExpireMonths}, "body.expiry_n"},
		{Policy{Expiry: ExpireNever, PendingDays: -1}, "body.pending_days"},
		{Policy{Expiry: ExpireNever, PendingDays: 366}, "body.pending_days"},
		{Policy{Expiry: ExpireNever, NoticeDays: 91}, "body.notice_days"},
		{Policy{Expiry: ExpireQuarters, ExpiryN: 121}, "body.expiry_n"},
		{Policy{Expiry: ExpireNever, TimeZone: "Mars/Olympus"}, "body.time_zone"},
	} {
		err := tc.p.Validate()
		e, ok := errs.As(err)
		if !ok || e.Field != tc.field {
			t.Errorf("%+v: got %v, want an error on %s", tc.p, err, tc.field)
		}
	}
}
