package points

import (
	"testing"
	"time"
)

func TestSplitWindow(t *testing.T) {
	d := time.Date(2027, 5, 10, 0, 0, 0, 0, time.UTC)
	day, ms := 24*time.Hour, time.Millisecond
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     Window
	}{
		{"whole days", d, d.Add(2 * day), Window{From: d, First: d, FirstMonth: d.Add(2 * day), LastMonth: d.Add(2 * day), Last: d.Add(2 * day), To: d.Add(2 * day), Days: true}},
		{"partial ends", d.Add(-ms), d.Add(day + ms), Window{From: d.Add(-ms), First: d, FirstMonth: d.Add(day), LastMonth: d.Add(day), Last: d.Add(day), To: d.Add(day + ms), Days: true}},
		{"sub-millisecond bounds count as their millisecond", d.Add(-ms + 1), d.Add(day + ms + 999),
			Window{From: d.Add(-ms), First: d, FirstMonth: d.Add(day), LastMonth: d.Add(day), Last: d.Add(day), To: d.Add(day + ms), Days: true}},
		{"across one midnight, no whole day", d.Add(-time.Hour), d.Add(time.Hour), Window{From: d.Add(-time.Hour), First: d.Add(time.Hour), FirstMonth: d.Add(time.Hour), LastMonth: d.Add(time.Hour), Last: d.Add(time.Hour), To: d.Add(time.Hour)}},
		{"one day short of a millisecond", d, d.Add(day - ms), Window{From: d, First: d.Add(day - ms), FirstMonth: d.Add(day - ms), LastMonth: d.Add(day - ms), Last: d.Add(day - ms), To: d.Add(day - ms)}},
		{"in another zone, UTC days", d.In(time.FixedZone("X", 5*3600)), d.Add(day).In(time.FixedZone("X", 5*3600)), Window{From: d, First: d, FirstMonth: d.Add(day), LastMonth: d.Add(day), Last: d.Add(day), To: d.Add(day), Days: true}},
		{"a year: whole months between partial months", d.Add(-ms), d.AddDate(1, 0, 0).Add(time.Hour), Window{From: d.Add(-ms), First: d,
			FirstMonth: time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), LastMonth: time.Date(2028, 5, 1, 0, 0, 0, 0, time.UTC),
			Last: d.AddDate(1, 0, 0), To: d.AddDate(1, 0, 0).Add(time.Hour), Days: true}},
		{"from a month's start", time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 8, 3, 0, 0, 0, 0, time.UTC), Window{
			From: time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), First: time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC),
			FirstMonth: time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), LastMonth: time.Date(2027, 8, 1, 0, 0, 0, 0, time.UTC),
			Last: time.Date(2027, 8, 3, 0, 0, 0, 0, time.UTC), To: time.Date(2027, 8, 3, 0, 0, 0, 0, time.UTC), Days: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SplitWindow(tc.from, tc.to)
			if !got.From.Equal(tc.want.From) || !got.First.Equal(tc.want.First) || !got.FirstMonth.Equal(tc.want.FirstMonth) ||
				!got.LastMonth.Equal(tc.want.LastMonth) || !got.Last.Equal(tc.want.Last) || !got.To.Equal(tc.want.To) || got.Days != tc.want.Days {
				t.Fatalf("SplitWindow(%s, %s) = %+v, want %+v", tc.from, tc.to, got, tc.want)
			}
		})
	}
}
