package tier

import (
	"testing"
	"time"

	"github.com/questline/questline/internal/errs"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func programme(t *testing.T, mode Mode, month, day int, zone string, grace int) Programme {
	t.Helper()
	p, err := Normalize(Programme{Basis: Lifetime, GraceDays: grace,
		Tiers:  []Tier{{Name: "bronze", Threshold: 0}, {Name: "silver", Threshold: 500}, {Name: "gold", Threshold: 2000}},
		Review: Review{Mode: mode, Month: month, Day: day, TimeZone: zone}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNextReview: calendar and anniversary dates across year ends, time
// zones, DST and leap days.
func TestNextReview(t *testing.T) {
	cases := []struct {
		name       string
		p          Programme
		since, now string
		want       string
	}{
		{"calendar, later this year", programme(t, Calendar, 7, 1, "UTC", 0), "2026-01-10T00:00:00Z", "2026-03-01T00:00:00Z", "2026-07-01T00:00:00Z"},
		{"calendar, passed: next year", programme(t, Calendar, 1, 1, "UTC", 0), "2026-01-10T00:00:00Z", "2026-03-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"calendar at the instant: the next one", programme(t, Calendar, 1, 1, "UTC", 0), "2026-01-10T00:00:00Z", "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"},
		{"calendar in Paris is 23:00 UTC", programme(t, Calendar, 1, 1, "Europe/Paris", 0), "2026-05-01T00:00:00Z", "2026-12-31T22:59:59Z", "2026-12-31T23:00:00Z"},
		{"calendar in Paris, an hour later: passed", programme(t, Calendar, 1, 1, "Europe/Paris", 0), "2026-05-01T00:00:00Z", "2026-12-31T23:00:00Z", "2027-12-31T23:00:00Z"},
		{"calendar Feb 29 in a common year: Feb 28", programme(t, Calendar, 2, 29, "UTC", 0), "2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z", "2027-02-28T00:00:00Z"},
		{"calendar Feb 29 in a leap year", programme(t, Calendar, 2, 29, "UTC", 0), "2027-05-01T00:00:00Z", "2027-06-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"anniversary", programme(t, Anniversary, 0, 0, "UTC", 0), "2026-03-15T10:00:00Z", "2026-03-15T10:00:00Z", "2027-03-15T00:00:00Z"},
		{"anniversary of a leap day", programme(t, Anniversary, 0, 0, "UTC", 0), "2028-02-29T12:00:00Z", "2028-03-01T00:00:00Z", "2029-02-28T00:00:00Z"},
		{"anniversary local date in Tokyo", programme(t, Anniversary, 0, 0, "Asia/Tokyo", 0), "2026-03-14T20:00:00Z", "2026-04-01T00:00:00Z", "2027-03-14T15:00:00Z"},
		{"midnight skipped by DST (Santiago)", programme(t, Calendar, 9, 6, "America/Santiago", 0), "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-09-06T04:00:00Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.p.NextReview(utc(c.since), utc(c.now))
			if !got.Equal(utc(c.want)) {
				t.Fatalf("NextReview = %s, want %s", got.Format(time.RFC3339), c.want)
			}
		})
	}
}

// TestLifecycle walks one user through upgrades, reviews, grace and
// downgrades: up at once by any number of tiers, down one per review.
func TestLifecycle(t *testing.T) {
	type step struct {
		op    string // up | review
		value int64
		at    string
		tier  string
		out   Outcome
	}
	cases := []struct {
		name  string
		p     Programme
		steps []step
	}{
		{"no grace: one tier per review", programme(t, Calendar, 1, 1, "UTC", 0), []step{
			{"up", 100, "2026-02-01T00:00:00Z", "bronze", Upgraded},
			{"up", 2500, "2026-03-01T00:00:00Z", "gold", Upgraded}, // two tiers at once
			{"review", 0, "2026-12-31T23:59:59Z", "gold", Unchanged},
			{"review", 0, "2027-01-01T00:00:00Z", "silver", Downgraded},
			{"review", 0, "2027-06-01T00:00:00Z", "silver", Unchanged}, // not due
			{"review", 0, "2028-01-01T00:00:00Z", "bronze", Downgraded},
			{"review", 0, "2029-01-01T00:00:00Z", "bronze", Rescheduled}, // bronze needs 0
		}},
		{"grace with notice, then down", programme(t, Anniversary, 0, 0, "UTC", 30), []step{
			{"up", 600, "2028-02-29T08:00:00Z", "silver", Upgraded},
			{"review", 100, "2029-02-28T00:00:00Z", "silver", Notice},
			{"review", 100, "2029-03-29T23:59:59Z", "silver", Unchanged},
			{"review", 100, "2029-03-30T00:00:00Z", "bronze", Downgraded},
		}},
		{"grace, requalified", programme(t, Calendar, 1, 1, "UTC", 10), []step{
			{"up", 600, "2026-02-01T00:00:00Z", "silver", Upgraded},
			{"review", 100, "2027-01-01T00:00:00Z", "silver", Notice},
			{"up", 700, "2027-01-05T00:00:00Z", "silver", Rescheduled},
			{"review", 700, "2027-01-11T00:00:00Z", "silver", Unchanged},
			{"review", 700, "2028-01-01T00:00:00Z", "silver", Rescheduled},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var st State
			for i, s := range c.steps {
				var out Outcome
				if s.op == "up" {
					st, out = c.p.Upgrade(st, s.value, utc(s.at))
				} else {
					st, out = c.p.Reviewed(st, s.value, utc(s.at))
				}
				if st.Tier != s.tier || out != s.out {
					t.Fatalf("step %d: tier %q outcome %d, want %q %d (state %+v)", i, st.Tier, out, s.tier, s.out, st)
				}
			}
		})
	}
}

// TestLocked: a locked tier is neither raised nor lowered.
func TestLocked(t *testing.T) {
	p := programme(t, Calendar, 1, 1, "UTC", 0)
	st := State{Tier: "gold", Locked: true, Manual: true, ReviewAt: utc("2027-01-01T00:00:00Z")}
	st, out := p.Reviewed(st, 0, utc("2027-01-01T00:00:00Z"))
	if st.Tier != "gold" || out != Rescheduled || !st.ReviewAt.Equal(utc("2028-01-01T00:00:00Z")) {
		t.Fatalf("locked review: %+v %d", st, out)
	}
	st.Tier = "bronze"
	if st, out = p.Upgrade(st, 5000, utc("2027-02-01T00:00:00Z")); st.Tier != "bronze" || out != Unchanged {
		t.Fatalf("locked upgrade: %+v %d", st, out)
	}
}

// TestNormalizeRefuses names the field at fault.
func TestNormalizeRefuses(t *testing.T) {
	ok := Programme{Basis: Lifetime, Tiers: []Tier{{Name: "a"}, {Name: "b", Threshold: 10}}, Review: Review{Mode: Calendar}}
	cases := []struct {
		name  string
		edit  func(p *Programme)
		field string
	}{
		{"basis", func(p *Programme) { p.Basis = "visits" }, "body.basis"},
		{"spend prop on points", func(p *Programme) { p.SpendProp = "amount" }, "body.spend_event"},
		{"no tiers", func(p *Programme) { p.Tiers = nil }, "body.tiers"},
		{"falling thresholds", func(p *Programme) { p.Tiers[1].Threshold = 0 }, "body.tiers[1].threshold"},
		{"twice named", func(p *Programme) { p.Tiers[1].Name = "a" }, "body.tiers[1].name"},
		{"zone", func(p *Programme) { p.Review.TimeZone = "Nowhere/City" }, "body.review.time_zone"},
		{"mode", func(p *Programme) { p.Review.Mode = "weekly" }, "body.review.mode"},
		{"anniversary with a date", func(p *Programme) { p.Review = Review{Mode: Anniversary, Month: 2} }, "body.review.month"},
		{"grace", func(p *Programme) { p.GraceDays = 400 }, "body.grace_days"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := ok
			p.Tiers = append([]Tier{}, ok.Tiers...)
			c.edit(&p)
			_, err := Normalize(p)
			if e, isErr := errs.As(err); !isErr || e.Field != c.field {
				t.Fatalf("got %v, want a 422 at %s", err, c.field)
			}
		})
	}
}
