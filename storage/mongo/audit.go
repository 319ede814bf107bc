package mongo

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/storage/internal/norm"
)

// auditDoc is an audit entry as stored.
type auditDoc struct {
	Tenant  string            `bson:"tenant"`
	ID      string            `bson:"id"`
	Actor   string            `bson:"actor"`
	Action  string            `bson:"action"`
	Subject string            `bson:"subject"`
	Detail  map[string]string `bson:"detail,omitempty"`
	At      time.Time         `bson:"at"`
}

func (d auditDoc) entry() (audit.Entry, error) {
	return audit.Entry{
		ID: d.ID, Tenant: d.Tenant, Actor: d.Actor, Action: d.Action,
		Subject: d.Subject, Detail: norm.StringMap(d.Detail), At: norm.Trunc(d.At),
	}, nil
}

// AppendAudit stores e. An empty ID gets a UUIDv7 and a zero At becomes
// now; an ID the tenant has used already is an errs.ErrDuplicate, since
// entries are never replaced.
func (s *Store) AppendAudit(ctx context.Context, e audit.Entry) error {
	if e.ID == "" {
		e.ID = uuid.Must(uuid.NewV7()).String()
	}
	_, err := s.audit.InsertOne(ctx, auditDoc{
		Tenant: e.Tenant, ID: e.ID, Actor: e.Actor, Action: e.Action,
		Subject: e.Subject, Detail: norm.StringMap(e.Detail), At: norm.NowIfZero(e.At),
	})
	if mdb.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongo: append audit: audit entry %s: %w", e.ID, errs.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("mongo: append audit: %w", err)
	}
	return nil
}

// ListAudit pages a tenant's entries newest first (by id, which is UUIDv7
// and so by time), starting after the entry id before ("" = the newest).
func (s *Store) ListAudit(ctx context.Context, tenant, before string, limit int) ([]audit.Entry, error) {
	filter := bson.D{{Key: "tenant", Value: tenant}}
	if before != "" {
		filter = append(filter, bson.E{Key: "id", Value: bson.D{{Key: "$lt", Value: before}}})
	}
	out, err := findAll(ctx, s.audit, filter,
		options.Find().SetSort(bson.D{{Key: "id", Value: -1}}).SetLimit(int64(norm.Limit(limit, DefaultLimit))),
		auditDoc.entry)
	if err != nil {
		return nil, fmt.Errorf("mongo: list audit: %w", err)
	}
	return out, nil
}
