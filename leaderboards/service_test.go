package leaderboards_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/internal/redistest"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/sqlite"
)

// world is a leaderboard service over a real SQLite store, the real ledger
// and one engine.
type world struct {
	store  *sqlite.Store
	points *points.Service
	boards *leaderboards.Service
	now    atomic.Pointer[time.Time]
}

type engineCase struct {
	name string
	open func(t testing.TB) (leaderboards.Engine, redis.UniversalClient)
}

func engines() []engineCase {
	return []engineCase{
		{"memory", func(testing.TB) (leaderboards.Engine, redis.UniversalClient) {
			return leaderboards.NewMemoryEngine(), nil
		}},
		{"redis", func(t testing.TB) (leaderboards.Engine, redis.UniversalClient) {
			opts, err := redis.ParseURL(redistest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			c := redis.NewClient(opts)
			t.Cleanup(func() { c.Close() })
			return leaderboards.NewRedisEngine(c), c
		}},
	}
}

// ledgerProxy lets the ledger and the boards be built in either order.
type ledgerProxy struct{ *points.Service }

func newWorld(t testing.TB, engine leaderboards.Engine) *world {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &world{store: st}
	now := time.Now()
	w.now.Store(&now)
	var lp ledgerProxy
	w.boards = leaderboards.NewService(leaderboards.Config{
		Store: st, Engine: engine, Ledger: &lp, Now: func() time.Time { return *w.now.Load() },
	})
	w.points = points.NewService(st, nil, w.boards)
	lp.Service = w.points
	return w
}

func (w *world) setNow(t time.Time) { w.now.Store(&t) }

// TestRebuildKeepsConcurrentWrites: players keep earning while the board is
// rebuilt over and over; at the end every score equals the ledger.
func TestRebuildKeepsConcurrentWrites(t *testing.T) {
	for _, ec := range engines() {
		t.Run(ec.name, func(t *testing.T) {
			ctx := context.Background()
			engine, _ := ec.open(t)
			w := newWorld(t, engine)
			b, err := w.boards.Create(ctx, "acme", leaderboards.CreateInput{Name: "Points"})
			if err != nil {
				t.Fatal(err)
			}
			const users, writers, credits = 20, 8, 150
			var wg sync.WaitGroup
			var writing atomic.Int32
			writing.Store(writers)
			for g := range writers {
				wg.Go(func() {
					defer writing.Add(-1)
					for i := range credits {
						_, _, err := w.points.Credit(ctx, points.Credit{
							Tenant: "acme", User: fmt.Sprintf("u%d", (g+i)%users), Amount: int64(1 + i%7),
							Key: fmt.Sprintf("w%d-%d", g, i), Reason: "test",
						})
						if err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			rebuilds := 0
			for writing.Load() > 0 {
				if err := w.boards.Rebuild(ctx, "acme", nil); err != nil {
					t.Fatal(err)
				}
				rebuilds++
			}
			wg.Wait()
			for u := range users {
				user := fmt.Sprintf("u%d", u)
				want, last, err := w.points.EarnedBetween(ctx, "acme", user, "", time.Unix(0, 0), time.Now().Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				pg, err := w.boards.Member(ctx, "acme", b.ID, "", user)
				if err != nil {
					t.Fatalf("%s after %d rebuilds: %v", user, rebuilds, err)
				}
				if got := pg.Entries[0]; got.Score != want || !got.At.Equal(last) {
					t.Fatalf("%s after %d rebuilds: board %d at %s, ledger %d at %s", user, rebuilds, got.Score, got.At, want, last)
				}
			}
			t.Logf("%d rebuilds raced %d credits", rebuilds, writers*credits)
		})
	}
}

// TestPeriodsRetainAndExpire: a daily event board in a time zone keeps a
// finished day readable for its retention, sets the engine's expiry to
// match, and then reports the period gone.
func TestPeriodsRetainAndExpire(t *testing.T) {
	for _, ec := range engines() {
		t.Run(ec.name, func(t *testing.T) {
			ctx := context.Background()
			engine, rc := ec.open(t)
			w := newWorld(t, engine)
			paris, _ := time.LoadLocation("Europe/Paris")
			w.setNow(time.Date(2026, 11, 22, 0, 0, 0, 0, paris)) // the board exists from the 22nd
			retain := 2
			b, err := w.boards.Create(ctx, "acme", leaderboards.CreateInput{
				Name: "Daily steps", Source: leaderboards.FromEvents, EventType: "checkin", Prop: "steps",
				Window: leaderboards.Daily, TimeZone: "Europe/Paris", RetentionDays: &retain,
			})
			if err != nil {
				t.Fatal(err)
			}
			w.setNow(time.Date(2026, 11, 23, 23, 30, 0, 0, paris)) // 22:30 UTC
			send := func(id string, at time.Time, steps int) {
				t.Helper()
				ev := events.Event{ID: id, Tenant: "acme", User: "ann", Type: "checkin", OccurredAt: at, ReceivedAt: *w.now.Load(), Props: map[string]any{"steps": float64(steps)}}
				if _, err := w.boards.HandleEvent(ctx, ev, &events.Result{}); err != nil {
					t.Fatal(err)
				}
			}
			send("e1", time.Date(2026, 11, 23, 23, 10, 0, 0, paris), 5)
			send("e2", time.Date(2026, 11, 22, 12, 0, 0, 0, paris), 7) // late: yesterday's period
			send("e2", time.Date(2026, 11, 22, 12, 0, 0, 0, paris), 7) // replayed
			read := func(sel string) (leaderboards.Page, error) {
				return w.boards.Top(ctx, "acme", b.ID, sel, 0, 10)
			}
			for sel, want := range map[string]int64{"": 5, "2026-11-23": 5, "previous": 7, "2026-11-22": 7} {
				pg, err := read(sel)
				if err != nil || len(pg.Entries) != 1 || pg.Entries[0].Score != want {
					t.Fatalf("period %q = %+v, %v; want score %d", sel, pg, err, want)
				}
			}
			if rc != nil {
				// 2026-11-22 ends at 23:00 UTC that day; kept 2 days more.
				ttl := rc.PTTL(ctx, "ql:lb:{acme:"+b.ID+"}:2026-11-22").Val()
				want := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC).Sub(w.now.Load().UTC())
				if ttl < want-time.Minute || ttl > want+time.Minute {
					t.Fatalf("expiry of 2026-11-22 = %s, want about %s", ttl, want)
				}
			}
			// On the 25th (Paris), the 22nd is past its retention.
			w.setNow(time.Date(2026, 11, 25, 0, 0, 1, 0, paris))
			if _, err := read("2026-11-22"); !isCode(err, "period-expired") {
				t.Fatalf("expired period read: %v", err)
			}
			if pg, err := read("2026-11-23"); err != nil || len(pg.Entries) != 1 {
				t.Fatalf("kept period: %+v, %v", pg, err)
			}
			// A late event for an expired period scores nowhere.
			send("e3", time.Date(2026, 11, 22, 13, 0, 0, 0, paris), 100)
			w.setNow(time.Date(2026, 11, 23, 23, 30, 0, 0, paris))
			if pg, _ := read("2026-11-22"); pg.Entries[0].Score != 7 {
				t.Fatalf("expired period written: %+v", pg)
			}
		})
	}
}

// TestEventBoardAcceptance: an event board counts an event only if it
// occurred once the board existed and arrived within rule.LateGrace of its
// period's end, and counts at most max_per_event of it; live, replayed and
// after a rebuild alike, on both engines.
func TestEventBoardAcceptance(t *testing.T) {
	for _, ec := range engines() {
		t.Run(ec.name, func(t *testing.T) {
			ctx := context.Background()
			engine, _ := ec.open(t)
			w := newWorld(t, engine)
			created := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
			w.setNow(created)
			daily, err := w.boards.Create(ctx, "acme", leaderboards.CreateInput{
				Name: "Daily steps", Source: leaderboards.FromEvents, EventType: "checkin", Prop: "steps",
				Window: leaderboards.Daily, MaxPerEvent: 100,
			})
			if err != nil {
				t.Fatal(err)
			}
			best, err := w.boards.Create(ctx, "acme", leaderboards.CreateInput{
				Name: "Best ever", Source: leaderboards.FromEvents, EventType: "checkin", Prop: "steps",
				Aggregation: leaderboards.Best,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := w.boards.Get(ctx, "acme", daily.ID); got.MaxPerEvent != 100 {
				t.Fatalf("stored max_per_event = %d, want 100", got.MaxPerEvent)
			}
			send := func(id string, occurred time.Time, steps int) {
				t.Helper()
				ev := events.Event{ID: id, Tenant: "acme", User: "ann", Type: "checkin", OccurredAt: occurred, ReceivedAt: *w.now.Load(), Props: map[string]any{"steps": float64(steps)}}
				if _, err := w.boards.HandleEvent(ctx, ev, &events.Result{}); err != nil {
					t.Fatal(err)
				}
			}
			day := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
			w.setNow(day(24, 12))
			send("before-board", day(23, 9), 5000) // occurred before the board existed
			send("late-ok", day(23, 11), 40)       // yesterday, within the grace
			send("huge", day(24, 11), 1_000_000)   // capped at 100 on the daily board
			w.setNow(day(25, 0).Add(time.Second))
			send("too-late", day(23, 20), 50) // the 23rd closed more than 24 h ago
			send("too-late", day(23, 20), 50) // replayed
			check := func(when string) {
				t.Helper()
				for _, c := range []struct {
					board, period string
					want          int64
				}{{daily.ID, "2026-11-23", 40}, {daily.ID, "2026-11-24", 100}, {best.ID, "all", 1_000_000}} {
					pg, err := w.boards.Top(ctx, "acme", c.board, c.period, 0, 10)
					if err != nil {
						t.Fatal(err)
					}
					if len(pg.Entries) != 1 || pg.Entries[0].Score != c.want {
						t.Errorf("%s: %s = %+v, want ann at %d", when, c.period, pg.Entries, c.want)
					}
				}
			}
			check("live")
			if err := w.boards.Rebuild(ctx, "acme", nil); err != nil {
				t.Fatal(err)
			}
			check("after a rebuild")
		})
	}
}

func isCode(err error, code string) bool {
	var e *errs.Error
	return errors.As(err, &e) && e.Code == code
}

// TestScopedPointsBoard: a points board scoped to one challenge counts only
// the ledger entries that challenge paid, live and after a rebuild.
func TestScopedPointsBoard(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, leaderboards.NewMemoryEngine())
	b, err := w.boards.Create(ctx, "acme", leaderboards.CreateInput{Name: "c1 only", Scope: &leaderboards.Scope{Type: "challenge", ID: "c1"}})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		user, key string
		amount    int64
	}{
		{"ann", "challenge:c1:x", 50}, {"ann", "challenge:c2:y", 70}, {"bob", "challenge:c1:z", 20},
		{"bob", "challenge:c10:w", 99}, // c10 is not c1
	} {
		if _, _, err := w.points.Credit(ctx, points.Credit{Tenant: "acme", User: c.user, Amount: c.amount, Key: c.key, Reason: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		pg, err := w.boards.Top(ctx, "acme", b.ID, "", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.Entries) != 2 || pg.Entries[0].Member != "ann" || pg.Entries[0].Score != 50 || pg.Entries[1].Score != 20 {
			t.Fatalf("%s: scoped board = %+v", when, pg.Entries)
		}
	}
	check("live")
	if err := w.boards.Rebuild(ctx, "acme", nil); err != nil {
		t.Fatal(err)
	}
	check("after a rebuild")
}

// TestReversalLowersBoards: spending never lowers a points board, a
// reversal does, on a scoped board only if the credit counted there, and
// a rebuild agrees.
func TestReversalLowersBoards(t *testing.T) {
	for _, ec := range engines() {
		t.Run(ec.name, func(t *testing.T) {
			ctx := context.Background()
			engine, _ := ec.open(t)
			w := newWorld(t, engine)
			all, err := w.boards.Create(ctx, "acme", leaderboards.CreateInput{Name: "Points"})
			if err != nil {
				t.Fatal(err)
			}
			pay := func(key string, amount int64) {
				t.Helper()
				if _, _, err := w.points.Credit(ctx, points.Credit{Tenant: "acme", User: "ann", Amount: amount, Key: key, Reason: "test"}); err != nil {
					t.Fatal(err)
				}
			}
			score := func(what string, want int64) {
				t.Helper()
				pg, err := w.boards.Member(ctx, "acme", all.ID, "", "ann")
				if err != nil || pg.Entries[0].Score != want {
					t.Fatalf("%s: board %+v, %v; want %d", what, pg, err, want)
				}
			}
			pay("challenge:c1:x", 40)
			pay("purchase:p1:x", 100)
			score("credited", 140)
			if _, err := w.points.Spend(ctx, points.Spend{Tenant: "acme", User: "ann", Amount: 120, Key: "spend:1"}); err != nil {
				t.Fatal(err)
			}
			score("spent", 140)
			if _, err := w.points.Reverse(ctx, "acme", "purchase:p1:x"); err != nil {
				t.Fatal(err)
			}
			score("reversed", 40)
			if _, err := w.points.Reverse(ctx, "acme", "purchase:p1:x"); err != nil {
				t.Fatal(err)
			}
			score("reversed twice", 40)
			if err := w.boards.Rebuild(ctx, "acme", nil); err != nil {
				t.Fatal(err)
			}
			score("rebuilt", 40)
		})
	}
}
