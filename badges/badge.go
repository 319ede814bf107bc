// Package badges holds badge definitions and awards. A badge's criterion is
// a rule over the event stream (events/rule), so "5 approved reviews",
// "3 challenges this month" or "1,000 lifetime points" need no special code.
// Badges may be tiered (bronze, silver, gold at thresholds of one goal),
// hidden until earned, limited to the first N earners, and may expire.
package badges

import (
	"context"
	"encoding/json"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/events/rule"
)

// Status is a badge's place in its lifecycle: only published badges are
// awarded; archived ones stop being awarded but stay on showcases.
type Status string

// The badge statuses.
const (
	Draft     Status = "draft"
	Published Status = "published"
	Archived  Status = "archived"
)

// Tier is one level of a tiered badge: reached when the criterion's single
// goal reaches Target (in the goal's unit, as written in the rule).
type Tier struct {
	Name string `json:"name"`
	// Target is a json.Number so that a decimal is kept exactly.
	Target json.Number `json:"target"`
}

// Schema documents a tier for OpenAPI: huma would describe the
// json.Number target as a string, and then refuse the numbers clients send.
func (Tier) Schema(huma.Registry) *huma.Schema {
	minLen, maxLen := 1, 32
	return &huma.Schema{
		Type: "object", Required: []string{"name", "target"},
		Properties: map[string]*huma.Schema{
			"name":   {Type: "string", MinLength: &minLen, MaxLength: &maxLen, Description: "e.g. bronze, silver, gold."},
			"target": {Type: "number", Description: "Progress that reaches this tier, in the goal's unit."},
		},
	}
}

// Badge is a badge definition.
type Badge struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"-"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	ImageURL    string    `json:"image_url,omitempty"`
	Status      Status    `json:"status"`
	Rule        rule.Rule `json:"rule"`
	// Tiers, ascending, are levels of the rule's single goal; the first
	// is reached when the rule is met, so its target is the goal's. Empty
	// for a plain badge.
	Tiers []Tier `json:"tiers,omitempty"`
	// Hidden badges (secrets) are not shown to players until earned;
	// once held, they stay shown even after the award expires.
	Hidden bool `json:"hidden,omitempty"`
	// Limit makes a limited edition: only the first Limit earners of each
	// tier get it, over all periods; 0 = unlimited. Only holders of a tier
	// reach the next, so in effect it is the first Limit earners.
	Limit int64 `json:"limit,omitempty"`
	// ValidFor makes awards expire this long after they are earned ("30d",
	// "720h"); empty = forever. An expired award is no longer held, but its
	// (tier, period) stays taken: a badge with a recurring window is earned
	// afresh in later periods, any other badge only once.
	ValidFor  string    `json:"valid_for,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// Award is a badge (tier) earned by a user. It is unique per (tenant,
// badge, user, tier, period): a recurring criterion can be earned once per
// period. Edition numbers a limited edition's awards 1..Limit, unique per
// (tenant, badge, tier, edition), which is what caps it exactly under
// concurrency.
type Award struct {
	ID        string     `json:"id"`
	Tenant    string     `json:"-"`
	BadgeID   string     `json:"badge_id"`
	User      string     `json:"user_id"`
	Tier      string     `json:"tier,omitempty"`
	Period    string     `json:"period,omitempty"`
	Edition   int64      `json:"edition,omitempty" doc:"Limited editions: this award's number, from 1."`
	EventID   string     `json:"event_id,omitempty"`
	Source    string     `json:"source" doc:"What awarded it: event:{id} or challenge:{id}."`
	AwardedAt time.Time  `json:"awarded_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Contribution is one event counted towards a badge's goal for a user,
// unique per (tenant, badge, user, period, goal, event).
type Contribution struct {
	Tenant  string
	BadgeID string
	User    string
	Period  string
	Goal    string
	EventID string
	Amount  int64
	Key     string
	At      time.Time
}

// Store keeps badges, contributions and awards.
type Store interface {
	UserData // export and erasure: privacy.go
	CreateBadge(ctx context.Context, b Badge) error
	// UpdateBadge replaces b if the stored version is b.Version-1; otherwise
	// an error wrapping errs.ErrDuplicate.
	UpdateBadge(ctx context.Context, b Badge) error
	GetBadge(ctx context.Context, tenant, id string) (Badge, error)
	// ListBadges pages by id; status "" is all.
	ListBadges(ctx context.Context, tenant string, status Status, after string, limit int) ([]Badge, error)

	// AddBadgeContribution stores c; inserted is false when it was there.
	AddBadgeContribution(ctx context.Context, c Contribution) (inserted bool, err error)
	// BadgeContributions returns a user's contributions to one period of a
	// badge, in (At, EventID) order.
	BadgeContributions(ctx context.Context, tenant, badgeID, user, period string) ([]Contribution, error)
	// PruneBadgeContributions deletes a badge's contributions with At
	// before `before`, in batches; progress gets the running count.
	PruneBadgeContributions(ctx context.Context, tenant, badgeID string, before time.Time, progress func(int64)) (int64, error)

	// InsertAward stores a. When the user holds (badge, tier, period)
	// already it returns that award and inserted=false. When a.Edition > 0
	// and another award holds (badge, tier, edition), it returns an error
	// wrapping errs.ErrDuplicate, so the caller can try the next edition.
	InsertAward(ctx context.Context, a Award) (stored Award, inserted bool, err error)
	// CountAwards counts a badge tier's awards (for limited editions).
	CountAwards(ctx context.Context, tenant, badgeID, tier string) (int64, error)
	// UserAwards lists a user's awards, newest first.
	UserAwards(ctx context.Context, tenant, user string) ([]Award, error)
	// HeldAwards returns the user's awards of the given tiers of one
	// badge in one period, in any order: point reads by the awards' unique
	// key, however many awards the user holds elsewhere.
	HeldAwards(ctx context.Context, tenant, user, badgeID, period string, tiers []string) ([]Award, error)
}
