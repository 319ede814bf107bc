package leaderboards

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"
)

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func board(w Window, tz string) Board {
	return Board{Window: w, TimeZone: tz, RetentionDays: 90}
}

func TestPeriodAt(t *testing.T) {
	tests := []struct {
		w          Window
		tz         string
		t          string
		name       string
		start, end string
	}{
		{Daily, "UTC", "2026-11-23T23:59:59.999Z", "2026-11-23", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"},
		{Daily, "UTC", "2026-11-24T00:00:00Z", "2026-11-24", "2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z"},
		{Daily, "UTC", "2026-11-24T01:00:00+02:00", "2026-11-23", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"},
		{Weekly, "UTC", "2026-11-23T10:00:00Z", "2026-W48", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"}, // a Monday
		{Weekly, "UTC", "2026-11-29T23:59:59Z", "2026-W48", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"}, // Sunday
		{Weekly, "UTC", "2027-01-01T12:00:00Z", "2026-W53", "2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z"}, // ISO year differs
		{Monthly, "UTC", "2026-12-31T23:00:00Z", "2026-12", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{Monthly, "UTC", "2028-02-29T00:00:00Z", "2028-02", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"},
		// Time zones: the day starts at local midnight.
		{Daily, "Asia/Kolkata", "2026-11-23T18:29:59Z", "2026-11-23", "2026-11-22T18:30:00Z", "2026-11-23T18:30:00Z"},
		{Daily, "Asia/Kolkata", "2026-11-23T18:30:00Z", "2026-11-24", "2026-11-23T18:30:00Z", "2026-11-24T18:30:00Z"},
		{Daily, "America/Los_Angeles", "2026-11-24T07:59:59Z", "2026-11-23", "2026-11-23T08:00:00Z", "2026-11-24T08:00:00Z"},
		// Chatham is at +13:45 in (southern) summer.
		{Monthly, "Pacific/Chatham", "2026-11-30T11:15:00Z", "2026-12", "2026-11-30T10:15:00Z", "2026-12-31T10:15:00Z"},
		// Daylight saving: Paris springs forward on 2026-03-29 (a 23-hour
		// day) and falls back on 2026-10-25 (25 hours); the repeated hour
		// belongs to that day.
		{Daily, "Europe/Paris", "2026-03-29T12:00:00Z", "2026-03-29", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"},
		{Daily, "Europe/Paris", "2026-10-25T00:30:00Z", "2026-10-25", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"},
		{Daily, "Europe/Paris", "2026-10-25T01:30:00Z", "2026-10-25", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"},
		{Weekly, "Europe/Paris", "2026-03-29T21:59:59Z", "2026-W13", "2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z"},
	}
	for _, tc := range tests {
		b := board(tc.w, tc.tz)
		p, ok := b.periodAt(at(t, tc.t))
		if !ok || p.Name != tc.name || !p.Start.Equal(at(t, tc.start)) || !p.End.Equal(at(t, tc.end)) {
			t.Errorf("%s %s periodAt(%s) = %s [%s, %s), want %s [%s, %s)", tc.w, tc.tz, tc.t, p.Name, p.Start, p.End, tc.name, tc.start, tc.end)
		}
		back, err := b.parsePeriod(p.Name)
		if err != nil || !back.Start.Equal(p.Start) || !back.End.Equal(p.End) || back.Name != p.Name {
			t.Errorf("%s %s parsePeriod(%s) = %v, %v; want %v", tc.w, tc.tz, p.Name, back, err, p)
		}
	}
}

func TestSinglePeriods(t *testing.T) {
	if p, ok := board(AllTime, "UTC").periodAt(at(t, "2026-01-01T00:00:00Z")); !ok || p.Name != "all" || !p.Start.IsZero() {
		t.Errorf("all-time period = %+v, %v", p, ok)
	}
	start, end := at(t, "2026-11-20T10:00:00Z"), at(t, "2026-11-27T10:00:00Z")
	c := Board{Window: Custom, TimeZone: "UTC", StartsAt: &start, EndsAt: &end}
	for _, tc := range []struct {
		t  string
		ok bool
	}{
		{"2026-11-20T09:59:59.999Z", false}, {"2026-11-20T10:00:00Z", true},
		{"2026-11-27T09:59:59.999Z", true}, {"2026-11-27T10:00:00Z", false},
	} {
		p, ok := c.periodAt(at(t, tc.t))
		if ok != tc.ok || p.Name != "custom" || !p.Start.Equal(start) || !p.End.Equal(end) {
			t.Errorf("custom periodAt(%s) = %+v, %v; want ok=%v", tc.t, p, ok, tc.ok)
		}
	}
}

func TestParsePeriodRejects(t *testing.T) {
	for _, tc := range []struct {
		w    Window
		name string
	}{
		{Daily, "2026-13-01"}, {Daily, "yesterday"}, {Weekly, "2026-W54"}, {Weekly, "2026-W00"},
		{Weekly, "2025-W53"}, // 2025 has 52 ISO weeks
		{Monthly, "2026-1"}, {AllTime, "2026"}, {Weekly, "2026-11-23"}, {Custom, "all"},
	} {
		b := board(tc.w, "UTC")
		if tc.w == Custom {
			start := at(t, "2026-11-20T10:00:00Z")
			end := start.Add(time.Hour)
			b.StartsAt, b.EndsAt = &start, &end
		}
		if _, err := b.parsePeriod(tc.name); err == nil {
			t.Errorf("parsePeriod(%s, %q) accepted", tc.w, tc.name)
		}
	}
}

// TestParsePeriodRange: names of periods outside what the engines hold
// (years past 2286, up to 9999 and beyond, or before 1970, in any zone) are
// errPeriodRange, so reads answer 422 instead of failing to marshal them.
func TestParsePeriodRange(t *testing.T) {
	for _, tc := range []struct {
		w    Window
		tz   string
		name string
	}{
		{Weekly, "UTC", "9999-W52"}, {Monthly, "UTC", "9999-12"}, {Daily, "America/Los_Angeles", "9999-12-31"},
		{Daily, "UTC", "2287-01-01"}, {Weekly, "UTC", "99999999-W01"}, {Weekly, "UTC", "-5-W01"},
		{Monthly, "UTC", "1969-12"}, {Daily, "Asia/Tokyo", "1970-01-01"}, {Daily, "UTC", "0000-01-01"},
	} {
		_, err := board(tc.w, tc.tz).parsePeriod(tc.name)
		if !errors.Is(err, errPeriodRange) {
			t.Errorf("parsePeriod(%s %s, %q) = %v, want errPeriodRange", tc.w, tc.tz, tc.name, err)
		}
	}
	for _, name := range []string{"1970-01-01", "2286-11-19"} {
		if _, err := board(Daily, "UTC").parsePeriod(name); err != nil {
			t.Errorf("parsePeriod(%q) = %v, want it accepted", name, err)
		}
	}
}

// FuzzParsePeriod: parsing any name never panics, and every accepted name
// round-trips (its period has that name, and parsing it again gives the
// same period) and marshals as a page does.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"2026-11-23", "2026-W48", "2026-11", "all", "custom", "9999-W52", "9999-12", "9999-12-31", "2026-W53", "+2026-W1", "0-W1"} {
		f.Add(s)
	}
	start, end := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	custom := Board{Window: Custom, TimeZone: "UTC", StartsAt: &start, EndsAt: &end}
	boards := []Board{custom, board(AllTime, "UTC")}
	for _, w := range []Window{Daily, Weekly, Monthly} {
		for _, tz := range []string{"UTC", "America/Los_Angeles", "Pacific/Kiritimati", "Europe/Paris"} {
			boards = append(boards, board(w, tz))
		}
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, b := range boards {
			p, err := b.parsePeriod(name)
			if err != nil {
				continue
			}
			if p.Name != name {
				t.Fatalf("%s %s: parsePeriod(%q) named %q", b.Window, b.TimeZone, name, p.Name)
			}
			if again, err := b.parsePeriod(p.Name); err != nil || again != p {
				t.Fatalf("%s %s: %q parsed again = %+v, %v; want %+v", b.Window, b.TimeZone, name, again, err, p)
			}
			if got, ok := b.periodAt(p.Start); !p.Start.IsZero() && (!ok || got != p) {
				t.Fatalf("%s %s: period at the start of %q is %+v", b.Window, b.TimeZone, name, got)
			}
			pg := Page{Period: p.Name, Start: &p.Start, ResetsAt: &p.End}
			if _, err := json.Marshal(pg); err != nil {
				t.Fatalf("%s %s: %q does not marshal: %v", b.Window, b.TimeZone, name, err)
			}
		}
	})
}

func TestRetention(t *testing.T) {
	b := board(Daily, "UTC")
	b.RetentionDays = 2
	p, _ := b.parsePeriod("2026-11-20")
	for _, tc := range []struct {
		now     string
		expired bool
	}{
		{"2026-11-22T23:59:59.999Z", false}, {"2026-11-23T00:00:00Z", true},
	} {
		if got := b.expired(p, at(t, tc.now)); got != tc.expired {
			t.Errorf("expired at %s = %v, want %v", tc.now, got, tc.expired)
		}
	}
	b.RetentionDays = 0
	if b.expired(p, at(t, "2100-01-01T00:00:00Z")) {
		t.Error("retention 0 must keep periods forever")
	}
	all := board(AllTime, "UTC")
	if all.expired(Period{Name: "all"}, at(t, "2100-01-01T00:00:00Z")) {
		t.Error("the all-time period never expires")
	}
}

func TestKeptAndWritablePeriods(t *testing.T) {
	now := at(t, "2026-11-23T12:00:00Z")
	b := board(Weekly, "UTC")
	b.RetentionDays = 14
	b.CreatedAt = at(t, "2026-01-01T00:00:00Z")
	var names []string
	for _, p := range b.keptPeriods(now) {
		names = append(names, p.Name)
	}
	// W48 is current; W47 ended 2026-11-23 00:00, W46 on 11-16 (kept until
	// 11-30), W45 on 11-09 (expired 11-23 00:00).
	if got, want := names, []string{"2026-W48", "2026-W47", "2026-W46"}; !slices.Equal(got, want) {
		t.Errorf("kept = %v, want %v", got, want)
	}
	names = nil
	for _, p := range b.writablePeriods(now) {
		names = append(names, p.Name)
	}
	// 31 days back from Monday 2026-11-23 is 2026-10-23 (W43).
	if got, want := names, []string{"2026-W43", "2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48"}; !slices.Equal(got, want) {
		t.Errorf("writable = %v, want %v", got, want)
	}
}
