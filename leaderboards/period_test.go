package leaderboards

import (
	"testing"
	"time"
)

func TestPeriodAt(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		w          Window
		t          string
		name       string
		start, end string
	}{
		{Daily, "2026-11-23T23:59:59Z", "2026-11-23", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"},
		{Daily, "2026-11-24T00:00:00Z", "2026-11-24", "2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z"},
		{Daily, "2026-11-24T01:00:00+02:00", "2026-11-23", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"},
		{Weekly, "2026-11-23T10:00:00Z", "2026-W48", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"}, // a Monday
		{Weekly, "2026-11-29T23:59:59Z", "2026-W48", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"}, // Sunday
		{Weekly, "2027-01-01T12:00:00Z", "2026-W53", "2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z"}, // ISO year differs
		{Monthly, "2026-12-31T23:00:00Z", "2026-12", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{Monthly, "2028-02-29T00:00:00Z", "2028-02", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"},
	}
	for _, tc := range tests {
		p := PeriodAt(tc.w, at(tc.t))
		if p.Name != tc.name || !p.Start.Equal(at(tc.start)) || !p.End.Equal(at(tc.end)) {
			t.Errorf("PeriodAt(%s, %s) = %s [%s, %s), want %s [%s, %s)", tc.w, tc.t, p.Name, p.Start, p.End, tc.name, tc.start, tc.end)
		}
		back, err := ParsePeriod(tc.w, p.Name)
		if err != nil || back != p {
			t.Errorf("ParsePeriod(%s, %s) = %v, %v; want %v", tc.w, p.Name, back, err, p)
		}
	}
	if p := PeriodAt(AllTime, at("2026-01-01T00:00:00Z")); p.Name != "all" || !p.Start.IsZero() {
		t.Errorf("all-time period = %+v", p)
	}
}

func TestParsePeriodRejects(t *testing.T) {
	for _, tc := range []struct {
		w    Window
		name string
	}{
		{Daily, "2026-13-01"}, {Daily, "yesterday"}, {Weekly, "2026-W54"}, {Weekly, "2026-W00"},
		{Monthly, "2026-1"}, {AllTime, "2026"}, {Weekly, "2026-11-23"},
	} {
		if _, err := ParsePeriod(tc.w, tc.name); err == nil {
			t.Errorf("ParsePeriod(%s, %q) accepted", tc.w, tc.name)
		}
	}
}
