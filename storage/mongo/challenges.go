package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/storage/internal/norm"
)

// challengeDoc is a challenge as stored; optional fields are stored as null
// so an update can clear them with a plain $set.
type challengeDoc struct {
	Tenant       string            `bson:"tenant"`
	ID           string            `bson:"id"`
	Name         string            `bson:"name"`
	Description  string            `bson:"description"`
	Status       string            `bson:"status"`
	EventType    string            `bson:"event_type"`
	Filter       map[string]string `bson:"filter"`
	Target       int64             `bson:"target"`
	RewardPoints int64             `bson:"reward_points"`
	StartsAt     *time.Time        `bson:"starts_at"`
	EndsAt       *time.Time        `bson:"ends_at"`
	CreatedAt    time.Time         `bson:"created_at"`
	UpdatedAt    time.Time         `bson:"updated_at"`
	Version      int64             `bson:"version"`
}

func toChallengeDoc(c challenges.Challenge) challengeDoc {
	return challengeDoc{
		Tenant: c.Tenant, ID: c.ID, Name: c.Name, Description: c.Description,
		Status: string(c.Status), EventType: c.EventType, Filter: norm.StringMap(c.Filter),
		Target: c.Target, RewardPoints: c.RewardPoints,
		StartsAt: norm.TruncPtr(c.StartsAt), EndsAt: norm.TruncPtr(c.EndsAt),
		CreatedAt: norm.NowIfZero(c.CreatedAt), UpdatedAt: norm.NowIfZero(c.UpdatedAt),
		Version: c.Version,
	}
}

func (d challengeDoc) challenge() (challenges.Challenge, error) {
	return challenges.Challenge{
		ID: d.ID, Tenant: d.Tenant, Name: d.Name, Description: d.Description,
		Status: challenges.Status(d.Status), EventType: d.EventType, Filter: norm.StringMap(d.Filter),
		Target: d.Target, RewardPoints: d.RewardPoints,
		StartsAt: tptr(d.StartsAt), EndsAt: tptr(d.EndsAt),
		CreatedAt: norm.Trunc(d.CreatedAt), UpdatedAt: norm.Trunc(d.UpdatedAt),
		Version: d.Version,
	}, nil
}

func tenantID(tenant, id string) bson.D {
	return bson.D{{Key: "tenant", Value: tenant}, {Key: "id", Value: id}}
}

// CreateChallenge stores a new challenge; an existing (tenant, id) is an
// errs.ErrDuplicate. Zero CreatedAt/UpdatedAt become now.
func (s *Store) CreateChallenge(ctx context.Context, c challenges.Challenge) error {
	if c.ID == "" {
		return errors.New("mongo: create challenge: empty id")
	}
	if _, err := s.challenges.InsertOne(ctx, toChallengeDoc(c)); err != nil {
		if mdb.IsDuplicateKeyError(err) {
			return fmt.Errorf("mongo: create challenge: challenge %s: %w", c.ID, errs.ErrDuplicate)
		}
		return fmt.Errorf("mongo: create challenge: %w", err)
	}
	return nil
}

// UpdateChallenge replaces the stored challenge if its version is
// c.Version-1, in one atomic compare-and-set; a different version is an
// errs.ErrDuplicate, a missing challenge an errs.ErrNotFound. CreatedAt is
// immutable and kept from the stored document.
func (s *Store) UpdateChallenge(ctx context.Context, c challenges.Challenge) error {
	d := toChallengeDoc(c)
	res, err := s.challenges.UpdateOne(ctx,
		bson.D{{Key: "tenant", Value: c.Tenant}, {Key: "id", Value: c.ID}, {Key: "version", Value: c.Version - 1}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "name", Value: d.Name},
			{Key: "description", Value: d.Description},
			{Key: "status", Value: d.Status},
			{Key: "event_type", Value: d.EventType},
			{Key: "filter", Value: d.Filter},
			{Key: "target", Value: d.Target},
			{Key: "reward_points", Value: d.RewardPoints},
			{Key: "starts_at", Value: d.StartsAt},
			{Key: "ends_at", Value: d.EndsAt},
			{Key: "updated_at", Value: d.UpdatedAt},
			{Key: "version", Value: d.Version},
		}}})
	if err != nil {
		return fmt.Errorf("mongo: update challenge: %w", err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	ok, err := exists(ctx, s.challenges, tenantID(c.Tenant, c.ID))
	switch {
	case err != nil:
		return fmt.Errorf("mongo: update challenge: %w", err)
	case ok:
		return fmt.Errorf("mongo: update challenge: challenge %s version %d: %w", c.ID, c.Version, errs.ErrDuplicate)
	default:
		return fmt.Errorf("mongo: update challenge: challenge %s: %w", c.ID, errs.ErrNotFound)
	}
}

// GetChallenge returns one challenge of tenant.
func (s *Store) GetChallenge(ctx context.Context, tenant, id string) (challenges.Challenge, error) {
	var d challengeDoc
	if err := s.challenges.FindOne(ctx, tenantID(tenant, id)).Decode(&d); err != nil {
		if errors.Is(err, mdb.ErrNoDocuments) {
			return challenges.Challenge{}, fmt.Errorf("mongo: get challenge: challenge %s: %w", id, errs.ErrNotFound)
		}
		return challenges.Challenge{}, fmt.Errorf("mongo: get challenge: %w", err)
	}
	return d.challenge()
}

// ListChallenges pages a tenant's challenges by id, after the given id;
// status "" lists every status.
func (s *Store) ListChallenges(ctx context.Context, tenant string, status challenges.Status, after string, limit int) ([]challenges.Challenge, error) {
	filter := bson.D{{Key: "tenant", Value: tenant}}
	if status != "" {
		filter = append(filter, bson.E{Key: "status", Value: string(status)})
	}
	filter = append(filter, bson.E{Key: "id", Value: bson.D{{Key: "$gt", Value: after}}})
	out, err := findAll(ctx, s.challenges, filter,
		options.Find().SetSort(bson.D{{Key: "id", Value: 1}}).SetLimit(int64(norm.Limit(limit, DefaultLimit))),
		challengeDoc.challenge)
	if err != nil {
		return nil, fmt.Errorf("mongo: list challenges: %w", err)
	}
	return out, nil
}

// contributionDoc is one counted event; unique per (tenant, challenge,
// user, period, event_id).
type contributionDoc struct {
	Tenant    string    `bson:"tenant"`
	Challenge string    `bson:"challenge"`
	User      string    `bson:"user"`
	Period    string    `bson:"period"`
	EventID   string    `bson:"event_id"`
	Value     int64     `bson:"value"`
	At        time.Time `bson:"at"`
}

// AddContribution stores c once; inserted is false for a repeat of the same
// (tenant, challenge, user, period, event).
func (s *Store) AddContribution(ctx context.Context, c challenges.Contribution) (bool, error) {
	_, err := s.contributions.InsertOne(ctx, contributionDoc{
		Tenant: c.Tenant, Challenge: c.ChallengeID, User: c.User, Period: c.Period,
		EventID: c.EventID, Value: c.Value, At: norm.NowIfZero(c.At),
	})
	switch {
	case err == nil:
		return true, nil
	case mdb.IsDuplicateKeyError(err):
		return false, nil
	default:
		return false, fmt.Errorf("mongo: add contribution: %w", err)
	}
}

// CountContributions counts a user's contributions to one challenge
// period, stopping at max when max > 0.
func (s *Store) CountContributions(ctx context.Context, tenant, challengeID, user, period string, max int64) (int64, error) {
	o := options.Count()
	if max > 0 {
		o.SetLimit(max)
	}
	n, err := s.contributions.CountDocuments(ctx, bson.D{
		{Key: "tenant", Value: tenant}, {Key: "challenge", Value: challengeID},
		{Key: "user", Value: user}, {Key: "period", Value: period},
	}, o)
	if err != nil {
		return 0, fmt.Errorf("mongo: count contributions: %w", err)
	}
	return n, nil
}

// UserProgress returns a user's contribution counts per challenge and
// period, ordered by challenge id then period.
func (s *Store) UserProgress(ctx context.Context, tenant, user string) ([]challenges.ProgressRow, error) {
	cur, err := s.contributions.Aggregate(ctx, mdb.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}}}},
		{{Key: "$group", Value: bson.D{
			{Key: "_id", Value: bson.D{{Key: "c", Value: "$challenge"}, {Key: "p", Value: "$period"}}},
			{Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}},
		}}},
		{{Key: "$sort", Value: bson.D{{Key: "_id.c", Value: 1}, {Key: "_id.p", Value: 1}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: user progress: %w", err)
	}
	var rows []struct {
		ID struct {
			C string `bson:"c"`
			P string `bson:"p"`
		} `bson:"_id"`
		N int64 `bson:"n"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("mongo: user progress: %w", err)
	}
	var out []challenges.ProgressRow
	for _, r := range rows {
		out = append(out, challenges.ProgressRow{ChallengeID: r.ID.C, Period: r.ID.P, Count: r.N})
	}
	return out, nil
}

// completionDoc is a completion as stored.
type completionDoc struct {
	Tenant      string    `bson:"tenant"`
	ID          string    `bson:"id"`
	Challenge   string    `bson:"challenge"`
	User        string    `bson:"user"`
	Period      string    `bson:"period"`
	EventID     string    `bson:"event_id"`
	CompletedAt time.Time `bson:"completed_at"`
}

func (d completionDoc) completion() (challenges.Completion, error) {
	return challenges.Completion{
		ID: d.ID, Tenant: d.Tenant, ChallengeID: d.Challenge, User: d.User, Period: d.Period,
		EventID: d.EventID, CompletedAt: norm.Trunc(d.CompletedAt),
	}, nil
}

// InsertCompletion stores c unless the user already completed that
// challenge period, in which case it returns the existing completion and
// inserted=false. An empty ID gets a UUIDv7 and a zero CompletedAt becomes
// now; an ID already used for another period is an errs.ErrDuplicate.
func (s *Store) InsertCompletion(ctx context.Context, c challenges.Completion) (challenges.Completion, bool, error) {
	if c.ID == "" {
		c.ID = uuid.Must(uuid.NewV7()).String()
	}
	c.CompletedAt = norm.NowIfZero(c.CompletedAt)
	doc := completionDoc{
		Tenant: c.Tenant, ID: c.ID, Challenge: c.ChallengeID, User: c.User,
		Period: c.Period, EventID: c.EventID, CompletedAt: c.CompletedAt,
	}
	key := bson.D{{Key: "tenant", Value: c.Tenant}, {Key: "challenge", Value: c.ChallengeID},
		{Key: "user", Value: c.User}, {Key: "period", Value: c.Period}}
	stored, inserted, err := insertOrExisting(ctx, s.completions, doc, key, c, completionDoc.completion)
	if err != nil {
		return challenges.Completion{}, false, fmt.Errorf("mongo: insert completion %s: %w", c.ID, err)
	}
	return stored, inserted, nil
}

// UserCompletions lists a user's completions, newest first.
func (s *Store) UserCompletions(ctx context.Context, tenant, user string) ([]challenges.Completion, error) {
	out, err := findAll(ctx, s.completions,
		bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}},
		options.Find().SetSort(bson.D{{Key: "completed_at", Value: -1}, {Key: "id", Value: -1}}),
		completionDoc.completion)
	if err != nil {
		return nil, fmt.Errorf("mongo: user completions: %w", err)
	}
	return out, nil
}
