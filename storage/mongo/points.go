package mongo

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
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
// inserted=false; a positive entry is then folded into its day sum. An
// empty ID gets a UUIDv7 and a zero CreatedAt becomes
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
	if err == nil {
		err = s.foldEntry(ctx, stored) // a repeat too: see dayDoc
	}
	if err != nil {
		return points.Entry{}, false, fmt.Errorf("mongo: insert ledger entry %s: %w", e.ID, err)
	}
	return stored, inserted, nil
}

// Totals folds a user's ledger into balance and lifetime earnings, in one
// pass over the (tenant, user, created_at, amount) index: one $group with a
// $sum and a $sum of the positive amounts through $cond. A server that
// refuses $cond (FerretDB, which CI runs on) gets two plain $sum
// aggregations on the same index instead.
func (s *Store) Totals(ctx context.Context, tenant, user string) (points.Totals, error) {
	match := bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}}
	var row struct {
		Balance int64 `bson:"balance"`
		Earned  int64 `bson:"earned"`
	}
	_, err := groupOnce(ctx, s.ledger, match, bson.D{
		{Key: "balance", Value: bson.D{{Key: "$sum", Value: "$amount"}}},
		{Key: "earned", Value: bson.D{{Key: "$sum", Value: bson.D{{Key: "$cond", Value: bson.A{
			bson.D{{Key: "$gt", Value: bson.A{"$amount", 0}}}, "$amount", 0,
		}}}}}},
	}, &row)
	switch {
	case err == nil:
		return points.Totals{Balance: row.Balance, Earned: row.Earned}, nil
	case !unsupported(err):
		return points.Totals{}, fmt.Errorf("mongo: ledger totals: %w", err)
	}
	var t points.Totals
	if t.Balance, err = sum(ctx, s.ledger, match, "$amount"); err != nil {
		return points.Totals{}, fmt.Errorf("mongo: ledger totals: %w", err)
	}
	match = append(match, bson.E{Key: "amount", Value: bson.D{{Key: "$gt", Value: 0}}})
	if t.Earned, err = sum(ctx, s.ledger, match, "$amount"); err != nil {
		return points.Totals{}, fmt.Errorf("mongo: ledger totals: %w", err)
	}
	return t, nil
}

// EarnedBetween sums a user's positive entries created in [from, to),
// compared at millisecond precision, whose keys start with keyPrefix, less
// the reversed ones, and returns when the last of them was created (zero
// when there are none, see sumAndLatest; a reversed credit still counts
// for that time).
func (s *Store) EarnedBetween(ctx context.Context, tenant, user, keyPrefix string, from, to time.Time) (int64, time.Time, error) {
	earned := func(created bson.D) bson.D {
		f := bson.D{
			{Key: "tenant", Value: tenant}, {Key: "user", Value: user},
			{Key: "created_at", Value: created},
			{Key: "amount", Value: bson.D{{Key: "$gt", Value: 0}}},
		}
		if keyPrefix != "" {
			f = append(f, bson.E{Key: "key", Value: prefixRange(keyPrefix)})
		}
		return f
	}
	n, last, _, err := sumAndLatest(ctx, s.ledger, earned, norm.Trunc(from), norm.Trunc(to), "amount", "created_at")
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("mongo: earned between: %w", err)
	}
	if last.IsZero() {
		return 0, time.Time{}, nil
	}
	reversed, err := s.reversedBetween(ctx, tenant, user, keyPrefix, from, to)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("mongo: earned between: reversals: %w", err)
	}
	return n - reversed, last, nil
}

// prefixRange matches the strings that start with prefix as a range, which
// an index can serve. The bound is built by norm.PrefixEnd rather than as
// prefix+"\xff", which is not UTF-8 and so no valid BSON string.
func prefixRange(prefix string) bson.D {
	r := bson.D{{Key: "$gte", Value: prefix}}
	if end, ok := norm.PrefixEnd(prefix); ok {
		r = append(r, bson.E{Key: "$lt", Value: end})
	}
	return r
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
