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

// Ledger is what boards need of the points ledger: the source a new points
// board is filled from (see fill); live credits come through Earned.
type Ledger interface {
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
	// PageTTL, when positive, serves the top pages players read through
	// the API from a per-node cache for that long (see topCache): for a
	// shared engine, where each read is a round trip. Zero reads the
	// engine every time, as the in-process engine should.
	PageTTL time.Duration
}

// Service defines boards and keeps their engine in step with their sources.
type Service struct {
	Config
	live *live
	feed feedState

	cache *bus.Cache[tenantBoards] // tenant -> boards
	pages *topCache                // nil without PageTTL

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
	if cfg.PageTTL > 0 {
		s.pages = newTopCache(cfg.PageTTL, cfg.Now)
		s.Engine = droppingEngine{Engine: cfg.Engine, c: s.pages}
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
// folded total and writes it with the engine's join for the board's
// aggregation. Deriving rather than adding is what makes every write
// idempotent.
func (s *Service) refresh(ctx context.Context, b Board, p Period, user string) error {
	return s.refreshWith(ctx, b, p, user, nil)
}

// refreshWith is refresh with the entry already known when known is not
// nil: the total the store folded in the score's own write, as exact as
// deriving it again. A points total derived (known nil) may be lower
// than the entry the engine holds, after a reversal, so it is settled.
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
	switch {
	case b.Aggregation == Latest:
		err = s.Engine.Put(ctx, key, user, score, at)
	case b.Source == FromPoints && known == nil:
		err = s.settle(ctx, b, p, key, user, score, at)
	default:
		err = s.Engine.Raise(ctx, key, user, score, at)
	}
	if err != nil {
		return fmt.Errorf("leaderboards: refresh %s of %s: %w", user, key, err)
	}
	s.keepFor(ctx, b, p, key)
	s.live.touch(b)
	return nil
}

// settle writes the derived points total (score, at) of user even when it
// ranks below the engine's entry, which Raise, a join, would keep: it then
// removes the entry and writes the total derived again after the removal.
// A credit racing it either folded before that second read, which counts
// it, or raises the entry itself afterwards, so neither write is lost.
func (s *Service) settle(ctx context.Context, b Board, p Period, key, user string, score int64, at time.Time) error {
	cur, on, err := s.Engine.Rank(ctx, key, user)
	if err != nil {
		return err
	}
	if on && (cur.Score > score || cur.Score == score && cur.At.Before(at)) {
		if err := s.Engine.Remove(ctx, key, user); err != nil {
			return err
		}
		var ok bool
		if score, at, ok, err = s.derive(ctx, b, p, user); err != nil || !ok {
			return err
		}
	}
	return s.Engine.Raise(ctx, key, user, score, at)
}

// derive reads the user's exact entry in period p of b: the total the
// store folded, in work independent of the user's history.
func (s *Service) derive(ctx context.Context, b Board, p Period, user string) (int64, time.Time, bool, error) {
	from, to := p.bounds()
	// Scores of events from before the board existed never count (rows
	// stored before that rule are left out here as in rebuilds). A points
	// board counts every credit of the period, also from before it.
	if b.Source == FromEvents && from.Before(b.CreatedAt) {
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
