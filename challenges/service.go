package challenges

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/bus"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/profiles"
)

// Payer pays a reward exactly once per key.
type Payer interface {
	PayOnce(ctx context.Context, tenant, user string, amount int64, key, reason, eventID string) (paidByEvent string, balance int64, err error)
}

// Notifier pushes a frame to a user's live connections.
type Notifier interface {
	PublishUser(ctx context.Context, tenant, user, typ string, data any) error
}

// Awarder awards a badge once per user, returning the system events to
// emit for a new award.
type Awarder interface {
	Award(ctx context.Context, tenant, user, badgeID, source, eventID string) ([]events.Event, error)
}

// Attributes reads what a brand says about a user, for eligibility.
type Attributes interface {
	GetAttributes(ctx context.Context, tenant, user string) (profiles.Attributes, bool, error)
}

// Emitter feeds system events into the event stream from outside a
// handler (a claim is a request, not an event).
type Emitter interface {
	Emit(ctx context.Context, ev events.Event) error
}

// Config is what a Service is built from. Notifier, Awarder, Attributes
// and Emitter may be nil.
type Config struct {
	Store      Store
	Payer      Payer
	Notifier   Notifier
	Awarder    Awarder
	Attributes Attributes
	Emitter    Emitter
	// Bus tells the other nodes of a definition change, so they drop
	// their cached definitions at once; nil on a single node.
	Bus bus.Bus
	// Types is the tenants' event catalogue rules are checked against;
	// nil knows the built-in types only.
	Types events.TypeChecker
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service runs challenges: definitions, lifecycle, progress and rewards.
type Service struct {
	Config

	cache *bus.Cache[*rule.Index[Challenge]] // tenant -> published challenges by event type

	// done remembers completions whose effects are all written, so later
	// events of a finished challenge cost a map lookup instead of writes.
	// It is only a shortcut: losing it (restart, eviction) changes nothing
	// but speed, because every write it skips is idempotent.
	doneMu sync.Mutex
	done   map[completionKey]string // -> id of the event that completed it
}

// completionKey names a shortcut entry: a period's completion (cap 0), or
// the cap reached (period capPeriod, cap the max_completions it was).
type completionKey struct {
	tenant, challenge, user, period string
	cap                             int64
}

// maxDone bounds the completion shortcut's memory.
const maxDone = 200_000

// activeCacheTTL bounds how long a change made on another node goes unseen
// by this node's event processing if the bus lost its message. Changes
// made here invalidate at once, and through the bus on the other nodes.
const activeCacheTTL = 2 * time.Second

// busTopic names the challenges' invalidations on the bus; keys are
// tenants.
const busTopic = "challenges"

// erasedTopic names the erasures of users on the bus, whose completion
// shortcuts every node must forget; keys are tenant + "|" + user.
const erasedTopic = "challenges.erased"

// NewService returns a challenge service.
func NewService(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{Config: cfg, cache: bus.NewCache[*rule.Index[Challenge]](activeCacheTTL, 0), done: map[completionKey]string{}}
	if cfg.Bus != nil {
		cfg.Bus.Subscribe(busTopic, s.cache.Drop)
		cfg.Bus.Subscribe(erasedTopic, s.forgetUser)
	}
	return s
}

// Get returns one challenge of the tenant.
func (s *Service) Get(ctx context.Context, tenant, id string) (Challenge, error) {
	c, err := s.Store.GetChallenge(ctx, tenant, id)
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
	cs, err := s.Store.ListChallenges(ctx, tenant, status, after, limit)
	if err != nil {
		return nil, fmt.Errorf("challenges: list: %w", err)
	}
	return cs, nil
}

// Create stores a new draft challenge.
func (s *Service) Create(ctx context.Context, tenant string, in Definition) (Challenge, error) {
	c, err := in.challenge()
	if err != nil {
		return Challenge{}, err
	}
	if err := events.CheckRuleTypes(ctx, s.Types, tenant, c.Rule); err != nil {
		return Challenge{}, err
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	c.ID, c.Tenant, c.Status, c.CreatedAt, c.UpdatedAt, c.Version = uuid.Must(uuid.NewV7()).String(), tenant, Draft, now, now, 1
	if err := s.Store.CreateChallenge(ctx, c); err != nil {
		return Challenge{}, fmt.Errorf("challenges: create: %w", err)
	}
	return c, nil
}

// Update edits a challenge. A draft may change freely. A published one may
// change its name, description, reward, eligibility, completion cap and the
// end of its window; these apply from the next event on and never re-judge
// progress already made. What counts and how (rule, limits, enrolment,
// claim mode) is frozen: changing it would silently re-judge progress
// players already made, so it is refused; archive the challenge and publish
// a new one instead.
func (s *Service) Update(ctx context.Context, tenant, id string, in Patch) (Challenge, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Challenge{}, err
	}
	if c.Status == Archived {
		return Challenge{}, errs.New(errs.Conflict, "challenge-archived", "an archived challenge cannot change")
	}
	next, err := in.apply(c)
	if err != nil {
		return Challenge{}, err
	}
	if err := events.CheckRuleTypes(ctx, s.Types, tenant, next.Rule); err != nil {
		return Challenge{}, err
	}
	if c.Status == Published && changesCounting(c, next) {
		return Challenge{}, errs.New(errs.Conflict, "challenge-published",
			"a published challenge may change only name, description, reward, eligibility, max_completions and ends_at; archive it and publish a new one to change what counts")
	}
	return s.save(ctx, next)
}

// changesCounting reports whether next counts progress differently from c.
func changesCounting(c, next Challenge) bool {
	a, b := c.Rule, next.Rule
	a.Window.EndsAt, b.Window.EndsAt = nil, nil
	return !reflect.DeepEqual(a, b) || !reflect.DeepEqual(c.Limits, next.Limits) ||
		c.Enrolment != next.Enrolment || c.Claim != next.Claim
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
	c.UpdatedAt = s.Now().UTC().Truncate(time.Millisecond)
	err := s.Store.UpdateChallenge(ctx, c)
	if errors.Is(err, errs.ErrDuplicate) {
		return Challenge{}, errs.New(errs.Conflict, "edit-conflict", "the challenge changed meanwhile; read it again and retry")
	}
	if err != nil {
		return Challenge{}, fmt.Errorf("challenges: save %s: %w", c.ID, err)
	}
	s.cache.Drop(c.Tenant)
	if s.Bus != nil {
		s.Bus.Publish(ctx, busTopic, c.Tenant)
	}
	return c, nil
}

// active returns the tenant's published challenges counting eventType.
func (s *Service) active(ctx context.Context, tenant, eventType string) ([]Challenge, error) {
	ix, err := s.cache.Get(ctx, tenant, s.Now(), func(ctx context.Context) (*rule.Index[Challenge], error) {
		var all []Challenge
		after := ""
		for {
			page, err := s.Store.ListChallenges(ctx, tenant, Published, after, 500)
			if err != nil {
				return nil, fmt.Errorf("challenges: active: %w", err)
			}
			all = append(all, page...)
			if len(page) < 500 {
				break
			}
			after = page[len(page)-1].ID
		}
		return rule.NewIndex(all, func(c Challenge) []string { return c.Rule.EventTypes() }), nil
	})
	if err != nil {
		return nil, err
	}
	return ix.For(eventType), nil
}

// AddUses reports the event types and props published challenges count
// on, so the event catalogue cannot take them away.
func (s *Service) AddUses(ctx context.Context, tenant string, u events.Uses) error {
	for after := ""; ; {
		page, err := s.Store.ListChallenges(ctx, tenant, Published, after, 500)
		if err != nil {
			return fmt.Errorf("challenges: uses: %w", err)
		}
		for _, c := range page {
			u.AddRule(c.Rule)
		}
		if len(page) < 500 {
			return nil
		}
		after = page[len(page)-1].ID
	}
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
