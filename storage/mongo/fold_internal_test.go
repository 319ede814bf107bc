package mongo

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/internal/mongotest"
	"github.com/questline/questline/leaderboards"
)

// openFolding opens a store on a database of its own with the folds on,
// as on MongoDB, even where the server is FerretDB: its updates are not
// atomic under concurrency, but these tests are sequential, so they check
// the folds' logic on either server.
func openFolding(t *testing.T) (*Store, string) {
	t.Helper()
	u := mongotest.URI(t) // under CI=true a missing server fails, never skips
	name := "ql_test_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	s := openNamed(t, u, name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.db.Drop(ctx)
	})
	return s, name
}

func openNamed(t *testing.T, uri, name string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, uri, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if !s.atomicUpdates {
		s.atomicUpdates = true
		if err := s.upgradeTallies(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.upgradeBoardTotals(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.backfillPointsDays(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestFolds: repeats fold once, buckets and periods stay apart, totals
// equal AggregateScores, and a database whose contributions predate the
// tallies is folded on open, once, however often it is reopened.
func TestFolds(t *testing.T) {
	s, name := openFolding(t)
	ctx := context.Background()
	h := challenges.TallyBucket(time.Date(2025, 3, 14, 15, 9, 0, 0, time.UTC))
	add := func(ev string, amount int64, at time.Time) {
		t.Helper()
		for range 2 { // the repeat adds nothing
			if _, err := s.AddContribution(ctx, challenges.Contribution{Tenant: "a", ChallengeID: "c", User: "u",
				Goal: "g", EventID: ev, Amount: amount, At: at}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("e1", 1, h)
	add("e2", 2, h.Add(59*time.Minute))
	add("e3", 4, h.Add(time.Hour))
	tally := func(s *Store, from, to time.Time, want int64) {
		t.Helper()
		got, err := s.Tally(ctx, "a", "c", "u", "", "g", from, to)
		if err != nil || got != want {
			t.Errorf("tally [%s, %s) = %d, %v; want %d", from, to, got, err, want)
		}
	}
	tally(s, h, h.Add(time.Hour), 3)
	tally(s, h, h.Add(2*time.Hour), 7)
	// A crash between the contribution and its fold: the replay folds it,
	// once, however often it runs.
	crashed := contributionDoc{Tenant: "a", Challenge: "c", User: "u", Goal: "g", EventID: "e4", Amount: 8, At: h.Add(10 * time.Minute)}
	if _, err := s.contributions.InsertOne(ctx, crashed); err != nil {
		t.Fatal(err)
	}
	tally(s, h, h.Add(time.Hour), 3)
	for range 2 {
		inserted, err := s.AddContribution(ctx, challenges.Contribution{Tenant: "a", ChallengeID: "c", User: "u",
			Goal: "g", EventID: "e4", Amount: 8, At: crashed.At})
		if err != nil || inserted {
			t.Fatalf("replay after a crash: inserted=%v, %v", inserted, err)
		}
		tally(s, h, h.Add(time.Hour), 11)
	}

	day := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	for _, agg := range []leaderboards.Aggregation{leaderboards.Sum, leaderboards.Best, leaderboards.Latest} {
		for i, x := range []struct {
			v  int64
			at time.Duration
		}{{5, time.Hour}, {9, 30 * time.Hour}, {9, 2 * time.Hour}, {-4, 50 * time.Hour}, {7, 50 * time.Hour}} {
			sc := leaderboards.Score{Tenant: "a", Board: "b-" + string(agg), User: "u", EventID: fmt.Sprint("s", i),
				Value: x.v, At: day.Add(x.at), Period: "2025-W11", Aggregation: agg}
			for range 2 {
				if _, err := s.AddScore(ctx, sc); err != nil {
					t.Fatal(err)
				}
			}
		}
		// A crash between a score and its fold: the replay folds it.
		if _, err := s.scores.InsertOne(ctx, scoreDoc{Tenant: "a", Board: "b-" + string(agg), EventID: "crashed",
			User: "u", Value: 20, At: day.Add(90 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := s.AddScore(ctx, leaderboards.Score{Tenant: "a", Board: "b-" + string(agg), User: "u",
				EventID: "crashed", Value: 20, At: day.Add(90 * time.Hour), Period: "2025-W11", Aggregation: agg}); err != nil {
				t.Fatal(err)
			}
		}
		v, at, ok, err := s.Total(ctx, "a", "b-"+string(agg), "2025-W11", "u", agg, day, day.Add(7*24*time.Hour))
		wv, wat, wok, werr := s.AggregateScores(ctx, "a", "b-"+string(agg), "u", agg, day, day.Add(7*24*time.Hour))
		if err != nil || werr != nil || v != wv || !at.Equal(wat) || ok != wok {
			t.Errorf("%s: total %d %s %v %v, scores say %d %s %v %v", agg, v, at, ok, err, wv, wat, wok, werr)
		}
	}

	tally(s, h.Add(-48*time.Hour), h.Add(48*time.Hour), 15) // through the day tallies

	// As a database from before tallies: no tallies, no marker.
	if err := s.tallies.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.dayTallies.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r := openNamed(t, os.Getenv("MONGO_URI"), name)
		tally(r, h, h.Add(2*time.Hour), 15)
		tally(r, h.Add(-48*time.Hour), h.Add(48*time.Hour), 15)
		if n, err := r.tallies.CountDocuments(ctx, talliesFolded); err != nil || n != 1 {
			t.Errorf("marker: %d, %v", n, err)
		}
	}
	// A board that existed when totals arrived is stale and reads its scores.
	r := openNamed(t, os.Getenv("MONGO_URI"), name)
	if _, err := r.boards.InsertOne(ctx, bson.D{{Key: "tenant", Value: "a"}, {Key: "id", Value: "old"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.totals.DeleteOne(ctx, totalsSince); err != nil {
		t.Fatal(err)
	}
	r = openNamed(t, os.Getenv("MONGO_URI"), name)
	if !r.staleBoards[[2]string{"a", "old"}] || r.staleBoards[[2]string{"a", "b-sum"}] {
		t.Errorf("stale boards %v, want only a/old", r.staleBoards)
	}
}

// TestFoldScoresInBatches: FoldScores' bulk folds give the totals of
// AddScore's one by one, whatever each upsert meets: a new total, one the
// score changes, one it does not (Best, Latest) or was folded into already
// (the batch run again), a score stored by a crash before its fold (its
// stored value folds, as in AddScore), and a key given twice in the batch.
func TestFoldScoresInBatches(t *testing.T) {
	s, _ := openFolding(t)
	ctx := context.Background()
	day := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	for _, agg := range []leaderboards.Aggregation{leaderboards.Sum, leaderboards.Best, leaderboards.Latest} {
		board := "f-" + string(agg)
		var batch []leaderboards.Score
		for i, x := range []struct {
			user string
			v    int64
			at   time.Duration
		}{{"u", 5, time.Hour}, {"u", 9, 30 * time.Hour}, {"u", 9, 2 * time.Hour}, {"v", 3, time.Hour},
			{"u", -4, 50 * time.Hour}, {"u", 7, 50 * time.Hour}, {"u", 2, 51 * time.Hour}} {
			batch = append(batch, leaderboards.Score{Tenant: "a", Board: board, User: x.user, EventID: fmt.Sprint("s", i),
				Value: x.v, At: day.Add(x.at), Period: "2025-W11", Aggregation: agg})
		}
		if _, err := s.scores.InsertOne(ctx, scoreDoc{Tenant: "a", Board: board, EventID: "crashed",
			User: "u", Value: 20, At: day.Add(90 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		batch = append(batch, batch[1], leaderboards.Score{Tenant: "a", Board: board, User: "u",
			EventID: "crashed", Value: 99, At: day.Add(90 * time.Hour), Period: "2025-W11", Aggregation: agg}) // the stored 20 counts
		for run, want := range []int{7, 0} {
			n, err := s.FoldScores(ctx, batch)
			if err != nil || n != want {
				t.Fatalf("%s run %d: inserted %d, %v; want %d", agg, run, n, err, want)
			}
			for _, user := range []string{"u", "v"} {
				v, at, ok, err := s.Total(ctx, "a", board, "2025-W11", user, agg, day, day.Add(7*24*time.Hour))
				wv, wat, wok, werr := s.AggregateScores(ctx, "a", board, user, agg, day, day.Add(7*24*time.Hour))
				if err != nil || werr != nil || v != wv || !at.Equal(wat) || ok != wok {
					t.Errorf("%s run %d, %s: total %d %s %v %v, scores say %d %s %v %v", agg, run, user, v, at, ok, err, wv, wat, wok, werr)
				}
			}
		}
	}
}
