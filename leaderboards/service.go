package leaderboards

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/internal/errs"
)

// Ledger is what boards need of the points ledger: the exact source every
// score is derived from.
type Ledger interface {
	EarnedBetween(ctx context.Context, tenant, user string, from, to time.Time) (int64, error)
	ScanEarnings(ctx context.Context, tenant string, fn func(tenant, user string, amount int64, at time.Time) error) error
	CountEntries(ctx context.Context, tenant string) (int64, error)
}

// Service defines boards and keeps their engine in step with the ledger.
type Service struct {
	store  Store
	engine Engine
	ledger Ledger
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]cachedBoards // tenant -> boards
}

type cachedBoards struct {
	boards []Board
	at     time.Time
}

// boardCacheTTL bounds how long another node's new board can go unseen by
// this node's writes; a rebuild repairs anything written in that gap.
const boardCacheTTL = 2 * time.Second

// NewService returns a leaderboard service.
func NewService(store Store, engine Engine, ledger Ledger) *Service {
	return &Service{store: store, engine: engine, ledger: ledger, now: time.Now, cache: map[string]cachedBoards{}}
}

// CreateInput is a new board's definition.
type CreateInput struct {
	Name   string `json:"name" minLength:"1" maxLength:"200"`
	Window Window `json:"window,omitempty" enum:"all_time,daily,weekly,monthly" default:"all_time"`
}

// Create defines a board ranking points earned in its window. Points earned
// before the board existed count too: the board is filled from the ledger.
func (s *Service) Create(ctx context.Context, tenant string, in CreateInput) (Board, error) {
	b := Board{
		ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, Name: in.Name,
		Metric: "points", Window: in.Window, CreatedAt: s.now().UTC(),
	}
	if b.Window == "" {
		b.Window = AllTime
	}
	if err := s.store.CreateBoard(ctx, b); err != nil {
		return Board{}, fmt.Errorf("leaderboards: create: %w", err)
	}
	s.mu.Lock()
	delete(s.cache, tenant)
	s.mu.Unlock()
	if err := s.rebuildBoards(ctx, tenant, []Board{b}, nil); err != nil {
		return Board{}, err
	}
	return b, nil
}

// Get returns one board of the tenant.
func (s *Service) Get(ctx context.Context, tenant, id string) (Board, error) {
	b, err := s.store.GetBoard(ctx, tenant, id)
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
	bs, err := s.store.ListBoards(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("leaderboards: list: %w", err)
	}
	return bs, nil
}

func (s *Service) boards(ctx context.Context, tenant string) ([]Board, error) {
	s.mu.Lock()
	c, ok := s.cache[tenant]
	s.mu.Unlock()
	if ok && s.now().Sub(c.at) < boardCacheTTL {
		return c.boards, nil
	}
	bs, err := s.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cache[tenant] = cachedBoards{boards: bs, at: s.now()}
	s.mu.Unlock()
	return bs, nil
}

// Earned moves the user on every points board of the tenant. The score
// written is the user's exact total for the period, read from the ledger,
// and engines only ever raise a score, so replays and races converge on
// the ledger's value instead of double counting.
func (s *Service) Earned(ctx context.Context, tenant, user string, _ int64, at time.Time) error {
	bs, err := s.boards(ctx, tenant)
	if err != nil {
		return err
	}
	for _, b := range bs {
		p := PeriodAt(b.Window, at)
		from, to := p.bounds()
		total, err := s.ledger.EarnedBetween(ctx, tenant, user, from, to)
		if err != nil {
			return fmt.Errorf("leaderboards: earned %s: %w", b.ID, err)
		}
		if err := s.engine.Raise(ctx, engineKey(tenant, b.ID, p.Name), user, total); err != nil {
			return fmt.Errorf("leaderboards: earned %s: %w", b.ID, err)
		}
	}
	return nil
}

// Page is a slice of a board period.
type Page struct {
	Board   string  `json:"board_id"`
	Period  string  `json:"period"`
	Total   int64   `json:"total" doc:"Members on this board period."`
	Entries []Entry `json:"entries"`
}

func (s *Service) period(b Board, name string) (Period, error) {
	if name == "" {
		return PeriodAt(b.Window, s.now()), nil
	}
	p, err := ParsePeriod(b.Window, name)
	if err != nil {
		return Period{}, errs.New(errs.Invalid, "bad-period", "%v", err).OnField("period")
	}
	return p, nil
}

// Top returns a page of the board's period ("" = current), best first.
func (s *Service) Top(ctx context.Context, tenant, id, period string, offset, limit int) (Page, error) {
	b, p, err := s.boardPeriod(ctx, tenant, id, period)
	if err != nil {
		return Page{}, err
	}
	key := engineKey(tenant, b.ID, p.Name)
	entries, err := s.engine.Top(ctx, key, offset, limit)
	if err != nil {
		return Page{}, fmt.Errorf("leaderboards: top %s: %w", id, err)
	}
	n, err := s.engine.Count(ctx, key)
	if err != nil {
		return Page{}, fmt.Errorf("leaderboards: top %s: %w", id, err)
	}
	return page(b, p, n, entries), nil
}

// Around returns user's entry with up to n neighbours either side; Me is
// nil when the user is not on the board yet.
func (s *Service) Around(ctx context.Context, tenant, id, period, user string, n int) (Page, *Entry, error) {
	b, p, err := s.boardPeriod(ctx, tenant, id, period)
	if err != nil {
		return Page{}, nil, err
	}
	key := engineKey(tenant, b.ID, p.Name)
	entries, err := s.engine.Around(ctx, key, user, n)
	if err != nil {
		return Page{}, nil, fmt.Errorf("leaderboards: around %s: %w", id, err)
	}
	total, err := s.engine.Count(ctx, key)
	if err != nil {
		return Page{}, nil, fmt.Errorf("leaderboards: around %s: %w", id, err)
	}
	var me *Entry
	for i := range entries {
		if entries[i].Member == user {
			me = &entries[i]
		}
	}
	return page(b, p, total, entries), me, nil
}

func (s *Service) boardPeriod(ctx context.Context, tenant, id, period string) (Board, Period, error) {
	b, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Board{}, Period{}, err
	}
	p, err := s.period(b, period)
	return b, p, err
}

func page(b Board, p Period, total int64, entries []Entry) Page {
	if entries == nil {
		entries = []Entry{}
	}
	return Page{Board: b.ID, Period: p.Name, Total: total, Entries: entries}
}
