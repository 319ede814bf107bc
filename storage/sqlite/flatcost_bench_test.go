package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/sqlite"
)

// flatHistory is how many events the veteran player sent before the
// benchmark: spread over the 400 days before it, so about 1,700 fall in
// the challenge's 7-day window and all of them on the all-time board.
const flatHistory = 100_000

// BenchmarkFlatCost measures one event's work on a rolling 7-day sum
// challenge and an all-time sum event board, through the challenges and
// leaderboards services on SQLite, for a player with flatHistory prior
// events on both and for a new player. Each op sends one event of each,
// alternately and timed apart, so that both see the same machine load;
// the metrics are each one's mean time per event and their ratio, which
// must stay within 10% of 1. sync=FULL is the default (an fsync per
// commit), sync=NORMAL shows the work without it.
//
//	go test ./storage/sqlite -run '^$' -bench FlatCost -benchtime 3000x -count 5
func BenchmarkFlatCost(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		env := newFlatEnv(b, sync)
		b.Run("sync="+sync, func(b *testing.B) {
			env.prepare(b)
			fresh := "new-" + uuid.NewString()[:8]
			// Warm up caches and let the setup's checkpoints settle.
			b.StopTimer()
			for range 200 {
				env.send(b, "veteran")
				env.send(b, fresh)
				env.credit(b, "veteran")
				env.credit(b, fresh)
			}
			b.StartTimer()
			var veteran, novice, vetCredit, newCredit, vetDerive, newDerive time.Duration
			vetCredits, newCredits := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
			derives := 0
			for i := range b.N {
				t0 := time.Now()
				env.send(b, "veteran")
				t1 := time.Now()
				env.send(b, fresh)
				veteran, novice = veteran+t1.Sub(t0), novice+time.Since(t1)
				// Who goes first alternates: a write right after the
				// events' commits can wait on the writer's checkpoint.
				var v, n time.Duration
				if i%2 == 0 {
					v, n = env.credit(b, "veteran"), env.credit(b, fresh)
				} else {
					n, v = env.credit(b, fresh), env.credit(b, "veteran")
				}
				vetCredit, newCredit = vetCredit+v, newCredit+n
				vetCredits, newCredits = append(vetCredits, v), append(newCredits, n)
				if i%deriveEvery == 0 {
					vetDerive += env.derive(b, "veteran")
					newDerive += env.derive(b, fresh)
					derives++
				}
			}
			b.ReportMetric(float64(veteran.Nanoseconds())/float64(b.N), "veteran-ns/event")
			b.ReportMetric(float64(novice.Nanoseconds())/float64(b.N), "new-ns/event")
			b.ReportMetric(float64(veteran)/float64(novice), "veteran/new")
			b.ReportMetric(float64(vetCredit.Nanoseconds())/float64(b.N), "veteran-ns/credit")
			b.ReportMetric(float64(newCredit.Nanoseconds())/float64(b.N), "new-ns/credit")
			b.ReportMetric(float64(vetCredit)/float64(newCredit), "credit-veteran/new")
			// The medians' ratio too: a mean can take one fsync stall of
			// a loaded machine on one side only.
			b.ReportMetric(float64(median(vetCredits))/float64(median(newCredits)), "credit-p50-veteran/new")
			b.ReportMetric(float64(vetDerive.Nanoseconds())/float64(derives), "derive-veteran-ns/credit")
			b.ReportMetric(float64(newDerive.Nanoseconds())/float64(derives), "derive-new-ns/credit")
			b.ReportMetric(float64(vetDerive)/float64(newDerive), "derive-veteran/new")
		})
	}
}

// deriveEvery spaces out the measurements of the old points-board write,
// which for the veteran reads 100,000 ledger rows.
const deriveEvery = 50

// credit writes one ledger credit of user (not timed) and times the
// points board's work on it, Earned: the fold of the credit into the
// user's total and the engine write.
func (e *flatEnv) credit(b *testing.B, user string) time.Duration {
	ctx := context.Background()
	en := points.Entry{ID: uuid.Must(uuid.NewV7()).String(), Tenant: "acme", User: user, Amount: 5,
		Key: "live:" + uuid.NewString(), Reason: "bench", CreatedAt: time.Now().UTC()}
	if _, _, err := e.store.InsertEntry(ctx, en); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := e.boards.Earned(ctx, en); err != nil {
		b.Fatal(err)
	}
	return time.Since(t0)
}

// derive times what a points board did per credit before the folds: sum
// the user's ledger over the period (all time here), then Raise.
func (e *flatEnv) derive(b *testing.B, user string) time.Duration {
	ctx := context.Background()
	t0 := time.Now()
	n, last, err := e.store.EarnedBetween(ctx, "acme", user, "", leaderboards.MinTime, leaderboards.MaxTime)
	if err == nil {
		err = e.engine.Raise(ctx, "bench:derive", user, n, last)
	}
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(t0)
}

// send runs one event of user through both services.
func (e *flatEnv) send(b *testing.B, user string) {
	ctx := context.Background()
	now := time.Now().UTC()
	ev := events.Event{ID: uuid.Must(uuid.NewV7()).String(), Tenant: "acme", User: user, Type: "purchase",
		Props: map[string]any{"amount": 5.0}, OccurredAt: now, ReceivedAt: now}
	var r events.Result
	if _, err := e.challenges.HandleEvent(ctx, ev, &r); err != nil {
		b.Fatal(err)
	}
	if _, err := e.boards.HandleEvent(ctx, ev, &r); err != nil {
		b.Fatal(err)
	}
	if len(r.Progress) != 1 {
		b.Fatalf("progress %+v, want the challenge's", r.Progress)
	}
}

// flatEnv is one database with the challenge, the board and the
// veteran's history, shared by the runs of BenchmarkFlatCost.
type flatEnv struct {
	once       sync.Once
	sync, dir  string
	store      *sqlite.Store
	challenges *challenges.Service
	boards     *leaderboards.Service
	engine     leaderboards.Engine
}

func newFlatEnv(b *testing.B, sync string) *flatEnv {
	e := &flatEnv{sync: sync, dir: b.TempDir()}
	b.Cleanup(func() {
		if e.store != nil {
			e.store.Close()
		}
	})
	return e
}

// prepare builds the environment on first use, outside the timer.
func (e *flatEnv) prepare(b *testing.B) {
	b.StopTimer()
	defer b.StartTimer()
	e.once.Do(func() {
		ctx := context.Background()
		s, err := sqlite.OpenWith(ctx, filepath.Join(e.dir, "q.db"), sqlite.Options{Synchronous: e.sync})
		if err != nil {
			b.Fatal(err)
		}
		e.store = s
		r := rule.Rule{Goals: []rule.Goal{{ID: "g1", Kind: rule.Sum, EventType: "purchase", Prop: "amount",
			Target: json.Number("1000000000")}}, Window: rule.Window{Rolling: "7d"}}
		r.Normalize()
		now := time.Now().UTC().Truncate(time.Millisecond)
		c := challenges.Challenge{ID: "c1", Tenant: "acme", Name: "Spend", Status: challenges.Published, Rule: r,
			Enrolment: challenges.Auto, Claim: challenges.AutoClaim, CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := s.CreateChallenge(ctx, c); err != nil {
			b.Fatal(err)
		}
		e.challenges = challenges.NewService(challenges.Config{Store: s})
		e.engine = leaderboards.NewMemoryEngine()
		e.boards = leaderboards.NewService(leaderboards.Config{Store: s, Engine: e.engine, Ledger: points.NewService(s, nil)})
		board, err := e.boards.Create(ctx, "acme", leaderboards.CreateInput{Name: "Spend", Source: leaderboards.FromEvents,
			EventType: "purchase", Prop: "amount", Aggregation: leaderboards.Sum, Window: leaderboards.AllTime})
		if err != nil {
			b.Fatal(err)
		}
		// The history, written straight to the store by 16 writers (the
		// writer's group commit makes that quick), as the services
		// would have written it.
		span := 400 * 24 * time.Hour
		var wg sync.WaitGroup
		errc := make(chan error, 16)
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < flatHistory; i += 16 {
					at := now.Add(-span + time.Duration(i)*(span/flatHistory))
					id := fmt.Sprintf("h%06d", i)
					_, err := s.AddContribution(ctx, challenges.Contribution{Tenant: "acme", ChallengeID: "c1", User: "veteran",
						Goal: "g1", EventID: id, Amount: 5000, At: at})
					if err == nil {
						_, err = s.AddScore(ctx, leaderboards.Score{Tenant: "acme", Board: board.ID, User: "veteran", EventID: id,
							Value: 5, At: at, Period: "all", Aggregation: leaderboards.Sum})
					}
					if err != nil {
						errc <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errc)
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		e.seedCredits(b, now, span)
	})
}

// seedCredits writes the veteran's flatHistory prior ledger credits over
// span and then creates an all-time points board, whose build folds them.
func (e *flatEnv) seedCredits(b *testing.B, now time.Time, span time.Duration) {
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < flatHistory; i = int(next.Add(1) - 1) {
				at := now.Add(-span + time.Duration(i)*(span/flatHistory))
				_, _, err := e.store.InsertEntry(ctx, points.Entry{ID: uuid.Must(uuid.NewV7()).String(), Tenant: "acme",
					User: "veteran", Amount: 5, Key: fmt.Sprintf("hist:%06d", i), Reason: "bench", CreatedAt: at})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	pb, err := e.boards.Create(ctx, "acme", leaderboards.CreateInput{Name: "Points", Window: leaderboards.AllTime})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := e.boards.RebuildBoard(ctx, "acme", pb.ID, nil); err != nil { // the build: folds the ledger
		b.Fatal(err)
	}
	b.Logf("built the points board from %d ledger credits in %s", flatHistory, time.Since(start).Round(time.Millisecond))
	pg, err := e.boards.Member(ctx, "acme", pb.ID, "", "veteran")
	if err != nil || len(pg.Entries) == 0 || pg.Entries[0].Score != 5*flatHistory {
		b.Fatalf("veteran on the points board: %+v, %v; want %d", pg.Entries, err, 5*flatHistory)
	}
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}
