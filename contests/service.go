package contests

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/auth"
	"github.com/questline/questline/contests/draw"
	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/bus"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
	"github.com/questline/questline/profiles"
)

// Boards is the leaderboard service a leaderboard contest ranks on.
type Boards interface {
	Create(ctx context.Context, tenant string, in leaderboards.CreateInput) (leaderboards.Board, error)
	Top(ctx context.Context, tenant, id, sel string, offset, limit int) (leaderboards.Page, error)
	Extend(ctx context.Context, tenant, id string, endsAt time.Time) (leaderboards.Board, error)
}

// Payer pays points exactly once per key.
type Payer interface {
	PayOnce(ctx context.Context, tenant, user string, amount int64, key, reason, eventID string) (paidByEvent string, balance int64, err error)
}

// Spender spends a user's points exactly once per key, never overdrawing,
// and refunds a spend once, by its key.
type Spender interface {
	Spend(ctx context.Context, sp points.Spend) (points.Change, error)
	Refund(ctx context.Context, tenant, key string) (points.Change, error)
}

// Reverser takes back a credit once, by its ledger key.
type Reverser interface {
	Reverse(ctx context.Context, tenant, key string) (points.Change, error)
}

// Rewarder grants catalogue rewards as prizes, once per key, within stock.
type Rewarder interface {
	Reward(ctx context.Context, tenant, id string) (points.Reward, error)
	StockLeft(ctx context.Context, r points.Reward) (*int64, error)
	Grant(ctx context.Context, tenant, user, id, key string) (points.Redemption, error)
}

// Awarder awards a badge once per user.
type Awarder interface {
	Award(ctx context.Context, tenant, user, badgeID, source, eventID string) ([]events.Event, error)
}

// Emitter feeds system events (contest.won, and what an award emits)
// into the event stream.
type Emitter interface {
	Emit(ctx context.Context, ev events.Event) error
}

// Publisher pushes live frames to a user and to the contest:{id} channel.
type Publisher interface {
	PublishUser(ctx context.Context, tenant, user, typ string, data any) error
	Publish(ctx context.Context, tenant, channel, typ string, data any) error
}

// Attributes reads a user's tier and segments, for eligibility.
type Attributes interface {
	GetAttributes(ctx context.Context, tenant, user string) (profiles.Attributes, bool, error)
}

// Auditor records manager actions with their reasons.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) error
}

// Config is what a Service is built from. Everything but Store may be nil
// (the feature it serves is then off).
type Config struct {
	Store      Store
	Boards     Boards
	Payer      Payer
	Spender    Spender
	Reverser   Reverser
	Rewarder   Rewarder
	Awarder    Awarder
	Emitter    Emitter
	Publisher  Publisher
	Attributes Attributes
	Auditor    Auditor
	Logger     *slog.Logger
	// Bus drops other nodes' cached running contests on a change.
	Bus bus.Bus
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Settle is how long after the close entries may still be written
	// (an event received before the close, still being processed), and so
	// how long a draw waits after the close; 0 means DefaultSettle.
	Settle time.Duration
}

// DefaultSettle covers an entry write in flight at the close: an event
// received before the close is processed within a request's timeout.
const DefaultSettle = 10 * time.Second

// Service runs contests.
type Service struct {
	Config
	cache *bus.Cache[[]Contest] // tenant -> running prize draws that earn from events
}

// busTopic names contest invalidations on the bus; keys are tenants.
const busTopic = "contests"

// NewService returns a contest service.
func NewService(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	s := &Service{Config: cfg, cache: bus.NewCache[[]Contest](2*time.Second, 0)}
	if cfg.Bus != nil {
		cfg.Bus.Subscribe(busTopic, s.cache.Drop)
	}
	return s
}

// clock is the time stored on records: UTC, to the millisecond.
func (s *Service) clock() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// Entrant is a user's public handle in a contest's entry list: the hex of
// the pseudonym an erasure gives the user, so the published list names no
// user id and an erasure leaves it unchanged.
func Entrant(tenant, user string) string {
	if !auth.Erased(user) {
		user = auth.Pseudonym(tenant, user)
	}
	return user[strings.IndexByte(user, ':')+1:]
}

// Create stores a new contest. A prize draw gets its secret seed now, and
// publishes the seed's commitment from this moment on: the seed is durable
// before any entry exists, and is never drawn again. A leaderboard
// contest gets its own board over the contest's window.
func (s *Service) Create(ctx context.Context, tenant string, d Definition) (Contest, error) {
	if d.StartsAt.IsZero() {
		d.StartsAt = s.clock()
	}
	c, err := d.contest()
	if err != nil {
		return Contest{}, err
	}
	if err := s.checkRewards(ctx, tenant, c.Prizes); err != nil {
		return Contest{}, err
	}
	now := s.clock()
	c.ID, c.Tenant, c.Status, c.CreatedAt, c.UpdatedAt, c.Version = uuid.Must(uuid.NewV7()).String(), tenant, Open, now, now, 1
	switch c.Kind {
	case DrawKind:
		if c.Seed, err = draw.NewSeed(); err != nil {
			return Contest{}, fmt.Errorf("contests: create: %w", err)
		}
		c.Commitment = draw.Commit(c.Seed)
	case LeaderboardKind:
		if s.Boards == nil {
			return Contest{}, errs.New(errs.Conflict, "no-boards", "leaderboards are not available on this node")
		}
		b, err := s.Boards.Create(ctx, tenant, c.boardInput())
		if err != nil {
			return Contest{}, boardError(err)
		}
		c.BoardID = b.ID
	}
	if err := s.Store.CreateContest(ctx, c); err != nil {
		return Contest{}, fmt.Errorf("contests: create: %w", err)
	}
	s.changed(ctx, tenant)
	return c, nil
}

// boardError points a board validation error at the contest's board field.
func boardError(err error) error {
	if e, ok := errs.As(err); ok && e.Field != "" {
		return e.OnField("body.board." + strings.TrimPrefix(e.Field, "body."))
	}
	return err
}

// Get returns one contest of the tenant.
func (s *Service) Get(ctx context.Context, tenant, id string) (Contest, error) {
	c, err := s.Store.GetContest(ctx, tenant, id)
	if errors.Is(err, errs.ErrNotFound) {
		return Contest{}, notFound(id)
	}
	if err != nil {
		return Contest{}, fmt.Errorf("contests: get %s: %w", id, err)
	}
	return c, nil
}

// EntryCounts counts a contest's entries (zero for a leaderboard
// contest, which has none): indexed counts, whatever their number.
func (s *Service) EntryCounts(ctx context.Context, c Contest) (EntryCounts, error) {
	if c.Kind != DrawKind {
		return EntryCounts{}, nil
	}
	n, err := s.Store.ContestEntryCounts(ctx, c.Tenant, c.ID)
	if err != nil {
		return EntryCounts{}, fmt.Errorf("contests: entry counts of %s: %w", c.ID, err)
	}
	return n, nil
}

// List pages the tenant's contests in creation order.
func (s *Service) List(ctx context.Context, tenant string, status Status, after string, limit int) ([]Contest, error) {
	cs, err := s.Store.ListContests(ctx, tenant, status, after, limit)
	if err != nil {
		return nil, fmt.Errorf("contests: list: %w", err)
	}
	return cs, nil
}

// Update edits name, description and, before the start, prizes.
func (s *Service) Update(ctx context.Context, tenant, id string, p Patch) (Contest, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Contest{}, err
	}
	if c.Status != Open && p.Prizes != nil {
		return Contest{}, errs.New(errs.Conflict, "contest-finished", "the contest is finished")
	}
	next, err := p.apply(c, !s.Now().Before(c.StartsAt))
	if err != nil {
		return Contest{}, err
	}
	if p.Prizes != nil {
		if err := s.checkRewards(ctx, tenant, next.Prizes); err != nil {
			return Contest{}, err
		}
	}
	return s.save(ctx, next)
}

// checkRewards refuses prizes whose reward does not exist or whose stock
// left cannot cover their quantity now (409 prize-out-of-stock). Stock is
// not reserved: redemptions until the draw may still use it up, and then
// the place records reward_failure (see pay).
func (s *Service) checkRewards(ctx context.Context, tenant string, ps []Prize) error {
	for i, p := range ps {
		if p.Reward == "" {
			continue
		}
		f := fmt.Sprintf("body.prizes[%d].reward_id", i)
		if s.Rewarder == nil {
			return errs.New(errs.Conflict, "no-rewards", "rewards are not available on this node").OnField(f)
		}
		r, err := s.Rewarder.Reward(ctx, tenant, p.Reward)
		if errs.KindOf(err) == errs.NotFound {
			return invalid(f[len("body."):], "no reward %q", p.Reward)
		}
		if err != nil {
			return fmt.Errorf("contests: prize reward %s: %w", p.Reward, err)
		}
		left, err := s.Rewarder.StockLeft(ctx, r)
		if err != nil {
			return fmt.Errorf("contests: prize reward %s: %w", p.Reward, err)
		}
		if left != nil && *left < int64(p.Quantity) {
			return errs.New(errs.Conflict, "prize-out-of-stock", "%s has %d left, fewer than the prize's quantity %d", r.Name, *left, p.Quantity).OnField(f)
		}
	}
	return nil
}

// Reschedule moves a running contest's close: Extend to a later ends_at,
// or force-end it now. Both are manager actions, audited with the reason.
type Reschedule struct {
	EndsAt *time.Time `json:"ends_at,omitempty" doc:"extend: the new close, after the current one."`
	Reason string     `json:"reason" minLength:"1" maxLength:"500" doc:"Why, for the audit log."`
}

// extendLead is how long before the close an extension must come: every
// node's cached contests and boards (kept 2 s, dropped at once through the
// bus) then see the new close before the old one passes, even a node that
// missed the bus message, so no entry or score after the old close is
// refused anywhere.
const extendLead = 5 * time.Second

// Extend moves an open contest's close later. A leaderboard contest's
// board is extended in place (leaderboards.Service.Extend): its one custom
// period keeps every score counted so far, so the standings carry on,
// whatever the board's source.
func (s *Service) Extend(ctx context.Context, tenant, actor, id string, in Reschedule) (Contest, error) {
	c, err := s.running(ctx, tenant, id)
	if err != nil {
		return Contest{}, err
	}
	if in.EndsAt == nil || !in.EndsAt.After(c.EndsAt) {
		return Contest{}, invalid("ends_at", "extend needs an ends_at after the current close, %s", c.EndsAt.Format(time.RFC3339))
	}
	if !s.Now().Before(c.EndsAt.Add(-extendLead)) {
		return Contest{}, errs.New(errs.Conflict, "contest-closing",
			"the contest closes at %s: extend it at least %s before its close", c.EndsAt.Format(time.RFC3339), extendLead)
	}
	end := in.EndsAt.UTC().Truncate(time.Millisecond)
	if end.Sub(c.StartsAt) > maxContestSpan {
		return Contest{}, invalid("ends_at", "a contest runs at most 366 days")
	}
	if c.Kind == LeaderboardKind {
		if s.Boards == nil {
			return Contest{}, errs.New(errs.Conflict, "no-boards", "leaderboards are not available on this node")
		}
		if _, err := s.Boards.Extend(ctx, c.Tenant, c.BoardID, end); err != nil {
			return Contest{}, fmt.Errorf("contests: extend %s: board: %w", c.ID, err)
		}
	}
	old := c.EndsAt
	c.EndsAt = end
	return s.rescheduled(ctx, c, actor, "contest.extend", in.Reason, old)
}

// ForceEnd closes an open contest now. A leaderboard contest's standings
// are frozen at once, since its board's window runs on; a prize draw is
// drawn by POST /draw once the close has settled.
func (s *Service) ForceEnd(ctx context.Context, tenant, actor, id string, in Reschedule) (Contest, error) {
	c, err := s.running(ctx, tenant, id)
	if err != nil {
		return Contest{}, err
	}
	now := s.clock()
	if !now.Before(c.EndsAt) {
		return c, nil // closed already: nothing to move
	}
	old := c.EndsAt
	c.EndsAt = now
	if c.EndsAt.Before(c.StartsAt) {
		c.StartsAt = c.EndsAt
	}
	c, err = s.rescheduled(ctx, c, actor, "contest.force-end", in.Reason, old)
	if err != nil || c.Kind != LeaderboardKind {
		return c, err
	}
	return s.Draw(ctx, tenant, id)
}

func (s *Service) running(ctx context.Context, tenant, id string) (Contest, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Contest{}, err
	}
	if c.Status != Open {
		return Contest{}, errs.New(errs.Conflict, "contest-finished", "the contest is finished")
	}
	return c, nil
}

func (s *Service) rescheduled(ctx context.Context, c Contest, actor, action, reason string, old time.Time) (Contest, error) {
	c, err := s.save(ctx, c)
	if err != nil {
		return Contest{}, err
	}
	if err := s.record(ctx, c.Tenant, actor, action, "contest:"+c.ID, map[string]string{
		"reason": reason, "ends_at_before": old.Format(time.RFC3339Nano), "ends_at": c.EndsAt.Format(time.RFC3339Nano),
	}); err != nil {
		return Contest{}, err
	}
	s.publish(ctx, c, "contest.updated", c)
	return c, nil
}

// save writes c if nobody changed it since it was read.
func (s *Service) save(ctx context.Context, c Contest) (Contest, error) {
	c.Version++
	c.UpdatedAt = s.clock()
	err := s.Store.UpdateContest(ctx, c)
	if errors.Is(err, errs.ErrDuplicate) {
		return Contest{}, errs.New(errs.Conflict, "edit-conflict", "the contest changed meanwhile; read it again and retry")
	}
	if err != nil {
		return Contest{}, fmt.Errorf("contests: save %s: %w", c.ID, err)
	}
	s.changed(ctx, c.Tenant)
	return c, nil
}

func (s *Service) changed(ctx context.Context, tenant string) {
	s.cache.Drop(tenant)
	if s.Bus != nil {
		s.Bus.Publish(ctx, busTopic, tenant)
	}
}

func (s *Service) record(ctx context.Context, tenant, actor, action, subject string, detail map[string]string) error {
	if s.Auditor == nil {
		return nil
	}
	e := audit.Entry{ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, Actor: actor, Action: action,
		Subject: subject, Detail: detail, At: s.clock()}
	if err := s.Auditor.Append(ctx, e); err != nil {
		return fmt.Errorf("contests: audit %s: %w", action, err)
	}
	return nil
}

// publish is best effort: the durable state is written and reads tell the
// truth, so a failed push must not fail the action.
func (s *Service) publish(ctx context.Context, c Contest, typ string, data any) {
	if s.Publisher != nil {
		_ = s.Publisher.Publish(ctx, c.Tenant, "contest:"+c.ID, typ, data)
	}
}

func notFound(id string) error {
	return errs.New(errs.NotFound, "contest-not-found", "no contest %q", id)
}
