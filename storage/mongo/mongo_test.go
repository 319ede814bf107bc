package mongo_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/internal/mongotest"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/storage/mongo"
	"github.com/questline/questline/storage/storagetest"
	"github.com/questline/questline/webhooks"
)

// uri returns MONGO_URI or skips: MongoDB is optional in a test run
// outside CI.
func uri(t *testing.T) string {
	t.Helper()
	return mongotest.URI(t)
}

// openFresh opens a store on a database of its own, dropped at the end.
func openFresh(t *testing.T) *mongo.Store {
	t.Helper()
	u := uri(t)
	name := "ql_test_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := mongo.Open(ctx, u, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Database().Drop(ctx); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	uri(t)
	storagetest.Run(t, func(t *testing.T) storagetest.Store { return openFresh(t) })
}

// TestOpenIsIdempotent opens the same database twice: index creation must
// be a no-op the second time (every node runs it on every start).
func TestOpenIsIdempotent(t *testing.T) {
	s := openFresh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s2, err := mongo.Open(ctx, uri(t), s.Database().Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenFailsFast checks that an unreachable server is reported within
// the server-selection timeout instead of hanging. It needs no MongoDB.
func TestOpenFailsFast(t *testing.T) {
	start := time.Now()
	_, err := mongo.Open(context.Background(), "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300", "x")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Open took %v to fail", d)
	}
	if !strings.Contains(err.Error(), "mongo: open") {
		t.Fatalf("error %q lacks context", err)
	}
}

// TestOldBoardDocument reads a board stored before boards had sources and
// aggregations: it has a metric field and none of the new ones, and reads
// as the SQLite store reads a version 1 row.
func TestOldBoardDocument(t *testing.T) {
	s := openFresh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	created := time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	_, err := s.Database().Collection("boards").InsertOne(ctx, bson.D{
		{Key: "tenant", Value: "acme"}, {Key: "id", Value: "weekly"}, {Key: "name", Value: "Top of the week"},
		{Key: "metric", Value: "points"}, {Key: "window", Value: "weekly"}, {Key: "created_at", Value: created},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetBoard(ctx, "acme", "weekly")
	if err != nil {
		t.Fatal(err)
	}
	want := leaderboards.Board{
		ID: "weekly", Tenant: "acme", Name: "Top of the week", Source: leaderboards.FromPoints,
		Aggregation: leaderboards.Sum, Window: leaderboards.Weekly, TimeZone: "UTC", CreatedAt: created,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("old board reads as\n%#v, want\n%#v", got, want)
	}
}

// TestOldChallengeDocuments upgrades a database as the first release left
// it: a challenge with an event type, filter and target instead of a rule,
// contributions without goal, key and amount (value instead) under a
// unique index without goal, and a completion without claimed_at. They
// read as the SQLite store reads its upgraded version 1 rows.
func TestOldChallengeDocuments(t *testing.T) {
	s := openFresh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := s.Database()
	at := time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	starts, ends := at.Add(-time.Hour), at.Add(7*24*time.Hour)
	contributions := db.Collection("contributions")
	for _, ix := range []mdb.IndexModel{
		{Keys: bson.D{{Key: "tenant", Value: 1}, {Key: "challenge", Value: 1}, {Key: "user", Value: 1},
			{Key: "period", Value: 1}, {Key: "event_id", Value: 1}}, Options: options.Index().SetName("contributions_once").SetUnique(true)},
		{Keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1}, {Key: "challenge", Value: 1},
			{Key: "period", Value: 1}}, Options: options.Index().SetName("contributions_user")},
	} {
		if _, err := contributions.Indexes().CreateOne(ctx, ix); err != nil {
			t.Fatal(err)
		}
	}
	insert := func(col string, docs ...bson.D) {
		t.Helper()
		for _, d := range docs {
			if _, err := db.Collection(col).InsertOne(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	insert("challenges", bson.D{
		{Key: "tenant", Value: "acme"}, {Key: "id", Value: "c1"}, {Key: "name", Value: "Share 3 times"},
		{Key: "description", Value: "Tell your friends"}, {Key: "status", Value: "published"},
		{Key: "event_type", Value: "share"}, {Key: "filter", Value: bson.D{{Key: "kind", Value: "photo"}, {Key: "channel", Value: "instagram"}}},
		{Key: "target", Value: int64(3)}, {Key: "reward_points", Value: int64(50)},
		{Key: "starts_at", Value: starts}, {Key: "ends_at", Value: ends},
		{Key: "created_at", Value: at}, {Key: "updated_at", Value: at}, {Key: "version", Value: int64(2)},
	})
	contribution := func(user, ev string, at time.Time) bson.D {
		return bson.D{{Key: "tenant", Value: "acme"}, {Key: "challenge", Value: "c1"}, {Key: "user", Value: user},
			{Key: "period", Value: ""}, {Key: "event_id", Value: ev}, {Key: "value", Value: int64(1)}, {Key: "at", Value: at}}
	}
	insert("contributions", contribution("u1", "e2", at.Add(time.Minute)), contribution("u1", "e1", at), contribution("u2", "e3", at))
	insert("completions", bson.D{
		{Key: "tenant", Value: "acme"}, {Key: "id", Value: "done1"}, {Key: "challenge", Value: "c1"}, {Key: "user", Value: "u1"},
		{Key: "period", Value: ""}, {Key: "event_id", Value: "e2"}, {Key: "completed_at", Value: at.Add(time.Minute)},
	})

	// Opening twice: the second open must find nothing left to do.
	for i := range 2 {
		s2, err := mongo.Open(ctx, uri(t), db.Name())
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		got, err := s2.GetChallenge(ctx, "acme", "c1")
		if err != nil {
			t.Fatal(err)
		}
		want := challenges.Challenge{
			ID: "c1", Tenant: "acme", Name: "Share 3 times", Description: "Tell your friends", Status: challenges.Published,
			Rule: rule.Rule{
				Goals: []rule.Goal{{ID: "g1", Kind: rule.Count, EventType: "share", Target: "3", Filters: []rule.Filter{
					{Prop: "channel", Op: rule.Eq, Value: "instagram"},
					{Prop: "kind", Op: rule.Eq, Value: "photo"},
				}}},
				Window: rule.Window{StartsAt: &starts, EndsAt: &ends, TimeZone: "UTC"},
			},
			Enrolment: challenges.Auto, Reward: challenges.Reward{Points: 50}, Claim: challenges.AutoClaim,
			MaxCompletions: 1, CreatedAt: at, UpdatedAt: at, Version: 2,
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("open %d: old challenge reads as\n%#v, want\n%#v", i, got, want)
		}
		contribs, err := s2.Contributions(ctx, "acme", "c1", "u1", "")
		if err != nil {
			t.Fatal(err)
		}
		wantContribs := []challenges.Contribution{
			{Tenant: "acme", ChallengeID: "c1", User: "u1", Goal: "g1", EventID: "e1", Amount: 1, At: at},
			{Tenant: "acme", ChallengeID: "c1", User: "u1", Goal: "g1", EventID: "e2", Amount: 1, At: at.Add(time.Minute)},
		}
		if !reflect.DeepEqual(contribs, wantContribs) {
			t.Fatalf("open %d: old contributions read as\n%#v, want\n%#v", i, contribs, wantContribs)
		}
		done, err := s2.ChallengeCompletions(ctx, "acme", "c1", "u1")
		if err != nil || len(done) != 1 || done[0].ClaimedAt != nil {
			t.Fatalf("open %d: old completion reads as %+v, %v; want one, unclaimed", i, done, err)
		}
	}

	// The old unique key had no goal: the same event may now count
	// towards another goal, but not twice towards g1.
	for _, c := range []struct {
		goal string
		want bool
	}{{"g1", false}, {"g2", true}} {
		ok, err := s.AddContribution(ctx, challenges.Contribution{Tenant: "acme", ChallengeID: "c1", User: "u1",
			Goal: c.goal, EventID: "e1", Amount: 1, At: at})
		if err != nil || ok != c.want {
			t.Fatalf("contribution of e1 to %s after the upgrade: inserted=%v, %v; want %v", c.goal, ok, err, c.want)
		}
	}
	if claimed, err := s.ClaimCompletion(ctx, "acme", "done1", at); err != nil || !claimed {
		t.Fatalf("claim of an old completion: %v, %v", claimed, err)
	}
	// An update writes the rule and drops the old fields.
	c, err := s.GetChallenge(ctx, "acme", "c1")
	if err != nil {
		t.Fatal(err)
	}
	c.Version++
	if err := s.UpdateChallenge(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetChallenge(ctx, "acme", "c1"); err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("after an update: %#v, %v; want %#v", got, err, c)
	}
	n, err := db.Collection("challenges").CountDocuments(ctx, bson.D{{Key: "event_type", Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil || n != 0 {
		t.Fatalf("documents with event_type after the update: %d, %v", n, err)
	}
	specs, err := contributions.Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range specs {
		if sp.Name == "contributions_once" || sp.Name == "contributions_user" {
			t.Errorf("old index %s is still there", sp.Name)
		}
	}
}

// TestUpdateRollsForward leaves a challenge as an edit whose writer
// stopped between its two writes would: the revision of version 2 claimed,
// the challenge still at version 1. The next edit of version 2 must lose
// to it and apply it, so the edit that won is not lost.
func TestUpdateRollsForward(t *testing.T) {
	s := openFresh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	at := time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	ch := challenges.Challenge{
		ID: "c1", Tenant: "acme", Name: "Share 3 times", Status: challenges.Draft,
		Rule: rule.Rule{
			Goals:  []rule.Goal{{ID: "g1", Kind: rule.Count, EventType: "share", Target: "3"}},
			Window: rule.Window{TimeZone: "UTC"},
		},
		Enrolment: challenges.Auto, Reward: challenges.Reward{Points: 50}, Claim: challenges.AutoClaim,
		MaxCompletions: 1, CreatedAt: at, UpdatedAt: at, Version: 1,
	}
	if err := s.CreateChallenge(ctx, ch); err != nil {
		t.Fatal(err)
	}
	won := ch
	won.Name, won.Version = "Share 5 times", 2
	if err := s.UpdateChallenge(ctx, won); err != nil {
		t.Fatal(err)
	}
	// Undo the second write only.
	_, err := s.Database().Collection("challenges").UpdateOne(ctx,
		bson.D{{Key: "tenant", Value: "acme"}, {Key: "id", Value: "c1"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: ch.Name}, {Key: "version", Value: int64(1)}}}})
	if err != nil {
		t.Fatal(err)
	}

	late := ch
	late.Name, late.Version = "Share 9 times", 2
	if err := s.UpdateChallenge(ctx, late); !errors.Is(err, errs.ErrDuplicate) {
		t.Fatalf("late edit of version 2: %v, want errs.ErrDuplicate", err)
	}
	got, err := s.GetChallenge(ctx, "acme", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != won.Name || got.Version != 2 {
		t.Fatalf("after the late edit: name %q version %d, want %q version 2", got.Name, got.Version, won.Name)
	}
}

func TestWebhooksConformance(t *testing.T) {
	storagetest.RunWebhooks(t, func(t *testing.T) webhooks.Store { return openFresh(t) })
}

func TestUGCConformance(t *testing.T) {
	uri(t)
	storagetest.RunUGC(t, func(t *testing.T) storagetest.UGCStore { return openFresh(t) })
}

func TestWallets(t *testing.T) {
	uri(t)
	storagetest.RunWallets(t, func(t *testing.T) storagetest.WalletStore { return openFresh(t) })
}

func TestLoyaltyConformance(t *testing.T) {
	uri(t)
	storagetest.RunLoyalty(t, func(t *testing.T) storagetest.LoyaltyStore { return openFresh(t) })
}

func TestContestConformance(t *testing.T) {
	uri(t)
	storagetest.RunContests(t, func(t *testing.T) storagetest.ContestStore { return openFresh(t) })
}

func TestRewards(t *testing.T) {
	uri(t)
	storagetest.RunRewards(t, func(t *testing.T) storagetest.WalletStore { return openFresh(t) })
}
