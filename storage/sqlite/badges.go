package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/questline/questline/badges"
	"github.com/questline/questline/storage/internal/norm"
)

// prepBadge fills b's defaults and encodes its definition.
func prepBadge(b badges.Badge) (badges.Badge, definition, error) {
	b.CreatedAt = norm.NowIfZero(b.CreatedAt)
	b.UpdatedAt = norm.NowIfZero(b.UpdatedAt)
	def, err := encodeDefinition(b.Rule, norm.BadgeSpecOf(b))
	return b, def, err
}

// CreateBadge stores a new badge; an existing (tenant, id) is an
// errs.ErrDuplicate. Zero CreatedAt/UpdatedAt become now.
func (s *Store) CreateBadge(ctx context.Context, b badges.Badge) error {
	if b.ID == "" {
		return errors.New("sqlite: create badge: empty id")
	}
	b, def, err := prepBadge(b)
	if err != nil {
		return fmt.Errorf("sqlite: create badge: %w", err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		return insertNew(tx, s.wq.insertBadge, []any{b.Tenant, b.ID, b.Name, b.Description, b.ImageURL,
			string(b.Status), def.rule, def.spec, norm.Millis(b.CreatedAt), norm.Millis(b.UpdatedAt), b.Version},
			"badge "+b.ID)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create badge: %w", err)
	}
	return nil
}

// UpdateBadge replaces the stored badge if its version is b.Version-1
// (compare-and-set); a different version is an errs.ErrDuplicate, a
// missing badge an errs.ErrNotFound. CreatedAt is kept from the stored row.
func (s *Store) UpdateBadge(ctx context.Context, b badges.Badge) error {
	b, def, err := prepBadge(b)
	if err != nil {
		return fmt.Errorf("sqlite: update badge: %w", err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		return updateVersioned(tx, s.wq.updateBadge, s.wq.badgeExists,
			[]any{b.Name, b.Description, b.ImageURL, string(b.Status), def.rule, def.spec, norm.Millis(b.UpdatedAt), b.Version},
			b.Tenant, b.ID, b.Version, "badge")
	})
	if err != nil {
		return fmt.Errorf("sqlite: update badge: %w", err)
	}
	return nil
}

// GetBadge returns one badge of tenant.
func (s *Store) GetBadge(ctx context.Context, tenant, id string) (badges.Badge, error) {
	b, err := scanBadge(s.rq.getBadge.QueryRowContext(ctx, tenant, id))
	if err != nil {
		return badges.Badge{}, fmt.Errorf("sqlite: get badge: %w", notFound(err, "badge", id))
	}
	return b, nil
}

// ListBadges pages a tenant's badges by id, after the given id; status ""
// lists every status.
func (s *Store) ListBadges(ctx context.Context, tenant string, status badges.Status, after string, limit int) ([]badges.Badge, error) {
	limit = norm.Limit(limit, DefaultLimit)
	var (
		out []badges.Badge
		err error
	)
	if status == "" {
		out, err = queryAll(ctx, s.rq.listBadges, scanBadge, tenant, after, limit)
	} else {
		out, err = queryAll(ctx, s.rq.listBadgesBy, scanBadge, tenant, string(status), after, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list badges: %w", err)
	}
	return out, nil
}

func scanBadge(sc scanner) (badges.Badge, error) {
	var (
		b                badges.Badge
		status, r, spec  string
		created, updated int64
	)
	if err := sc.Scan(&b.Tenant, &b.ID, &b.Name, &b.Description, &b.ImageURL, &status, &r, &spec,
		&created, &updated, &b.Version); err != nil {
		return badges.Badge{}, err
	}
	b.Status = badges.Status(status)
	b.CreatedAt, b.UpdatedAt = norm.Time(created), norm.Time(updated)
	var err error
	if b.Rule, err = norm.DecodeRule([]byte(r)); err != nil {
		return badges.Badge{}, fmt.Errorf("decode rule of badge %s: %w", b.ID, err)
	}
	var sp norm.BadgeSpec
	if err := json.Unmarshal([]byte(spec), &sp); err != nil {
		return badges.Badge{}, fmt.Errorf("decode spec of badge %s: %w", b.ID, err)
	}
	sp.Apply(&b)
	return b, nil
}

// AddBadgeContribution stores c once; inserted is false for a repeat of
// the same (tenant, badge, user, period, goal, event). A zero At becomes
// now.
func (s *Store) AddBadgeContribution(ctx context.Context, c badges.Contribution) (bool, error) {
	inserted, err := s.insertIgnore(ctx, s.wq.insertBadgeContribution, c.Tenant, c.BadgeID, c.User, c.Period,
		c.Goal, c.EventID, c.Amount, c.Key, norm.Millis(norm.NowIfZero(c.At)))
	if err != nil {
		return false, fmt.Errorf("sqlite: add badge contribution: %w", err)
	}
	return inserted, nil
}

// BadgeContributions returns a user's contributions to one period of a
// badge, in (At, EventID, Goal) order.
func (s *Store) BadgeContributions(ctx context.Context, tenant, badgeID, user, period string) ([]badges.Contribution, error) {
	out, err := queryAll(ctx, s.rq.badgeContributions, func(sc scanner) (badges.Contribution, error) {
		c := badges.Contribution{Tenant: tenant, BadgeID: badgeID, User: user, Period: period}
		var at int64
		err := sc.Scan(&c.Goal, &c.EventID, &c.Amount, &c.Key, &at)
		c.At = norm.Time(at)
		return c, err
	}, tenant, badgeID, user, period)
	if err != nil {
		return nil, fmt.Errorf("sqlite: badge contributions: %w", err)
	}
	return out, nil
}

// InsertAward stores a unless the user holds (badge, tier, period)
// already: then it returns that award, whatever its edition, and
// inserted=false. An edition (> 0) another award of the tier holds, or an
// ID already in use, is an errs.ErrDuplicate and stores nothing. An empty
// ID gets a UUIDv7 and a zero AwardedAt becomes now.
func (s *Store) InsertAward(ctx context.Context, a badges.Award) (badges.Award, bool, error) {
	if a.ID == "" {
		a.ID = uuid.Must(uuid.NewV7()).String()
	}
	a.AwardedAt = norm.NowIfZero(a.AwardedAt)
	a.ExpiresAt = norm.TruncPtr(a.ExpiresAt)
	var (
		stored   badges.Award
		inserted bool
	)
	err := s.w.do(ctx, func(tx *wtx) (err error) {
		stored, inserted, err = insertOrExisting(tx, s.wq.insertAward,
			[]any{a.Tenant, a.ID, a.BadgeID, a.User, a.Tier, a.Period, a.Edition, a.EventID, a.Source,
				norm.Millis(a.AwardedAt), nullTime(a.ExpiresAt)}, a,
			func() (badges.Award, error) {
				return scanAward(tx.queryRow(s.wq.awardByKey, a.Tenant, a.BadgeID, a.Tier, a.User, a.Period))
			},
			fmt.Sprintf("award %s, edition %d", a.ID, a.Edition))
		return err
	})
	if err != nil {
		return badges.Award{}, false, fmt.Errorf("sqlite: insert award: %w", err)
	}
	return stored, inserted, nil
}

// CountAwards counts a badge tier's awards, every period and edition.
func (s *Store) CountAwards(ctx context.Context, tenant, badgeID, tier string) (int64, error) {
	var n int64
	if err := s.rq.countAwards.QueryRowContext(ctx, tenant, badgeID, tier).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count awards: %w", err)
	}
	return n, nil
}

// UserAwards lists a user's awards, newest first (ties by id, descending).
func (s *Store) UserAwards(ctx context.Context, tenant, user string) ([]badges.Award, error) {
	out, err := queryAll(ctx, s.rq.userAwards, scanAward, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user awards: %w", err)
	}
	return out, nil
}

// HeldAwards returns the user's awards of the given tiers of one badge
// period: one lookup by awards_once per tier.
func (s *Store) HeldAwards(ctx context.Context, tenant, user, badgeID, period string, tiers []string) ([]badges.Award, error) {
	var out []badges.Award
	for _, tier := range tiers {
		a, err := scanAward(s.rq.heldAward.QueryRowContext(ctx, tenant, badgeID, tier, user, period))
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: held awards: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

func scanAward(sc scanner) (badges.Award, error) {
	var (
		a       badges.Award
		at      int64
		expires sql.NullInt64
	)
	if err := sc.Scan(&a.Tenant, &a.ID, &a.BadgeID, &a.User, &a.Tier, &a.Period, &a.Edition,
		&a.EventID, &a.Source, &at, &expires); err != nil {
		return badges.Award{}, err
	}
	a.AwardedAt, a.ExpiresAt = norm.Time(at), timePtr(expires)
	return a, nil
}
