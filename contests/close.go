package contests

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/questline/questline/contests/draw"
	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/leaderboards"
)

// WonType is the system event, and the push, of a prize won.
const WonType = "contest.won"

// standingsReserve is how many rows past the prize places a leaderboard
// contest freezes, so disqualified winners can be replaced from them.
const standingsReserve = 100

// Draw closes a contest and decides its winners: a prize draw by the
// verifiable draw over its frozen entry list, a leaderboard contest by its
// board's top at the close, frozen. Repeating it returns the same result
// and finishes any payment a crash left pending.
func (s *Service) Draw(ctx context.Context, tenant, id string) (Contest, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Contest{}, err
	}
	if c.Status == Finished {
		return s.payAll(ctx, c)
	}
	now := s.Now()
	if now.Before(c.EndsAt) {
		return Contest{}, errs.New(errs.Conflict, "contest-running", "the contest closes at %s; force-end it to close it now", c.EndsAt.Format(time.RFC3339))
	}
	if ready := c.EndsAt.Add(s.Settle); c.Kind == DrawKind && now.Before(ready) {
		return Contest{}, errs.New(errs.Conflict, "draw-settling", "entries received before the close may still be written until %s; draw then", ready.Format(time.RFC3339))
	}
	res := Result{ClosedAt: s.clock()}
	switch c.Kind {
	case DrawKind:
		err = s.drawWinners(ctx, &c, &res)
	default:
		err = s.freezeStandings(ctx, &c, &res)
	}
	if err != nil {
		return Contest{}, err
	}
	c.Status, c.Result = Finished, &res
	saved, err := s.save(ctx, c)
	if e, ok := errs.As(err); ok && e.Code == "edit-conflict" {
		// Another node drew it meanwhile: its result stands.
		if saved, err = s.Get(ctx, tenant, id); err == nil && saved.Status != Finished {
			err = e
		}
	}
	if err != nil {
		return Contest{}, err
	}
	s.publish(ctx, saved, "contest.finished", saved.Result)
	return s.payAll(ctx, saved)
}

// frozenList is a prize draw's entry list, read once in canonical order.
type frozenList struct {
	list    *draw.List
	tickets []draw.Ticket
	users   []string // users[i] holds tickets[i]
}

// progressEvery is how many tickets a long read logs its progress after.
const progressEvery = 250_000

func (s *Service) readList(ctx context.Context, c Contest, keep bool) (frozenList, error) {
	total, err := s.Store.CountContestEntries(ctx, c.Tenant, c.ID)
	if err != nil {
		return frozenList{}, fmt.Errorf("contests: count entries of %s: %w", c.ID, err)
	}
	f := frozenList{list: draw.NewList(keep), tickets: make([]draw.Ticket, 0, total), users: make([]string, 0, total)}
	err = s.Store.ScanContestEntries(ctx, c.Tenant, c.ID, func(e Entry) error {
		if n := len(f.tickets); n > 0 && n%progressEvery == 0 {
			s.Logger.Info("contests: reading the entry list", "contest", c.ID, "done", n, "total", total)
		}
		t := e.Ticket()
		if err := f.list.Add(t); err != nil {
			return err
		}
		f.tickets = append(f.tickets, t)
		f.users = append(f.users, e.User)
		return nil
	})
	if err != nil {
		return frozenList{}, fmt.Errorf("contests: entry list of %s: %w", c.ID, err)
	}
	return f, nil
}

// userOf is the user behind an entrant handle of the list.
func (f frozenList) userOf(entrant string) string {
	i := sort.Search(len(f.tickets), func(i int) bool { return f.tickets[i].Entrant >= entrant })
	if i < len(f.tickets) && f.tickets[i].Entrant == entrant {
		return f.users[i]
	}
	return ""
}

// drawWinners runs the draw over the frozen list.
func (s *Service) drawWinners(ctx context.Context, c *Contest, res *Result) error {
	start := time.Now()
	f, err := s.readList(ctx, *c, false)
	if err != nil {
		return err
	}
	sum := f.list.Sum()
	order := draw.Order(c.Seed, sum, f.tickets)
	res.Algorithm, res.Seed = draw.Version, hex.EncodeToString(c.Seed)
	res.EntriesHash, res.EntriesCount = hex.EncodeToString(sum[:]), int64(len(f.tickets))
	res.Winners = s.winners(*c, draw.Assign(order, c.Places(), c.disqualifiedEntrants()), nil, f.userOf)
	s.Logger.Info("contests: drawn", "tenant", c.Tenant, "contest", c.ID, "tickets", len(f.tickets),
		"entrants", len(order), "took", time.Since(start))
	return nil
}

// freezeStandings reads the board's top at the close.
func (s *Service) freezeStandings(ctx context.Context, c *Contest, res *Result) error {
	if s.Boards == nil {
		return errs.New(errs.Conflict, "no-boards", "leaderboards are not available on this node")
	}
	pg, err := s.Boards.Top(ctx, c.Tenant, c.BoardID, "", 0, c.Places()+standingsReserve)
	if err != nil {
		return fmt.Errorf("contests: standings of %s: %w", c.ID, err)
	}
	if pg.Build != nil && pg.Build.State != leaderboards.Ready {
		return errs.New(errs.Conflict, "board-building", "the contest's board is still being filled from the ledger; draw again shortly")
	}
	for _, r := range pg.Entries {
		res.Standings = append(res.Standings, Standing{Rank: r.Rank, User: r.Member, Score: r.Score})
	}
	res.Winners = s.winners(*c, draw.Assign(standingOrder(res.Standings), c.Places(), c.disqualifiedUsers()), nil, nil)
	return nil
}

func standingOrder(st []Standing) []string {
	out := make([]string, len(st))
	for i, r := range st {
		out[i] = r.User
	}
	return out
}

// winners turns prize places into winners, keeping the payment state of
// places whose holder did not change. userOf maps a draw's entrant handle
// to its user; nil for leaderboard contests, whose order is of users.
func (s *Service) winners(c Contest, slots []draw.Slot, before []Winner, userOf func(string) string) []Winner {
	byUser := map[string]string{} // entrant or user -> user, of the disqualified
	for _, d := range c.Disqualified {
		byUser[d.Entrant] = d.User
		byUser[d.User] = d.User
	}
	out := make([]Winner, len(slots))
	for i, sl := range slots {
		w := Winner{Position: sl.Position, Prize: c.PrizeAt(sl.Position)}
		if userOf != nil {
			w.Entrant = sl.Entrant
			if sl.Entrant != "" {
				w.User = userOf(sl.Entrant)
			}
		} else {
			w.User = sl.Entrant
		}
		for _, r := range sl.Replaced {
			w.Replaced = append(w.Replaced, byUser[r])
		}
		if i < len(before) && before[i].User == w.User {
			w.PaidAt, w.Redemption, w.RewardFailure = before[i].PaidAt, before[i].Redemption, before[i].RewardFailure
		}
		out[i] = w
	}
	return out
}

func (c Contest) disqualifiedEntrants() []string {
	out := make([]string, len(c.Disqualified))
	for i, d := range c.Disqualified {
		out[i] = d.Entrant
	}
	return out
}

func (c Contest) disqualifiedUsers() []string {
	out := make([]string, len(c.Disqualified))
	for i, d := range c.Disqualified {
		out[i] = d.User
	}
	return out
}

// payAll pays every place not yet paid and records the payments. Each
// payment is keyed by (contest, place, user), so a retry, a concurrent
// draw or a restart pays nothing twice.
func (s *Service) payAll(ctx context.Context, c Contest) (Contest, error) {
	if c.Result == nil {
		return c, nil
	}
	changed := false
	for i := range c.Result.Winners {
		w := &c.Result.Winners[i]
		if w.User == "" || w.PaidAt != nil {
			continue
		}
		if err := s.pay(ctx, c, w); err != nil {
			return Contest{}, fmt.Errorf("contests: pay %s place %d: %w", c.ID, w.Position, err)
		}
		now := s.clock()
		w.PaidAt, changed = &now, true
	}
	if !changed {
		return c, nil
	}
	saved, err := s.save(ctx, c)
	if e, ok := errs.As(err); ok && e.Code == "edit-conflict" {
		return s.Get(ctx, c.Tenant, c.ID) // the other writer paid the same keys
	}
	return saved, err
}

// pay hands one winner their prize: points, badge and reward keyed by the
// place, then contest.won (keyed the same) and the live pushes. It notes
// the reward's redemption (or why there is none) on w.
func (s *Service) pay(ctx context.Context, c Contest, w *Winner) error {
	p := c.Prizes[w.Prize]
	key := payKey(c, *w)
	at := c.Result.ClosedAt
	var emit []events.Event
	if p.Points > 0 && s.Payer != nil {
		if _, _, err := s.Payer.PayOnce(ctx, c.Tenant, w.User, p.Points, key, "contest "+c.Name, ""); err != nil {
			return err
		}
		emit = append(emit, events.Event{Tenant: c.Tenant, User: w.User, Type: "points.earned",
			Props: map[string]any{"amount": float64(p.Points), "key": key}, OccurredAt: at, IdempotencyKey: "points.earned:" + key})
	}
	if p.Badge != "" && s.Awarder != nil {
		sys, err := s.Awarder.Award(ctx, c.Tenant, w.User, p.Badge, "contest:"+c.ID, key)
		if e, ok := errs.As(err); ok && (e.Kind == errs.NotFound || e.Kind == errs.Conflict) {
			// The badge was deleted or unpublished since: nothing to
			// award, and failing would block the other prizes forever.
			s.Logger.Warn("contests: prize badge not awarded", "contest", c.ID, "badge", p.Badge, "err", err)
			err = nil
		}
		if err != nil {
			return fmt.Errorf("badge %s: %w", p.Badge, err)
		}
		emit = append(emit, sys...)
	}
	won := map[string]any{"contest_id": c.ID, "name": c.Name, "position": w.Position, "prize": p}
	if err := s.grant(ctx, c, p, w, key, won); err != nil {
		return err
	}
	emit = append(emit, events.Event{Tenant: c.Tenant, User: w.User, Type: WonType,
		Props:      map[string]any{"contest_id": c.ID, "position": float64(w.Position), "prize": float64(w.Prize)},
		OccurredAt: at, IdempotencyKey: WonType + ":" + key})
	if s.Emitter != nil {
		for _, ev := range emit {
			if err := s.Emitter.Emit(ctx, ev); err != nil {
				return fmt.Errorf("emit %s: %w", ev.Type, err)
			}
		}
	}
	s.push(ctx, c.Tenant, w.User, WonType, won)
	return nil
}

// grant redeems the prize's reward for the winner, once per key, without
// payment. Out of stock (sold since the contest was made) is no error:
// the place records it and the rest of the prize is paid. The redemption
// and its code go into the winner's own push.
func (s *Service) grant(ctx context.Context, c Contest, p Prize, w *Winner, key string, won map[string]any) error {
	if p.Reward == "" || s.Rewarder == nil {
		return nil
	}
	red, err := s.Rewarder.Grant(ctx, c.Tenant, w.User, p.Reward, key)
	if e, ok := errs.As(err); ok && (e.Kind == errs.Conflict || e.Kind == errs.NotFound) {
		s.Logger.WarnContext(ctx, "contests: prize reward not granted", "contest", c.ID, "reward", p.Reward, "err", err)
		w.RewardFailure = e.Code
		won["reward_failure"] = e.Code
		return nil
	}
	if err != nil {
		return fmt.Errorf("reward %s: %w", p.Reward, err)
	}
	w.Redemption = red.ID
	won["redemption"] = red
	return nil
}

// payKey keys a place's payment to its holder: a replacement's payment
// is another key, a repeat the same.
func payKey(c Contest, w Winner) string {
	return "contest:" + c.ID + ":" + strconv.Itoa(w.Position) + ":" + w.User
}

// DisqualifyInput names the winner to remove and why.
type DisqualifyInput struct {
	User   string `json:"user_id" minLength:"1" maxLength:"128" doc:"The winner to disqualify."`
	Reason string `json:"reason" minLength:"1" maxLength:"500" doc:"Why, for the audit log."`
}

// Disqualify removes a winner: their place goes to the next entrant of
// the draw's order (or the next row of the frozen standings) who has not
// held a place, and nobody else moves (docs/draws.md). Prize points the
// disqualified winner was paid are reversed (a badge stays). Audited with
// the reason.
func (s *Service) Disqualify(ctx context.Context, tenant, actor, id string, in DisqualifyInput) (Contest, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Contest{}, err
	}
	if c.Status != Finished {
		return Contest{}, errs.New(errs.Conflict, "contest-not-drawn", "only the winners of a drawn contest can be disqualified")
	}
	var held *Winner
	for i, w := range c.Result.Winners {
		if w.User == in.User {
			held = &c.Result.Winners[i]
		}
	}
	if held == nil {
		return s.disqualifiedAgain(ctx, c, in.User)
	}
	c.Disqualified = append(c.Disqualified, Disqualification{User: in.User, Entrant: Entrant(tenant, in.User), By: actor, Reason: in.Reason, At: s.clock()})
	lost := *held
	if err := s.reassign(ctx, &c); err != nil {
		return Contest{}, err
	}
	saved, err := s.save(ctx, c)
	if err != nil {
		return Contest{}, err
	}
	reversed, err := s.takeBack(ctx, c, lost)
	if err != nil {
		return Contest{}, err
	}
	if err := s.record(ctx, tenant, actor, "contest.disqualify", "contest:"+id+"/user:"+in.User,
		map[string]string{"reason": in.Reason, "points_reversed": strconv.FormatInt(reversed, 10)}); err != nil {
		return Contest{}, err
	}
	s.publish(ctx, saved, "contest.winners", saved.Result.Winners)
	return s.payAll(ctx, saved)
}

// disqualifiedAgain answers a repeat of a disqualification: it finishes
// the reversal a crash may have cut short (keyed, so at most once) and
// returns the contest as it is. A user who never held a place is a
// conflict.
func (s *Service) disqualifiedAgain(ctx context.Context, c Contest, user string) (Contest, error) {
	for _, w := range c.Result.Winners {
		if slices.Contains(w.Replaced, user) {
			paid := w.PaidAt
			if paid == nil {
				paid = &c.Result.ClosedAt // Reverse finds no payment if there was none
			}
			if _, err := s.takeBack(ctx, c, Winner{Position: w.Position, Prize: w.Prize, User: user, PaidAt: paid}); err != nil {
				return Contest{}, err
			}
			return s.payAll(ctx, c)
		}
	}
	return Contest{}, errs.New(errs.Conflict, "not-a-winner", "user %q holds no place of this contest", user).OnField("body.user_id")
}

// takeBack reverses the prize points a disqualified winner was paid, once
// (the reversal is keyed by the payment). A retry after a crash before it
// finds the winner already replaced, so the reversal is best made here, at
// once; it reports how many points it took back.
func (s *Service) takeBack(ctx context.Context, c Contest, w Winner) (int64, error) {
	if w.PaidAt == nil || c.Prizes[w.Prize].Points == 0 || s.Reverser == nil {
		return 0, nil
	}
	ch, err := s.Reverser.Reverse(ctx, c.Tenant, payKey(c, w))
	if e, ok := errs.As(err); ok && e.Kind == errs.NotFound {
		return 0, nil // the payment never reached the ledger
	}
	if err != nil {
		return 0, fmt.Errorf("contests: reverse the prize of %s: %w", w.User, err)
	}
	return ch.Amount, nil
}

// reassign re-derives the places after a disqualification by the same
// rule as the draw.
func (s *Service) reassign(ctx context.Context, c *Contest) error {
	before := c.Result.Winners
	if c.Kind == LeaderboardKind {
		c.Result.Winners = s.winners(*c, draw.Assign(standingOrder(c.Result.Standings), c.Places(), c.disqualifiedUsers()), before, nil)
		return nil
	}
	f, err := s.readList(ctx, *c, false)
	if err != nil {
		return err
	}
	sum := f.list.Sum()
	if hex.EncodeToString(sum[:]) != c.Result.EntriesHash {
		return errors.New("contests: the entry list changed since the draw")
	}
	c.Result.Winners = s.winners(*c, draw.Assign(draw.Order(c.Seed, sum, f.tickets), c.Places(), c.disqualifiedEntrants()), before, f.userOf)
	return nil
}

// EntryList is a finished prize draw's canonical entry list file.
func (s *Service) EntryList(ctx context.Context, tenant, id string) ([]byte, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if c.Kind != DrawKind {
		return nil, errs.New(errs.Conflict, "not-a-draw", "a leaderboard contest has no entry list; its standings are in its winners")
	}
	if c.Status != Finished {
		return nil, errs.New(errs.Conflict, "contest-not-drawn", "the entry list is published at the draw")
	}
	f, err := s.readList(ctx, c, true)
	if err != nil {
		return nil, err
	}
	return f.list.Bytes(), nil
}

// Record is a prize draw as published, for verifiers; before the draw it
// holds only the commitment.
func (c Contest) Record() *draw.Record {
	if c.Kind != DrawKind {
		return nil
	}
	rec := &draw.Record{Algorithm: draw.Version, Commitment: c.Commitment, Places: c.Places(), Winners: []draw.Slot{}}
	if c.Result == nil {
		return rec
	}
	rec.Seed, rec.EntriesHash, rec.EntriesCount = c.Result.Seed, c.Result.EntriesHash, int(c.Result.EntriesCount)
	rec.Disqualified = c.disqualifiedEntrants()
	entrantOf := map[string]string{}
	for _, d := range c.Disqualified {
		entrantOf[d.User] = d.Entrant
	}
	for _, w := range c.Result.Winners {
		sl := draw.Slot{Position: w.Position, Entrant: w.Entrant}
		for _, r := range w.Replaced {
			sl.Replaced = append(sl.Replaced, entrantOf[r])
		}
		rec.Winners = append(rec.Winners, sl)
	}
	return rec
}
