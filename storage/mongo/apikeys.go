package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/storage/internal/norm"
)

// apiKeyDoc is an API key as stored: only its hash, never the secret.
type apiKeyDoc struct {
	Tenant    string     `bson:"tenant"`
	ID        string     `bson:"id"`
	Name      string     `bson:"name"`
	Prefix    string     `bson:"prefix"`
	Hash      string     `bson:"hash"`
	Scopes    []string   `bson:"scopes"`
	CreatedAt time.Time  `bson:"created_at"`
	RevokedAt *time.Time `bson:"revoked_at"`
}

func (d apiKeyDoc) key() (auth.APIKey, error) {
	return auth.APIKey{
		ID: d.ID, Tenant: d.Tenant, Name: d.Name, Prefix: d.Prefix, Hash: d.Hash,
		Scopes: norm.Strings(d.Scopes), CreatedAt: norm.Trunc(d.CreatedAt), RevokedAt: tptr(d.RevokedAt),
	}, nil
}

// CreateAPIKey stores a hashed API key. An existing (tenant, id) or hash is
// an errs.ErrDuplicate. A zero CreatedAt becomes now.
func (s *Store) CreateAPIKey(ctx context.Context, k auth.APIKey) error {
	if k.ID == "" {
		return errors.New("mongo: create api key: empty id")
	}
	_, err := s.apiKeys.InsertOne(ctx, apiKeyDoc{
		Tenant: k.Tenant, ID: k.ID, Name: k.Name, Prefix: k.Prefix, Hash: k.Hash,
		Scopes: norm.Strings(k.Scopes), CreatedAt: norm.NowIfZero(k.CreatedAt), RevokedAt: norm.TruncPtr(k.RevokedAt),
	})
	if err != nil {
		if mdb.IsDuplicateKeyError(err) {
			return fmt.Errorf("mongo: create api key: api key %s: %w", k.ID, errs.ErrDuplicate)
		}
		return fmt.Errorf("mongo: create api key: %w", err)
	}
	return nil
}

// APIKeyByHash finds a key of any tenant by its hash; revoked keys are
// returned too (with RevokedAt set) so the caller can tell "revoked" from
// "unknown".
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (auth.APIKey, error) {
	var d apiKeyDoc
	if err := s.apiKeys.FindOne(ctx, bson.D{{Key: "hash", Value: hash}}).Decode(&d); err != nil {
		if errors.Is(err, mdb.ErrNoDocuments) {
			return auth.APIKey{}, fmt.Errorf("mongo: api key by hash: %w", errs.ErrNotFound)
		}
		return auth.APIKey{}, fmt.Errorf("mongo: api key by hash: %w", err)
	}
	return d.key()
}

// ListAPIKeys lists a tenant's keys, revoked ones included, in id order.
func (s *Store) ListAPIKeys(ctx context.Context, tenant string) ([]auth.APIKey, error) {
	out, err := findAll(ctx, s.apiKeys, bson.D{{Key: "tenant", Value: tenant}},
		options.Find().SetSort(bson.D{{Key: "id", Value: 1}}), apiKeyDoc.key)
	if err != nil {
		return nil, fmt.Errorf("mongo: list api keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey marks a key revoked. Revoking twice keeps the first time, so
// the audit trail shows when the key really stopped working.
func (s *Store) RevokeAPIKey(ctx context.Context, tenant, id string, at time.Time) error {
	res, err := s.apiKeys.UpdateOne(ctx,
		bson.D{{Key: "tenant", Value: tenant}, {Key: "id", Value: id}, {Key: "revoked_at", Value: nil}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: norm.Trunc(at)}}}})
	if err != nil {
		return fmt.Errorf("mongo: revoke api key: %w", err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	ok, err := exists(ctx, s.apiKeys, tenantID(tenant, id))
	if err != nil {
		return fmt.Errorf("mongo: revoke api key: %w", err)
	}
	if !ok {
		return fmt.Errorf("mongo: revoke api key: api key %s: %w", id, errs.ErrNotFound)
	}
	return nil
}
