package mongo

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/internal/norm"
)

// entryDoc is a ledger line as stored.
type entryDoc struct {
	Tenant    string    `bson:"tenant"`
	ID        string    `bson:"id"`
	User      string    `bson:"user"`
	Amount    int64     `bson:"amount"`
	Key       string    `bson:"key"`
	Reason    string    `bson:"reason"`
	EventID   string    `bson:"event_id"`
	CreatedAt time.Time `bson:"created_at"`
}

func (d entryDoc) entry() (points.Entry, error) {
	return points.Entry{
		ID: d.ID, Tenant: d.Tenant, User: d.User, Amount: d.Amount, Key: d.Key,
		Reason: d.Reason, EventID: d.EventID, CreatedAt: norm.Trunc(d.CreatedAt),
	}, nil
}

// InsertEntry stores e, or returns the tenant's entry with the same key and
// inserted=false. An empty ID gets a UUIDv7 and a zero CreatedAt becomes
// now; an ID already used by an entry with another key is an
// errs.ErrDuplicate.
func (s *Store) InsertEntry(ctx context.Context, e points.Entry) (points.Entry, bool, error) {
	if e.ID == "" {
		e.ID = uuid.Must(uuid.NewV7()).String()
	}
	e.CreatedAt = norm.NowIfZero(e.CreatedAt)
	doc := entryDoc{
		Tenant: e.Tenant, ID: e.ID, User: e.User, Amount: e.Amount, Key: e.Key,
		Reason: e.Reason, EventID: e.EventID, CreatedAt: e.CreatedAt,
	}
	key := bson.D{{Key: "tenant", Value: e.Tenant}, {Key: "key", Value: e.Key}}
	stored, inserted, err := insertOrExisting(ctx, s.ledger, doc, key, e, entryDoc.entry)
	if err != nil {
		return points.Entry{}, false, fmt.Errorf("mongo: insert ledger entry %s: %w", e.ID, err)
	}
	return stored, inserted, nil
}

// sumAmount runs $match filter, $group sum(amount) and returns the sum (0
// when nothing matches).
func (s *Store) sumAmount(ctx context.Context, filter bson.D) (int64, error) {
	cur, err := s.ledger.Aggregate(ctx, mdb.Pipeline{
		{{Key: "$match", Value: filter}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: nil}, {Key: "n", Value: bson.D{{Key: "$sum", Value: "$amount"}}}}}},
	})
	if err != nil {
		return 0, err
	}
	var rows []struct {
		N int64 `bson:"n"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		return 0, nil
	}
	return rows[0].N, nil
}

// Totals folds a user's ledger into balance and lifetime earnings. It runs
// two plain $sum aggregations rather than one with $cond: FerretDB (a
// MongoDB-compatible server we test on) does not implement $cond, and both
// use the (tenant, user, created_at, amount) index.
func (s *Store) Totals(ctx context.Context, tenant, user string) (points.Totals, error) {
	var (
		t   points.Totals
		err error
	)
	match := bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}}
	if t.Balance, err = s.sumAmount(ctx, match); err != nil {
		return points.Totals{}, fmt.Errorf("mongo: ledger totals: %w", err)
	}
	match = append(match, bson.E{Key: "amount", Value: bson.D{{Key: "$gt", Value: 0}}})
	if t.Earned, err = s.sumAmount(ctx, match); err != nil {
		return points.Totals{}, fmt.Errorf("mongo: ledger totals: %w", err)
	}
	return t, nil
}

// EarnedBetween sums a user's positive entries created in [from, to),
// compared at millisecond precision.
func (s *Store) EarnedBetween(ctx context.Context, tenant, user string, from, to time.Time) (int64, error) {
	n, err := s.sumAmount(ctx, bson.D{
		{Key: "tenant", Value: tenant}, {Key: "user", Value: user},
		{Key: "created_at", Value: bson.D{{Key: "$gte", Value: norm.Trunc(from)}, {Key: "$lt", Value: norm.Trunc(to)}}},
		{Key: "amount", Value: bson.D{{Key: "$gt", Value: 0}}},
	})
	if err != nil {
		return 0, fmt.Errorf("mongo: earned between: %w", err)
	}
	return n, nil
}

// Entries pages a user's ledger newest first (by id, which is UUIDv7 and so
// by creation), starting after the entry id before ("" = the newest).
func (s *Store) Entries(ctx context.Context, tenant, user, before string, limit int) ([]points.Entry, error) {
	filter := bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}}
	if before != "" {
		filter = append(filter, bson.E{Key: "id", Value: bson.D{{Key: "$lt", Value: before}}})
	}
	out, err := findAll(ctx, s.ledger, filter,
		options.Find().SetSort(bson.D{{Key: "id", Value: -1}}).SetLimit(int64(norm.Limit(limit, DefaultLimit))),
		entryDoc.entry)
	if err != nil {
		return nil, fmt.Errorf("mongo: ledger entries: %w", err)
	}
	return out, nil
}

// ScanEntries calls fn for every entry of tenant in id order; with tenant
// "" it visits every tenant, ordered by (tenant, id) so it can walk the
// unique (tenant, id) index. It stops at, and returns, the first error of
// fn.
func (s *Store) ScanEntries(ctx context.Context, tenant string, fn func(points.Entry) error) error {
	filter := bson.D{}
	if tenant != "" {
		filter = bson.D{{Key: "tenant", Value: tenant}}
	}
	cur, err := s.ledger.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "tenant", Value: 1}, {Key: "id", Value: 1}}).
		SetBatchSize(1000))
	if err != nil {
		return fmt.Errorf("mongo: scan ledger: %w", err)
	}
	defer cur.Close(context.Background())
	for cur.Next(ctx) {
		var d entryDoc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("mongo: scan ledger: %w", err)
		}
		e, _ := d.entry()
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("mongo: scan ledger: %w", err)
	}
	return nil
}

// CountEntries counts the ledger lines of tenant ("" = every tenant).
func (s *Store) CountEntries(ctx context.Context, tenant string) (int64, error) {
	filter := bson.D{}
	if tenant != "" {
		filter = bson.D{{Key: "tenant", Value: tenant}}
	}
	n, err := s.ledger.CountDocuments(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("mongo: count ledger: %w", err)
	}
	return n, nil
}
