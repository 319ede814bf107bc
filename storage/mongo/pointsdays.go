package mongo

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/internal/norm"
)

// colPointsDays holds each user's earnings per UTC day (points.DaySum),
// colPointsMonths the same per UTC month, so a year's window reads about
// a dozen months and the days of two partial months.
const (
	colPointsDays   = "points_days"
	colPointsMonths = "points_months"
)

// dayDoc is one user's day (or month) sum. Without transactions the ledger line (or
// reversal) and its fold are two writes, so the fold is idempotent on its
// own and runs on every call, a repeat included: it adds only a mark not
// in Applied, in the same atomic update (foldDoc), so a retry finishes
// what a crash left and never adds twice. Applied holds one user's
// credits and reversals of one day (month), never their whole history.
type dayDoc struct {
	ID      bson.D    `bson:"_id"`
	Tenant  string    `bson:"tenant"`
	User    string    `bson:"user"`
	Day     time.Time `bson:"day"`
	Earned  int64     `bson:"earned"`
	Applied []string  `bson:"applied"`
}

// Marks of Applied: a credit adds, its reversal takes off, each once.
const (
	markCredit   = "+"
	markReversal = "-"
)

// foldDay adds amount to the user's day and month of at unless the mark
// is there. Only servers with atomic updates keep these sums (see
// atomicUpdates); elsewhere EarnedInWindow reads the ledger.
func (s *Store) foldDay(ctx context.Context, tenant, user string, at time.Time, amount int64, mark string) error {
	if !s.atomicUpdates {
		return nil
	}
	at = norm.Trunc(at)
	for _, f := range []struct {
		col *mdb.Collection
		key time.Time
	}{{s.wallets.days, at.Truncate(24 * time.Hour)}, {s.wallets.months, points.MonthOf(at)}} {
		id := bson.D{{Key: "t", Value: tenant}, {Key: "u", Value: user}, {Key: "d", Value: f.key}}
		err := foldDoc(ctx, f.col,
			bson.D{{Key: "_id", Value: id}, {Key: "applied", Value: bson.D{{Key: "$ne", Value: mark}}}},
			bson.D{
				{Key: "$inc", Value: bson.D{{Key: "earned", Value: amount}}},
				{Key: "$push", Value: bson.D{{Key: "applied", Value: mark}}},
			},
			dayDoc{ID: id, Tenant: tenant, User: user, Day: f.key, Earned: amount, Applied: []string{mark}})
		if err != nil {
			return err
		}
	}
	return nil
}

// foldEntry folds a stored ledger line: a positive one adds to its day.
func (s *Store) foldEntry(ctx context.Context, e points.Entry) error {
	if e.Amount <= 0 {
		return nil
	}
	if err := s.foldDay(ctx, e.Tenant, e.User, e.CreatedAt, e.Amount, markCredit+e.Key); err != nil {
		return fmt.Errorf("fold day of %s: %w", e.Key, err)
	}
	return nil
}

// foldReversal takes the reversed credit e off its day.
func (s *Store) foldReversal(ctx context.Context, e points.Entry) error {
	if err := s.foldDay(ctx, e.Tenant, e.User, e.CreatedAt, -e.Amount, markReversal+e.Key); err != nil {
		return fmt.Errorf("fold day of reversal %s: %w", e.Key, err)
	}
	return nil
}

// EarnedInWindow is EarnedBetween's total over [from, to): its whole UTC
// months and days from the month and day sums, its partial first and
// last days from the ledger. A server without those sums sums the
// ledger throughout.
func (s *Store) EarnedInWindow(ctx context.Context, tenant, user string, from, to time.Time) (int64, error) {
	w := points.SplitWindow(from, to)
	if !s.atomicUpdates || !w.Days {
		n, _, err := s.EarnedBetween(ctx, tenant, user, "", w.From, w.To)
		return n, err
	}
	var n int64
	for _, part := range []struct {
		col      *mdb.Collection
		from, to time.Time
	}{
		{s.wallets.months, w.FirstMonth, w.LastMonth}, {s.wallets.days, w.First, w.FirstMonth},
		{s.wallets.days, w.LastMonth, w.Last}, {nil, w.From, w.First}, {nil, w.Last, w.To},
	} {
		if !part.from.Before(part.to) {
			continue
		}
		var (
			p   int64
			err error
		)
		if part.col == nil {
			p, _, err = s.EarnedBetween(ctx, tenant, user, "", part.from, part.to)
		} else {
			p, err = sum(ctx, part.col, append(userKey(tenant, user),
				bson.E{Key: "day", Value: bson.D{{Key: "$gte", Value: part.from}, {Key: "$lt", Value: part.to}}}), "$earned")
		}
		if err != nil {
			return 0, fmt.Errorf("mongo: earned in window: %w", err)
		}
		n += p
	}
	return n, nil
}

// EarnedDays lists the user's day sums, oldest first.
func (s *Store) EarnedDays(ctx context.Context, tenant, user string) ([]points.DaySum, error) {
	if !s.atomicUpdates {
		return s.earnedDaysFromLedger(ctx, tenant, user)
	}
	out, err := findAll(ctx, s.wallets.days, userKey(tenant, user),
		options.Find().SetSort(bson.D{{Key: "day", Value: 1}}),
		func(d dayDoc) (points.DaySum, error) {
			return points.DaySum{Day: norm.Trunc(d.Day), Earned: d.Earned}, nil
		})
	if err != nil {
		return nil, fmt.Errorf("mongo: earned days: %w", err)
	}
	return out, nil
}

// earnedDaysFromLedger derives the day sums where none are kept (a server
// without atomic conditional updates): every UTC day holding one of the
// user's credits, summed as EarnedBetween sums it. For exports only; it
// reads the user's whole ledger.
func (s *Store) earnedDaysFromLedger(ctx context.Context, tenant, user string) ([]points.DaySum, error) {
	const page = 500
	days := map[time.Time]bool{}
	for before := ""; ; {
		es, err := s.Entries(ctx, tenant, user, before, page)
		if err != nil {
			return nil, fmt.Errorf("mongo: earned days: %w", err)
		}
		for _, e := range es {
			if e.Amount > 0 {
				days[e.CreatedAt.UTC().Truncate(24*time.Hour)] = true
			}
		}
		if len(es) < page {
			break
		}
		before = es[len(es)-1].ID
	}
	out := make([]points.DaySum, 0, len(days))
	for d := range days {
		n, _, err := s.EarnedBetween(ctx, tenant, user, "", d, d.Add(24*time.Hour))
		if err != nil {
			return nil, fmt.Errorf("mongo: earned days: %w", err)
		}
		out = append(out, points.DaySum{Day: d, Earned: n})
	}
	slices.SortFunc(out, func(a, b points.DaySum) int { return a.Day.Compare(b.Day) })
	return out, nil
}

// pointsDaysFolded marks that every ledger line and reversal stored before
// day sums existed has been folded.
var pointsDaysFolded = bson.D{{Key: "_id", Value: "#points-days-folded"}}

// backfillPointsDays folds the whole ledger and every reversal into the
// day and month sums, once: a database from before them has no marker. The folds
// are idempotent per mark, so nodes starting together, live writes of
// nodes already started, or a start after a crash half-way, still count
// each line once. Nodes still running the previous release do not fold
// what they store meanwhile: upgrade every node together.
func (s *Store) backfillPointsDays(ctx context.Context) error {
	if !s.atomicUpdates {
		return nil // no day sums are kept
	}
	marks := s.db.Collection(colPointsUpgrades)
	n, err := marks.CountDocuments(ctx, pointsDaysFolded)
	if err != nil || n > 0 {
		return wrapDays(err)
	}
	positive := bson.D{{Key: "amount", Value: bson.D{{Key: "$gt", Value: 0}}}}
	err = eachDoc(ctx, s.ledger, positive, func(d entryDoc) error {
		e, _ := d.entry()
		return s.foldEntry(ctx, e)
	})
	if err != nil {
		return wrapDays(err)
	}
	err = eachDoc(ctx, s.wallets.reversals, bson.D{}, func(d reversalDoc) error {
		return s.foldReversal(ctx, points.Entry{Tenant: d.Tenant, User: d.User, Key: d.Key, Amount: d.Amount, CreatedAt: d.EarnedAt})
	})
	if err != nil {
		return wrapDays(err)
	}
	_, err = insertIgnore(ctx, marks, pointsDaysFolded)
	return wrapDays(err)
}

// eachDoc calls fn for every document of col that filter matches.
func eachDoc[D any](ctx context.Context, col *mdb.Collection, filter bson.D, fn func(D) error) error {
	cur, err := col.Find(ctx, filter, options.Find().SetBatchSize(1000))
	if err != nil {
		return err
	}
	defer cur.Close(context.Background())
	for cur.Next(ctx) {
		var d D
		if err := cur.Decode(&d); err != nil {
			return err
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return cur.Err()
}

func wrapDays(err error) error {
	if err != nil {
		return fmt.Errorf("mongo: backfill points days: %w", err)
	}
	return nil
}
