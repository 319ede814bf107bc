package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
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
	err := upsert(ctx, s.profiles, bson.D{{Key: "tenant", Value: p.Tenant}, {Key: "user", Value: p.User}}, profileDoc{
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
