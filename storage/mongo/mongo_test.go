package mongo_test

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/storage/mongo"
	"github.com/questline/questline/storage/storagetest"
)

// uri returns MONGO_URI or skips: MongoDB is optional in a test run.
func uri(t *testing.T) string {
	u := os.Getenv("MONGO_URI")
	if u == "" {
		t.Skip("MONGO_URI not set; skipping MongoDB tests")
	}
	return u
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
