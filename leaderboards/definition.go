package leaderboards

import (
	"math"
	"strings"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/points"
)

// CreateInput is a new board's definition.
type CreateInput struct {
	Name          string      `json:"name" minLength:"1" maxLength:"200"`
	Source        Source      `json:"source,omitempty" enum:"points,event" default:"points" doc:"points: points earned in the window, from the ledger. event: a metric of one event type."`
	EventType     string      `json:"event_type,omitempty" maxLength:"64" doc:"Event boards: the event type that scores, e.g. quiz.completed or purchase."`
	Prop          string      `json:"prop,omitempty" maxLength:"64" doc:"Event boards: the integer prop that is the value, e.g. score. Without it every event is worth 1. An event whose prop is missing or not an integer does not score, nor does a negative value on a sum board."`
	Aggregation   Aggregation `json:"aggregation,omitempty" enum:"sum,best,latest" default:"sum" doc:"How a member's values in a period fold into a score. Points boards always sum."`
	Window        Window      `json:"window,omitempty" enum:"all_time,daily,weekly,monthly,custom" default:"all_time"`
	TimeZone      string      `json:"time_zone,omitempty" maxLength:"64" default:"UTC" doc:"IANA zone where daily, weekly and monthly periods start at midnight."`
	StartsAt      *time.Time  `json:"starts_at,omitempty" doc:"Custom window (required): the first instant counted."`
	EndsAt        *time.Time  `json:"ends_at,omitempty" doc:"Custom window (required): the first instant no longer counted."`
	Scope         *Scope      `json:"scope,omitempty" doc:"Only points paid by, or events about, one challenge, contest or quiz."`
	MaxPerEvent   int64       `json:"max_per_event,omitempty" minimum:"0" maximum:"9007199254740992" doc:"Event boards: the most one event's value counts for (a larger value counts as this much), so one forged or mistaken prop cannot top the board; 0 or absent, no cap."`
	RetentionDays *int        `json:"retention_days,omitempty" minimum:"0" maximum:"3650" doc:"Days a finished period stays readable before it expires; 0 keeps periods forever. Default 90."`
}

// defaultRetentionDays keeps a finished period readable for a quarter:
// long enough to settle prizes and disputes, short enough that a daily
// board does not grow without bound.
const defaultRetentionDays = 90

// board validates in and returns the board it defines.
func (in CreateInput) board() (Board, error) {
	b := Board{
		Name: in.Name, Source: in.Source, EventType: in.EventType, Prop: in.Prop,
		Aggregation: in.Aggregation, Window: in.Window, TimeZone: in.TimeZone,
		StartsAt: utc(in.StartsAt), EndsAt: utc(in.EndsAt), Scope: in.Scope,
		MaxPerEvent: in.MaxPerEvent, RetentionDays: defaultRetentionDays,
	}
	if in.RetentionDays != nil {
		b.RetentionDays = *in.RetentionDays
	}
	if b.Source == "" {
		b.Source = FromPoints
	}
	if b.Aggregation == "" {
		b.Aggregation = Sum
	}
	if b.Window == "" {
		b.Window = AllTime
	}
	if b.TimeZone == "" {
		b.TimeZone = "UTC"
	}
	return b, b.validate()
}

func (b Board) validate() error {
	invalid := func(typ, field, format string, args ...any) error {
		return errs.New(errs.Unprocessable, typ, format, args...).OnField("body." + field)
	}
	switch b.Source {
	case FromPoints:
		if b.EventType != "" || b.Prop != "" {
			return invalid("bad-board", "event_type", "event_type and prop are for event boards; a points board ranks points earned")
		}
		if b.Aggregation != Sum {
			return invalid("bad-board", "aggregation", "a points board sums the points earned in its window")
		}
		if b.MaxPerEvent != 0 {
			return invalid("bad-board", "max_per_event", "max_per_event is for event boards; a points board ranks the points the ledger paid")
		}
	case FromEvents:
		if !events.PlausibleType(b.EventType) {
			return invalid("unknown-event-type", "event_type", "event type %q is not one this tenant accepts", b.EventType)
		}
		if b.Prop != "" && !rule.ValidName(b.Prop) {
			return invalid("bad-board", "prop", "prop %q is not a prop name", b.Prop)
		}
		if b.MaxPerEvent < 0 || b.MaxPerEvent > MaxScore {
			return invalid("bad-board", "max_per_event", "max_per_event must be from 0 (no cap) to %d", MaxScore)
		}
	}
	if _, err := rule.LoadZone(b.TimeZone); err != nil {
		return invalid("bad-time-zone", "time_zone", "time zone %q is not an IANA zone name", b.TimeZone)
	}
	custom := b.Window == Custom
	switch {
	case custom && (b.StartsAt == nil || b.EndsAt == nil):
		return invalid("bad-window", "starts_at", "a custom window needs starts_at and ends_at")
	case !custom && (b.StartsAt != nil || b.EndsAt != nil):
		return invalid("bad-window", "starts_at", "starts_at and ends_at are for custom windows")
	case custom && !b.EndsAt.After(*b.StartsAt):
		return invalid("bad-window", "ends_at", "ends_at must be after starts_at")
	case custom && b.StartsAt.Before(MinTime):
		return invalid("bad-window", "starts_at", "starts_at must not be before %s", MinTime.Format(time.RFC3339))
	case custom && b.EndsAt.After(MaxTime):
		return invalid("bad-window", "ends_at", "ends_at must not be after %s", MaxTime.Format(time.RFC3339))
	}
	return nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Millisecond)
	return &u
}

// scopePrefix is the ledger key prefix of the points a scoped board counts
// ("" = all): payments are keyed "{type}:{id}:…" by what paid them.
func (b Board) scopePrefix() string {
	if b.Scope == nil {
		return ""
	}
	return b.Scope.Type + ":" + b.Scope.ID + ":"
}

// paidBy reports whether ledger entry e counts on points board b. An
// erased user's anonymised entries count on none, so no rebuild brings
// them back.
func (b Board) paidBy(e points.Entry) bool {
	return b.Source == FromPoints && strings.HasPrefix(e.Key, b.scopePrefix()) && !auth.Erased(e.User)
}

// scores reports whether ev scores on event board b, and its value, capped
// at b.MaxPerEvent. Only events that occurred once the board existed score,
// and only while their period takes late arrivals: received less than
// rule.LateGrace after it ended, as challenges count them. The received_at
// decides, not the time of processing, so a replay decides the same.
func (b Board) scores(ev events.Event) (int64, bool) {
	if b.Source != FromEvents || ev.Type != b.EventType || ev.OccurredAt.Before(b.CreatedAt) {
		return 0, false
	}
	if _, ok := b.window().Counts(ev.OccurredAt, ev.ReceivedAt); !ok {
		return 0, false
	}
	if b.Scope != nil && events.PropString(ev.Props[b.Scope.Type+"_id"]) != b.Scope.ID {
		return 0, false
	}
	if b.Prop == "" {
		return 1, true
	}
	v, ok := integer(ev.Props[b.Prop])
	if b.MaxPerEvent > 0 {
		v = min(v, b.MaxPerEvent)
	}
	// A sum only grows, which is what lets engines keep it with Raise, a
	// join; so sum boards take non-negative values only.
	return v, ok && (v >= 0 || b.Aggregation != Sum)
}

// integer reads an integer prop within the engines' range; anything else
// (a fraction, a string, a huge number) does not score rather than being
// silently rounded.
func integer(v any) (int64, bool) {
	var n int64
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > float64(MaxScore) {
			return 0, false
		}
		n = int64(x)
	case int64:
		n = x
	case int:
		n = int64(x)
	default:
		return 0, false
	}
	return n, n >= -MaxScore && n <= MaxScore
}
