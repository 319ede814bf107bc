package mongo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/badges"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/storage/internal/norm"
)

// badgeDef is what UpdateBadge replaces: every field of a badge but its
// key and creation time.
type badgeDef struct {
	Name        string         `bson:"name"`
	Description string         `bson:"description"`
	ImageURL    string         `bson:"image_url"`
	Status      string         `bson:"status"`
	Rule        bson.Raw       `bson:"rule"`
	Spec        norm.BadgeSpec `bson:",inline"`
	UpdatedAt   time.Time      `bson:"updated_at"`
	Version     int64          `bson:"version"`
}

// badgeDoc is a badge as stored.
type badgeDoc struct {
	Tenant    string    `bson:"tenant"`
	ID        string    `bson:"id"`
	CreatedAt time.Time `bson:"created_at"`
	Def       badgeDef  `bson:",inline"`
}

func toBadgeDoc(b badges.Badge) (badgeDoc, error) {
	r, err := ruleToRaw(b.Rule)
	if err != nil {
		return badgeDoc{}, err
	}
	return badgeDoc{
		Tenant: b.Tenant, ID: b.ID, CreatedAt: norm.NowIfZero(b.CreatedAt),
		Def: badgeDef{
			Name: b.Name, Description: b.Description, ImageURL: b.ImageURL, Status: string(b.Status),
			Rule: r, Spec: norm.BadgeSpecOf(b), UpdatedAt: norm.NowIfZero(b.UpdatedAt), Version: b.Version,
		},
	}, nil
}

func (d badgeDoc) badge() (badges.Badge, error) {
	b := badges.Badge{
		ID: d.ID, Tenant: d.Tenant, Name: d.Def.Name, Description: d.Def.Description,
		ImageURL: d.Def.ImageURL, Status: badges.Status(d.Def.Status), CreatedAt: norm.Trunc(d.CreatedAt),
		UpdatedAt: norm.Trunc(d.Def.UpdatedAt), Version: d.Def.Version,
	}
	d.Def.Spec.Apply(&b)
	var err error
	if b.Rule, err = rawToRule(d.Def.Rule); err != nil {
		return badges.Badge{}, fmt.Errorf("decode rule of badge %s: %w", d.ID, err)
	}
	return b, nil
}

// CreateBadge stores a new badge; an existing (tenant, id) is an
// errs.ErrDuplicate. Zero CreatedAt/UpdatedAt become now.
func (s *Store) CreateBadge(ctx context.Context, b badges.Badge) error {
	if b.ID == "" {
		return errors.New("mongo: create badge: empty id")
	}
	d, err := toBadgeDoc(b)
	if err != nil {
		return fmt.Errorf("mongo: create badge: %w", err)
	}
	if err := insertNew(ctx, s.badges, d, "badge "+b.ID); err != nil {
		return fmt.Errorf("mongo: create badge: %w", err)
	}
	return nil
}

// UpdateBadge replaces the stored badge if its version is b.Version-1,
// exactly one of concurrent edits winning (see updateVersioned); a
// different version is an errs.ErrDuplicate,
// a missing badge an errs.ErrNotFound. CreatedAt is kept from the stored
// document.
func (s *Store) UpdateBadge(ctx context.Context, b badges.Badge) error {
	d, err := toBadgeDoc(b)
	if err != nil {
		return fmt.Errorf("mongo: update badge: %w", err)
	}
	if err := updateVersioned(ctx, s.revisions, s.badges, b.Tenant, b.ID, b.Version, bson.D{{Key: "$set", Value: d.Def}}, "badge"); err != nil {
		return fmt.Errorf("mongo: update badge: %w", err)
	}
	return nil
}

// GetBadge returns one badge of tenant.
func (s *Store) GetBadge(ctx context.Context, tenant, id string) (badges.Badge, error) {
	var d badgeDoc
	if err := s.badges.FindOne(ctx, tenantID(tenant, id)).Decode(&d); err != nil {
		if errors.Is(err, mdb.ErrNoDocuments) {
			return badges.Badge{}, fmt.Errorf("mongo: get badge: badge %s: %w", id, errs.ErrNotFound)
		}
		return badges.Badge{}, fmt.Errorf("mongo: get badge: %w", err)
	}
	b, err := d.badge()
	if err != nil {
		return badges.Badge{}, fmt.Errorf("mongo: get badge: %w", err)
	}
	return b, nil
}

// ListBadges pages a tenant's badges by id, after the given id; status ""
// lists every status.
func (s *Store) ListBadges(ctx context.Context, tenant string, status badges.Status, after string, limit int) ([]badges.Badge, error) {
	out, err := findAll(ctx, s.badges, pageFilter(tenant, string(status), after),
		options.Find().SetSort(bson.D{{Key: "id", Value: 1}}).SetLimit(int64(norm.Limit(limit, DefaultLimit))),
		badgeDoc.badge)
	if err != nil {
		return nil, fmt.Errorf("mongo: list badges: %w", err)
	}
	return out, nil
}

// badgeContributionDoc is one event counted towards a badge's goal; unique
// per (tenant, badge, user, period, goal, event_id).
type badgeContributionDoc struct {
	Tenant  string    `bson:"tenant"`
	Badge   string    `bson:"badge"`
	User    string    `bson:"user"`
	Period  string    `bson:"period"`
	Goal    string    `bson:"goal"`
	EventID string    `bson:"event_id"`
	Amount  int64     `bson:"amount"`
	Key     string    `bson:"key"`
	At      time.Time `bson:"at"`
}

func (d badgeContributionDoc) contribution() (badges.Contribution, error) {
	return badges.Contribution{
		Tenant: d.Tenant, BadgeID: d.Badge, User: d.User, Period: d.Period,
		Goal: d.Goal, EventID: d.EventID, Amount: d.Amount, Key: d.Key, At: norm.Trunc(d.At),
	}, nil
}

// AddBadgeContribution stores c once; inserted is false for a repeat of
// the same (tenant, badge, user, period, goal, event). A zero At becomes
// now.
func (s *Store) AddBadgeContribution(ctx context.Context, c badges.Contribution) (bool, error) {
	inserted, err := insertIgnore(ctx, s.badgeContributions, badgeContributionDoc{
		Tenant: c.Tenant, Badge: c.BadgeID, User: c.User, Period: c.Period,
		Goal: c.Goal, EventID: c.EventID, Amount: c.Amount, Key: c.Key, At: norm.NowIfZero(c.At),
	})
	if err != nil {
		return false, fmt.Errorf("mongo: add badge contribution: %w", err)
	}
	return inserted, nil
}

// BadgeContributions returns a user's contributions to one period of a
// badge, in (At, EventID, Goal) order.
func (s *Store) BadgeContributions(ctx context.Context, tenant, badgeID, user, period string) ([]badges.Contribution, error) {
	out, err := findAll(ctx, s.badgeContributions,
		bson.D{{Key: "tenant", Value: tenant}, {Key: "badge", Value: badgeID},
			{Key: "user", Value: user}, {Key: "period", Value: period}},
		options.Find().SetSort(contributionOrder), badgeContributionDoc.contribution)
	if err != nil {
		return nil, fmt.Errorf("mongo: badge contributions: %w", err)
	}
	return out, nil
}

// awardDoc is an award as stored.
//
// EditionKey caps limited editions without a partial index, which FerretDB
// lacks: awards_edition is unique on (tenant, badge, tier, edition_key),
// and edition_key is "n:" and the edition for a numbered award but "id:"
// and the award's own id for an unnumbered one (edition 0), which no
// other award can hold. So numbered awards collide exactly when they
// share an edition, and unnumbered ones never do, all in one document
// written by one insert. (A separate collection of edition slots would
// need two writes and leave a slot behind when the second failed.)
type awardDoc struct {
	Tenant     string     `bson:"tenant"`
	ID         string     `bson:"id"`
	Badge      string     `bson:"badge"`
	User       string     `bson:"user"`
	Tier       string     `bson:"tier"`
	Period     string     `bson:"period"`
	Edition    int64      `bson:"edition"`
	EditionKey string     `bson:"edition_key"`
	EventID    string     `bson:"event_id"`
	Source     string     `bson:"source"`
	AwardedAt  time.Time  `bson:"awarded_at"`
	ExpiresAt  *time.Time `bson:"expires_at"`
}

func editionKey(a badges.Award) string {
	if a.Edition > 0 {
		return "n:" + strconv.FormatInt(a.Edition, 10)
	}
	return "id:" + a.ID
}

func (d awardDoc) award() (badges.Award, error) {
	return badges.Award{
		ID: d.ID, Tenant: d.Tenant, BadgeID: d.Badge, User: d.User, Tier: d.Tier, Period: d.Period,
		Edition: d.Edition, EventID: d.EventID, Source: d.Source,
		AwardedAt: norm.Trunc(d.AwardedAt), ExpiresAt: tptr(d.ExpiresAt),
	}, nil
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
	doc := awardDoc{
		Tenant: a.Tenant, ID: a.ID, Badge: a.BadgeID, User: a.User, Tier: a.Tier, Period: a.Period,
		Edition: a.Edition, EditionKey: editionKey(a), EventID: a.EventID, Source: a.Source,
		AwardedAt: a.AwardedAt, ExpiresAt: a.ExpiresAt,
	}
	key := bson.D{{Key: "tenant", Value: a.Tenant}, {Key: "badge", Value: a.BadgeID},
		{Key: "tier", Value: a.Tier}, {Key: "user", Value: a.User}, {Key: "period", Value: a.Period}}
	stored, inserted, err := insertOrExisting(ctx, s.awards, doc, key, a, awardDoc.award)
	if err != nil {
		return badges.Award{}, false, fmt.Errorf("mongo: insert award %s, edition %d: %w", a.ID, a.Edition, err)
	}
	return stored, inserted, nil
}

// CountAwards counts a badge tier's awards, every period and edition.
func (s *Store) CountAwards(ctx context.Context, tenant, badgeID, tier string) (int64, error) {
	n, err := s.awards.CountDocuments(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "badge", Value: badgeID}, {Key: "tier", Value: tier}})
	if err != nil {
		return 0, fmt.Errorf("mongo: count awards: %w", err)
	}
	return n, nil
}

// UserAwards lists a user's awards, newest first (ties by id, descending).
func (s *Store) UserAwards(ctx context.Context, tenant, user string) ([]badges.Award, error) {
	out, err := findAll(ctx, s.awards, userKey(tenant, user),
		options.Find().SetSort(bson.D{{Key: "awarded_at", Value: -1}, {Key: "id", Value: -1}}),
		awardDoc.award)
	if err != nil {
		return nil, fmt.Errorf("mongo: user awards: %w", err)
	}
	return out, nil
}

// HeldAwards returns the user's awards of the given tiers of one badge
// period, found through awards_once.
func (s *Store) HeldAwards(ctx context.Context, tenant, user, badgeID, period string, tiers []string) ([]badges.Award, error) {
	if len(tiers) == 0 {
		return nil, nil // $in needs an array
	}
	out, err := findAll(ctx, s.awards, bson.D{{Key: "tenant", Value: tenant}, {Key: "badge", Value: badgeID},
		{Key: "tier", Value: bson.D{{Key: "$in", Value: tiers}}}, {Key: "user", Value: user}, {Key: "period", Value: period}},
		options.Find(), awardDoc.award)
	if err != nil {
		return nil, fmt.Errorf("mongo: held awards: %w", err)
	}
	return out, nil
}
