package rule

import (
	"math/rand/v2"
	"testing"
	"time"
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func ptr(t time.Time) *time.Time { return &t }

func TestPeriodAt(t *testing.T) {
	tests := []struct {
		name       string
		w          Window
		at         string
		key        string
		start, end string // RFC 3339, "" for zero
	}{
		// Daily boundaries in UTC.
		{"daily before midnight", Window{Recurrence: Daily}, "2026-11-22T23:59:59.999Z", "2026-11-22", "2026-11-22T00:00:00Z", "2026-11-23T00:00:00Z"},
		{"daily at midnight", Window{Recurrence: Daily}, "2026-11-23T00:00:00Z", "2026-11-23", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"},
		{"daily after midnight", Window{Recurrence: Daily}, "2026-11-23T00:00:00.001Z", "2026-11-23", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"},
		{"unknown zone (not validated) reads as UTC", Window{Recurrence: Daily, TimeZone: "Nowhere/Town"}, "2026-11-23T00:00:00Z", "2026-11-23", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"},
		{"explicit UTC", Window{Recurrence: Daily, TimeZone: "UTC"}, "2026-11-23T12:00:00Z", "2026-11-23", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"},

		// Time zones: the local date decides.
		{"Kolkata before local midnight", Window{Recurrence: Daily, TimeZone: "Asia/Kolkata"}, "2026-11-22T18:29:59Z", "2026-11-22", "2026-11-21T18:30:00Z", "2026-11-22T18:30:00Z"},
		{"Kolkata at local midnight", Window{Recurrence: Daily, TimeZone: "Asia/Kolkata"}, "2026-11-22T18:30:00Z", "2026-11-23", "2026-11-22T18:30:00Z", "2026-11-23T18:30:00Z"},
		{"Chatham summer +13:45", Window{Recurrence: Daily, TimeZone: "Pacific/Chatham"}, "2026-11-22T10:15:00Z", "2026-11-23", "2026-11-22T10:15:00Z", "2026-11-23T10:15:00Z"},
		{"Chatham winter +12:45", Window{Recurrence: Daily, TimeZone: "Pacific/Chatham"}, "2026-06-30T11:14:59Z", "2026-06-30", "2026-06-29T11:15:00Z", "2026-06-30T11:15:00Z"},
		{"Los Angeles evening is the same local day", Window{Recurrence: Daily, TimeZone: "America/Los_Angeles"}, "2026-11-24T07:59:59Z", "2026-11-23", "2026-11-23T08:00:00Z", "2026-11-24T08:00:00Z"},
		{"Los Angeles weekly", Window{Recurrence: Weekly, TimeZone: "America/Los_Angeles"}, "2026-11-30T07:59:59Z", "2026-W48", "2026-11-23T08:00:00Z", "2026-11-30T08:00:00Z"},

		// DST: Europe/Paris springs forward on 2026-03-29 and falls back on 2026-10-25.
		{"Paris 23h day", Window{Recurrence: Daily, TimeZone: "Europe/Paris"}, "2026-03-29T12:00:00Z", "2026-03-29", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"},
		{"Paris 25h day", Window{Recurrence: Daily, TimeZone: "Europe/Paris"}, "2026-10-25T12:00:00Z", "2026-10-25", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"},
		{"Paris repeated hour, first 02:30", Window{Recurrence: Daily, TimeZone: "Europe/Paris"}, "2026-10-25T00:30:00Z", "2026-10-25", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"},
		{"Paris repeated hour, second 02:30", Window{Recurrence: Daily, TimeZone: "Europe/Paris"}, "2026-10-25T01:30:00Z", "2026-10-25", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"},
		{"Paris week with the short day", Window{Recurrence: Weekly, TimeZone: "Europe/Paris"}, "2026-03-29T21:59:59Z", "2026-W13", "2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z"},
		{"Paris month with the long day", Window{Recurrence: Monthly, TimeZone: "Europe/Paris"}, "2026-10-31T22:59:59Z", "2026-10", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z"},
		// DST at midnight: Santiago jumps from 24:00 to 01:00, Havana and Amman fall back from 01:00 to 00:00.
		{"Santiago day after a missing midnight", Window{Recurrence: Daily, TimeZone: "America/Santiago"}, "2026-09-06T12:00:00Z", "2026-09-06", "2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z"},
		{"Santiago day before a missing midnight", Window{Recurrence: Daily, TimeZone: "America/Santiago"}, "2026-09-06T03:59:59Z", "2026-09-05", "2026-09-05T04:00:00Z", "2026-09-06T04:00:00Z"},
		{"Amman day with a repeated midnight", Window{Recurrence: Daily, TimeZone: "Asia/Amman"}, "2008-10-30T21:30:00Z", "2008-10-31", "2008-10-30T21:00:00Z", "2008-10-31T22:00:00Z"},
		{"Havana day with a repeated midnight", Window{Recurrence: Daily, TimeZone: "America/Havana"}, "2026-11-01T04:30:00Z", "2026-11-01", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"},

		// Weekly: ISO weeks, with 2026 having 53.
		{"week 48 Monday midnight", Window{Recurrence: Weekly}, "2026-11-23T00:00:00Z", "2026-W48", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"},
		{"week 47 Sunday night", Window{Recurrence: Weekly}, "2026-11-22T23:59:59Z", "2026-W47", "2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z"},
		{"2026-12-31 is in week 53", Window{Recurrence: Weekly}, "2026-12-31T12:00:00Z", "2026-W53", "2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z"},
		{"2027-01-01 is in 2026's week 53", Window{Recurrence: Weekly}, "2027-01-01T12:00:00Z", "2026-W53", "2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z"},
		{"2027-01-04 starts 2027-W01", Window{Recurrence: Weekly}, "2027-01-04T00:00:00Z", "2027-W01", "2027-01-04T00:00:00Z", "2027-01-11T00:00:00Z"},
		{"2025-12-29 is in 2026-W01", Window{Recurrence: Weekly}, "2025-12-29T00:00:00Z", "2026-W01", "2025-12-29T00:00:00Z", "2026-01-05T00:00:00Z"},

		// Monthly.
		{"Jan 31", Window{Recurrence: Monthly}, "2028-01-31T23:59:59Z", "2028-01", "2028-01-01T00:00:00Z", "2028-02-01T00:00:00Z"},
		{"Feb 29 2028", Window{Recurrence: Monthly}, "2028-02-29T12:00:00Z", "2028-02", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"},
		{"Dec to Jan", Window{Recurrence: Monthly}, "2026-12-31T23:59:59Z", "2026-12", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"Kolkata month starts the evening before in UTC", Window{Recurrence: Monthly, TimeZone: "Asia/Kolkata"}, "2026-11-30T18:30:00Z", "2026-12", "2026-11-30T18:30:00Z", "2026-12-31T18:30:00Z"},

		// StartsAt and EndsAt clip periods.
		{"first day clipped to start", Window{Recurrence: Daily, StartsAt: ptr(mustTime(t, "2026-11-23T10:00:00Z"))}, "2026-11-23T10:00:00Z", "2026-11-23", "2026-11-23T10:00:00Z", "2026-11-24T00:00:00Z"},
		{"last day clipped to end", Window{Recurrence: Daily, EndsAt: ptr(mustTime(t, "2026-11-30T18:00:00Z"))}, "2026-11-30T17:59:59Z", "2026-11-30", "2026-11-30T00:00:00Z", "2026-11-30T18:00:00Z"},
		{"one-off window", Window{StartsAt: ptr(mustTime(t, "2026-11-01T00:00:00Z")), EndsAt: ptr(mustTime(t, "2026-12-01T00:00:00Z"))}, "2026-11-15T00:00:00Z", "", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"},
		{"open window", Window{}, "2026-11-15T00:00:00Z", "", "", ""},
		{"open-ended window", Window{StartsAt: ptr(mustTime(t, "2026-11-01T00:00:00Z"))}, "2030-01-01T00:00:00Z", "", "2026-11-01T00:00:00Z", ""},
		{"rolling: the outer window", Window{Rolling: "7d", EndsAt: ptr(mustTime(t, "2026-12-01T00:00:00Z"))}, "2026-11-15T00:00:00Z", "", "", "2026-12-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := tt.w.PeriodAt(mustTime(t, tt.at))
			if !ok {
				t.Fatal("not in the window")
			}
			want := Period{Key: tt.key}
			if tt.start != "" {
				want.Start = mustTime(t, tt.start)
			}
			if tt.end != "" {
				want.End = mustTime(t, tt.end)
			}
			if p.Key != want.Key || !p.Start.Equal(want.Start) || !p.End.Equal(want.End) {
				t.Errorf("PeriodAt(%s) = %s [%s, %s), want %s [%s, %s)", tt.at, p.Key, p.Start, p.End, want.Key, want.Start, want.End)
			}
		})
	}
}

func TestPeriodAtOutsideWindow(t *testing.T) {
	w := Window{
		Recurrence: Daily,
		StartsAt:   ptr(mustTime(t, "2026-11-01T00:00:00Z")),
		EndsAt:     ptr(mustTime(t, "2026-12-01T00:00:00Z")),
	}
	for _, tt := range []struct {
		at string
		in bool
	}{
		{"2026-10-31T23:59:59.999Z", false},
		{"2026-11-01T00:00:00Z", true},
		{"2026-11-30T23:59:59.999Z", true},
		{"2026-12-01T00:00:00Z", false},
	} {
		if _, ok := w.PeriodAt(mustTime(t, tt.at)); ok != tt.in {
			t.Errorf("PeriodAt(%s) in window = %v, want %v", tt.at, ok, tt.in)
		}
	}
}

// TestPeriodsTileAroundTransitions checks, around every UTC-offset change
// of zones whose DST changes at or near midnight, that each period holds
// the instant asked about, begins at the first instant of its local date
// and ends where the next period begins.
func TestPeriodsTileAroundTransitions(t *testing.T) {
	zones := []string{
		"Europe/Paris", "America/Los_Angeles", "America/Santiago", "America/Havana",
		"Asia/Beirut", "America/Asuncion", "America/Sao_Paulo", "Asia/Tehran",
		"Africa/Cairo", "Pacific/Apia", "Australia/Lord_Howe", "Pacific/Chatham",
		"Asia/Kolkata", "Antarctica/Troll", "America/Godthab", "Asia/Amman",
		"Asia/Damascus", "Asia/Gaza", "Asia/Dhaka", "Africa/Casablanca",
	}
	from, to := mustTime(t, "2008-01-01T00:00:00Z"), mustTime(t, "2030-01-01T00:00:00Z")
	for _, zone := range zones {
		loc, err := LoadZone(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range []Recurrence{Daily, Weekly, Monthly} {
			w := Window{Recurrence: rec, TimeZone: zone}
			for tr := from; tr.Before(to); {
				_, end := tr.In(loc).ZoneBounds()
				if end.IsZero() {
					break
				}
				for at := end.Add(-26 * time.Hour); at.Before(end.Add(26 * time.Hour)); at = at.Add(15 * time.Minute) {
					checkPeriod(t, w, loc, at)
				}
				tr = end
			}
		}
	}
}

func checkPeriod(t *testing.T, w Window, loc *time.Location, at time.Time) {
	t.Helper()
	p, _ := w.PeriodAt(at)
	if at.Before(p.Start) || !at.Before(p.End) {
		t.Fatalf("%s %s: PeriodAt(%s) = [%s, %s) does not hold it", w.TimeZone, w.Recurrence, at.In(loc), p.Start.In(loc), p.End.In(loc))
	}
	if want := calendar(w.Recurrence, at.In(loc)).Key; p.Key != want {
		t.Fatalf("%s: key %s, want %s", at.In(loc), p.Key, want)
	}
	if before, _ := w.PeriodAt(p.Start.Add(-time.Nanosecond)); before.Key == p.Key || !before.End.Equal(p.Start) {
		t.Fatalf("%s %s: period %s [%s, %s) does not follow %s [%s, %s)", w.TimeZone, w.Recurrence,
			p.Key, p.Start.In(loc), p.End.In(loc), before.Key, before.Start.In(loc), before.End.In(loc))
	}
}

func TestResetsAt(t *testing.T) {
	start, end := mustTime(t, "2026-11-01T10:00:00Z"), mustTime(t, "2026-12-01T00:00:00Z")
	tests := []struct {
		name string
		w    Window
		now  string
		want string // "" for nil
	}{
		{"daily", Window{Recurrence: Daily}, "2026-11-23T15:00:00Z", "2026-11-24T00:00:00Z"},
		{"daily in Paris", Window{Recurrence: Daily, TimeZone: "Europe/Paris"}, "2026-11-23T15:00:00Z", "2026-11-23T23:00:00Z"},
		{"weekly", Window{Recurrence: Weekly}, "2026-11-23T15:00:00Z", "2026-11-30T00:00:00Z"},
		{"monthly", Window{Recurrence: Monthly}, "2026-11-23T15:00:00Z", "2026-12-01T00:00:00Z"},
		{"last day ends with the window", Window{Recurrence: Daily, EndsAt: ptr(mustTime(t, "2026-11-23T18:00:00Z"))}, "2026-11-23T15:00:00Z", "2026-11-23T18:00:00Z"},
		{"before the start: end of the first period", Window{Recurrence: Daily, StartsAt: &start}, "2026-10-01T00:00:00Z", "2026-11-02T00:00:00Z"},
		{"one-off: the end", Window{StartsAt: &start, EndsAt: &end}, "2026-11-23T15:00:00Z", "2026-12-01T00:00:00Z"},
		{"one-off without end", Window{StartsAt: &start}, "2026-11-23T15:00:00Z", ""},
		{"over", Window{Recurrence: Daily, EndsAt: &end}, "2026-12-01T00:00:00Z", ""},
		{"rolling", Window{Rolling: "7d", EndsAt: &end}, "2026-11-23T15:00:00Z", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.w.ResetsAt(mustTime(t, tt.now))
			switch {
			case tt.want == "" && got != nil:
				t.Errorf("ResetsAt = %s, want nil", got)
			case tt.want != "" && (got == nil || !got.Equal(mustTime(t, tt.want))):
				t.Errorf("ResetsAt = %v, want %s", got, tt.want)
			}
		})
	}
}

func TestRollingFrom(t *testing.T) {
	now := mustTime(t, "2026-11-23T12:00:00Z")
	tests := []struct {
		rolling string
		want    string
	}{
		{"7d", "2026-11-16T12:00:00Z"},
		{"24h", "2026-11-22T12:00:00Z"},
		{"30m", "2026-11-23T11:30:00Z"},
		{"1h30m", "2026-11-23T10:30:00Z"},
		{"366d", "2025-11-22T12:00:00Z"},
		{"", "0001-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		if got := (Window{Rolling: tt.rolling}).RollingFrom(now); !got.Equal(mustTime(t, tt.want)) {
			t.Errorf("RollingFrom(%q) = %s, want %s", tt.rolling, got, tt.want)
		}
	}
}

func TestCounts(t *testing.T) {
	daily := Window{Recurrence: Daily, EndsAt: ptr(mustTime(t, "2026-12-01T00:00:00Z"))}
	tests := []struct {
		name               string
		w                  Window
		occurred, received string
		key                string // "-" when it does not count
	}{
		{"on time", daily, "2026-11-23T10:00:00Z", "2026-11-23T10:00:01Z", "2026-11-23"},
		{"late, in the grace", daily, "2026-11-23T23:59:59Z", "2026-11-24T23:59:58Z", "2026-11-23"},
		{"late, at the end of the grace", daily, "2026-11-23T23:59:59Z", "2026-11-25T00:00:00Z", "-"},
		{"late, beyond the grace", daily, "2026-11-23T10:00:00Z", "2026-11-26T00:00:00Z", "-"},
		{"ahead within the skew", daily, "2026-11-24T00:04:59Z", "2026-11-23T23:59:59Z", "2026-11-24"},
		{"ahead exactly the skew", daily, "2026-11-24T00:05:00Z", "2026-11-24T00:00:00Z", "2026-11-24"},
		{"ahead beyond the skew", daily, "2026-11-24T00:05:00.001Z", "2026-11-24T00:00:00Z", "-"},
		{"after the window", daily, "2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z", "-"},
		{"last period, late in the grace", daily, "2026-11-30T23:00:00Z", "2026-12-01T20:00:00Z", "2026-11-30"},
		{"one-off, late in the grace", Window{EndsAt: ptr(mustTime(t, "2026-12-01T00:00:00Z"))}, "2026-11-30T23:00:00Z", "2026-12-01T23:00:00Z", ""},
		{"one-off, beyond the grace", Window{EndsAt: ptr(mustTime(t, "2026-12-01T00:00:00Z"))}, "2026-11-30T23:00:00Z", "2026-12-02T00:00:00Z", "-"},
		{"open window, a month late", Window{}, "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := tt.w.Counts(mustTime(t, tt.occurred), mustTime(t, tt.received))
			if got := map[bool]string{true: p.Key, false: "-"}[ok]; got != tt.key {
				t.Errorf("Counts = %q, want %q", got, tt.key)
			}
		})
	}
}

// TestCountsOutOfOrder delivers the same events in every order: each
// lands in the same period, so per-period progress is the same.
func TestCountsOutOfOrder(t *testing.T) {
	w := Window{Recurrence: Daily, TimeZone: "Europe/Paris"}
	type delivery struct{ occurred, received time.Time }
	base := mustTime(t, "2026-10-24T20:00:00Z")
	var ds []delivery
	for i := range 40 {
		occ := base.Add(time.Duration(i) * 47 * time.Minute)
		ds = append(ds, delivery{occ, occ.Add(time.Duration(i%5) * 3 * time.Hour)})
	}
	fold := func(ds []delivery) map[string]int {
		n := map[string]int{}
		for _, d := range ds {
			if p, ok := w.Counts(d.occurred, d.received); ok {
				n[p.Key]++
			}
		}
		return n
	}
	want := fold(ds)
	if len(want) < 2 {
		t.Fatalf("events span %d periods; want several", len(want))
	}
	for range 20 {
		shuffled := append([]delivery(nil), ds...)
		rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := fold(shuffled); !equalMaps(got, want) {
			t.Fatalf("out of order: %v, in order: %v", got, want)
		}
	}
}

func equalMaps[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
