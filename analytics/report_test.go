package analytics

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/questline/questline/internal/errs"
)

// fakeStore answers reads from fixed rows; the real stores are checked by
// the conformance suite.
type fakeStore struct {
	Store
	points []Point
	acts   []UserActivity
}

func (f *fakeStore) MetricPoints(_ context.Context, _ string, _ []string, from, to time.Time) ([]Point, error) {
	var out []Point
	for _, p := range f.points {
		if !p.At.Before(from) && p.At.Before(to) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (f *fakeStore) UserActivity(context.Context, string, string, string) ([]UserActivity, error) {
	return f.acts, nil
}

func TestSeriesLocalDays(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	for _, tc := range []struct {
		name     string
		r        Range
		points   []Point
		want     []int64 // events per local day
		wantDays int
	}{
		{"kathmandu +05:45: 18:15 UTC is the next local day", Range{From: "2026-03-01", To: "2026-03-02", Zone: "Asia/Kathmandu"},
			[]Point{{MetricEvents, at("2026-03-01T18:00:00Z"), 1}, {MetricEvents, at("2026-03-01T18:15:00Z"), 2}}, []int64{1, 2}, 2},
		{"paris spring-forward day has 23 hours", Range{From: "2026-03-29", To: "2026-03-29", Zone: "Europe/Paris"},
			[]Point{{MetricEvents, at("2026-03-28T22:45:00Z"), 4}, {MetricEvents, at("2026-03-28T23:00:00Z"), 1}, {MetricEvents, at("2026-03-29T21:45:00Z"), 2}, {MetricEvents, at("2026-03-29T22:00:00Z"), 8}},
			[]int64{3}, 1},
		{"utc default", Range{From: "2026-03-01", To: "2026-03-01"}, []Point{{MetricEvents, at("2026-03-01T23:45:00Z"), 5}}, []int64{5}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewService(Config{Store: &fakeStore{points: tc.points}})
			days, err := s.Series(context.Background(), "t", tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if len(days) != tc.wantDays {
				t.Fatalf("%d days", len(days))
			}
			for i, d := range days {
				if d.Events != tc.want[i] {
					t.Errorf("%s: %d events, want %d", d.Date, d.Events, tc.want[i])
				}
			}
		})
	}
}

func TestFraud(t *testing.T) {
	acts := []UserActivity{}
	for i := range 50 {
		acts = append(acts, UserActivity{User: "u" + strconv.Itoa(i), Events: int64(10 + i%3), Points: 50})
	}
	acts = append(acts, UserActivity{User: "bot", Events: 500, Points: 50}, UserActivity{User: "farmer", Events: 11, Points: 5000})
	s := NewService(Config{Store: &fakeStore{acts: acts}})
	rep, err := s.Fraud(context.Background(), "t", 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Suspects) != 2 || rep.Suspects[0].Signals[0] == rep.Suspects[1].Signals[0] {
		t.Fatalf("suspects %+v", rep.Suspects)
	}
	few := NewService(Config{Store: &fakeStore{acts: acts[:FraudMinUsers-1]}})
	if rep, _ := few.Fraud(context.Background(), "t", 7); len(rep.Suspects) != 0 {
		t.Fatalf("a tenant under %d users judged: %+v", FraudMinUsers, rep.Suspects)
	}
}

// FuzzRange: any query answers days or a 422 naming from, to or tz.
func FuzzRange(f *testing.F) {
	f.Add("2026-01-01", "2026-01-31", "Europe/Paris")
	f.Add("2026-01-31", "2026-01-01", "")
	f.Add("x", "2026-01-01", "Local")
	f.Add("2026-01-01", "2099-01-01", "../../etc/passwd")
	f.Fuzz(func(t *testing.T, from, to, zone string) {
		days, err := Range{From: from, To: to, Zone: zone}.days()
		if err == nil {
			if len(days) < 2 || len(days) > MaxSeriesDays+1 {
				t.Fatalf("%d bounds", len(days))
			}
			return
		}
		var e *errs.Error
		if !errors.As(err, &e) || e.Kind != errs.Unprocessable || (e.Field != "from" && e.Field != "to" && e.Field != "tz") {
			t.Fatalf("%v", err)
		}
	})
}
