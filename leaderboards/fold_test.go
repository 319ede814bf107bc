package leaderboards_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
)

// runBuilds runs the world's builds until the test ends.
func runBuilds(t *testing.T, w *world) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.boards.RunBuilds(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// boardScores reads every entry of the board's current period.
func boardScores(t *testing.T, s *leaderboards.Service, board string) map[string]leaderboards.Entry {
	t.Helper()
	pg, err := s.Top(context.Background(), "acme", board, "", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]leaderboards.Entry{}
	for _, e := range pg.Entries {
		out[e.Member] = e.Entry
	}
	return out
}

// wantBoard checks the board holds exactly want, and that every score and
// its time are the ledger's (EarnedBetween over all time, prefix given).
func wantBoard(t *testing.T, w *world, board, prefix string, want map[string]int64) {
	t.Helper()
	got := boardScores(t, w.boards, board)
	scores := map[string]int64{}
	for u, e := range got {
		scores[u] = e.Score
	}
	if !maps.Equal(scores, want) {
		t.Fatalf("board %v, want %v", scores, want)
	}
	for u, e := range got {
		n, last, err := w.points.EarnedBetween(context.Background(), "acme", u, prefix, time.Unix(0, 0), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if e.Score != n || !e.At.Equal(last) {
			t.Fatalf("%s on the board: %d at %s; ledger %d at %s", u, e.Score, e.At, n, last)
		}
	}
}

func credit(t *testing.T, w *world, user, key string, amount int64) points.Entry {
	t.Helper()
	e, _, err := w.points.Credit(context.Background(), points.Credit{Tenant: "acme", User: user, Amount: amount, Key: key, Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestPointsFoldOnce: every way a credit or a reversal reaches a points
// board again (a retried credit, the observer told twice, duplicates and
// distinct credits of one user at once, a replayed reversal, a rebuild)
// leaves each entry counted once.
func TestPointsFoldOnce(t *testing.T) {
	for _, ec := range engines() {
		t.Run(ec.name, func(t *testing.T) {
			ctx := context.Background()
			engine, _ := ec.open(t)
			w := newWorld(t, engine)
			runBuilds(t, w)
			old := credit(t, w, "alice", "before", 40) // the build folds it
			b, err := w.boards.Create(ctx, "acme", leaderboards.CreateInput{Name: "All time"})
			if err != nil {
				t.Fatal(err)
			}
			waitBuild(t, w.boards, b.ID, leaderboards.Ready)
			wantBoard(t, w, b.ID, "", map[string]int64{"alice": 40})

			// A retried credit and the observer told again.
			first := credit(t, w, "alice", "k1", 10)
			for range 3 {
				credit(t, w, "alice", "k1", 10)
				if err := w.boards.Earned(ctx, first); err != nil {
					t.Fatal(err)
				}
				if err := w.boards.Earned(ctx, old); err != nil {
					t.Fatal(err)
				}
			}
			wantBoard(t, w, b.ID, "", map[string]int64{"alice": 50})

			// One user's credits at once, each sent twice at once.
			const writers, each = 8, 25
			var wg sync.WaitGroup
			for g := range writers {
				for range 2 {
					wg.Go(func() {
						for i := range each {
							_, _, err := w.points.Credit(ctx, points.Credit{Tenant: "acme", User: "bob",
								Amount: int64(1 + i%5), Key: fmt.Sprintf("c%d-%d", g, i), Reason: "test"})
							if err != nil {
								t.Error(err)
								return
							}
						}
					})
				}
			}
			wg.Wait()
			bob := int64(writers * (5 * (1 + 2 + 3 + 4 + 5)))
			wantBoard(t, w, b.ID, "", map[string]int64{"alice": 50, "bob": bob})

			// A reversal, replayed through the ledger and told again.
			for range 3 {
				if _, err := w.points.Reverse(ctx, "acme", "before"); err != nil {
					t.Fatal(err)
				}
				if err := w.boards.Reversed(ctx, old); err != nil {
					t.Fatal(err)
				}
			}
			wantBoard(t, w, b.ID, "", map[string]int64{"alice": 10, "bob": bob})
			credit(t, w, "alice", "k2", 3) // a credit after the reversal starts from the lowered total
			wantBoard(t, w, b.ID, "", map[string]int64{"alice": 13, "bob": bob})

			// A rebuild reads the same totals back.
			if err := w.boards.Rebuild(ctx, "acme", nil); err != nil {
				t.Fatal(err)
			}
			wantBoard(t, w, b.ID, "", map[string]int64{"alice": 13, "bob": bob})
		})
	}
}

// TestPointsBuildRacesCredits: a new board's build is held halfway
// through the ledger and its node crashes; meanwhile players earn, and
// credits from before the board are replayed (folded live under the keys
// the build folds them by). A second node builds it again from the start.
// Every score ends up the ledger's, nothing counted twice or lost.
func TestPointsBuildRacesCredits(t *testing.T) {
	const entries, users = 4000, 40
	for _, ec := range engines() {
		t.Run(ec.name, func(t *testing.T) {
			ctx := context.Background()
			engine, _ := ec.open(t)
			w := newWorld(t, engine)
			seedLedger(t, w, entries, users)
			held := &gatedLedger{Ledger: w.points, after: entries / 2, open: make(chan struct{})}
			first, crash := node(t, w, engine, held, 0)
			b, err := first.Create(ctx, "acme", leaderboards.CreateInput{Name: "All time"})
			if err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(60 * time.Second); waitBuild(t, first, b.ID, leaderboards.Building).Done == 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the build never started")
				}
			}
			for i := range 300 {
				user := fmt.Sprintf("u%d", i%users)
				credit(t, w, user, fmt.Sprintf("live-%d", i), 7)
				// seed-i is user u(i%users)'s: replay it, from both halves
				// of the ledger.
				seed := i * (entries / 300)
				credit(t, w, fmt.Sprintf("u%d", seed%users), fmt.Sprintf("seed-%d", seed), int64(1+seed%10))
			}
			crash()
			next := &gatedLedger{Ledger: w.points, open: make(chan struct{})}
			close(next.open)
			later, _ := node(t, w, engine, next, time.Minute)
			waitBuild(t, later, b.ID, leaderboards.Ready)
			want := map[string]int64{}
			for i := range entries {
				want[fmt.Sprintf("u%d", i%users)] += int64(1 + i%10)
			}
			for i := range 300 {
				want[fmt.Sprintf("u%d", i%users)] += 7
			}
			wantBoard(t, w, b.ID, "", want)
		})
	}
}

// flakyEngine fails every write and rank read while down, as an
// unreachable Redis does.
type flakyEngine struct {
	leaderboards.Engine
	down atomic.Bool
}

var errDown = errs.New(errs.Unavailable, "engine-down", "engine down")

func (f *flakyEngine) Raise(ctx context.Context, key, m string, s int64, at time.Time) error {
	if f.down.Load() {
		return errDown
	}
	return f.Engine.Raise(ctx, key, m, s, at)
}

func (f *flakyEngine) Remove(ctx context.Context, key, m string) error {
	if f.down.Load() {
		return errDown
	}
	return f.Engine.Remove(ctx, key, m)
}

func (f *flakyEngine) Rank(ctx context.Context, key, m string) (leaderboards.Entry, bool, error) {
	if f.down.Load() {
		return leaderboards.Entry{}, false, errDown
	}
	return f.Engine.Rank(ctx, key, m)
}

// TestPointsFeedAfterReversal: while the engine is down, credits and a
// reversal are folded and their refreshes wait; the feeder, run twice,
// brings the board to the folded totals, the reversal lowered too.
func TestPointsFeedAfterReversal(t *testing.T) {
	for _, ec := range engines() {
		t.Run(ec.name, func(t *testing.T) {
			ctx := context.Background()
			inner, _ := ec.open(t)
			engine := &flakyEngine{Engine: inner}
			w := newWorld(t, engine)
			b, err := w.boards.Create(ctx, "acme", leaderboards.CreateInput{Name: "All time"})
			if err != nil {
				t.Fatal(err)
			}
			credit(t, w, "alice", "k1", 30)
			credit(t, w, "alice", "k2", 12)
			engine.down.Store(true)
			credit(t, w, "alice", "k3", 5)
			credit(t, w, "bob", "k4", 9)
			if _, err := w.points.Reverse(ctx, "acme", "k1"); err != nil {
				t.Fatalf("reversal with the engine down: %v", err)
			}
			credit(t, w, "bob", "k4", 9) // a retry while down
			engine.down.Store(false)
			w.setNow(w.now.Load().Add(time.Minute)) // past the backoff
			for range 2 {
				if _, err := w.boards.Feed(ctx); err != nil {
					t.Fatal(err)
				}
				wantBoard(t, w, b.ID, "", map[string]int64{"alice": 17, "bob": 9})
			}
		})
	}
}

// TestPointsExcludeScopeErase: an excluded user's credits still fold, so
// reinstating ranks all of them; a scoped board folds only its scope's
// credits and their reversals; a prune leaves points boards whole, so a
// replay after it adds nothing; an erased user is gone from the board,
// the store and every rebuild.
func TestPointsExcludeScopeErase(t *testing.T) {
	for _, ec := range engines() {
		t.Run(ec.name, func(t *testing.T) {
			ctx := context.Background()
			engine, _ := ec.open(t)
			w := newWorld(t, engine)
			all, err := w.boards.Create(ctx, "acme", leaderboards.CreateInput{Name: "All time"})
			if err != nil {
				t.Fatal(err)
			}
			scoped, err := w.boards.Create(ctx, "acme", leaderboards.CreateInput{Name: "C1",
				Scope: &leaderboards.Scope{Type: "challenge", ID: "c1"}})
			if err != nil {
				t.Fatal(err)
			}
			credit(t, w, "alice", "challenge:c1:alice", 20)
			credit(t, w, "alice", "purchase:p1", 6)
			if _, err := w.boards.Exclude(ctx, "acme", "mgr", all.ID, leaderboards.ExcludeInput{User: "bob", Reason: "staff"}); err != nil {
				t.Fatal(err)
			}
			credit(t, w, "bob", "challenge:c1:bob", 8)
			credit(t, w, "bob", "purchase:p2", 4)
			if _, err := w.points.Reverse(ctx, "acme", "challenge:c1:bob"); err != nil {
				t.Fatal(err)
			}
			credit(t, w, "bob", "challenge:c2:bob", 2)
			wantBoard(t, w, all.ID, "", map[string]int64{"alice": 26})
			wantBoard(t, w, scoped.ID, "challenge:c1:", map[string]int64{"alice": 20, "bob": 0})
			if err := w.boards.Reinstate(ctx, "acme", "mgr", all.ID, "bob"); err != nil {
				t.Fatal(err)
			}
			wantBoard(t, w, all.ID, "", map[string]int64{"alice": 26, "bob": 6})

			targets, err := w.boards.RetentionTargets(ctx, "acme", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			for _, tg := range targets {
				if _, err := tg.Prune(ctx, time.Now().Add(24*time.Hour), nil); err != nil {
					t.Fatal(err)
				}
			}
			credit(t, w, "alice", "challenge:c1:alice", 20)
			if err := w.boards.Rebuild(ctx, "acme", nil); err != nil {
				t.Fatal(err)
			}
			wantBoard(t, w, all.ID, "", map[string]int64{"alice": 26, "bob": 6})
			wantBoard(t, w, scoped.ID, "challenge:c1:", map[string]int64{"alice": 20, "bob": 0})

			// The points domain anonymises bob's ledger, so no build
			// (these boards are still unbuilt: each rebuild fills them)
			// brings him back.
			if err := w.points.Erase(ctx, "acme", "bob"); err != nil {
				t.Fatal(err)
			}
			if err := w.boards.Erase(ctx, "acme", "bob"); err != nil {
				t.Fatal(err)
			}
			if err := w.boards.Rebuild(ctx, "acme", nil); err != nil {
				t.Fatal(err)
			}
			wantBoard(t, w, all.ID, "", map[string]int64{"alice": 26})
			if sc, err := w.store.UserScores(ctx, "acme", "bob"); err != nil || len(sc) != 0 {
				t.Fatalf("bob's scores after erasure: %v, %v", sc, err)
			}
			_, exp, err := w.boards.Export(ctx, "acme", "alice")
			if err != nil {
				t.Fatal(err)
			}
			if ex := exp.(leaderboards.UserExport); len(ex.Scores) != 0 || len(ex.Standings) != 2 {
				t.Fatalf("alice's export: %+v; want her standings and no event-board scores", ex)
			}
		})
	}
}
