// Package leaderboards ranks players: board definitions, window periods,
// scores derived from the points ledger or from events, reads (top,
// around-me, cohorts), rebuilds, live snapshots and exclusions. Engine is
// the ranked store, in memory or in Redis.
package leaderboards

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/bus"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/points"
	"github.com/questline/questline/profiles"
)

// Ledger is what boards need of the points ledger: the exact source every
// points score is derived from.
type Ledger interface {
	EarnedBetween(ctx context.Context, tenant, user, keyPrefix string, from, to time.Time) (int64, time.Time, error)
	ScanEarnings(ctx context.Context, tenant string, fn func(points.Entry) error) error
	CountEntries(ctx context.Context, tenant string) (int64, error)
}

// Publisher pushes a frame to a tenant's realtime channel.
type Publisher interface {
	Publish(ctx context.Context, tenant, channel, typ string, data any) error
}

// Directory looks up display data for many users at once.
type Directory interface {
	Profiles(ctx context.Context, tenant string, users []string) ([]profiles.Profile, error)
}

// Auditor records managers' actions.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) error
}

// Config is what a Service is built from. Publisher, Directory and Auditor
// may be nil: no live snapshots, no display names, no audit trail.
type Config struct {
	Store     Store
	Engine    Engine
	Ledger    Ledger
	Publisher Publisher
	Directory Directory
	Auditor   Auditor
	Logger    *slog.Logger
	// Bus tells the other nodes of a board or exclusion change, so they
	// drop their cached boards at once; nil on a single node.
	Bus bus.Bus
	// Types is the tenants' event catalogue event boards are checked
	// against; nil knows the built-in types only.
	Types events.TypeChecker
	// Now is the clock; nil means time.Now. Tests move it across periods.
	Now func() time.Time
}

// Service defines boards and keeps their engine in step with their sources.
type Service struct {
	Config
	live *live
	feed feedState

	cache *bus.Cache[tenantBoards] // tenant -> boards

	mu       sync.Mutex
	expires  map[string]bool // engine keys whose expiry this node has set
	building map[string]bool // tenant|board builds running on this node

	node   string     // this node's name in build leases
	kick   chan Board // new boards for RunBuilds to build
	builds sync.WaitGroup
}

// tenantBoards is a cached view of a tenant's boards and exclusions.
type tenantBoards struct {
	boards   []Board
	excluded map[string]map[string]bool // board -> user -> excluded
}

// boardCacheTTL bounds how long another node's new board or exclusion can go
// unseen by this node's writes if the bus lost its message. Exclusions
// close that gap themselves (see Exclude); a rebuild repairs anything else
// written in it.
const boardCacheTTL = 2 * time.Second

// busTopic names the boards' invalidations on the bus; keys are tenants.
const busTopic = "leaderboards"

// NewService returns a leaderboard service.
func NewService(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{
		Config: cfg, cache: bus.NewCache[tenantBoards](boardCacheTTL, 0), expires: map[string]bool{}, building: map[string]bool{},
		node: uuid.NewString(), kick: make(chan Board, 64),
	}
	s.feed.warn = rate.Sometimes{First: 1, Interval: 10 * time.Second}
	s.live = newLive(s)
	if cfg.Bus != nil {
		cfg.Bus.Subscribe(busTopic, s.cache.Drop)
	}
	return s
}

// Create defines a board. A points board is then filled from the ledger in
// the background (see RunBuilds), so points earned before it existed
// count; its Build tells how far that is. An event board counts events
// that occur from now on.
func (s *Service) Create(ctx context.Context, tenant string, in CreateInput) (Board, error) {
	b, err := s.Draft(ctx, tenant, in)
	if err != nil {
		return Board{}, err
	}
	b.ID, b.CreatedAt = uuid.Must(uuid.NewV7()).String(), s.Now().UTC().Truncate(time.Millisecond)
	if b.Source == FromPoints {
		b.Build = &Build{State: Building}
	}
	if err := s.Store.CreateBoard(ctx, b); err != nil {
		return Board{}, fmt.Errorf("leaderboards: create: %w", err)
	}
	s.forget(ctx, tenant)
	if b.Build != nil {
		select {
		case s.kick <- b:
		default: // RunBuilds is busy or not running: its next check starts it
		}
	}
	return b, nil
}

// Get returns one board of the tenant. Every read names its board, so the
// definition comes from the tenant's cached boards (kept in step across
// nodes through the bus), not the store: reading it was a fifth of a
// top-10 read's CPU. A board still being built is read from the store, so
// its build progress is fresh; so is an id the cache does not hold.
func (s *Service) Get(ctx context.Context, tenant, id string) (Board, error) {
	if tb, err := s.boards(ctx, tenant); err == nil {
		i := slices.IndexFunc(tb.boards, func(b Board) bool { return b.ID == id })
		if i >= 0 && (tb.boards[i].Build == nil || tb.boards[i].Build.State == Ready) {
			return tb.boards[i], nil
		}
	}
	b, err := s.Store.GetBoard(ctx, tenant, id)
	if errors.Is(err, errs.ErrNotFound) {
		return Board{}, errs.New(errs.NotFound, "board-not-found", "no leaderboard %q", id)
	}
	if err != nil {
		return Board{}, fmt.Errorf("leaderboards: get %s: %w", id, err)
	}
	return b, nil
}

// List returns the tenant's boards.
func (s *Service) List(ctx context.Context, tenant string) ([]Board, error) {
	bs, err := s.Store.ListBoards(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("leaderboards: list: %w", err)
	}
	return bs, nil
}

// forget drops the tenant's cached boards here and on every other node.
func (s *Service) forget(ctx context.Context, tenant string) {
	s.cache.Drop(tenant)
	if s.Bus != nil {
		s.Bus.Publish(ctx, busTopic, tenant)
	}
}

// boards returns the tenant's boards and exclusions, cached briefly: every
// write consults them.
func (s *Service) boards(ctx context.Context, tenant string) (tenantBoards, error) {
	return s.cache.Get(ctx, tenant, s.Now(), func(ctx context.Context) (tenantBoards, error) {
		bs, err := s.List(ctx, tenant)
		if err != nil {
			return tenantBoards{}, err
		}
		ex, err := s.Store.Exclusions(ctx, tenant, "")
		if err != nil {
			return tenantBoards{}, fmt.Errorf("leaderboards: exclusions: %w", err)
		}
		c := tenantBoards{boards: bs, excluded: map[string]map[string]bool{}}
		for _, e := range ex {
			if c.excluded[e.Board] == nil {
				c.excluded[e.Board] = map[string]bool{}
			}
			c.excluded[e.Board][e.User] = true
		}
		return c, nil
	})
}

// Earned moves the user on every points board the ledger entry counts for.
// The score written is the user's exact total for the period, read from
// the ledger, and engines only ever raise a score, so replays and races
// converge on the ledger's value instead of double counting. A board the
// engine cannot take now is left to the feeder (see feed.go).
func (s *Service) Earned(ctx context.Context, e points.Entry) error {
	return s.countedIn(ctx, e, func(b Board, p Period) error {
		return s.tryRefresh(ctx, b, p, e.User, e.CreatedAt, nil)
	})
}

// countedIn calls fn for every points board period, still kept, that
// the ledger entry e counts in.
func (s *Service) countedIn(ctx context.Context, e points.Entry, fn func(Board, Period) error) error {
	tb, err := s.boards(ctx, e.Tenant)
	if err != nil {
		return err
	}
	for _, b := range tb.boards {
		if !b.paidBy(e) || tb.excluded[b.ID][e.User] {
			continue
		}
		p, ok := b.periodAt(e.CreatedAt)
		if !ok || b.expired(p, s.Now()) {
			continue
		}
		if err := fn(b, p); err != nil {
			return err
		}
	}
	return nil
}

// Reversed lowers the user on every points board the reversed credit e
// counted on: the period's total is derived again from the ledger (which
// no longer counts e) and written over the old entry, removed first, as
// the engines' joins never lower a score. A refresh of the same user
// racing it can raise the entry back to a total read before the reversal;
// a rebuild corrects that.
func (s *Service) Reversed(ctx context.Context, e points.Entry) error {
	return s.countedIn(ctx, e, func(b Board, p Period) error {
		key := engineKey(b.Tenant, b.ID, p.Name)
		score, at, ok, err := s.derive(ctx, b, p, e.User)
		if err == nil && ok {
			err = s.Engine.Remove(ctx, key, e.User)
		}
		if err == nil && ok {
			err = s.Engine.Raise(ctx, key, e.User, score, at)
		}
		if err != nil {
			return fmt.Errorf("leaderboards: reversal of %s on %s: %w", e.Key, key, err)
		}
		s.live.touch(b)
		return nil
	})
}

// refreshAt refreshes the user's entry in the period of b holding at, if
// that period counts and is still kept.
func (s *Service) refreshAt(ctx context.Context, b Board, user string, at time.Time) error {
	p, ok := b.periodAt(at)
	if !ok || b.expired(p, s.Now()) {
		return nil
	}
	return s.refresh(ctx, b, p, user)
}

// refresh re-derives the user's entry in period p of b from the board's
// source and writes it with the engine's join for the board's aggregation.
// Deriving rather than adding is what makes every write idempotent.
func (s *Service) refresh(ctx context.Context, b Board, p Period, user string) error {
	return s.refreshWith(ctx, b, p, user, nil)
}

// refreshWith is refresh with the entry already known when known is not
// nil: the total the store folded in the score's own write, as exact as
// deriving it again.
func (s *Service) refreshWith(ctx context.Context, b Board, p Period, user string, known *TotalRow) error {
	key := engineKey(b.Tenant, b.ID, p.Name)
	var (
		score int64
		at    time.Time
		ok    bool
		err   error
	)
	if known != nil {
		score, at, ok = known.Value, known.At, true
	} else if score, at, ok, err = s.derive(ctx, b, p, user); err != nil {
		return fmt.Errorf("leaderboards: refresh %s of %s: %w", user, key, err)
	}
	if !ok {
		return nil
	}
	if b.Aggregation == Latest {
		err = s.Engine.Put(ctx, key, user, score, at)
	} else {
		err = s.Engine.Raise(ctx, key, user, score, at)
	}
	if err != nil {
		return fmt.Errorf("leaderboards: refresh %s of %s: %w", user, key, err)
	}
	s.keepFor(ctx, b, p, key)
	s.live.touch(b)
	return nil
}

// derive computes the user's exact entry in period p of b.
func (s *Service) derive(ctx context.Context, b Board, p Period, user string) (int64, time.Time, bool, error) {
	from, to := p.bounds()
	if b.Source == FromPoints {
		total, last, err := s.Ledger.EarnedBetween(ctx, b.Tenant, user, b.scopePrefix(), from, to)
		return total, last, err == nil && !last.IsZero(), err
	}
	// Scores of events from before the board existed never count (rows
	// stored before that rule are left out here as in rebuilds).
	if from.Before(b.CreatedAt) {
		from = b.CreatedAt
	}
	return s.Store.Total(ctx, b.Tenant, b.ID, p.Name, user, b.Aggregation, from, to)
}

// keepFor sets the expiry of a finished-to-be period once per node: the
// period stays readable for the board's retention after it ends. The memo
// holds the expiry too, so an extended board's keys get the later one.
func (s *Service) keepFor(ctx context.Context, b Board, p Period, key string) {
	exp := b.expiresAt(p)
	if exp.IsZero() {
		return
	}
	memo := key + "@" + exp.UTC().Format(time.RFC3339)
	s.mu.Lock()
	done := s.expires[memo]
	if len(s.expires) > 100_000 { // bound the memo; re-setting is harmless
		clear(s.expires)
	}
	s.expires[memo] = true
	s.mu.Unlock()
	if done {
		return
	}
	if err := s.Engine.Expire(ctx, key, exp.Sub(s.Now())); err != nil {
		s.mu.Lock()
		delete(s.expires, memo)
		s.mu.Unlock()
		s.Logger.Warn("leaderboards: set expiry", "key", key, "err", err)
	}
}

// AddUses reports the event types and props event boards count, so the
// event catalogue cannot take them away.
func (s *Service) AddUses(ctx context.Context, tenant string, u events.Uses) error {
	bs, err := s.Store.ListBoards(ctx, tenant)
	if err != nil {
		return fmt.Errorf("leaderboards: uses: %w", err)
	}
	for _, b := range bs {
		if b.Source == FromEvents {
			u.Add(b.EventType, b.Prop)
		}
	}
	return nil
}
