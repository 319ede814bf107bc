package storagetest

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/analytics"
	"github.com/questline/questline/events"
)

// RunAnalytics runs the analytics rollup conformance cases.
func RunAnalytics(t *testing.T, open func(t *testing.T) analytics.Store) {
	t.Run("RecordFactOnce", func(t *testing.T) { testRecordFactOnce(t, open(t)) })
	t.Run("MetricRanges", func(t *testing.T) { testMetricRanges(t, open(t)) })
	t.Run("UserActivityAndErase", func(t *testing.T) { testUserActivityAndErase(t, open(t)) })
	t.Run("AnalyticsSettings", func(t *testing.T) { testAnalyticsSettings(t, open(t)) })
}

func fact(tn, key string, at time.Time, user string) analytics.Fact {
	return analytics.Fact{Tenant: tn, Key: key, At: at, Counts: map[string]int64{"events": 1, "x": 5},
		Firsts: []analytics.First{{Key: analytics.UserMarkPrefix(user) + "first", Metric: "participants", At: at}},
		User:   user, Events: 1, Points: 2}
}

func testRecordFactOnce(t *testing.T, s analytics.Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	at := base.Add(7 * time.Minute)
	// Ten concurrent copies of one fact count once.
	var wg sync.WaitGroup
	fresh := make([]bool, 10)
	for i := range fresh {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.RecordFact(c, fact(a, "ev:1", at, "u1"))
			must(t, err)
			fresh[i] = ok
		}()
	}
	wg.Wait()
	n := 0
	for _, f := range fresh {
		if f {
			n++
		}
	}
	eq(t, "fresh copies", n, 1)
	// A second event of the same user is not a second participant.
	ok, err := s.RecordFact(c, fact(a, "ev:2", at, "u1"))
	must(t, err)
	eq(t, "second fact fresh", ok, true)
	_, err = s.RecordFact(c, fact(b, "ev:1", at, "u1")) // another tenant's key space
	must(t, err)
	tot, err := s.MetricTotals(c, a, []string{"events", "x", "participants", "none"}, base, base.Add(time.Hour))
	must(t, err)
	eq(t, "totals", tot, map[string]int64{"events": 2, "x": 10, "participants": 1})
	pts, err := s.MetricPoints(c, a, []string{"events"}, base, base.Add(time.Hour))
	must(t, err)
	eq(t, "points", pts, []analytics.Point{{Metric: "events", At: at.Truncate(analytics.Bucket).UTC(), Value: 2}})
}

func testMetricRanges(t *testing.T, s analytics.Store) {
	c := ctx(t)
	a := tenant(t, "a")
	start := base.Truncate(analytics.Bucket)
	for i := range 8 {
		_, err := s.RecordFact(c, analytics.Fact{Tenant: a, Key: id(), At: start.Add(time.Duration(i) * analytics.Bucket), Counts: map[string]int64{"m": int64(i + 1)}})
		must(t, err)
	}
	// [from, to) by bucket: buckets 2..5 hold 3+4+5+6.
	tot, err := s.MetricTotals(c, a, []string{"m"}, start.Add(2*analytics.Bucket), start.Add(6*analytics.Bucket))
	must(t, err)
	eq(t, "range total", tot["m"], int64(18))
	pts, err := s.MetricPoints(c, a, []string{"m"}, start.Add(6*analytics.Bucket), start.Add(time.Hour*24))
	must(t, err)
	eq(t, "tail points", len(pts), 2)
	eq(t, "tail first", pts[0].Value, int64(7))
}

func testUserActivityAndErase(t *testing.T, s analytics.Store) {
	c := ctx(t)
	a := tenant(t, "a")
	day := base.UTC().Truncate(24 * time.Hour)
	for i, u := range []string{"u1", "u1", "u2", "u1"} {
		_, err := s.RecordFact(c, fact(a, id(), day.Add(time.Duration(i)*24*time.Hour/2), u))
		must(t, err)
	}
	acts, err := s.UserActivity(c, a, day.Format(time.DateOnly), day.AddDate(0, 0, 3).Format(time.DateOnly))
	must(t, err)
	eq(t, "activity", acts, []analytics.UserActivity{{User: "u1", Events: 3, Points: 6}, {User: "u2", Events: 1, Points: 2}})
	acts, err = s.UserActivity(c, a, day.AddDate(0, 0, 1).Format(time.DateOnly), day.AddDate(0, 0, 3).Format(time.DateOnly))
	must(t, err)
	eq(t, "second day", acts, []analytics.UserActivity{{User: "u1", Events: 1, Points: 2}, {User: "u2", Events: 1, Points: 2}})
	days, err := s.AnalyticsUserDays(c, a, "u1")
	must(t, err)
	eq(t, "u1 days", days, []analytics.UserDay{{Day: day.Format(time.DateOnly), Events: 2, Points: 4}, {Day: day.AddDate(0, 0, 1).Format(time.DateOnly), Events: 1, Points: 2}})
	must(t, s.EraseAnalyticsUser(c, a, "u1"))
	days, err = s.AnalyticsUserDays(c, a, "u1")
	must(t, err)
	eq(t, "u1 days after erase", days, []analytics.UserDay{})
	acts, err = s.UserActivity(c, a, day.Format(time.DateOnly), day.AddDate(0, 0, 3).Format(time.DateOnly))
	must(t, err)
	eq(t, "after erase", acts, []analytics.UserActivity{{User: "u2", Events: 1, Points: 2}})
	// The erased user's markers are gone ("u1 " prefix only: u10 stays).
	ok, err := s.RecordFact(c, fact(a, id(), day, "u1"))
	must(t, err)
	eq(t, "fresh after erase", ok, true)
	tot, err := s.MetricTotals(c, a, []string{"participants"}, day, day.AddDate(0, 0, 3))
	must(t, err)
	eq(t, "participants counted again", tot["participants"], int64(3))
}

func testAnalyticsSettings(t *testing.T, s analytics.Store) {
	c := ctx(t)
	a := tenant(t, "a")
	got, err := s.AnalyticsSettings(c, a)
	must(t, err)
	eq(t, "unset", got, analytics.Settings{})
	must(t, s.SetAnalyticsSettings(c, a, analytics.Settings{Currency: "EUR", PointValue: 0.01}))
	must(t, s.SetAnalyticsSettings(c, a, analytics.Settings{Currency: "USD", PointValue: 0.02}))
	got, err = s.AnalyticsSettings(c, a)
	must(t, err)
	eq(t, "set", got, analytics.Settings{Currency: "USD", PointValue: 0.02})
}

// ScanStore is a store whose events a backtest scans.
type ScanStore interface {
	analytics.EventScanner
	InsertEvent(ctx context.Context, e events.Event) (events.Event, bool, error)
}

// RunEventScan checks the keyset scan of a tenant's events.
func RunEventScan(t *testing.T, open func(t *testing.T) ScanStore) {
	s := open(t)
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	var want []string
	for i := range 7 {
		e := event(a, "k"+strconv.Itoa(i), base.Add(time.Duration(i)*time.Second))
		_, _, err := s.InsertEvent(c, e)
		must(t, err)
		want = append(want, e.ID)
		_, _, err = s.InsertEvent(c, event(b, "k"+strconv.Itoa(i), base))
		must(t, err)
	}
	var got []string
	for after := ""; ; {
		page, err := s.ScanEvents(c, a, after, 3)
		must(t, err)
		for _, e := range page {
			got = append(got, e.ID)
		}
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1].ID
	}
	eq(t, "scanned ids", got, want)
	page, err := s.ScanEvents(c, a, want[5], 10)
	must(t, err)
	eq(t, "after the sixth", len(page), 1)
	eq(t, "its user", page[0].User, "u1")
}
