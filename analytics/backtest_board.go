package analytics

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
)

// BoardBacktest is a replay of stored events (or of the ledger) into a
// draft board.
type BoardBacktest = Job[BoardResult]

// BoardResult is how a board would have stood.
type BoardResult struct {
	Source  string        `json:"source" enum:"points,event"`
	Scored  int64         `json:"scored" doc:"Events (ledger entries, for a points board) that scored."`
	Periods []BoardPeriod `json:"periods" doc:"Every period something scored in, oldest first, as it stood at its close."`
	Current *BoardPeriod  `json:"current,omitempty" doc:"The period holding now (empty when nothing scored in it); absent outside a custom window."`
}

// BoardPeriod is one period of a replayed board.
type BoardPeriod struct {
	Period       string       `json:"period"`
	Start        *time.Time   `json:"start,omitempty"`
	End          *time.Time   `json:"end,omitempty"`
	Participants int64        `json:"participants"`
	Top          []BoardEntry `json:"top" doc:"Up to 10 members, ranked as boards rank: score, then the earlier achiever, then user id."`
}

// BoardEntry is a member of a replayed board.
type BoardEntry struct {
	User  string    `json:"user_id"`
	Score int64     `json:"score"`
	At    time.Time `json:"achieved_at"`
}

// boardTop is how many members a replayed period lists.
const boardTop = 10

// closeMargin is how long after a period stops taking scores the replay
// still keeps it open: ids of events received on different nodes are in
// order only up to the nodes' clock skew.
const closeMargin = time.Minute

// StartBoardBacktest validates in as creating the board would and starts
// replaying the last days days into it: stored events for an event board,
// the ledger's earnings for a points board.
func (s *Service) StartBoardBacktest(ctx context.Context, tenant string, in leaderboards.CreateInput, days int) (BoardBacktest, error) {
	if s.bt.Boards == nil {
		return BoardBacktest{}, errs.New(errs.Unprocessable, "backtest-unsupported", "this server does not replay boards")
	}
	b, err := s.bt.Boards.Draft(ctx, tenant, in)
	if err != nil {
		return BoardBacktest{}, err
	}
	if b.Source == leaderboards.FromPoints && s.bt.Ledger == nil {
		return BoardBacktest{}, errs.New(errs.Unprocessable, "backtest-unsupported", "this server cannot read the ledger a points board replays").OnField("body.source")
	}
	return startJob(ctx, s, &s.bt.board, tenant, "leaderboard", "", days, func(ctx context.Context, from time.Time, progress func(int64, time.Time)) (BoardResult, error) {
		return s.ReplayBoard(ctx, b, from, progress)
	}), nil
}

// BoardBacktest returns a board backtest of the tenant.
func (s *Service) BoardBacktest(tenant, jobID string) (BoardBacktest, error) {
	return findJob(&s.bt.board, tenant, "leaderboard", "", jobID)
}

// ReplayBoard folds what was stored since from into board b's periods
// with the board's own semantics (leaderboards' Scores, PaidBy, PeriodAt
// and Join: event type, prop, aggregation, max_per_event, scope, the late
// grace, periods in the board's zone) and writes nothing. A period is
// summed up and forgotten once nothing more can score in it, so memory
// grows with the members of the open periods, not with events: for a
// points board a reversal whose credit's period has closed is left out
// (the period as it stood at its close). An event board counts events
// from from on, as if it had existed since; a points board the credits
// created since from.
func (s *Service) ReplayBoard(ctx context.Context, b leaderboards.Board, from time.Time, progress func(int64, time.Time)) (BoardResult, error) {
	f := newBoardFold(b)
	var err error
	if b.Source == leaderboards.FromPoints {
		err = s.replayLedger(ctx, f, from, progress)
	} else {
		err = s.scanSince(ctx, b.Tenant, from, progress, func(ev events.Event) error {
			f.event(ev)
			return nil
		})
	}
	if err != nil {
		return BoardResult{}, fmt.Errorf("analytics: backtest board: %w", err)
	}
	return f.result(s.now()), nil
}

// replayLedger folds the ledger's earnings created since from into f.
func (s *Service) replayLedger(ctx context.Context, f *boardFold, from time.Time, progress func(int64, time.Time)) error {
	var n int64
	var clock time.Time
	defer func() { progress(n, clock) }()
	return s.bt.Ledger.ScanEarnings(ctx, f.board.Tenant, func(e points.Entry) error {
		if n++; n%scanPage == 0 {
			progress(n, clock)
		}
		if e.CreatedAt.Before(from) {
			return nil
		}
		if e.CreatedAt.After(clock) && e.Amount > 0 {
			clock = e.CreatedAt // a reversal comes at its credit's time
		}
		f.entry(e, clock)
		return nil
	})
}

// boardFold keeps the open periods' members of a replayed board.
type boardFold struct {
	board     leaderboards.Board
	open      map[string]*openPeriod
	summed    []BoardPeriod   // closed periods, summed up
	closed    map[string]bool // their names
	nextClose time.Time       // the earliest time an open period closes
	scored    int64
}

func newBoardFold(b leaderboards.Board) *boardFold {
	return &boardFold{board: b, open: map[string]*openPeriod{}, closed: map[string]bool{}}
}

// event folds a stored event, received in id order.
func (f *boardFold) event(ev events.Event) {
	f.advance(ev.ReceivedAt)
	if v, ok := f.board.Scores(ev); ok && ev.User != "" {
		f.add(ev.User, v, ev.OccurredAt)
	}
}

// entry folds a ledger earning; clock is the latest credit's time so far.
func (f *boardFold) entry(e points.Entry, clock time.Time) {
	f.advance(clock)
	if f.board.PaidBy(e) {
		f.add(e.User, e.Amount, e.CreatedAt)
	}
}

type openPeriod struct {
	period  leaderboards.Period
	members map[string]*BoardEntry
}

// closesAt is when nothing more can score in p: the late grace after its
// end, and a margin; zero for a period without an end.
func closesAt(p leaderboards.Period) time.Time {
	if p.End.IsZero() {
		return time.Time{}
	}
	return p.End.Add(rule.LateGrace + closeMargin)
}

// add folds one value of user at time at into its period.
func (f *boardFold) add(user string, v int64, at time.Time) {
	p, ok := f.board.PeriodAt(at)
	if !ok || f.closed[p.Name] {
		return
	}
	op := f.open[p.Name]
	if op == nil {
		op = &openPeriod{period: p, members: map[string]*BoardEntry{}}
		f.open[p.Name] = op
		if c := closesAt(p); !c.IsZero() && (f.nextClose.IsZero() || c.Before(f.nextClose)) {
			f.nextClose = c
		}
	}
	f.scored++
	if m := op.members[user]; m != nil {
		m.Score, m.At = f.board.Aggregation.Join(m.Score, m.At, v, at)
	} else {
		op.members[user] = &BoardEntry{User: user, Score: v, At: at}
	}
}

// advance sums up and forgets the periods closed by clock.
func (f *boardFold) advance(clock time.Time) {
	if f.nextClose.IsZero() || clock.Before(f.nextClose) {
		return
	}
	f.nextClose = time.Time{}
	for name, op := range f.open {
		c := closesAt(op.period)
		if !clock.Before(c) {
			f.summed = append(f.summed, op.summary())
			f.closed[name] = true
			delete(f.open, name)
		} else if !c.IsZero() && (f.nextClose.IsZero() || c.Before(f.nextClose)) {
			f.nextClose = c
		}
	}
}

// summary is the period's participants and top members.
func (op *openPeriod) summary() BoardPeriod {
	bp := BoardPeriod{Period: op.period.Name, Participants: int64(len(op.members)), Top: []BoardEntry{}}
	if !op.period.End.IsZero() {
		start, end := op.period.Start, op.period.End
		bp.Start, bp.End = &start, &end
	}
	for _, m := range op.members {
		i, _ := slices.BinarySearchFunc(bp.Top, *m, ranks)
		if i < boardTop {
			bp.Top = slices.Insert(bp.Top, i, *m)
			bp.Top = bp.Top[:min(len(bp.Top), boardTop)]
		}
	}
	return bp
}

// ranks orders members as boards do: score descending, the earlier
// achiever first, then user id.
func ranks(a, b BoardEntry) int {
	switch {
	case a.Score != b.Score:
		if a.Score > b.Score {
			return -1
		}
		return 1
	case !a.At.Equal(b.At):
		return a.At.Compare(b.At)
	}
	return strings.Compare(a.User, b.User)
}

// result lists every period, oldest first, and the one holding now.
func (f *boardFold) result(now time.Time) BoardResult {
	res := BoardResult{Source: string(f.board.Source), Scored: f.scored, Periods: f.summed}
	for _, op := range f.open {
		res.Periods = append(res.Periods, op.summary())
	}
	slices.SortFunc(res.Periods, func(a, b BoardPeriod) int { return periodStart(a).Compare(periodStart(b)) })
	if res.Periods == nil {
		res.Periods = []BoardPeriod{}
	}
	cur, ok := f.board.PeriodAt(now)
	if !ok {
		return res
	}
	if i := slices.IndexFunc(res.Periods, func(p BoardPeriod) bool { return p.Period == cur.Name }); i >= 0 {
		res.Current = &res.Periods[i]
		return res
	}
	empty := (&openPeriod{period: cur}).summary()
	res.Current = &empty
	return res
}

func periodStart(p BoardPeriod) time.Time {
	if p.Start == nil {
		return time.Time{}
	}
	return *p.Start
}
