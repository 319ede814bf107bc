package quizzes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/bus"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/internal/ratelimit"
	"github.com/questline/questline/profiles"
)

// Payer pays points exactly once per key (the points service).
type Payer interface {
	PayOnce(ctx context.Context, tenant, user string, amount int64, key, reason, eventID string) (paidByEvent string, balance int64, err error)
}

// Awarder awards a badge once per user, returning the system events to emit.
type Awarder interface {
	Award(ctx context.Context, tenant, user, badgeID, source, eventID string) ([]events.Event, error)
}

// Unlocker stores unlocked content once per user (the challenges store,
// which owns GET /v1/me/unlocks).
type Unlocker interface {
	AddUnlock(ctx context.Context, u challenges.Unlock) (inserted bool, err error)
}

// Attributes reads a user's tier and segments, for eligibility.
type Attributes interface {
	GetAttributes(ctx context.Context, tenant, user string) (profiles.Attributes, bool, error)
}

// Emitter feeds system events (quiz.completed) into the event stream.
type Emitter interface {
	Emit(ctx context.Context, ev events.Event) error
}

// Publisher pushes frames to users and channels.
type Publisher interface {
	PublishUser(ctx context.Context, tenant, user, typ string, data any) error
	Publish(ctx context.Context, tenant, channel, typ string, data any) error
}

// Config builds a Service; every dependency but Store may be nil.
type Config struct {
	Store      Store
	Payer      Payer
	Awarder    Awarder
	Unlocker   Unlocker
	Attributes Attributes
	Emitter    Emitter
	Publisher  Publisher
	Engine     Engine       // live shows; nil refuses them (503)
	Logger     *slog.Logger // warnings of background work; nil discards them
	// Bus tells the other nodes of a definition change, so they drop
	// their cached quiz at once; nil on a single node.
	Bus bus.Bus
	// Limiter bounds each player's answers (self-paced and live together)
	// to AnswerLimit, beyond the general request budget; nil: no limit.
	Limiter     ratelimit.Limiter
	AnswerLimit ratelimit.Limit // zero: DefaultAnswerLimit
	Now         func() time.Time
}

// DefaultAnswerLimit lets a player answer 5 questions a second, 10 at
// once: more than a person taps, less than a script floods.
var DefaultAnswerLimit = ratelimit.PerSecond(5, 10)

// Service runs quizzes, surveys and live shows.
type Service struct {
	Config

	// cache keeps quizzes by tenant|id: every answer reads its quiz.
	cache *bus.Cache[Quiz]

	timersMu sync.Mutex
	timers   map[string]*time.Timer // tenant|session -> the close of its open question

	stop   chan struct{} // ends the deadline sweeper
	swept  sync.WaitGroup
	closed sync.Once
}

// NewService returns a quiz service.
func NewService(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AnswerLimit == (ratelimit.Limit{}) {
		cfg.AnswerLimit = DefaultAnswerLimit
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{Config: cfg, timers: map[string]*time.Timer{}, cache: bus.NewCache[Quiz](cacheTTL, maxCached),
		stop: make(chan struct{})}
	if cfg.Bus != nil {
		cfg.Bus.Subscribe(busTopic, s.cache.Drop)
	}
	if cfg.Engine != nil {
		s.swept.Add(1)
		go s.sweep()
	}
	return s
}

// cacheTTL bounds how long another node's change goes unseen here if the
// bus lost its message; maxCached bounds the cache's memory.
const (
	cacheTTL  = 2 * time.Second
	maxCached = 10_000
	busTopic  = "quizzes" // keys: tenant|quiz id
)

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

func notFound(what, id string) error {
	return errs.New(errs.NotFound, what+"-not-found", "no %s %q", what, id)
}

// Get returns one quiz of the tenant.
func (s *Service) Get(ctx context.Context, tenant, id string) (Quiz, error) {
	q, err := s.cache.Get(ctx, tenant+"|"+id, s.Now(), func(ctx context.Context) (Quiz, error) {
		return s.Store.GetQuiz(ctx, tenant, id)
	})
	if errors.Is(err, errs.ErrNotFound) {
		return Quiz{}, notFound("quiz", id)
	}
	if err != nil {
		return Quiz{}, fmt.Errorf("quizzes: get %s: %w", id, err)
	}
	return q, nil
}

// List pages the tenant's quizzes in creation order.
func (s *Service) List(ctx context.Context, tenant string, status Status, after string, limit int) ([]Quiz, error) {
	qs, err := s.Store.ListQuizzes(ctx, tenant, status, after, limit)
	if err != nil {
		return nil, fmt.Errorf("quizzes: list: %w", err)
	}
	return qs, nil
}

// Starts counts the attempts begun of one of the tenant's quizzes and the
// users who began them (a missing quiz is not found, like Get).
func (s *Service) Starts(ctx context.Context, tenant, id string) (Starts, error) {
	if _, err := s.Get(ctx, tenant, id); err != nil {
		return Starts{}, err
	}
	st, err := s.Store.QuizStarts(ctx, tenant, id)
	if err != nil {
		return Starts{}, fmt.Errorf("quizzes: starts of %s: %w", id, err)
	}
	return st, nil
}

// Create stores a new draft.
func (s *Service) Create(ctx context.Context, tenant string, spec Spec) (Quiz, error) {
	if err := spec.normalize(); err != nil {
		return Quiz{}, err
	}
	now := s.now()
	q := Quiz{ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, Status: Draft, Spec: spec, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := s.Store.CreateQuiz(ctx, q); err != nil {
		return Quiz{}, fmt.Errorf("quizzes: create: %w", err)
	}
	return q, nil
}

// Patch changes some fields of a quiz; absent ones stay.
type Patch struct {
	Name        *string                 `json:"name,omitempty" minLength:"1" maxLength:"200"`
	Description *string                 `json:"description,omitempty" maxLength:"2000"`
	Questions   []Question              `json:"questions,omitempty" maxItems:"200" doc:"Replaces every question (drafts only)."`
	Pools       []Pool                  `json:"pools,omitempty" maxItems:"20" doc:"Replaces the pools (drafts only)."`
	PassMark    *int                    `json:"pass_mark,omitempty" minimum:"0" maximum:"100"`
	MaxAttempts *int                    `json:"max_attempts,omitempty" minimum:"0" maximum:"1000"`
	EndsAt      *time.Time              `json:"ends_at,omitempty"`
	Reward      *challenges.Reward      `json:"reward,omitempty"`
	Eligibility *challenges.Eligibility `json:"eligibility,omitempty"`
	Review      *bool                   `json:"review,omitempty"`
	Live        *Live                   `json:"live,omitempty"`
}

// Update edits a quiz. A draft may change freely; a published one keeps
// its questions, pools and pass mark (attempts already made were scored
// against them) and may change the rest; an archived one is frozen.
func (s *Service) Update(ctx context.Context, tenant, id string, p Patch) (Quiz, error) {
	q, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Quiz{}, err
	}
	if q.Status == Archived {
		return Quiz{}, errs.New(errs.Conflict, "quiz-archived", "an archived quiz cannot change")
	}
	if q.Status == Published && (p.Questions != nil || p.Pools != nil || p.PassMark != nil) {
		return Quiz{}, errs.New(errs.Conflict, "quiz-published",
			"a published quiz keeps its questions, pools and pass mark; archive it and publish a new one")
	}
	// The cached value is shared: normalize fills defaults in place.
	q.Questions, q.Pools = slices.Clone(q.Questions), slices.Clone(q.Pools)
	p.apply(&q.Spec)
	if err := q.Spec.normalize(); err != nil {
		return Quiz{}, err
	}
	return s.save(ctx, q)
}

func (p Patch) apply(s *Spec) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&s.Name, p.Name)
	set(&s.Description, p.Description)
	if p.Questions != nil {
		s.Questions = p.Questions
	}
	if p.Pools != nil {
		s.Pools = p.Pools
	}
	if p.PassMark != nil {
		s.PassMark = *p.PassMark
	}
	if p.MaxAttempts != nil {
		s.MaxAttempts = *p.MaxAttempts
	}
	if p.EndsAt != nil {
		s.EndsAt = p.EndsAt
	}
	if p.Reward != nil {
		s.Reward = *p.Reward
	}
	if p.Eligibility != nil {
		s.Eligibility = p.Eligibility
	}
	if p.Review != nil {
		s.Review = *p.Review
	}
	if p.Live != nil {
		s.Live = p.Live
	}
}

// Publish makes a draft playable.
func (s *Service) Publish(ctx context.Context, tenant, id string) (Quiz, error) {
	return s.transition(ctx, tenant, id, Draft, Published)
}

// Archive ends a quiz for good; its attempts and results stay readable.
func (s *Service) Archive(ctx context.Context, tenant, id string) (Quiz, error) {
	return s.transition(ctx, tenant, id, Published, Archived)
}

func (s *Service) transition(ctx context.Context, tenant, id string, from, to Status) (Quiz, error) {
	q, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Quiz{}, err
	}
	if q.Status == to {
		return q, nil
	}
	if q.Status != from && !(to == Archived && q.Status == Draft) {
		return Quiz{}, errs.New(errs.Conflict, "bad-transition", "a %s quiz cannot become %s", q.Status, to)
	}
	q.Status = to
	return s.save(ctx, q)
}

func (s *Service) save(ctx context.Context, q Quiz) (Quiz, error) {
	q.Version++
	q.UpdatedAt = s.now()
	err := s.Store.UpdateQuiz(ctx, q)
	if errors.Is(err, errs.ErrDuplicate) {
		return Quiz{}, errs.New(errs.Conflict, "edit-conflict", "the quiz changed meanwhile; read it again and retry")
	}
	if err != nil {
		return Quiz{}, fmt.Errorf("quizzes: save %s: %w", q.ID, err)
	}
	s.cache.Drop(q.Tenant + "|" + q.ID)
	if s.Bus != nil {
		s.Bus.Publish(ctx, busTopic, q.Tenant+"|"+q.ID)
	}
	return q, nil
}

// allowAnswer spends one of user's answer tokens, or refuses with a 429
// carrying Retry-After. A limiter failure admits: the general request
// budget still holds, and answers stay once per question.
func (s *Service) allowAnswer(ctx context.Context, tenant, user string) error {
	if s.Limiter == nil {
		return nil
	}
	res, err := s.Limiter.Allow(ctx, "quiz-answers:"+tenant+":"+user, s.AnswerLimit)
	if err != nil {
		s.Logger.Warn("quizzes: answer rate limit", "user", user, "err", err)
		return nil
	}
	if res.Allowed {
		return nil
	}
	secs := int(math.Ceil(res.RetryAfter.Seconds()))
	e := errs.New(errs.RateLimited, "answer-rate-limited", "at most %s answers; retry in %d s", s.AnswerLimit, max(secs, 1))
	return huma.ErrorWithHeaders(e, http.Header{"Retry-After": {strconv.Itoa(max(secs, 1))}})
}
