package challenges

import (
	"testing"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
)

func TestCounts(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := Challenge{EventType: "share", Filter: map[string]string{"channel": "instagram", "n": "3"}, StartsAt: &start, EndsAt: &end}
	ev := func(typ string, at time.Time, props map[string]any) events.Event {
		return events.Event{Type: typ, OccurredAt: at, Props: props}
	}
	mid := start.Add(24 * time.Hour)
	ok := map[string]any{"channel": "instagram", "n": float64(3)}
	tests := []struct {
		name string
		ev   events.Event
		want bool
	}{
		{"matches", ev("share", mid, ok), true},
		{"other type", ev("visit", mid, ok), false},
		{"at start counts", ev("share", start, ok), true},
		{"before start", ev("share", start.Add(-time.Millisecond), ok), false},
		{"at end does not count", ev("share", end, ok), false},
		{"filter value differs", ev("share", mid, map[string]any{"channel": "tiktok", "n": float64(3)}), false},
		{"filter prop missing", ev("share", mid, map[string]any{"channel": "instagram"}), false},
		{"number as string matches", ev("share", mid, map[string]any{"channel": "instagram", "n": "3"}), true},
		{"fraction does not match whole", ev("share", mid, map[string]any{"channel": "instagram", "n": 3.5}), false},
	}
	for _, tc := range tests {
		if got := c.counts(tc.ev); got != tc.want {
			t.Errorf("%s: counts = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDefinitionValidate(t *testing.T) {
	now := time.Now()
	later := now.Add(time.Hour)
	tests := []struct {
		name string
		d    Definition
		code string
	}{
		{"ok", Definition{Name: "x", EventType: "share", Target: 3}, ""},
		{"unknown event", Definition{Name: "x", EventType: "fly", Target: 3}, "unknown-event-type"},
		{"end before start", Definition{Name: "x", EventType: "share", Target: 3, StartsAt: &later, EndsAt: &now}, "bad-window"},
		{"empty filter key", Definition{Name: "x", EventType: "share", Target: 3, Filter: map[string]string{"": "a"}}, "bad-filter"},
	}
	for _, tc := range tests {
		err := tc.d.validate()
		if tc.code == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if e, ok := errs.As(err); !ok || e.Code != tc.code || e.Kind != errs.Unprocessable || e.Field == "" {
			t.Errorf("%s: error %v, want %s on a field", tc.name, err, tc.code)
		}
	}
}

func TestPatchChangesRules(t *testing.T) {
	name, target := "n", int64(4)
	end := time.Now()
	for _, tc := range []struct {
		p    Patch
		want bool
	}{
		{Patch{Name: &name}, false},
		{Patch{EndsAt: &end}, false},
		{Patch{Target: &target}, true},
		{Patch{Filter: map[string]string{}}, true},
	} {
		if got := tc.p.changesRules(); got != tc.want {
			t.Errorf("%+v: changesRules = %v", tc.p, got)
		}
	}
}
