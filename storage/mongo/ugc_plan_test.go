package mongo

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/questline/questline/internal/mongotest"
)

// TestUGCQueryPlans explains the feed, queue and duplicate queries the
// store sends and checks, on MongoDB, that each winning plan reads an
// index, never the whole collection. FerretDB's explain speaks of SQLite
// plans: there the plans are logged, not judged.
func TestUGCQueryPlans(t *testing.T) {
	uri := mongotest.URI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Open(ctx, uri, "qltest_plans_"+strings.ReplaceAll(time.Now().Format("150405.000"), ".", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Database().Drop(context.Background()); s.Close() }()
	tenant := bson.E{Key: "tenant", Value: "acme"}
	for _, tc := range []struct {
		name  string
		find  bson.D
		sort  bson.D
		hint  string
		index string
	}{
		{"feed newest", bson.D{tenant, {Key: "product_id", Value: "p"}, {Key: "listed", Value: true}}, bson.D{{Key: "id", Value: -1}}, "ugc_feed_newest", "ugc_feed_newest"},
		{"feed helpful", bson.D{tenant, {Key: "product_id", Value: "p"}, {Key: "listed", Value: true}}, bson.D{{Key: "helpful", Value: -1}, {Key: "id", Value: -1}}, "ugc_feed_helpful", "ugc_feed_helpful"},
		{"feed rating", bson.D{tenant, {Key: "product_id", Value: "p"}, {Key: "listed", Value: true}}, bson.D{{Key: "rating", Value: 1}, {Key: "id", Value: 1}}, "ugc_feed_rating", "ugc_feed_rating"},
		{"queue", bson.D{tenant, {Key: "status", Value: "pending"}}, bson.D{{Key: "queued_at", Value: 1}, {Key: "id", Value: 1}}, "ugc_queue", "ugc_queue"},
		{"duplicates", bson.D{{Key: "$or", Value: bson.A{bson.D{tenant, {Key: "text_hash", Value: "h"}}, bson.D{tenant, {Key: "b0", Value: int64(1)}}}}}, nil, "", "ugc_band0"},
		{"user review", bson.D{tenant, {Key: "review_key", Value: "u|p"}}, nil, "", "ugc_review_key"},
		{"user's submissions", bson.D{tenant, {Key: "user_id", Value: "u"}}, bson.D{{Key: "id", Value: -1}}, "", "ugc_user"},
	} {
		cmd := bson.D{{Key: "find", Value: "ugc_submissions"}, {Key: "filter", Value: tc.find}, {Key: "limit", Value: 21}}
		if tc.sort != nil {
			cmd = append(cmd, bson.E{Key: "sort", Value: tc.sort})
		}
		if tc.hint != "" {
			cmd = append(cmd, bson.E{Key: "hint", Value: tc.hint})
		}
		var plan bson.M
		if err := s.db.RunCommand(ctx, bson.D{{Key: "explain", Value: cmd}}).Decode(&plan); err != nil {
			t.Fatalf("%s: explain: %v", tc.name, err)
		}
		winning := ""
		if qp, ok := plan["queryPlanner"].(bson.M); ok {
			winning = bsonString(qp["winningPlan"])
		}
		if !s.atomicUpdates {
			t.Logf("%s (FerretDB): %v", tc.name, plan["queryPlanner"])
			continue
		}
		if strings.Contains(winning, "COLLSCAN") || !strings.Contains(winning, tc.index) {
			t.Errorf("%s: winning plan does not read %s: %s", tc.name, tc.index, winning)
		}
	}
}

func bsonString(v any) string {
	b, err := bson.MarshalExtJSON(bson.M{"p": v}, false, false)
	if err != nil {
		return ""
	}
	return string(b)
}
