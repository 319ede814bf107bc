package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/config"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
)

var errCrash = errors.New("injected crash")

// crashingStore fails one store operation once it is armed, the way a
// process killed between two writes would leave the data.
type crashingStore struct {
	store
	failOn string
	armed  atomic.Bool
}

func (c *crashingStore) fail(op string) error {
	if c.armed.Load() && c.failOn == op {
		return errCrash
	}
	return nil
}

func (c *crashingStore) AddContribution(ctx context.Context, x challenges.Contribution) (bool, error) {
	if err := c.fail("AddContribution"); err != nil {
		return false, err
	}
	return c.store.AddContribution(ctx, x)
}

func (c *crashingStore) InsertCompletion(ctx context.Context, x challenges.Completion) (challenges.Completion, bool, error) {
	if err := c.fail("InsertCompletion"); err != nil {
		return challenges.Completion{}, false, err
	}
	return c.store.InsertCompletion(ctx, x)
}

func (c *crashingStore) InsertEntry(ctx context.Context, e points.Entry) (points.Entry, bool, error) {
	if err := c.fail("InsertEntry"); err != nil {
		return points.Entry{}, false, err
	}
	return c.store.InsertEntry(ctx, e)
}

func (c *crashingStore) MarkProcessed(ctx context.Context, tenant, id string, r events.Result, at time.Time) error {
	if err := c.fail("MarkProcessed"); err != nil {
		return err
	}
	return c.store.MarkProcessed(ctx, tenant, id, r, at)
}

// crashingEngine fails board writes once armed: the ledger is written but
// the leaderboard is not.
type crashingEngine struct {
	leaderboards.Engine
	armed atomic.Bool
}

func (c *crashingEngine) Raise(ctx context.Context, key, member string, score int64, at time.Time) error {
	if c.armed.Load() {
		return errCrash
	}
	return c.Engine.Raise(ctx, key, member, score, at)
}

// openCrashable builds an app like newApp, with failure injection points.
func openCrashable(t *testing.T, cfg config.Config) (*app, *crashingStore, *crashingEngine) {
	t.Helper()
	ctx := context.Background()
	a := &app{cfg: cfg, logger: newLogger(io.Discard, 8), reg: nil}
	a.reg = newRegistry()
	if err := a.openStore(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.openEngines(ctx); err != nil {
		t.Fatal(err)
	}
	cs := &crashingStore{store: a.store}
	ce := &crashingEngine{Engine: a.engine}
	a.store, a.engine = cs, ce
	if err := a.wire(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	return a, cs, ce
}

// TestCrashRecovery injects a failure at each step between storing an
// event and finishing its effects, "restarts" on the same data, and checks
// the sweeper finishes the event exactly once: one completion, one ledger
// entry, a board equal to the ledger, and the retry of the key replays.
func TestCrashRecovery(t *testing.T) {
	for _, d := range deployments() {
		for _, failOn := range []string{"AddContribution", "InsertCompletion", "InsertEntry", "Raise", "MarkProcessed"} {
			t.Run(d.name+"/"+failOn, func(t *testing.T) {
				env := d.env(t)
				env["QL_DATA_DIR"] = t.TempDir()
				env["QL_JWT_SECRET"] = testSecret
				cfg, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard)
				if err != nil {
					t.Fatal(err)
				}
				if cfg.RedisURL != "" {
					flushRedis(t, cfg.RedisURL)
				}
				ctx := context.Background()
				a, cs, ce := openCrashable(t, cfg)
				ch, err := a.challenges.Create(ctx, "acme", challenges.Definition{Name: "Share 3", EventType: "share", Target: 3, RewardPoints: 50})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := a.challenges.Publish(ctx, "acme", ch.ID); err != nil {
					t.Fatal(err)
				}
				b, err := a.leaderboards.Create(ctx, "acme", leaderboards.CreateInput{Name: "Points", Window: leaderboards.AllTime})
				if err != nil {
					t.Fatal(err)
				}
				share := func(ev *events.Service, key string) (events.Result, error) {
					return ev.Ingest(ctx, events.Event{Tenant: "acme", User: "alice", Type: "share", IdempotencyKey: key, Source: "player"})
				}
				for _, k := range []string{"k1", "k2"} {
					if _, err := share(a.events, k); err != nil {
						t.Fatal(err)
					}
				}
				a.events.Close() // the marks of k1 and k2 land before arming
				cs.failOn = failOn
				cs.armed.Store(true)
				ce.armed.Store(failOn == "Raise")
				_, err = share(a.events, "k3")
				if failOn == "MarkProcessed" || failOn == "Raise" {
					// Marking and board writes are off the request path:
					// the answer stands, and the sweeper or the board
					// feeder finishes the work.
					a.events.Close()
					if err != nil {
						t.Fatalf("ingest with a failed %s returned %v", failOn, err)
					}
				} else if !errors.Is(err, errCrash) {
					t.Fatalf("crashing ingest returned %v", err)
				}
				a.close()

				// Restart on the same data, as serve would.
				a2, _, _ := openCrashable(t, cfg)
				if a2.redis == nil {
					if err := a2.leaderboards.Rebuild(ctx, "", nil); err != nil {
						t.Fatal(err)
					}
				}
				n, err := a2.events.Sweep(ctx, 0, 100)
				if err != nil || (n < 1 && failOn != "Raise") {
					t.Fatalf("sweep finished %d events, err %v", n, err)
				}
				if _, err := a2.leaderboards.Feed(ctx); err != nil {
					t.Fatal(err)
				}
				a2.events.Close() // let the sweep's marks land
				if n, _ := a2.events.Sweep(ctx, 0, 100); n != 0 {
					t.Fatalf("second sweep found %d more events", n)
				}
				w, err := a2.points.Wallet(ctx, "acme", "alice")
				if err != nil || w.Balance != 50 {
					t.Fatalf("wallet %+v, %v; want 50 paid exactly once", w, err)
				}
				entries, _ := a2.points.Ledger(ctx, "acme", "alice", "", 10)
				if len(entries) != 1 {
					t.Fatalf("ledger has %d entries, want 1", len(entries))
				}
				pg, err := a2.leaderboards.Top(ctx, "acme", b.ID, "", 0, 10)
				if err != nil || len(pg.Entries) != 1 || pg.Entries[0].Score != 50 {
					t.Fatalf("board %+v, %v; want alice at 50", pg, err)
				}
				r, err := share(a2.events, "k3")
				if err != nil || !r.Replayed || len(r.Points) != 1 || r.Points[0].Amount != 50 {
					t.Fatalf("retry after recovery = %+v, %v", r, err)
				}
				if w, _ := a2.points.Wallet(ctx, "acme", "alice"); w.Balance != 50 {
					t.Fatalf("wallet %d after retry", w.Balance)
				}
			})
		}
	}
}

// TestRebuildAfterFlush: with Redis, the boards equal the ledger after
// FLUSHALL and `server rebuild`.
func TestRebuildAfterFlush(t *testing.T) {
	url := deployments()[1].env(t)["REDIS_URL"]
	s := startServer(t, map[string]string{"REDIS_URL": url})
	_, board := s.setupSlice("acme")
	mgr := s.token("boss", "acme", auth.Manager)
	for _, c := range []struct {
		typ    string
		reward int
	}{{"visit", 10}, {"like", 5}} {
		var ch struct{ ID string }
		s.must(201, req{method: "POST", path: "/v1/challenges", token: mgr, body: map[string]any{
			"name": c.typ, "event_type": c.typ, "target": 1, "reward_points": c.reward,
		}}).json(t, &ch)
		s.must(200, req{method: "POST", path: "/v1/challenges/" + ch.ID + "/publish", token: mgr})
	}
	// u0: 50, u1: 60, u2: 65, u3: 10, u4: 50 (ties u0 and, earning later,
	// ranks after it).
	plans := []struct {
		user string
		evs  []string
	}{
		{"u0", []string{"share", "share", "share"}}, {"u1", []string{"share", "share", "share", "visit"}},
		{"u2", []string{"share", "share", "share", "visit", "like"}}, {"u3", []string{"visit"}},
		{"u4", []string{"share", "share", "share"}},
	}
	for _, p := range plans {
		tok := s.token(p.user, "acme")
		for i, typ := range p.evs {
			s.must(200, req{method: "POST", path: "/v1/events", token: tok, body: map[string]any{"type": typ},
				header: map[string]string{"Idempotency-Key": fmt.Sprint(i)}})
		}
		time.Sleep(2 * time.Millisecond) // achieved_at has millisecond precision
	}
	before := s.top(s.token("x", "acme"), board)
	if fmt.Sprint(before.Entries) != "[{u2 65 1} {u1 60 2} {u0 50 3} {u4 50 4} {u3 10 5}]" {
		t.Fatalf("board before = %+v", before)
	}
	flushRedis(t, url)
	time.Sleep(redisPageTTL) // the node's cached top page lapses
	if after := s.top(s.token("x", "acme"), board); after.Total != 0 {
		t.Fatalf("board after flush = %+v", after)
	}
	var out strings.Builder
	if code := run(context.Background(), []string{"server", "rebuild"}, s.getenv, &out); code != 0 {
		t.Fatalf("rebuild exited %d: %s", code, out.String())
	}
	if !strings.Contains(out.String(), "100%") {
		t.Fatalf("rebuild printed no progress: %q", out.String())
	}
	time.Sleep(redisPageTTL) // the rebuild ran in another process
	after := s.top(s.token("x", "acme"), board)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("board after rebuild = %+v, want %+v", after, before)
	}
}

func flushRedis(t *testing.T, url string) {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestQuietEventsStoredProcessed: an event that changes nothing (the
// challenge is already finished, or nothing matches) is stored already
// processed with its answer, in one write, and replays that answer.
func TestQuietEventsStoredProcessed(t *testing.T) {
	cfg, err := config.Load(nil, func(k string) string {
		return map[string]string{"QL_DATA_DIR": t.TempDir(), "QL_JWT_SECRET": testSecret}[k]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := openCrashable(t, cfg)
	ctx := context.Background()
	ch, _ := a.challenges.Create(ctx, "acme", challenges.Definition{Name: "Share 1", EventType: "share", Target: 1, RewardPoints: 5})
	if _, err := a.challenges.Publish(ctx, "acme", ch.ID); err != nil {
		t.Fatal(err)
	}
	send := func(typ, key string) events.Result {
		r, err := a.events.Ingest(ctx, events.Event{Tenant: "acme", User: "alice", Type: typ, IdempotencyKey: key, Source: "player"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	send("share", "k1") // completes and pays
	a.events.Close()
	for _, tc := range []struct{ typ, key string }{{"share", "k2"}, {"visit", "k3"}} {
		r := send(tc.typ, tc.key)
		pending, err := a.store.Unprocessed(ctx, time.Now().Add(time.Hour), 10)
		if err != nil || len(pending) != 0 {
			t.Fatalf("%s: %d events left unprocessed, %v", tc.typ, len(pending), err)
		}
		if again := send(tc.typ, tc.key); !again.Replayed || fmt.Sprint(again.Progress) != fmt.Sprint(r.Progress) {
			t.Fatalf("%s: replay %+v, first %+v", tc.typ, again, r)
		}
	}
	if r := send("share", "k4"); len(r.Progress) != 1 || !r.Progress[0].Completed || len(r.Points) != 0 {
		t.Fatalf("share after completion = %+v", r)
	}
	if w, _ := a.points.Wallet(ctx, "acme", "alice"); w.Balance != 5 {
		t.Fatalf("wallet %+v", w)
	}
}
