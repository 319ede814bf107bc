package mongo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/analytics"
	"github.com/questline/questline/events"
)

// The analytics collections. Documents are keyed by a composite _id
// (tenant first), so markers and counters need no index of their own.
const (
	colAnalyticsMarks    = "analytics_marks"
	colAnalyticsRollup   = "analytics_rollup"
	colAnalyticsUserDays = "analytics_user_days"
	colAnalyticsSettings = "analytics_settings"
)

func (s *Store) analyticsCol(name string) *mdb.Collection { return s.db.Collection(name) }

// ensureAnalyticsIndexes creates the indexes of the analytics reads.
func (s *Store) ensureAnalyticsIndexes(ctx context.Context) error {
	for _, p := range []struct {
		col string
		ix  index
	}{
		{colAnalyticsRollup, index{name: "analytics_rollup_range", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "metric", Value: 1}, {Key: "bucket", Value: 1}}}},
		{colAnalyticsUserDays, index{name: "analytics_user_days_day", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "day", Value: 1}}}},
		{colAnalyticsUserDays, index{name: "analytics_user_days_user", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1}, {Key: "day", Value: 1}}}},
	} {
		if err := createIndex(ctx, s.analyticsCol(p.col), p.ix); err != nil {
			return fmt.Errorf("mongo: analytics index %s: %w", p.ix.name, err)
		}
	}
	return nil
}

func markID(tenant, key string) string { return tenant + "\x00" + key }

// mark inserts a marker and reports whether it was new: the unique _id
// decides between duplicates, concurrent or replayed.
func (s *Store) mark(ctx context.Context, tenant, key string) (bool, error) {
	_, err := s.analyticsCol(colAnalyticsMarks).InsertOne(ctx, bson.D{{Key: "_id", Value: markID(tenant, key)}})
	if mdb.IsDuplicateKeyError(err) {
		return false, nil
	}
	return err == nil, err
}

// upsertInc adds inc to the document _id, creating it with set; a
// concurrent first insert of the same _id makes one upsert fail on the key,
// and its retry then finds the document.
func upsertInc(ctx context.Context, col *mdb.Collection, id string, set, inc bson.D) error {
	upd := bson.D{{Key: "$inc", Value: inc}, {Key: "$setOnInsert", Value: set}}
	var err error
	for range 3 {
		_, err = col.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, upd, options.UpdateOne().SetUpsert(true))
		if !mdb.IsDuplicateKeyError(err) {
			return err
		}
	}
	return err
}

func (s *Store) bump(ctx context.Context, tenant, metric string, at time.Time, v int64) error {
	b := at.UTC().Truncate(analytics.Bucket).Unix()
	id := tenant + "\x00" + metric + "\x00" + strconv.FormatInt(b, 10)
	return upsertInc(ctx, s.analyticsCol(colAnalyticsRollup), id,
		bson.D{{Key: "tenant", Value: tenant}, {Key: "metric", Value: metric}, {Key: "bucket", Value: b}},
		bson.D{{Key: "value", Value: v}})
}

// RecordFact folds f once: the marker insert decides. There are no
// transactions, so a crash between the marker and the counters loses
// that fact's counts (never counts it twice).
func (s *Store) RecordFact(ctx context.Context, f analytics.Fact) (bool, error) {
	fresh, err := s.mark(ctx, f.Tenant, f.Key)
	if err != nil || !fresh {
		return false, wrapFact(f, err)
	}
	for m, v := range f.Counts {
		if err := s.bump(ctx, f.Tenant, m, f.At, v); err != nil {
			return false, wrapFact(f, err)
		}
	}
	for _, first := range f.Firsts {
		ok, err := s.mark(ctx, f.Tenant, first.Key)
		if err == nil && ok {
			err = s.bump(ctx, f.Tenant, first.Metric, first.At, 1)
		}
		if err != nil {
			return false, wrapFact(f, err)
		}
	}
	if f.User != "" {
		day := f.At.UTC().Format(time.DateOnly)
		err := upsertInc(ctx, s.analyticsCol(colAnalyticsUserDays), f.Tenant+"\x00"+day+"\x00"+f.User,
			bson.D{{Key: "tenant", Value: f.Tenant}, {Key: "day", Value: day}, {Key: "user", Value: f.User}},
			bson.D{{Key: "events", Value: f.Events}, {Key: "points", Value: f.Points}})
		if err != nil {
			return false, wrapFact(f, err)
		}
	}
	return true, nil
}

func wrapFact(f analytics.Fact, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("mongo: record fact %s: %w", f.Key, err)
}

func rollupFilter(tenant string, metrics []string, from, to time.Time) bson.D {
	return bson.D{{Key: "tenant", Value: tenant}, {Key: "metric", Value: bson.D{{Key: "$in", Value: metrics}}},
		{Key: "bucket", Value: bson.D{
			{Key: "$gte", Value: from.UTC().Truncate(analytics.Bucket).Unix()},
			{Key: "$lt", Value: to.UTC().Truncate(analytics.Bucket).Unix()}}}}
}

// MetricPoints lists the buckets of metrics in [from, to).
func (s *Store) MetricPoints(ctx context.Context, tenant string, metrics []string, from, to time.Time) ([]analytics.Point, error) {
	cur, err := s.analyticsCol(colAnalyticsRollup).Find(ctx, rollupFilter(tenant, metrics, from, to),
		options.Find().SetSort(bson.D{{Key: "metric", Value: 1}, {Key: "bucket", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo: metric points: %w", err)
	}
	var docs []struct {
		Metric string `bson:"metric"`
		Bucket int64  `bson:"bucket"`
		Value  int64  `bson:"value"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: metric points: %w", err)
	}
	var out []analytics.Point
	for _, d := range docs {
		out = append(out, analytics.Point{Metric: d.Metric, At: time.Unix(d.Bucket, 0).UTC(), Value: d.Value})
	}
	return out, nil
}

// MetricTotals sums each metric over [from, to) in the server.
func (s *Store) MetricTotals(ctx context.Context, tenant string, metrics []string, from, to time.Time) (map[string]int64, error) {
	cur, err := s.analyticsCol(colAnalyticsRollup).Aggregate(ctx, mdb.Pipeline{
		{{Key: "$match", Value: rollupFilter(tenant, metrics, from, to)}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$metric"}, {Key: "v", Value: bson.D{{Key: "$sum", Value: "$value"}}}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: metric totals: %w", err)
	}
	var docs []struct {
		ID string `bson:"_id"`
		V  int64  `bson:"v"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: metric totals: %w", err)
	}
	out := map[string]int64{}
	for _, d := range docs {
		out[d.ID] = d.V
	}
	return out, nil
}

// UserActivity sums each user's rows of the days [fromDay, toDay). It
// folds the rows in order of user as they stream: FerretDB's $group
// computes only the first of several accumulators, so the sums are not a
// pipeline.
func (s *Store) UserActivity(ctx context.Context, tenant, fromDay, toDay string) ([]analytics.UserActivity, error) {
	cur, err := s.analyticsCol(colAnalyticsUserDays).Find(ctx,
		bson.D{{Key: "tenant", Value: tenant}, {Key: "day", Value: bson.D{{Key: "$gte", Value: fromDay}, {Key: "$lt", Value: toDay}}}},
		options.Find().SetSort(bson.D{{Key: "user", Value: 1}}).SetProjection(bson.D{{Key: "user", Value: 1}, {Key: "events", Value: 1}, {Key: "points", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo: user activity: %w", err)
	}
	defer cur.Close(ctx)
	var out []analytics.UserActivity
	for cur.Next(ctx) {
		var d struct {
			User   string `bson:"user"`
			Events int64  `bson:"events"`
			Points int64  `bson:"points"`
		}
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("mongo: user activity: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].User != d.User {
			out = append(out, analytics.UserActivity{User: d.User})
		}
		out[len(out)-1].Events += d.Events
		out[len(out)-1].Points += d.Points
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("mongo: user activity: %w", err)
	}
	return out, nil
}

// AnalyticsUserDays lists the user's activity rows, oldest first.
func (s *Store) AnalyticsUserDays(ctx context.Context, tenant, user string) ([]analytics.UserDay, error) {
	cur, err := s.analyticsCol(colAnalyticsUserDays).Find(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}},
		options.Find().SetSort(bson.D{{Key: "day", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo: user days: %w", err)
	}
	out := []analytics.UserDay{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("mongo: user days: %w", err)
	}
	return out, nil
}

// EraseAnalyticsUser drops the user's activity rows and markers (a range
// of _id: every marker of the user starts with the same prefix).
func (s *Store) EraseAnalyticsUser(ctx context.Context, tenant, user string) error {
	if _, err := s.analyticsCol(colAnalyticsUserDays).DeleteMany(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}}); err != nil {
		return fmt.Errorf("mongo: erase analytics of a user: %w", err)
	}
	p := analytics.UserMarkPrefix(user)
	_, err := s.analyticsCol(colAnalyticsMarks).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{
		{Key: "$gte", Value: markID(tenant, p)}, {Key: "$lt", Value: markID(tenant, strings.TrimSuffix(p, " ")+"!")}}}})
	if err != nil {
		return fmt.Errorf("mongo: erase analytics of a user: %w", err)
	}
	return nil
}

// AnalyticsSettings reads the tenant's settings (zero when never set).
func (s *Store) AnalyticsSettings(ctx context.Context, tenant string) (analytics.Settings, error) {
	var doc struct {
		Currency   string  `bson:"currency"`
		PointValue float64 `bson:"point_value"`
	}
	err := s.analyticsCol(colAnalyticsSettings).FindOne(ctx, bson.D{{Key: "_id", Value: tenant}}).Decode(&doc)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return analytics.Settings{}, nil
	}
	if err != nil {
		return analytics.Settings{}, fmt.Errorf("mongo: analytics settings: %w", err)
	}
	return analytics.Settings{Currency: doc.Currency, PointValue: doc.PointValue}, nil
}

// SetAnalyticsSettings replaces the tenant's settings.
func (s *Store) SetAnalyticsSettings(ctx context.Context, tenant string, set analytics.Settings) error {
	_, err := s.analyticsCol(colAnalyticsSettings).ReplaceOne(ctx, bson.D{{Key: "_id", Value: tenant}},
		bson.D{{Key: "currency", Value: set.Currency}, {Key: "point_value", Value: set.PointValue}}, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongo: set analytics settings: %w", err)
	}
	return nil
}

// ScanEvents reads the tenant's events with ids after afterID, in id
// order, on the unique (tenant, id) index.
func (s *Store) ScanEvents(ctx context.Context, tenant, afterID string, limit int) ([]events.Event, error) {
	cur, err := s.events.Find(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "id", Value: bson.D{{Key: "$gt", Value: afterID}}}},
		options.Find().SetSort(bson.D{{Key: "id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("mongo: scan events: %w", err)
	}
	var docs []eventDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: scan events: %w", err)
	}
	out := make([]events.Event, 0, len(docs))
	for _, d := range docs {
		e, err := d.event()
		if err != nil {
			return nil, fmt.Errorf("mongo: scan events: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}
