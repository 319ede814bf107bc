package badges

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/bus"
	"github.com/questline/questline/internal/errs"
)

// Notifier pushes a frame to a user's live connections.
type Notifier interface {
	PublishUser(ctx context.Context, tenant, user, typ string, data any) error
}

// Service runs badges: definitions, their lifecycle, awarding on the event
// stream and the players' views.
type Service struct {
	store  Store
	notify Notifier
	now    func() time.Time

	bus   bus.Bus                        // nil on a single node without one
	types events.TypeChecker             // nil: the built-in event types only
	cache *bus.Cache[*rule.Index[Badge]] // tenant -> published badges by event type
}

// indexTTL bounds how long a change made on another node goes unseen by
// this node's event processing if the bus lost its message. Changes made
// here invalidate at once, and through the bus on the other nodes.
const indexTTL = 2 * time.Second

// busTopic names the badges' invalidations on the bus; keys are tenants.
const busTopic = "badges"

// pageSize is how many badges one store read lists when a whole tenant's
// badges are needed.
const pageSize = 500

// NewService returns a badge service. notify may be nil.
func NewService(store Store, notify Notifier) *Service {
	return &Service{store: store, notify: notify, now: time.Now, cache: bus.NewCache[*rule.Index[Badge]](indexTTL, 0)}
}

// SetBus makes every definition change drop the tenant's cached badges on
// every node of b at once. Call it before the service is used.
func (s *Service) SetBus(b bus.Bus) {
	s.bus = b
	b.Subscribe(busTopic, s.cache.Drop)
}

// SetTypes makes definitions check their event types against each
// tenant's catalogue. Call it before the service is used.
func (s *Service) SetTypes(tc events.TypeChecker) { s.types = tc }

// AddUses reports the event types and props published badges count on,
// so the event catalogue cannot take them away.
func (s *Service) AddUses(ctx context.Context, tenant string, u events.Uses) error {
	bs, err := s.all(ctx, tenant, Published)
	if err != nil {
		return err
	}
	for _, b := range bs {
		u.AddRule(b.Rule)
	}
	return nil
}

// Get returns one badge of the tenant.
func (s *Service) Get(ctx context.Context, tenant, id string) (Badge, error) {
	b, err := s.store.GetBadge(ctx, tenant, id)
	if errors.Is(err, errs.ErrNotFound) {
		return Badge{}, notFound(id)
	}
	if err != nil {
		return Badge{}, fmt.Errorf("badges: get %s: %w", id, err)
	}
	return b, nil
}

// List pages the tenant's badges in creation order; status "" is all.
func (s *Service) List(ctx context.Context, tenant string, status Status, after string, limit int) ([]Badge, error) {
	bs, err := s.store.ListBadges(ctx, tenant, status, after, limit)
	if err != nil {
		return nil, fmt.Errorf("badges: list: %w", err)
	}
	return bs, nil
}

// Create stores a new draft badge.
func (s *Service) Create(ctx context.Context, tenant string, in Definition) (Badge, error) {
	b, err := in.badge()
	if err != nil {
		return Badge{}, err
	}
	if err := events.CheckRuleTypes(ctx, s.types, tenant, b.Rule); err != nil {
		return Badge{}, err
	}
	now := s.clock()
	b.ID, b.Tenant, b.Status, b.CreatedAt, b.UpdatedAt, b.Version = uuid.Must(uuid.NewV7()).String(), tenant, Draft, now, now, 1
	if err := s.store.CreateBadge(ctx, b); err != nil {
		return Badge{}, fmt.Errorf("badges: create: %w", err)
	}
	return b, nil
}

// Update edits a badge. A draft may change freely. A published or
// archived one may change only what players see (name, description,
// image_url, hidden): a new rule, tiers, limit or validity would re-judge
// awards players already hold, so it is refused with 409 (archive the badge
// and publish a new one instead). Sending the terms unchanged is no change.
func (s *Service) Update(ctx context.Context, tenant, id string, in Patch) (Badge, error) {
	b, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Badge{}, err
	}
	next, err := in.apply(b)
	if b.Status != Draft && in.changesTerms() && (err != nil || !sameTerms(b, next)) {
		return Badge{}, errs.New(errs.Conflict, "badge-published",
			"a %s badge may change only name, description, image_url and hidden; archive it and publish a new one to change its rule, tiers, limit or valid_for", b.Status)
	}
	if err != nil {
		return Badge{}, err
	}
	if err := events.CheckRuleTypes(ctx, s.types, tenant, next.Rule); err != nil {
		return Badge{}, err
	}
	return s.save(ctx, next)
}

// sameTerms reports whether a and b award the same way. Both are
// normalized, so equal terms encode equal.
func sameTerms(a, b Badge) bool {
	terms := func(b Badge) string {
		j, _ := json.Marshal([]any{b.Rule, b.Tiers, b.Limit, b.ValidFor})
		return string(j)
	}
	return terms(a) == terms(b)
}

// Publish makes a draft badge live: from now on events award it.
func (s *Service) Publish(ctx context.Context, tenant, id string) (Badge, error) {
	return s.transition(ctx, tenant, id, Draft, Published)
}

// Archive stops a badge being awarded for good; awards already made stay
// on their holders' showcases.
func (s *Service) Archive(ctx context.Context, tenant, id string) (Badge, error) {
	return s.transition(ctx, tenant, id, Published, Archived)
}

func (s *Service) transition(ctx context.Context, tenant, id string, from, to Status) (Badge, error) {
	b, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Badge{}, err
	}
	if b.Status == to {
		return b, nil // repeating a transition is harmless
	}
	if b.Status != from && !(to == Archived && b.Status == Draft) {
		return Badge{}, errs.New(errs.Conflict, "bad-transition", "a %s badge cannot become %s", b.Status, to)
	}
	b.Status = to
	return s.save(ctx, b)
}

// save writes b if nobody changed it since it was read.
func (s *Service) save(ctx context.Context, b Badge) (Badge, error) {
	b.Version++
	b.UpdatedAt = s.clock()
	err := s.store.UpdateBadge(ctx, b)
	if errors.Is(err, errs.ErrDuplicate) {
		return Badge{}, errs.New(errs.Conflict, "edit-conflict", "the badge changed meanwhile; read it again and retry")
	}
	if err != nil {
		return Badge{}, fmt.Errorf("badges: save %s: %w", b.ID, err)
	}
	s.cache.Drop(b.Tenant)
	if s.bus != nil {
		s.bus.Publish(ctx, busTopic, b.Tenant)
	}
	return b, nil
}

// published returns the tenant's published badges indexed by the event
// types their rules count.
func (s *Service) published(ctx context.Context, tenant string) (*rule.Index[Badge], error) {
	return s.cache.Get(ctx, tenant, s.now(), func(ctx context.Context) (*rule.Index[Badge], error) {
		bs, err := s.all(ctx, tenant, Published)
		if err != nil {
			return nil, err
		}
		return rule.NewIndex(bs, func(b Badge) []string { return b.Rule.EventTypes() }), nil
	})
}

// all lists every badge of the tenant with the status ("" for any).
func (s *Service) all(ctx context.Context, tenant string, status Status) ([]Badge, error) {
	var out []Badge
	after := ""
	for {
		page, err := s.store.ListBadges(ctx, tenant, status, after, pageSize)
		if err != nil {
			return nil, fmt.Errorf("badges: list %s: %w", tenant, err)
		}
		out = append(out, page...)
		if len(page) < pageSize {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// clock is the time stored on records: UTC, to the millisecond, as both
// stores keep it.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func notFound(id string) error {
	return errs.New(errs.NotFound, "badge-not-found", "no badge %q", id)
}
