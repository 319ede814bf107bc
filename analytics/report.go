package analytics

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/questline/questline/internal/errs"
)

// MaxSeriesDays bounds a time series: a year and a day, so a leap year fits.
const MaxSeriesDays = 367

// Summary is the programme at a glance.
type Summary struct {
	Participants int64     `json:"participants" doc:"Users who ever sent an event."`
	Events       int64     `json:"events" doc:"Events sent by or for players (system events excluded)."`
	ActiveToday  int64     `json:"active_users_today" doc:"Users active today (UTC day)."`
	ActiveWeek   int64     `json:"active_users_this_week" doc:"Users active this ISO week (Monday to Sunday, UTC)."`
	Points       Liability `json:"points"`
	Completions  int64     `json:"challenge_completions" doc:"Challenge completions (every period's), each once."`
	Badges       int64     `json:"badges_unlocked" doc:"Badge unlocks (every tier's), each once."`
	Redeemed     int64     `json:"rewards_redeemed" doc:"Catalogue redemptions, each once."`
	Quizzes      QuizTotal `json:"quizzes"`
	UGC          UGCTotals `json:"ugc" doc:"User-generated content: counted per status now, over an index of the submissions."`
	Winners      int64     `json:"contest_winners" doc:"Contest prize places paid (contest.won, each once; a disqualified winner's replacement counts too)."`
	At           time.Time `json:"at" doc:"When the summary was computed."`
}

// QuizTotal is every quiz's completions and passes.
type QuizTotal struct {
	Completions int64 `json:"completions" doc:"Quiz and survey attempts finished (live shows: each player who answered), each once."`
	Passes      int64 `json:"passes" doc:"Completions that passed their quiz's pass mark."`
}

// Liability is the programme's points and what they are worth.
type Liability struct {
	Issued      int64   `json:"issued"`
	Spent       int64   `json:"spent"`
	Expired     int64   `json:"expired"`
	Reversed    int64   `json:"reversed"`
	Outstanding int64   `json:"outstanding" doc:"Issued minus spent, expired and reversed: the programme's liability in points."`
	Currency    string  `json:"currency,omitempty"`
	PointValue  float64 `json:"point_value"`
	Value       float64 `json:"outstanding_value" doc:"Outstanding times the tenant's point value, in its currency."`
}

var summaryMetrics = []string{MetricParticipants, MetricEvents, MetricIssued, MetricSpent, MetricExpired, MetricReversed, MetricCompletions, MetricBadges, MetricRedeemed,
	MetricQuizCompletions, MetricQuizPasses, MetricUGCApproved, MetricContestWinners}

// allTime bounds "every bucket": rollups start with the first event.
var allTimeFrom = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Summary reads the tenant's all-time totals and this day's and week's
// active users: a few bucket sums, whatever the size of the history, and
// the UGC status counts, an index count.
func (s *Service) Summary(ctx context.Context, tenant string) (Summary, error) {
	now := s.now().UTC()
	end := now.Add(48 * time.Hour) // events may carry a slightly future occurred_at
	tot, err := s.store.MetricTotals(ctx, tenant, summaryMetrics, allTimeFrom, end)
	if err != nil {
		return Summary{}, fmt.Errorf("analytics: summary: %w", err)
	}
	today := activityFirsts("", now)
	act, err := s.store.MetricTotals(ctx, tenant, []string{MetricActiveDay}, today[0].At, today[0].At.Add(Bucket))
	if err != nil {
		return Summary{}, fmt.Errorf("analytics: summary: %w", err)
	}
	week, err := s.store.MetricTotals(ctx, tenant, []string{MetricActiveWeek}, today[1].At, today[1].At.Add(Bucket))
	if err != nil {
		return Summary{}, fmt.Errorf("analytics: summary: %w", err)
	}
	set, err := s.store.AnalyticsSettings(ctx, tenant)
	if err != nil {
		return Summary{}, fmt.Errorf("analytics: summary: %w", err)
	}
	u, err := s.ugcTotals(ctx, tenant, tot[MetricUGCApproved])
	if err != nil {
		return Summary{}, err
	}
	l := Liability{Issued: tot[MetricIssued], Spent: tot[MetricSpent], Expired: tot[MetricExpired], Reversed: tot[MetricReversed],
		Currency: set.Currency, PointValue: set.PointValue}
	l.Outstanding = l.Issued - l.Spent - l.Expired - l.Reversed
	l.Value = math.Round(float64(l.Outstanding)*l.PointValue*100) / 100
	return Summary{
		Participants: tot[MetricParticipants], Events: tot[MetricEvents],
		ActiveToday: act[MetricActiveDay], ActiveWeek: week[MetricActiveWeek],
		Points: l, Completions: tot[MetricCompletions], Badges: tot[MetricBadges], Redeemed: tot[MetricRedeemed],
		Quizzes: QuizTotal{Completions: tot[MetricQuizCompletions], Passes: tot[MetricQuizPasses]},
		UGC:     u, Winners: tot[MetricContestWinners], At: now,
	}, nil
}

// Day is one local day of a time series.
type Day struct {
	Date            string `json:"date" doc:"The local date (YYYY-MM-DD) in the series' time zone."`
	Events          int64  `json:"events"`
	NewParticipants int64  `json:"new_participants"`
	ActiveUsers     int64  `json:"active_users" doc:"Users active on this date's UTC day (activity is counted per UTC day)."`
	PointsIssued    int64  `json:"points_issued"`
	PointsSpent     int64  `json:"points_spent"`
	PointsExpired   int64  `json:"points_expired"`
	Completions     int64  `json:"challenge_completions"`
	Badges          int64  `json:"badges_unlocked"`
	QuizCompletions int64  `json:"quiz_completions" doc:"Quiz and survey attempts finished (live shows: each player who answered)."`
	QuizPasses      int64  `json:"quiz_passes" doc:"Quiz completions that passed their pass mark."`
	UGCApproved     int64  `json:"ugc_approved" doc:"Submissions approved for the first time."`
	ContestWinners  int64  `json:"contest_winners" doc:"Contest prize places paid."`
}

// dayColumn is one count of a Day: its CSV column, its metric, its field.
type dayColumn struct {
	name, metric string
	field        func(*Day) *int64
}

// dayColumns are a Day's counts in CSV order.
var dayColumns = []dayColumn{
	{"events", MetricEvents, func(d *Day) *int64 { return &d.Events }},
	{"new_participants", MetricParticipants, func(d *Day) *int64 { return &d.NewParticipants }},
	{"active_users", MetricActiveDay, func(d *Day) *int64 { return &d.ActiveUsers }},
	{"points_issued", MetricIssued, func(d *Day) *int64 { return &d.PointsIssued }},
	{"points_spent", MetricSpent, func(d *Day) *int64 { return &d.PointsSpent }},
	{"points_expired", MetricExpired, func(d *Day) *int64 { return &d.PointsExpired }},
	{"challenge_completions", MetricCompletions, func(d *Day) *int64 { return &d.Completions }},
	{"badges_unlocked", MetricBadges, func(d *Day) *int64 { return &d.Badges }},
	{"quiz_completions", MetricQuizCompletions, func(d *Day) *int64 { return &d.QuizCompletions }},
	{"quiz_passes", MetricQuizPasses, func(d *Day) *int64 { return &d.QuizPasses }},
	{"ugc_approved", MetricUGCApproved, func(d *Day) *int64 { return &d.UGCApproved }},
	{"contest_winners", MetricContestWinners, func(d *Day) *int64 { return &d.ContestWinners }},
}

var seriesMetrics, dayFields = func() ([]string, map[string]func(*Day) *int64) {
	ms, fs := make([]string, len(dayColumns)), map[string]func(*Day) *int64{}
	for i, c := range dayColumns {
		ms[i], fs[c.metric] = c.metric, c.field
	}
	return ms, fs
}()

// Range is a span of local dates [From, To] in a zone.
type Range struct {
	From, To string // YYYY-MM-DD, inclusive
	Zone     string // IANA name; empty is UTC
}

// days parses r into the local midnights from From to the day after To.
func (r Range) days() ([]time.Time, error) {
	loc, err := time.LoadLocation(r.Zone)
	if err != nil || r.Zone == "Local" {
		return nil, errs.New(errs.Unprocessable, "bad-time-zone", "tz must be an IANA time zone name, e.g. Europe/Paris").OnField("tz")
	}
	from, err := time.ParseInLocation(time.DateOnly, r.From, loc)
	if err != nil {
		return nil, errs.New(errs.Unprocessable, "bad-date", "from must be a date, YYYY-MM-DD").OnField("from")
	}
	to, err := time.ParseInLocation(time.DateOnly, r.To, loc)
	if err != nil {
		return nil, errs.New(errs.Unprocessable, "bad-date", "to must be a date, YYYY-MM-DD").OnField("to")
	}
	if to.Before(from) {
		return nil, errs.New(errs.Unprocessable, "bad-range", "to is before from").OnField("to")
	}
	var out []time.Time
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		if len(out) == MaxSeriesDays {
			return nil, errs.New(errs.Unprocessable, "range-too-long", "a series spans at most %d days", MaxSeriesDays).OnField("to")
		}
		out = append(out, d)
	}
	return append(out, to.AddDate(0, 0, 1)), nil
}

// Series sums the quarter-hour rollups into the local days of r.
func (s *Service) Series(ctx context.Context, tenant string, r Range) ([]Day, error) {
	bounds, err := r.days()
	if err != nil {
		return nil, err
	}
	// Active users are per UTC day, keyed at UTC midnight: a day more on
	// each side covers the UTC days the local dates name in any zone
	// (offsets are within ±14 h); buckets outside the local days are
	// dropped below.
	from, to := bounds[0].UTC().Add(-24*time.Hour), bounds[len(bounds)-1].UTC().Add(24*time.Hour)
	pts, err := s.store.MetricPoints(ctx, tenant, seriesMetrics, from, to)
	if err != nil {
		return nil, fmt.Errorf("analytics: series: %w", err)
	}
	out := make([]Day, len(bounds)-1)
	index := make(map[string]int, len(out))
	for i := range out {
		out[i].Date = bounds[i].Format(time.DateOnly)
		index[out[i].Date] = i
	}
	for _, p := range pts {
		if p.Metric == MetricActiveDay {
			if i, ok := index[p.At.UTC().Format(time.DateOnly)]; ok {
				out[i].ActiveUsers += p.Value
			}
			continue
		}
		i := sort.Search(len(bounds), func(i int) bool { return bounds[i].After(p.At) }) - 1
		if i < 0 || i >= len(out) {
			continue
		}
		addMetric(&out[i], p.Metric, p.Value)
	}
	return out, nil
}

func addMetric(d *Day, metric string, v int64) {
	if f, ok := dayFields[metric]; ok {
		*f(d) += v
	}
}

// ObjectStats is one challenge's or badge's counts.
type ObjectStats struct {
	Kind  string     `json:"kind" enum:"challenge,badge"`
	ID    string     `json:"id"`
	Count int64      `json:"count" doc:"Completions of the challenge (every period's), or unlocks of the badge (every tier's)."`
	Days  []DayCount `json:"days,omitempty" doc:"Per local day of the range, when one is given."`
	// Challenges only.
	Participants *int64 `json:"participants,omitempty" doc:"Challenge: users with any counted progress, ever (every period)."`
	Steps        []Step `json:"steps,omitempty" doc:"Challenge with several goals: users who ever met each goal, in the rule's order, and how many of the previous step's did not."`
}

// Step is one goal of a challenge's funnel.
type Step struct {
	Goal    string `json:"goal_id"`
	Met     int64  `json:"users_met"`
	DropOff int64  `json:"drop_off" doc:"Users of the previous step (participants for the first) who have not met this goal."`
}

// DayCount is a count on one local date.
type DayCount struct {
	Date  string `json:"date"`
	Count int64  `json:"count"`
}

// objectMetric names the rollup of one object's stat; a new domain adds a
// case here and a function to domainMetrics.
func objectMetric(kind, id string) string {
	switch kind {
	case "challenge":
		return "challenge:" + id + ":completions"
	default:
		return "badge:" + id + ":unlocks"
	}
}

// funnel reads a challenge's participants and steps; goals is nil for a
// badge, whose lookup is the existence check alone.
func (s *Service) funnel(ctx context.Context, tenant, kind, id string) ([]string, error) {
	if kind != "challenge" {
		_, err := s.badgeDefs(ctx, tenant, id)
		return nil, err
	}
	c, err := s.challenges(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	goals := []string{}
	if len(c.Rule.Goals) > 1 {
		for _, g := range c.Rule.Goals {
			goals = append(goals, g.ID)
		}
	}
	return goals, nil
}

// ObjectStats counts one object's completions or unlocks, all time, and
// per local day when r names a range.
func (s *Service) ObjectStats(ctx context.Context, tenant, kind, id string, r *Range) (ObjectStats, error) {
	goals, err := s.funnel(ctx, tenant, kind, id)
	if err != nil {
		return ObjectStats{}, err
	}
	m := objectMetric(kind, id)
	metrics := []string{m}
	if goals != nil {
		metrics = append(metrics, ChallengeParticipants(id))
		for _, g := range goals {
			metrics = append(metrics, GoalMet(id, g))
		}
	}
	now := s.now().UTC()
	tot, err := s.store.MetricTotals(ctx, tenant, metrics, allTimeFrom, now.Add(48*time.Hour))
	if err != nil {
		return ObjectStats{}, fmt.Errorf("analytics: %s %s: %w", kind, id, err)
	}
	out := ObjectStats{Kind: kind, ID: id, Count: tot[m]}
	if goals != nil {
		n := tot[ChallengeParticipants(id)]
		out.Participants = &n
		prev := n
		for _, g := range goals {
			met := tot[GoalMet(id, g)]
			out.Steps = append(out.Steps, Step{Goal: g, Met: met, DropOff: max(0, prev-met)})
			prev = met
		}
	}
	if r == nil {
		return out, nil
	}
	dates, rows, err := s.daily(ctx, tenant, *r, m)
	if err != nil {
		return ObjectStats{}, err
	}
	out.Days = make([]DayCount, len(dates))
	for i, d := range dates {
		out.Days[i] = DayCount{Date: d, Count: rows[i][0]}
	}
	return out, nil
}

// daily sums each metric's buckets into the local days of r: the dates,
// and for each a row of the metrics' sums in their order.
func (s *Service) daily(ctx context.Context, tenant string, r Range, metrics ...string) ([]string, [][]int64, error) {
	bounds, err := r.days()
	if err != nil {
		return nil, nil, err
	}
	pts, err := s.store.MetricPoints(ctx, tenant, metrics, bounds[0].UTC(), bounds[len(bounds)-1].UTC())
	if err != nil {
		return nil, nil, fmt.Errorf("analytics: daily %v: %w", metrics, err)
	}
	col := make(map[string]int, len(metrics))
	for i, m := range metrics {
		col[m] = i
	}
	dates, rows := make([]string, len(bounds)-1), make([][]int64, len(bounds)-1)
	for i := range dates {
		dates[i], rows[i] = bounds[i].Format(time.DateOnly), make([]int64, len(metrics))
	}
	for _, p := range pts {
		c, ok := col[p.Metric]
		if i := sort.Search(len(bounds), func(i int) bool { return bounds[i].After(p.At) }) - 1; ok && i >= 0 && i < len(rows) {
			rows[i][c] += p.Value
		}
	}
	return dates, rows, nil
}

// Fraud thresholds: a user is a signal when their events or credited
// points over the window are at least FraudZ standard deviations above
// the tenant's mean over its active users, and at least FraudMinRatio
// times the mean (so a tight distribution does not flag the merely
// keen). Tenants with fewer than FraudMinUsers active users are not
// judged: there is no distribution to be outside of.
const (
	FraudZ        = 4.0
	FraudMinRatio = 3.0
	FraudMinUsers = 20
	FraudMaxList  = 100
)

// Suspect is a user far outside the tenant's distribution.
type Suspect struct {
	User    string   `json:"user_id"`
	Events  int64    `json:"events"`
	Points  int64    `json:"points"`
	EventsZ float64  `json:"events_z" doc:"(events - mean) / standard deviation over the window's active users."`
	PointsZ float64  `json:"points_z"`
	Signals []string `json:"signals" doc:"event-rate and/or points-velocity."`
}

// FraudReport lists the suspects of a window.
type FraudReport struct {
	FromDay     string    `json:"from_day"`
	ToDay       string    `json:"to_day" doc:"Exclusive."`
	ActiveUsers int       `json:"active_users"`
	EventsMean  float64   `json:"events_mean"`
	EventsSD    float64   `json:"events_sd"`
	PointsMean  float64   `json:"points_mean"`
	PointsSD    float64   `json:"points_sd"`
	Suspects    []Suspect `json:"suspects"`
}

// Fraud compares each user active in the last days UTC days (today
// included) with the tenant's distribution. Memory grows with the
// window's active users, not with history: the store sums their rows.
func (s *Service) Fraud(ctx context.Context, tenant string, days int) (FraudReport, error) {
	today := s.now().UTC().Truncate(24 * time.Hour)
	rep := FraudReport{FromDay: today.AddDate(0, 0, 1-days).Format(time.DateOnly), ToDay: today.AddDate(0, 0, 1).Format(time.DateOnly)}
	acts, err := s.store.UserActivity(ctx, tenant, rep.FromDay, rep.ToDay)
	if err != nil {
		return FraudReport{}, fmt.Errorf("analytics: fraud: %w", err)
	}
	rep.ActiveUsers = len(acts)
	rep.Suspects = []Suspect{}
	rep.EventsMean, rep.EventsSD = meanSD(acts, func(a UserActivity) int64 { return a.Events })
	rep.PointsMean, rep.PointsSD = meanSD(acts, func(a UserActivity) int64 { return a.Points })
	if len(acts) < FraudMinUsers {
		return rep, nil
	}
	for _, a := range acts {
		su := Suspect{User: a.User, Events: a.Events, Points: a.Points,
			EventsZ: zScore(a.Events, rep.EventsMean, rep.EventsSD), PointsZ: zScore(a.Points, rep.PointsMean, rep.PointsSD)}
		if outlier(a.Events, su.EventsZ, rep.EventsMean) {
			su.Signals = append(su.Signals, "event-rate")
		}
		if outlier(a.Points, su.PointsZ, rep.PointsMean) {
			su.Signals = append(su.Signals, "points-velocity")
		}
		if len(su.Signals) > 0 {
			rep.Suspects = append(rep.Suspects, su)
		}
	}
	sort.Slice(rep.Suspects, func(i, j int) bool {
		a, b := rep.Suspects[i], rep.Suspects[j]
		if za, zb := math.Max(a.EventsZ, a.PointsZ), math.Max(b.EventsZ, b.PointsZ); za != zb {
			return za > zb
		}
		return a.User < b.User
	})
	if len(rep.Suspects) > FraudMaxList {
		rep.Suspects = rep.Suspects[:FraudMaxList]
	}
	return rep, nil
}

func outlier(v int64, z, mean float64) bool {
	return z >= FraudZ && float64(v) >= FraudMinRatio*mean
}

func meanSD(acts []UserActivity, val func(UserActivity) int64) (float64, float64) {
	if len(acts) == 0 {
		return 0, 0
	}
	var sum, sq float64
	for _, a := range acts {
		v := float64(val(a))
		sum += v
		sq += v * v
	}
	n := float64(len(acts))
	mean := sum / n
	return round2(mean), round2(math.Sqrt(math.Max(0, sq/n-mean*mean)))
}

func zScore(v int64, mean, sd float64) float64 {
	if sd == 0 {
		return 0
	}
	return round2((float64(v) - mean) / sd)
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
