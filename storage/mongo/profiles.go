package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/profiles"
	"github.com/questline/questline/storage/internal/norm"
)

// profileDoc is a profile as stored.
type profileDoc struct {
	Tenant    string    `bson:"tenant"`
	User      string    `bson:"user"`
	Name      string    `bson:"name"`
	AvatarURL string    `bson:"avatar_url"`
	UpdatedAt time.Time `bson:"updated_at"`
}

func (d profileDoc) profile() (profiles.Profile, error) {
	return profiles.Profile{
		User: d.User, Tenant: d.Tenant, Name: d.Name,
		AvatarURL: d.AvatarURL, UpdatedAt: norm.Trunc(d.UpdatedAt),
	}, nil
}

// PutProfile creates or replaces p. A zero UpdatedAt becomes now.
func (s *Store) PutProfile(ctx context.Context, p profiles.Profile) error {
	if p.User == "" {
		return errors.New("mongo: put profile: empty user")
	}
	err := upsert(ctx, s.profiles, userKey(p.Tenant, p.User), profileDoc{
		Tenant: p.Tenant, User: p.User, Name: p.Name,
		AvatarURL: p.AvatarURL, UpdatedAt: norm.NowIfZero(p.UpdatedAt),
	})
	if err != nil {
		return fmt.Errorf("mongo: put profile: %w", err)
	}
	return nil
}

// Profiles returns the profiles of those users that have one, in user
// order, with one $in query.
func (s *Store) Profiles(ctx context.Context, tenant string, users []string) ([]profiles.Profile, error) {
	if len(users) == 0 {
		return nil, nil
	}
	out, err := findAll(ctx, s.profiles,
		bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: bson.D{{Key: "$in", Value: users}}}},
		options.Find().SetSort(bson.D{{Key: "user", Value: 1}}), profileDoc.profile)
	if err != nil {
		return nil, fmt.Errorf("mongo: get profiles: %w", err)
	}
	return out, nil
}

// attributesDoc is a user's attributes as stored.
type attributesDoc struct {
	Tenant    string    `bson:"tenant"`
	User      string    `bson:"user"`
	Tier      string    `bson:"tier"`
	Segments  []string  `bson:"segments"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// PutAttributes creates or replaces a. A zero UpdatedAt becomes now.
func (s *Store) PutAttributes(ctx context.Context, a profiles.Attributes) error {
	if a.User == "" {
		return errors.New("mongo: put attributes: empty user")
	}
	err := upsert(ctx, s.attributes, userKey(a.Tenant, a.User), attributesDoc{
		Tenant: a.Tenant, User: a.User, Tier: a.Tier,
		Segments: norm.Strings(a.Segments), UpdatedAt: norm.NowIfZero(a.UpdatedAt),
	})
	if err != nil {
		return fmt.Errorf("mongo: put attributes: %w", err)
	}
	return nil
}

// GetAttributes returns a user's attributes; ok is false when none were
// set. No segments come back nil.
func (s *Store) GetAttributes(ctx context.Context, tenant, user string) (profiles.Attributes, bool, error) {
	var d attributesDoc
	err := s.attributes.FindOne(ctx, userKey(tenant, user)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return profiles.Attributes{}, false, nil
	}
	if err != nil {
		return profiles.Attributes{}, false, fmt.Errorf("mongo: get attributes: %w", err)
	}
	return profiles.Attributes{
		User: d.User, Tenant: d.Tenant, Tier: d.Tier,
		Segments: norm.Strings(d.Segments), UpdatedAt: norm.Trunc(d.UpdatedAt),
	}, true, nil
}

func userKey(tenant, user string) bson.D {
	return bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}}
}
