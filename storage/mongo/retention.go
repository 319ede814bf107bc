package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/analytics"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/storage/internal/norm"
)

// colRetention holds each tenant's retention setting (package retention).
const colRetention = "retention_settings"

// pruneBatch is how many documents one delete of a prune removes.
const pruneBatch = 1000

// Retention prunes with batched deletes rather than TTL indexes: a TTL
// index has one expiry for a whole collection, while a tenant's retention
// is its own and a rule may need some records longer (see package
// retention); and a TTL monitor could delete a score or contribution that
// a pending event's replay needs. Every prune filter leads with the keys
// of an existing index (tenant and owner, and the event id where it is
// time-ordered), so no index is added to the write path for it.
func (s *Store) ensureRetentionIndexes(ctx context.Context) error {
	return createIndex(ctx, s.db.Collection(colRetention),
		index{name: "retention_tenant", unique: true, keys: bson.D{{Key: "tenant", Value: 1}}})
}

type retentionDoc struct {
	Tenant    string    `bson:"tenant"`
	Days      int       `bson:"days"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// RetentionDays returns tenant's retention setting; ok is false when unset.
func (s *Store) RetentionDays(ctx context.Context, tenant string) (int, bool, error) {
	var d retentionDoc
	err := s.db.Collection(colRetention).FindOne(ctx, bson.D{{Key: "tenant", Value: tenant}}).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("mongo: retention days: %w", err)
	}
	return d.Days, true, nil
}

// SetRetentionDays stores tenant's retention setting.
func (s *Store) SetRetentionDays(ctx context.Context, tenant string, days int, at time.Time) error {
	err := upsert(ctx, s.db.Collection(colRetention), bson.D{{Key: "tenant", Value: tenant}},
		retentionDoc{Tenant: tenant, Days: days, UpdatedAt: norm.Trunc(at)})
	if err != nil {
		return fmt.Errorf("mongo: set retention days: %w", err)
	}
	return nil
}

// PendingSince returns the received_at of tenant's oldest unprocessed
// event (waiting or dead), along events_unprocessed.
func (s *Store) PendingSince(ctx context.Context, tenant string) (time.Time, bool, error) {
	var d eventDoc
	err := s.events.FindOne(ctx, bson.D{{Key: "processed", Value: false}, {Key: "tenant", Value: tenant}},
		options.FindOne().SetSort(bson.D{{Key: "received_at", Value: 1}})).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("mongo: pending events: %w", err)
	}
	return norm.Trunc(d.ReceivedAt), true, nil
}

// EventTenants lists the tenants with events, along the events_id index.
func (s *Store) EventTenants(ctx context.Context) ([]string, error) {
	out, err := tenantsOf(ctx, s.events)
	if err != nil {
		return nil, fmt.Errorf("mongo: event tenants: %w", err)
	}
	return out, nil
}

// PruneEvents deletes tenant's events received before `before`, but for
// those the sweeper still owes a run (unprocessed and not dead). Ids are
// UUIDv7, so the filter walks only the old end of events_id.
func (s *Store) PruneEvents(ctx context.Context, tenant string, before time.Time, progress func(int64)) (int64, error) {
	f := bson.D{{Key: "tenant", Value: tenant}, {Key: "id", Value: bson.D{{Key: "$lt", Value: norm.IDBefore(before)}}},
		{Key: "received_at", Value: bson.D{{Key: "$lt", Value: before}}},
		{Key: "$or", Value: bson.A{bson.D{{Key: "processed", Value: true}}, bson.D{{Key: "dead_at", Value: bson.D{{Key: "$exists", Value: true}}}}}}}
	return pruneDocs(ctx, s.events, f, "events", progress, s.dropEventMarks(tenant))
}

// dropEventMarks deletes the analytics markers of a batch of events about
// to be pruned. A crash between the two deletes leaves an event without
// its marker, which is harmless: the event is processed, so nothing
// counts it again, and its key still finds it.
func (s *Store) dropEventMarks(tenant string) pruneAlso {
	return pruneAlso{
		fields: bson.D{{Key: "idempotency_key", Value: 1}},
		fn: func(ctx context.Context, docs []bson.Raw) error {
			ids := make(bson.A, 0, len(docs))
			for _, d := range docs {
				key, ok := d.Lookup("idempotency_key").StringValueOK()
				if !ok {
					return fmt.Errorf("event %v has no idempotency key", d.Lookup("_id"))
				}
				ids = append(ids, markID(tenant, analytics.EventMarkPrefix+key))
			}
			_, err := s.analyticsCol(colAnalyticsMarks).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
			return err
		},
	}
}

// PruneContributions deletes a challenge's contributions that occurred
// before `before`; their tallies stay. Without atomic updates (FerretDB)
// Tally reads the contributions, so they are kept.
func (s *Store) PruneContributions(ctx context.Context, tenant, challengeID string, before time.Time, progress func(int64)) (int64, error) {
	if !s.atomicUpdates {
		return 0, nil
	}
	f := bson.D{{Key: "tenant", Value: tenant}, {Key: "challenge", Value: challengeID}, {Key: "at", Value: bson.D{{Key: "$lt", Value: before}}}}
	return pruneDocs(ctx, s.contributions, f, "contributions", progress, pruneAlso{})
}

// PruneBadgeContributions deletes a badge's contributions that occurred
// before `before`.
func (s *Store) PruneBadgeContributions(ctx context.Context, tenant, badgeID string, before time.Time, progress func(int64)) (int64, error) {
	f := bson.D{{Key: "tenant", Value: tenant}, {Key: "badge", Value: badgeID}, {Key: "at", Value: bson.D{{Key: "$lt", Value: before}}}}
	return pruneDocs(ctx, s.badgeContributions, f, "badge contributions", progress, pruneAlso{})
}

// PruneScores deletes a board's scores that occurred before `before`;
// their totals stay. Boards whose totals are not exact keep their scores.
// An event is received at most 30 days after it occurred, which bounds
// the walk along board_scores_once's event ids.
func (s *Store) PruneScores(ctx context.Context, tenant, board string, before time.Time, progress func(int64)) (int64, error) {
	if !s.totalsExact(tenant, board) {
		return 0, nil
	}
	bound := norm.IDBefore(before.Add(31*24*time.Hour + rule.FutureSkew))
	f := bson.D{{Key: "tenant", Value: tenant}, {Key: "board", Value: board},
		{Key: "event_id", Value: bson.D{{Key: "$lt", Value: bound}}}, {Key: "at", Value: bson.D{{Key: "$lt", Value: before}}}}
	return pruneDocs(ctx, s.scores, f, "scores", progress, pruneAlso{})
}

func (s *Store) totalsExact(tenant, board string) bool {
	return s.atomicUpdates && !s.staleBoards[[2]string{tenant, board}]
}

// ScanTotals calls fn for every total document of a board; a Sum total
// is one document per day (see totalDoc), and rebuilds add them up.
func (s *Store) ScanTotals(ctx context.Context, tenant, board string, fn func(leaderboards.TotalRow) error) (bool, error) {
	if !s.totalsExact(tenant, board) {
		return false, nil
	}
	cur, err := s.totals.Find(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "board", Value: board}},
		options.Find().SetProjection(bson.D{{Key: "applied", Value: 0}}).SetBatchSize(1000))
	if err != nil {
		return false, fmt.Errorf("mongo: scan totals: %w", err)
	}
	defer cur.Close(context.Background())
	for cur.Next(ctx) {
		var d totalDoc
		if err := cur.Decode(&d); err != nil {
			return false, fmt.Errorf("mongo: scan totals: %w", err)
		}
		if err := fn(leaderboards.TotalRow{Period: d.Period, User: d.User, Value: d.Value, At: norm.Trunc(d.At)}); err != nil {
			return false, err
		}
	}
	if err := cur.Err(); err != nil {
		return false, fmt.Errorf("mongo: scan totals: %w", err)
	}
	return true, nil
}

// CountTotals counts a board's total documents.
func (s *Store) CountTotals(ctx context.Context, tenant, board string) (int64, bool, error) {
	if !s.totalsExact(tenant, board) {
		return 0, false, nil
	}
	n, err := s.totals.CountDocuments(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "board", Value: board}})
	if err != nil {
		return 0, false, fmt.Errorf("mongo: count totals: %w", err)
	}
	return n, true, nil
}

// pruneAlso is what goes with each batch of a prune: the fields it reads
// and a delete of other collections' documents, run before the batch's.
type pruneAlso struct {
	fields bson.D
	fn     func(ctx context.Context, docs []bson.Raw) error
}

// pruneDocs deletes the documents filter selects in batches of pruneBatch
// by _id, so no single delete runs long; also.fn, when set, runs first
// for each batch.
func pruneDocs(ctx context.Context, col *mdb.Collection, filter bson.D, what string, progress func(int64), also pruneAlso) (int64, error) {
	proj := append(bson.D{{Key: "_id", Value: 1}}, also.fields...)
	cur, err := col.Find(ctx, filter, options.Find().SetProjection(proj).SetBatchSize(pruneBatch))
	if err != nil {
		return 0, fmt.Errorf("mongo: prune %s: %w", what, err)
	}
	defer cur.Close(context.Background())
	var deleted int64
	docs := make([]bson.Raw, 0, pruneBatch)
	flush := func() error {
		if len(docs) == 0 {
			return nil
		}
		if also.fn != nil {
			if err := also.fn(ctx, docs); err != nil {
				return fmt.Errorf("mongo: prune %s: %w", what, err)
			}
		}
		ids := make(bson.A, len(docs))
		for i, d := range docs {
			ids[i] = d.Lookup("_id")
		}
		r, err := col.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
		if err != nil {
			return fmt.Errorf("mongo: prune %s: %w", what, err)
		}
		deleted += r.DeletedCount
		docs = docs[:0]
		if progress != nil {
			progress(deleted)
		}
		return nil
	}
	for cur.Next(ctx) {
		if docs = append(docs, append(bson.Raw(nil), cur.Current...)); len(docs) == pruneBatch {
			if err := flush(); err != nil {
				return deleted, err
			}
		}
	}
	if err := cur.Err(); err != nil {
		return deleted, fmt.Errorf("mongo: prune %s: %w", what, err)
	}
	return deleted, flush()
}
