// Package analytics keeps programme rollups on the write path and answers
// managers' reports from them: a summary, a daily time series in any time
// zone, per-challenge and per-badge counts, and fraud signals.
//
// Plain SQL over the raw events and ledger cannot answer a tenant with a
// million of each in under a second on the embedded store, so every event
// and ledger entry is folded once, keyed by its id, into counters per
// (tenant, metric, UTC quarter-hour). A local day in any zone (offsets of
// :30 and :45 included) is a whole number of quarter-hours, so a series in
// a zone sums buckets and never rescans history.
package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/points"
)

// Bucket is the rollup granularity: a UTC quarter-hour.
const Bucket = 15 * time.Minute

// Metric names. Per-domain metrics are built by the domain functions below.
const (
	MetricEvents       = "events"       // events sent by or for players (not system events)
	MetricParticipants = "participants" // users first seen, at the bucket they were first seen
	MetricActiveDay    = "active_users_day"
	MetricActiveWeek   = "active_users_week"
	MetricIssued       = "points_issued"
	MetricSpent        = "points_spent"
	MetricExpired      = "points_expired"
	MetricReversed     = "points_reversed"
	MetricCompletions  = "challenge_completions"
	MetricBadges       = "badges_unlocked"
	MetricRedeemed     = "rewards_redeemed"
)

// Fact is one durable record folded into the rollups once: Key (unique per
// tenant, e.g. "ev:<idempotency key>") decides whether it was already counted.
type Fact struct {
	Tenant, Key string
	At          time.Time
	// Counts are added to each metric's bucket holding At.
	Counts map[string]int64
	// Firsts are markers: each one that is new adds 1 to its metric at its
	// bucket (a user's first activity of a day, a week, ever).
	Firsts []First
	// User, when set, has Events and Points added to the user's activity
	// row of At's UTC day (the basis of the fraud signals).
	User           string
	Events, Points int64
}

// First adds 1 to Metric at At the first time Key is marked.
type First struct {
	Key    string
	Metric string
	At     time.Time
}

// Point is one metric's value in one bucket.
type Point struct {
	Metric string
	At     time.Time // the bucket's start
	Value  int64
}

// UserActivity is one user's activity summed over a range of days.
type UserActivity struct {
	User           string
	Events, Points int64
}

// UserDay is a user's activity on one UTC day.
type UserDay struct {
	Day    string `json:"day"`
	Events int64  `json:"events"`
	Points int64  `json:"points"`
}

// Store keeps the rollups.
type Store interface {
	// RecordFact folds f once per (tenant, key) and reports whether it
	// did; a repeat changes nothing.
	RecordFact(ctx context.Context, f Fact) (bool, error)
	// MetricPoints lists the non-zero buckets of metrics in [from, to).
	MetricPoints(ctx context.Context, tenant string, metrics []string, from, to time.Time) ([]Point, error)
	// MetricTotals sums each metric over [from, to).
	MetricTotals(ctx context.Context, tenant string, metrics []string, from, to time.Time) (map[string]int64, error)
	// UserActivity sums each user's activity rows of the UTC days
	// [fromDay, toDay) (YYYY-MM-DD).
	UserActivity(ctx context.Context, tenant, fromDay, toDay string) ([]UserActivity, error)
	// AnalyticsUserDays lists the user's activity rows, oldest first.
	AnalyticsUserDays(ctx context.Context, tenant, user string) ([]UserDay, error)
	// EraseAnalyticsUser drops the user's activity rows and markers.
	EraseAnalyticsUser(ctx context.Context, tenant, user string) error
	// AnalyticsSettings and SetAnalyticsSettings keep the tenant's
	// currency value per point.
	AnalyticsSettings(ctx context.Context, tenant string) (Settings, error)
	SetAnalyticsSettings(ctx context.Context, tenant string, s Settings) error
}

// Settings are a tenant's analytics settings.
type Settings struct {
	// Currency is an ISO 4217 code, e.g. EUR; PointValue is what one
	// point is worth in it (the programme's liability per point).
	Currency   string  `json:"currency" maxLength:"3" pattern:"^[A-Z]{3}$" doc:"ISO 4217 currency code." example:"EUR"`
	PointValue float64 `json:"point_value" minimum:"0" maximum:"1000000" doc:"Currency value of one point." example:"0.01"`
}

// Service folds events and ledger movements and answers reports.
type Service struct {
	store      Store
	scanner    EventScanner
	challenges ChallengeSource
	badgeDefs  BadgeSource
	boards     BoardReader
	quizzes    QuizReader
	contests   ContestReader
	ugc        UGCCounter
	logger     *slog.Logger
	jobs       jobStore[Backtest]
	bt         backtests // earn rules and boards
	rebuilds   jobStore[Rebuild]
	marks      markCache
	now        func() time.Time
}

// Config is what the service reads: its store, the stored events (for
// backtests), and the challenges and badges per-object stats are about (a
// missing one, or another tenant's, is a not-found error, so stats never
// confirm that an id exists elsewhere).
type Config struct {
	Store      Store
	Events     EventScanner
	Challenges ChallengeSource
	Badges     BadgeSource
	Boards     BoardReader
	// Quizzes, Contests and UGC are read by their stats; nil leaves the
	// UGC block of the summary at its folded approvals alone.
	Quizzes  QuizReader
	Contests ContestReader
	UGC      UGCCounter
	Logger   *slog.Logger // failed backtests; nil discards
	Drafts   Drafts       // earn rule and board backtests
}

// NewService returns the analytics service.
func NewService(c Config) *Service {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: c.Store, scanner: c.Events, challenges: c.Challenges, badgeDefs: c.Badges, boards: c.Boards,
		quizzes: c.Quizzes, contests: c.Contests, ugc: c.UGC, logger: c.Logger, now: time.Now, bt: backtests{Drafts: c.Drafts}}
}

// domainMetrics map an event to per-domain metric increments, read back
// by a report naming the same metric (see objectMetric, quizMetric).
var domainMetrics = []func(events.Event) map[string]int64{challengeMetrics, badgeMetrics, pointsMetrics,
	quizMetrics, ugcMetrics, contestMetrics}

func challengeMetrics(ev events.Event) map[string]int64 {
	if ev.Type != "challenge.completed" {
		return nil
	}
	return map[string]int64{MetricCompletions: 1, "challenge:" + events.PropString(ev.Props["challenge_id"]) + ":completions": 1}
}

func badgeMetrics(ev events.Event) map[string]int64 {
	if ev.Type != "badge.unlocked" {
		return nil
	}
	return map[string]int64{MetricBadges: 1, "badge:" + events.PropString(ev.Props["badge_id"]) + ":unlocks": 1}
}

// pointsMetrics counts the points package's system events: an expiry
// (props amount) and a redemption (props reward_id, cost), whose cost is
// points spent.
func pointsMetrics(ev events.Event) map[string]int64 {
	switch ev.Type {
	case "points.expired":
		return map[string]int64{MetricExpired: abs(propInt(ev.Props["amount"]))}
	case "reward.redeemed":
		return map[string]int64{MetricRedeemed: 1, MetricSpent: abs(propInt(ev.Props["cost"])),
			"reward:" + events.PropString(ev.Props["reward_id"]) + ":redemptions": 1}
	}
	return nil
}

// propInt reads a whole number prop as JSON decoding leaves it.
func propInt(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case int64:
		return x
	case int:
		return int64(x)
	case json.Number:
		n, _ := x.Int64()
		return n
	}
	return 0
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// HandleEvent folds ev into the rollups once per idempotency key (the
// stored event's; its id for a keyless one). It is a rule handler of the
// events service, so an event handled again (the sweeper, a duplicate)
// counts nothing the second time.
//
// It runs after the challenges handler, so r holds the user's progress
// on every challenge the event counted for: the first event of a user on
// a challenge makes them a participant, and the first that meets a goal
// counts that step (the basis of drop-off per step).
func (s *Service) HandleEvent(ctx context.Context, ev events.Event, r *events.Result) ([]events.Event, error) {
	return nil, s.fold(ctx, ev, progressFirsts(ev, r))
}

// Preview folds ev too, and reports it quiet: the event service asks
// only when every earlier handler found the event changes nothing of
// theirs, and then stores it processed in one write, so HandleEvent would
// not run. This departs from "preview writes nothing" on purpose: the
// rollups must count every event, and counting here, under the same key
// HandleEvent uses (the idempotency key is scoped and final before
// preview), keeps quiet events on their one-write path. An event counted
// here whose insert then fails is counted once when its retry arrives
// (same key), never twice; a quiet event changes no challenge progress,
// so it has no funnel markers to add.
func (s *Service) Preview(ctx context.Context, ev events.Event, _ *events.Result) (bool, error) {
	return true, s.fold(ctx, ev, nil)
}

func (s *Service) fold(ctx context.Context, ev events.Event, progress []First) error {
	key := ev.IdempotencyKey
	if key == "" {
		key = ev.ID
	}
	f := Fact{Tenant: ev.Tenant, Key: EventMarkPrefix + key, At: ev.OccurredAt, Counts: map[string]int64{}}
	for _, fn := range domainMetrics {
		for m, v := range fn(ev) {
			f.Counts[m] += v
		}
	}
	if ev.Source != "system" {
		f.Counts[MetricEvents]++
		f.User, f.Events = ev.User, 1
		f.Firsts = s.marks.unknown(ev.Tenant, append(activityFirsts(ev.User, ev.OccurredAt), progress...))
	}
	if _, err := s.store.RecordFact(ctx, f); err != nil {
		return fmt.Errorf("analytics: event %s: %w", ev.ID, err)
	}
	s.marks.add(ev.Tenant, f.Firsts)
	return nil
}

// EventMarkPrefix starts the marker of each counted event, followed by the
// stored event's idempotency key. The stores drop an event's marker when
// they prune the event (retention): a marker would otherwise outlive it
// forever, and a key sent again after its event was pruned is a new event.
const EventMarkPrefix = "ev:"

// markCache remembers marker keys this node knows are stored, so a user's
// second event of the day skips three inserts that would change nothing.
// Markers are never deleted but by erasure, which clears the cache; the
// store's insert still decides, so the cache only saves work.
type markCache struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

// markCacheSize bounds the cache: when full it starts afresh.
const markCacheSize = 200_000

func (c *markCache) unknown(tenant string, fs []First) []First {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := fs[:0]
	for _, f := range fs {
		if _, ok := c.keys[tenant+"\x00"+f.Key]; !ok {
			out = append(out, f)
		}
	}
	return out
}

func (c *markCache) add(tenant string, fs []First) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil || len(c.keys)+len(fs) > markCacheSize {
		c.keys = make(map[string]struct{}, len(fs))
	}
	for _, f := range fs {
		c.keys[tenant+"\x00"+f.Key] = struct{}{}
	}
}

func (c *markCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = nil
}

// activityFirsts are the markers of a user's activity: first of the UTC
// day, of the ISO week (Monday, UTC) and ever. Their keys start with
// UserMarkPrefix(user), so erasure drops them by prefix.
func activityFirsts(user string, at time.Time) []First {
	day := at.UTC().Truncate(24 * time.Hour)
	week := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	p := UserMarkPrefix(user)
	return []First{
		{Key: p + "day:" + day.Format(time.DateOnly), Metric: MetricActiveDay, At: day},
		{Key: p + "week:" + week.Format(time.DateOnly), Metric: MetricActiveWeek, At: week},
		{Key: p + "first", Metric: MetricParticipants, At: at},
	}
}

// progressFirsts are the markers of the challenge progress r reports.
func progressFirsts(ev events.Event, r *events.Result) []First {
	if r == nil {
		return nil
	}
	p := UserMarkPrefix(ev.User)
	var out []First
	for _, pr := range r.Progress {
		out = append(out, First{Key: p + "ch:" + pr.ChallengeID, Metric: ChallengeParticipants(pr.ChallengeID), At: ev.OccurredAt})
		for _, g := range pr.Goals {
			if g.Met {
				out = append(out, First{Key: p + "ch:" + pr.ChallengeID + ":goal:" + g.ID, Metric: GoalMet(pr.ChallengeID, g.ID), At: ev.OccurredAt})
			}
		}
	}
	return out
}

// ChallengeParticipants names the rollup of a challenge's participants.
func ChallengeParticipants(id string) string { return "challenge:" + id + ":participants" }

// GoalMet names the rollup of the users who met a challenge's goal.
func GoalMet(challenge, goal string) string {
	return "challenge:" + challenge + ":goal:" + goal + ":met"
}

// UserMarkPrefix starts every marker key of a user's activity. User ids
// hold no spaces, so the space ends the id: the keys of user "a" are the
// range [UserMarkPrefix("a"), "u:a!").
func UserMarkPrefix(user string) string { return "u:" + user + " " }

// Earned folds a ledger credit (it is a points.Observer); credits are
// keyed by their ledger entry id, so a replayed credit counts once.
func (s *Service) Earned(ctx context.Context, e points.Entry) error {
	return s.Moved(ctx, Movement{Tenant: e.Tenant, User: e.User, EntryID: e.ID, Kind: "credit", Amount: e.Amount, At: e.CreatedAt})
}

// Reversed folds the reversal of a ledger credit (it is a
// points.ReversalObserver), once per reversed credit, at the time it is
// told: the credit's points leave the outstanding liability.
func (s *Service) Reversed(ctx context.Context, credit points.Entry) error {
	return s.Moved(ctx, Movement{Tenant: credit.Tenant, User: credit.User, EntryID: points.ReversalKey(credit.ID),
		Kind: "reversal", Amount: credit.Amount, At: s.now()})
}

// Movement is one ledger entry as the analytics see it.
type Movement struct {
	Tenant, User, EntryID string
	// Kind is credit or reversal; Amount is the points moved, positive
	// whatever the direction. Spends and expiries are counted from the
	// points package's reward.redeemed and points.expired events instead
	// (see pointsMetrics), so they are not movements: counting both would
	// count them twice.
	Kind   string
	Amount int64
	At     time.Time
}

var kindMetric = map[string]string{"credit": MetricIssued, "reversal": MetricReversed}

// Moved folds a ledger movement once per ledger entry id.
func (s *Service) Moved(ctx context.Context, m Movement) error {
	metric, ok := kindMetric[m.Kind]
	if !ok {
		return fmt.Errorf("analytics: ledger entry %s: unknown kind %q", m.EntryID, m.Kind)
	}
	amount := abs(m.Amount)
	f := Fact{Tenant: m.Tenant, Key: "led:" + m.EntryID, At: m.At, Counts: map[string]int64{metric: amount}}
	if m.Kind == "credit" {
		f.User, f.Points = m.User, amount
	}
	if _, err := s.store.RecordFact(ctx, f); err != nil {
		return fmt.Errorf("analytics: ledger entry %s: %w", m.EntryID, err)
	}
	return nil
}
