package analytics

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/badges"
	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
)

// EventScanner reads a tenant's stored events in id order after afterID.
// Event ids are UUIDv7, so id order is receipt order and a lower bound id
// made from a time turns "the last N days" into a range scan.
type EventScanner interface {
	ScanEvents(ctx context.Context, tenant, afterID string, limit int) ([]events.Event, error)
}

// ChallengeSource reads a challenge of the tenant (drafts included).
type ChallengeSource func(ctx context.Context, tenant, id string) (challenges.Challenge, error)

// BadgeSource reads a badge of the tenant (drafts included).
type BadgeSource func(ctx context.Context, tenant, id string) (badges.Badge, error)

// Draft is what a backtest replays: a challenge's or a badge's rule with
// its completion cap and reward.
type Draft struct {
	Kind, Tenant, ID string
	Rule             rule.Rule
	// MaxCompletions caps completions per user (0: once per period, or
	// no cap for a rolling window, as the engine does).
	MaxCompletions int64
	// Limit caps the users who complete (a limited-edition badge); 0: none.
	Limit  int64
	Points int64 // paid per completion
	// EveryEnd judges a rolling window at every instant a window holding
	// the event may end, not only at the event: a badge's semantics, so a
	// late event completes the windows it would have completed in order.
	EveryEnd bool
}

// ChallengeDraft is the draft of a challenge.
func ChallengeDraft(c challenges.Challenge) Draft {
	return Draft{Kind: "challenge", Tenant: c.Tenant, ID: c.ID, Rule: c.Rule, MaxCompletions: c.MaxCompletions, Points: c.Reward.Points}
}

// BadgeDraft is the draft of a badge: its first tier is the rule met; a
// badge is earned once per period (once, without a recurring window).
func BadgeDraft(b badges.Badge) Draft {
	d := Draft{Kind: "badge", Tenant: b.Tenant, ID: b.ID, Rule: b.Rule, Limit: b.Limit, EveryEnd: true}
	if b.Rule.Window.Rolling != "" {
		d.MaxCompletions = 1 // a rolling badge's one period is ""
	}
	return d
}

// scanPage is how many events a backtest reads per query.
const scanPage = 2000

// Job is a backtest: a replay of stored events (or of the ledger, for a
// points board) through a draft, run in the background on this node.
type Job[R any] struct {
	ID       string    `json:"id"`
	Tenant   string    `json:"-"`
	Kind     string    `json:"kind" enum:"challenge,badge,earn_rule,leaderboard"`
	ObjectID string    `json:"object_id,omitempty" doc:"The challenge, badge or earn rule replayed; none for a draft board."`
	Status   string    `json:"status" enum:"running,done,failed"`
	Days     int       `json:"days"`
	From     time.Time `json:"from" doc:"Events received (ledger entries created) from this time on are replayed."`
	Scanned  int64     `json:"scanned_events" doc:"Events read so far (ledger entries, for a points board)."`
	Progress float64   `json:"progress" doc:"Share of the time span scanned so far, 0 to 1."`
	Error    string    `json:"error,omitempty"`
	Result   *R        `json:"result,omitempty"`
}

// Backtest is a replay of stored events through a challenge's or a badge's rule.
type Backtest = Job[BacktestResult]

// BacktestResult is what the rule would have done.
type BacktestResult struct {
	Progressed  int64      `json:"users_progressed" doc:"Users with at least one counted event."`
	Completed   int64      `json:"users_completed"`
	Completions int64      `json:"completions" doc:"Completions, several per user for a recurring challenge."`
	Points      int64      `json:"points" doc:"Reward points the completions would have paid: the liability the rule adds."`
	Curve       []DayCount `json:"completion_curve" doc:"Completions per UTC day of completion."`
	FirstUsers  []string   `json:"sample_completers" doc:"Up to 20 users who would have completed, first completers first."`
}

// sampleUsers is how many users a result names.
const sampleUsers = 20

// jobStore keeps this node's jobs in memory (lost on restart; backtests
// and rebuilds are idempotent, so running one again is harmless).
type jobStore[T any] struct {
	mu   sync.Mutex
	jobs map[string]T
}

func (b *jobStore[T]) put(id string, j T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.jobs == nil {
		b.jobs = map[string]T{}
	}
	b.jobs[id] = j
}

func (b *jobStore[T]) get(id string) (T, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	j, ok := b.jobs[id]
	return j, ok
}

// replay is one backtest's work: fold what was stored since from,
// reporting (rows read, time reached) as it goes.
type replay[R any] func(ctx context.Context, from time.Time, progress func(int64, time.Time)) (R, error)

// startJob records a running job replaying the last days days and runs it
// in the background; the request's cancellation does not stop it.
func startJob[R any](ctx context.Context, s *Service, jobs *jobStore[Job[R]], tenant, kind, id string, days int, run replay[R]) Job[R] {
	now := s.now().UTC()
	j := Job[R]{ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, Kind: kind, ObjectID: id, Status: "running", Days: days, From: now.AddDate(0, 0, -days)}
	jobs.put(j.ID, j)
	go runJob(context.WithoutCancel(ctx), s, jobs, j, now, run)
	return j
}

func runJob[R any](ctx context.Context, s *Service, jobs *jobStore[Job[R]], j Job[R], now time.Time, run replay[R]) {
	res, err := run(ctx, j.From, func(scanned int64, at time.Time) {
		j.Scanned, j.Progress = scanned, min(1, max(0, round2(at.Sub(j.From).Seconds()/now.Sub(j.From).Seconds())))
		jobs.put(j.ID, j)
	})
	j.Status, j.Progress, j.Result = "done", 1, &res
	if err != nil {
		j.Status, j.Error, j.Result = "failed", "the replay failed; try again", nil
		s.logger.Error("analytics: backtest", j.Kind, j.ObjectID, "job", j.ID, "err", err)
	}
	jobs.put(j.ID, j)
}

// findJob returns a job of the tenant about kind id; any other is not found.
func findJob[R any](jobs *jobStore[Job[R]], tenant, kind, id, jobID string) (Job[R], error) {
	j, ok := jobs.get(jobID)
	if !ok || j.Tenant != tenant || j.Kind != kind || j.ObjectID != id {
		return Job[R]{}, errs.New(errs.NotFound, "not-found", "no such backtest")
	}
	return j, nil
}

// lowerID is the smallest UUIDv7 of time t.
func lowerID(t time.Time) string {
	ms := uint64(t.UnixMilli())
	return fmt.Sprintf("%08x-%04x-7000-8000-000000000000", ms>>16, ms&0xffff)
}

// scanSince calls fn with each of the tenant's events received since
// from, in id (receipt) order, a page at a time, and reports progress
// after each page. Every backtest over events reads through it.
func (s *Service) scanSince(ctx context.Context, tenant string, from time.Time, progress func(int64, time.Time), fn func(events.Event) error) error {
	after := lowerID(from)
	var scanned int64
	for {
		page, err := s.scanner.ScanEvents(ctx, tenant, after, scanPage)
		if err != nil {
			return err
		}
		for _, ev := range page {
			if err := fn(ev); err != nil {
				return err
			}
		}
		if len(page) == 0 {
			return nil
		}
		scanned += int64(len(page))
		after = page[len(page)-1].ID
		progress(scanned, page[len(page)-1].ReceivedAt)
		if len(page) < scanPage {
			return nil
		}
	}
}

// draft reads the challenge or badge a backtest replays.
func (s *Service) draft(ctx context.Context, tenant, kind, id string) (Draft, error) {
	if kind == "challenge" {
		c, err := s.challenges(ctx, tenant, id)
		return ChallengeDraft(c), err
	}
	b, err := s.badgeDefs(ctx, tenant, id)
	return BadgeDraft(b), err
}

// StartBacktest checks the challenge or badge and starts replaying the
// last days days of the tenant's events through its rule in the background.
func (s *Service) StartBacktest(ctx context.Context, tenant, kind, id string, days int) (Backtest, error) {
	d, err := s.draft(ctx, tenant, kind, id)
	if err != nil {
		return Backtest{}, err
	}
	return startJob(ctx, s, &s.jobs, tenant, kind, id, days, func(ctx context.Context, from time.Time, progress func(int64, time.Time)) (BacktestResult, error) {
		return s.Replay(ctx, d, from, progress)
	}), nil
}

// Backtest returns a job of the challenge or badge.
func (s *Service) Backtest(tenant, kind, id, jobID string) (Backtest, error) {
	return findJob(&s.jobs, tenant, kind, id, jobID)
}

// userRun is one user's replay state on a challenge.
type userRun struct {
	done    int64                                     // completions so far
	periods map[string]map[string][]rule.Contribution // period → goal → contributions
	closed  map[string]bool                           // periods already completed
	rolling rollingRun
}

// Replay folds the tenant's events received since from through c's rule
// with the engine's own rule semantics (goal matching and filters, the
// window's periods and late-arrival grace, rolling windows, ordered steps,
// the completion cap, a badge's edition limit) and writes nothing. Not
// replayed: limits, enrolment, eligibility (they depend on state outside
// the event stream). Memory grows with the counted contributions of the
// window, never with the rest of history.
func (s *Service) Replay(ctx context.Context, c Draft, from time.Time, progress func(int64, time.Time)) (BacktestResult, error) {
	runs := map[string]*userRun{}
	var res BacktestResult
	curve := map[string]int64{}
	err := s.scanSince(ctx, c.Tenant, from, progress, func(ev events.Event) error {
		if u := runs[ev.User]; c.Limit > 0 && res.Completed >= c.Limit && (u == nil || u.done == 0) {
			return nil // a limited edition is gone: newcomers cannot earn it
		}
		at, ok := c.replayEvent(runs, ev)
		if !ok {
			return nil
		}
		res.Completions++
		curve[at.UTC().Format(time.DateOnly)]++
		if runs[ev.User].done == 1 {
			res.Completed++
			if len(res.FirstUsers) < sampleUsers {
				res.FirstUsers = append(res.FirstUsers, ev.User)
			}
		}
		return nil
	})
	if err != nil {
		return BacktestResult{}, fmt.Errorf("analytics: backtest %s: %w", c.ID, err)
	}
	res.Progressed = int64(len(runs))
	res.Points = res.Completions * c.Points
	res.Curve = dayCounts(curve)
	return res, nil
}

// dayCounts lists counts by date, oldest first.
func dayCounts(byDay map[string]int64) []DayCount {
	out := make([]DayCount, 0, len(byDay))
	for d, n := range byDay {
		out = append(out, DayCount{Date: d, Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date < out[j].Date })
	return out
}

// replayEvent counts ev for its user and reports a completion it causes.
func (c Draft) replayEvent(runs map[string]*userRun, ev events.Event) (time.Time, bool) {
	if ev.User == "" {
		return time.Time{}, false
	}
	period, ok := c.Rule.Window.Counts(ev.OccurredAt, ev.ReceivedAt)
	if !ok {
		return time.Time{}, false
	}
	hits := c.hits(ev)
	if hits == nil {
		return time.Time{}, false
	}
	u := runs[ev.User]
	if u == nil {
		u = &userRun{periods: map[string]map[string][]rule.Contribution{}, closed: map[string]bool{}}
		runs[ev.User] = u
	}
	if u.closed[period.Key] || c.MaxCompletions > 0 && u.done >= c.MaxCompletions {
		return time.Time{}, false
	}
	if c.Rule.Window.Rolling != "" {
		if !u.rolling.count(c, ev, hits) {
			return time.Time{}, false
		}
	} else if !c.countPeriod(u, period.Key, hits) {
		return time.Time{}, false
	}
	u.done++
	if c.Rule.Window.Rolling == "" {
		u.closed[period.Key] = true
	}
	return ev.OccurredAt, true
}

// hits returns what ev contributes to each goal it matches; nil for none.
func (c Draft) hits(ev events.Event) map[string]rule.Contribution {
	re := rule.Event{Type: ev.Type, Props: ev.Props, OccurredAt: ev.OccurredAt}
	var hits map[string]rule.Contribution
	for _, g := range c.Rule.Goals {
		if x, ok := g.Match(re); ok {
			if hits == nil {
				hits = map[string]rule.Contribution{}
			}
			hits[g.ID] = x
		}
	}
	return hits
}

// countPeriod adds hits to the user's calendar period and reports whether
// the rule is met there.
func (c Draft) countPeriod(u *userRun, key string, hits map[string]rule.Contribution) bool {
	goals := u.periods[key]
	if goals == nil {
		goals = map[string][]rule.Contribution{}
		u.periods[key] = goals
	}
	for id, x := range hits {
		goals[id] = append(goals[id], x)
	}
	if !c.Rule.Met(c.Rule.Progress(goals)) {
		return false
	}
	delete(u.periods, key) // a completed period needs no more memory
	return true
}
