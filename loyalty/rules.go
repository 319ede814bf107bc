// Package loyalty is the loyalty programme around the points ledger: earn
// rules that pay points from events (the arithmetic is package earn),
// tiers and referrals. Earn rules run as a rule handler of the event
// service, like challenges and badges; every payout is one ledger entry
// keyed by (rule, event), so a replay, a duplicate or a restart never pays
// twice.
package loyalty

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/bus"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/loyalty/earn"
	"github.com/questline/questline/points"
	"github.com/questline/questline/profiles"
)

// Status is an earn rule's lifecycle.
type Status string

// The statuses: only active rules pay.
const (
	Active   Status = "active"
	Paused   Status = "paused"
	Archived Status = "archived"
)

// EarnRule is a manager's rule paying points from events.
type EarnRule struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"-"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Status      Status    `json:"status"`
	Rule        earn.Rule `json:"rule"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Version     int64     `json:"version"`
}

// Mark is one event an earn rule counted for a user, with what it paid
// and the rule's folded state after it. Marks form a chain per (rule,
// user): Seq is one more than the previous mark's, so the state of the
// next event is the last mark's, read by one indexed lookup however long
// the user's history.
type Mark struct {
	Tenant  string     `json:"-"`
	Rule    string     `json:"rule_id"`
	User    string     `json:"-"`
	Seq     int64      `json:"seq"`
	EventID string     `json:"event_id"`
	Payout  int64      `json:"payout"`
	State   earn.State `json:"state"`
	At      time.Time  `json:"at"`
}

// Store keeps earn rules and their marks.
type Store interface {
	UserData      // export and erasure: privacy.go
	TierStore     // tiers.go
	ReferralStore // referrals.go
	// CreateEarnRule stores a new rule; a taken id is errs.ErrDuplicate.
	CreateEarnRule(ctx context.Context, r EarnRule) error
	// UpdateEarnRule replaces a rule whose stored version is r.Version-1:
	// errs.ErrDuplicate when it is not, errs.ErrNotFound when none.
	UpdateEarnRule(ctx context.Context, r EarnRule) error
	// GetEarnRule returns one rule or errs.ErrNotFound.
	GetEarnRule(ctx context.Context, tenant, id string) (EarnRule, error)
	// ListEarnRules pages a tenant's rules by id after `after`.
	ListEarnRules(ctx context.Context, tenant, after string, limit int) ([]EarnRule, error)
	// LastEarnMark returns the mark with the highest Seq of (rule, user).
	LastEarnMark(ctx context.Context, tenant, rule, user string) (Mark, bool, error)
	// AppendEarnMark stores m. If (tenant, rule, event) has a mark already
	// it returns that one and inserted=false; if m.Seq is taken by another
	// event of (rule, user) it returns errs.ErrDuplicate, and the caller
	// reads the last mark again.
	AppendEarnMark(ctx context.Context, m Mark) (stored Mark, inserted bool, err error)
}

// Ledger pays points exactly once per key.
type Ledger interface {
	Credit(ctx context.Context, c points.Credit) (points.Entry, points.Totals, error)
}

// Attributes reads a user's tier (profiles attributes).
type Attributes interface {
	GetAttributes(ctx context.Context, tenant, user string) (profiles.Attributes, bool, error)
}

// Config is what a Service is built from. Types, Bus and Now may be nil.
type Config struct {
	Store      Store
	Ledger     Ledger
	Attributes Attributes
	Types      events.TypeChecker
	Reverser   Reverser // refunds; nil: none
	Bus        bus.Bus
	Now        func() time.Time
}

// Service runs earn rules.
type Service struct {
	Config
	cache *bus.Cache[*rule.Index[plan]] // tenant -> active rules by event type
	tiers TierConfig
	progs *bus.Cache[Programme]         // tenant -> tier programme
	refs  *bus.Cache[ReferralProgramme] // tenant -> referral terms
}

// plan is an active rule compiled for pricing.
type plan struct {
	def EarnRule
	earn.Plan
}

// busTopic names earn rule changes on the bus; keys are tenants.
const busTopic = "earn-rules"

// rulesCacheTTL bounds how long a change whose bus message was lost goes
// unseen by another node's event path.
const rulesCacheTTL = 2 * time.Second

// NewService returns an earn rule service.
func NewService(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{Config: cfg, cache: bus.NewCache[*rule.Index[plan]](rulesCacheTTL, 0),
		progs: bus.NewCache[Programme](rulesCacheTTL, 0), refs: bus.NewCache[ReferralProgramme](rulesCacheTTL, 0)}
	if cfg.Bus != nil {
		cfg.Bus.Subscribe(referralsTopic, s.refs.Drop)
		cfg.Bus.Subscribe(busTopic, s.cache.Drop)
		cfg.Bus.Subscribe(tiersTopic, s.progs.Drop)
	}
	return s
}

// Definition is an earn rule as a manager writes it.
type Definition struct {
	Name        string    `json:"name" minLength:"1" maxLength:"100"`
	Description string    `json:"description,omitempty" maxLength:"1000"`
	Status      Status    `json:"status,omitempty" enum:"active,paused" doc:"Default active: it pays from the next event on."`
	Rule        earn.Rule `json:"rule"`
}

// Patch changes an earn rule; absent fields stay.
type Patch struct {
	Name        *string    `json:"name,omitempty" minLength:"1" maxLength:"100"`
	Description *string    `json:"description,omitempty" maxLength:"1000"`
	Status      *Status    `json:"status,omitempty" enum:"active,paused,archived" doc:"archived is for good: an archived rule cannot change."`
	Rule        *earn.Rule `json:"rule,omitempty" doc:"Applies from the next event on; what was paid stays, and folded counts (punch cards, caps) carry on."`
}

// Create stores a new earn rule.
func (s *Service) Create(ctx context.Context, tenant string, d Definition) (EarnRule, error) {
	now := s.Now().UTC().Truncate(time.Millisecond)
	r := EarnRule{ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, Name: d.Name, Description: d.Description,
		Status: d.Status, Rule: d.Rule, CreatedAt: now, UpdatedAt: now, Version: 1}
	if r.Status == "" {
		r.Status = Active
	}
	if err := s.check(ctx, &r); err != nil {
		return EarnRule{}, err
	}
	if err := s.Store.CreateEarnRule(ctx, r); err != nil {
		return EarnRule{}, fmt.Errorf("loyalty: create earn rule: %w", err)
	}
	s.changed(ctx, tenant)
	return r, nil
}

// check validates r and normalizes its rule.
func (s *Service) check(ctx context.Context, r *EarnRule) error {
	if r.Name == "" || utf8.RuneCountInString(r.Name) > 100 {
		return errs.New(errs.Unprocessable, "bad-earn-rule", "name is 1 to 100 characters").OnField("body.name")
	}
	if r.Status != Active && r.Status != Paused && r.Status != Archived {
		return errs.New(errs.Unprocessable, "bad-earn-rule", "status is active, paused or archived").OnField("body.status")
	}
	p, err := earn.Compile(r.Rule)
	if err != nil {
		if e, ok := errs.As(err); ok {
			return e.OnField("body.rule." + e.Field[len("body."):])
		}
		return err
	}
	r.Rule = p.Rule
	return events.CheckType(ctx, s.Types, r.Tenant, r.Rule.EventType, "body.rule.event_type")
}

// Update applies a patch.
func (s *Service) Update(ctx context.Context, tenant, id string, p Patch) (EarnRule, error) {
	r, err := s.Get(ctx, tenant, id)
	if err != nil {
		return EarnRule{}, err
	}
	if r.Status == Archived {
		return EarnRule{}, errs.New(errs.Conflict, "earn-rule-archived", "an archived earn rule cannot change")
	}
	set(&r.Name, p.Name)
	set(&r.Description, p.Description)
	set(&r.Status, p.Status)
	set(&r.Rule, p.Rule)
	if err := s.check(ctx, &r); err != nil {
		return EarnRule{}, err
	}
	r.Version++
	r.UpdatedAt = s.Now().UTC().Truncate(time.Millisecond)
	err = s.Store.UpdateEarnRule(ctx, r)
	if errors.Is(err, errs.ErrDuplicate) {
		return EarnRule{}, errs.New(errs.Conflict, "edit-conflict", "the earn rule changed meanwhile; read it again and retry")
	}
	if err != nil {
		return EarnRule{}, fmt.Errorf("loyalty: update earn rule %s: %w", id, err)
	}
	s.changed(ctx, tenant)
	return r, nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// changed drops the tenant's cached rules here and on every node.
func (s *Service) changed(ctx context.Context, tenant string) {
	s.cache.Drop(tenant)
	if s.Bus != nil {
		s.Bus.Publish(ctx, busTopic, tenant)
	}
}

// Get returns one earn rule of the tenant.
func (s *Service) Get(ctx context.Context, tenant, id string) (EarnRule, error) {
	r, err := s.Store.GetEarnRule(ctx, tenant, id)
	if errors.Is(err, errs.ErrNotFound) {
		return EarnRule{}, errs.New(errs.NotFound, "earn-rule-not-found", "no earn rule %q", id)
	}
	if err != nil {
		return EarnRule{}, fmt.Errorf("loyalty: get earn rule %s: %w", id, err)
	}
	return r, nil
}

// List pages the tenant's earn rules in creation order.
func (s *Service) List(ctx context.Context, tenant, after string, limit int) ([]EarnRule, error) {
	rs, err := s.Store.ListEarnRules(ctx, tenant, after, limit)
	if err != nil {
		return nil, fmt.Errorf("loyalty: list earn rules: %w", err)
	}
	return rs, nil
}

// active returns the tenant's active rules for an event type, compiled,
// from the node's cache.
func (s *Service) active(ctx context.Context, tenant, eventType string) ([]plan, error) {
	ix, err := s.cache.Get(ctx, tenant, s.Now(), func(ctx context.Context) (*rule.Index[plan], error) {
		var all []plan
		for after := ""; ; {
			page, err := s.Store.ListEarnRules(ctx, tenant, after, 500)
			if err != nil {
				return nil, fmt.Errorf("loyalty: active earn rules: %w", err)
			}
			for _, r := range page {
				if r.Status != Active {
					continue
				}
				p, err := earn.Compile(r.Rule)
				if err != nil {
					return nil, fmt.Errorf("loyalty: stored earn rule %s: %w", r.ID, err)
				}
				all = append(all, plan{def: r, Plan: p})
			}
			if len(page) < 500 {
				break
			}
			after = page[len(page)-1].ID
		}
		return rule.NewIndex(all, func(p plan) []string { return []string{p.Rule.EventType} }), nil
	})
	if err != nil {
		return nil, err
	}
	return ix.For(eventType), nil
}

// AddUses reports the types and props active earn rules depend on, so the
// event catalogue cannot take them away.
func (s *Service) AddUses(ctx context.Context, tenant string, u events.Uses) error {
	for after := ""; ; {
		page, err := s.Store.ListEarnRules(ctx, tenant, after, 500)
		if err != nil {
			return fmt.Errorf("loyalty: earn rule uses: %w", err)
		}
		for _, r := range page {
			if r.Status == Archived {
				continue
			}
			u.Add(r.Rule.EventType, r.Rule.Prop)
			for _, f := range r.Rule.Filters {
				u.Add(r.Rule.EventType, f.Prop)
			}
		}
		if len(page) < 500 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}
