package challenges

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/internal/errs"
)

// Payer pays a reward exactly once per key.
type Payer interface {
	PayOnce(ctx context.Context, tenant, user string, amount int64, key, reason, eventID string) (paidByEvent string, balance int64, err error)
}

// Notifier pushes a frame to a user's live connections.
type Notifier interface {
	PublishUser(ctx context.Context, tenant, user, typ string, data any) error
}

// Service runs challenges: definitions, lifecycle and progress.
type Service struct {
	store  Store
	payer  Payer
	notify Notifier
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]cachedActive // tenant -> published challenges by event type

	// done remembers completions whose effects are all written, so later
	// events of a finished challenge cost a map lookup instead of writes.
	// It is only a shortcut: losing it (restart, eviction) changes nothing
	// but speed, because every write it skips is idempotent.
	doneMu sync.Mutex
	done   map[completionKey]string // -> id of the event that completed it
}

type completionKey struct{ tenant, challenge, user, period string }

// maxDone bounds the completion shortcut's memory.
const maxDone = 200_000

type cachedActive struct {
	byType map[string][]Challenge
	at     time.Time
}

// activeCacheTTL bounds how long a change made on another node goes unseen
// by this node's event processing. Changes made here invalidate at once.
const activeCacheTTL = 2 * time.Second

// NewService returns a challenge service.
func NewService(store Store, payer Payer, notify Notifier) *Service {
	return &Service{
		store: store, payer: payer, notify: notify, now: time.Now,
		cache: map[string]cachedActive{}, done: map[completionKey]string{},
	}
}

// Get returns one challenge of the tenant.
func (s *Service) Get(ctx context.Context, tenant, id string) (Challenge, error) {
	c, err := s.store.GetChallenge(ctx, tenant, id)
	if errors.Is(err, errs.ErrNotFound) {
		return Challenge{}, notFound(id)
	}
	if err != nil {
		return Challenge{}, fmt.Errorf("challenges: get %s: %w", id, err)
	}
	return c, nil
}

// List pages the tenant's challenges in creation order.
func (s *Service) List(ctx context.Context, tenant string, status Status, after string, limit int) ([]Challenge, error) {
	cs, err := s.store.ListChallenges(ctx, tenant, status, after, limit)
	if err != nil {
		return nil, fmt.Errorf("challenges: list: %w", err)
	}
	return cs, nil
}

// Create stores a new draft challenge.
func (s *Service) Create(ctx context.Context, tenant string, in Definition) (Challenge, error) {
	if err := in.validate(); err != nil {
		return Challenge{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	c := Challenge{ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, Status: Draft, CreatedAt: now, UpdatedAt: now, Version: 1}
	in.apply(&c)
	if err := s.store.CreateChallenge(ctx, c); err != nil {
		return Challenge{}, fmt.Errorf("challenges: create: %w", err)
	}
	return c, nil
}

// Update edits a challenge. A draft may change freely. A published one may
// change only its name, description and end: changing what counts, the
// target or the reward would silently re-judge progress players already
// made, so it is refused (archive it and publish a new one instead).
func (s *Service) Update(ctx context.Context, tenant, id string, in Patch) (Challenge, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Challenge{}, err
	}
	if c.Status == Archived {
		return Challenge{}, errs.New(errs.Conflict, "challenge-archived", "an archived challenge cannot change")
	}
	if c.Status == Published && in.changesRules() {
		return Challenge{}, errs.New(errs.Conflict, "challenge-published",
			"a published challenge may change only name, description and ends_at; archive it and publish a new one to change its rules")
	}
	next := c
	in.apply(&next)
	if err := next.definition().validate(); err != nil {
		return Challenge{}, err
	}
	return s.save(ctx, next)
}

// Publish makes a draft live; Archive ends a challenge for good.
func (s *Service) Publish(ctx context.Context, tenant, id string) (Challenge, error) {
	return s.transition(ctx, tenant, id, Draft, Published)
}

// Archive ends a challenge: it stops counting, and progress stays readable.
func (s *Service) Archive(ctx context.Context, tenant, id string) (Challenge, error) {
	return s.transition(ctx, tenant, id, Published, Archived)
}

func (s *Service) transition(ctx context.Context, tenant, id string, from, to Status) (Challenge, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Challenge{}, err
	}
	if c.Status == to {
		return c, nil // repeating a transition is harmless
	}
	if c.Status != from && !(to == Archived && c.Status == Draft) {
		return Challenge{}, errs.New(errs.Conflict, "bad-transition", "a %s challenge cannot become %s", c.Status, to)
	}
	c.Status = to
	return s.save(ctx, c)
}

func (s *Service) save(ctx context.Context, c Challenge) (Challenge, error) {
	c.Version++
	c.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
	err := s.store.UpdateChallenge(ctx, c)
	if errors.Is(err, errs.ErrDuplicate) {
		return Challenge{}, errs.New(errs.Conflict, "edit-conflict", "the challenge changed meanwhile; read it again and retry")
	}
	if err != nil {
		return Challenge{}, fmt.Errorf("challenges: save %s: %w", c.ID, err)
	}
	s.mu.Lock()
	delete(s.cache, c.Tenant)
	s.mu.Unlock()
	return c, nil
}

// active returns the tenant's published challenges counting eventType.
func (s *Service) active(ctx context.Context, tenant, eventType string) ([]Challenge, error) {
	s.mu.Lock()
	c, ok := s.cache[tenant]
	s.mu.Unlock()
	if ok && s.now().Sub(c.at) < activeCacheTTL {
		return c.byType[eventType], nil
	}
	byType := map[string][]Challenge{}
	after := ""
	for {
		page, err := s.store.ListChallenges(ctx, tenant, Published, after, 500)
		if err != nil {
			return nil, fmt.Errorf("challenges: active: %w", err)
		}
		for _, ch := range page {
			byType[ch.EventType] = append(byType[ch.EventType], ch)
		}
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	s.mu.Lock()
	s.cache[tenant] = cachedActive{byType: byType, at: s.now()}
	s.mu.Unlock()
	return byType[eventType], nil
}

func notFound(id string) error {
	return errs.New(errs.NotFound, "challenge-not-found", "no challenge %q", id)
}

// doneBefore reports whether k was completed, with all its effects
// written, by an event other than eventID. The completing event itself
// always takes the full path, so its replays answer as the first run did.
func (s *Service) doneBefore(k completionKey, eventID string) bool {
	s.doneMu.Lock()
	defer s.doneMu.Unlock()
	by, ok := s.done[k]
	return ok && by != eventID
}

func (s *Service) markDone(k completionKey, by string) {
	s.doneMu.Lock()
	defer s.doneMu.Unlock()
	if len(s.done) >= maxDone {
		clear(s.done) // crude but bounded; entries are cheap to relearn
	}
	s.done[k] = by
}
