package retention_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/badges"
	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/retention"
	"github.com/questline/questline/storage/sqlite"
	"github.com/questline/questline/storage/storagetest"
)

// world is one tenant's services over a real store, on a clock the test
// moves, with a 7-day rolling challenge, an all-time distinct challenge
// and an all-time sum event board.
type world struct {
	t      *testing.T
	store  *sqlite.Store
	now    time.Time
	chs    *challenges.Service
	boards *leaderboards.Service
	ret    *retention.Service
	board  leaderboards.Board
}

const tenant = "acme"

func newWorld(t *testing.T, start time.Time) *world {
	ctx := context.Background()
	st, err := sqlite.OpenWith(ctx, filepath.Join(t.TempDir(), "q.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &world{t: t, store: st, now: start}
	clock := func() time.Time { return w.now }
	w.chs = challenges.NewService(challenges.Config{Store: st, Now: clock})
	w.boards = w.newBoards()
	for id, r := range map[string]rule.Rule{
		"rolling": {Goals: []rule.Goal{{ID: "g", Kind: rule.Count, EventType: "checkin", Target: json.Number("1000000")}},
			Window: rule.Window{Rolling: "7d", TimeZone: "UTC"}},
		"stores": {Goals: []rule.Goal{{ID: "g", Kind: rule.Distinct, EventType: "checkin", Prop: "store", Target: json.Number("1000000")}},
			Window: rule.Window{TimeZone: "UTC"}},
	} {
		c := challenges.Challenge{Tenant: tenant, ID: id, Name: id, Status: challenges.Published, Rule: r,
			Enrolment: challenges.Auto, Claim: challenges.AutoClaim, MaxCompletions: 1, CreatedAt: start, UpdatedAt: start, Version: 1}
		if err := st.CreateChallenge(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if w.board, err = w.boards.Create(ctx, tenant, leaderboards.CreateInput{Name: "visits", Source: leaderboards.FromEvents,
		EventType: "checkin", Prop: "n", Aggregation: leaderboards.Sum, Window: leaderboards.AllTime, TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	w.ret = retention.NewService(st, slog.New(slog.DiscardHandler), w.chs, badges.NewService(st, nil), w.boards)
	return w
}

// newBoards is a fresh leaderboard service with an empty in-process
// engine, as a restarted node has before its rebuild.
func (w *world) newBoards() *leaderboards.Service {
	return leaderboards.NewService(leaderboards.Config{Store: w.store, Engine: leaderboards.NewMemoryEngine(),
		Now: func() time.Time { return w.now }})
}

// checkin stores and processes a checkin at the clock's time, as the
// event service would.
func (w *world) checkin(user, store string) {
	ctx := context.Background()
	ev := events.Event{ID: storagetest.IDAt(w.now), Tenant: tenant, User: user, Type: "checkin", Source: "player",
		Props: map[string]any{"store": store, "n": 2.0}, OccurredAt: w.now, ReceivedAt: w.now,
		IdempotencyKey: uuid.NewString(), Fingerprint: "fp"}
	if _, _, err := w.store.InsertEvent(ctx, ev); err != nil {
		w.t.Fatal(err)
	}
	var r events.Result
	for _, h := range []events.Handler{w.chs, w.boards} {
		if _, err := h.HandleEvent(ctx, ev, &r); err != nil {
			w.t.Fatal(err)
		}
	}
	if err := w.store.MarkProcessed(ctx, tenant, ev.ID, r, w.now); err != nil {
		w.t.Fatal(err)
	}
}

// progress returns the user's current count on each challenge.
func (w *world) progress(user string) map[string]float64 {
	pcs, err := w.chs.ForPlayer(context.Background(), tenant, user)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]float64{}
	for _, pc := range pcs {
		out[pc.ID] = pc.Current
	}
	return out
}

// top returns the board's scores by user.
func (w *world) top(lb *leaderboards.Service) map[string]int64 {
	p, err := lb.Top(context.Background(), tenant, w.board.ID, "current", 0, 100)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]int64{}
	for _, r := range p.Entries {
		out[r.Member] = r.Score
	}
	return out
}

// TestPrunedStoreStillCounts fills a year and a half of history, prunes
// it down to the shortest retention the rules allow, and checks that the
// rolling challenge still counts its window exactly (before and after a
// new event), that the all-time distinct challenge lost nothing, and that
// a restarted node's board rebuilds to the same scores from the totals.
func TestPrunedStoreStillCounts(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	w := newWorld(t, start)
	const days = 540
	for d := range days {
		w.now = start.Add(time.Duration(d) * 24 * time.Hour)
		w.checkin("u1", "s"+string(rune('a'+d%20)))
		if d%3 == 0 {
			w.checkin("u2", "s"+string(rune('a'+d%7)))
		}
	}
	w.now = w.now.Add(time.Hour)
	before, top := w.progress("u1"), w.top(w.boards)
	if before["rolling"] != 7 || before["stores"] != 20 || top["u1"] != 2*days {
		t.Fatalf("before the prune: progress %v, top %v", before, top)
	}

	// The rolling window reads 7 days and an hour: 8 days at least.
	set, err := w.ret.Get(ctx, tenant)
	if err != nil || set.Days != retention.DefaultDays || set.MinimumDays != 8 {
		t.Fatalf("setting %+v, %v", set, err)
	}
	if _, err := w.ret.Set(ctx, tenant, 3); err == nil {
		t.Fatal("a retention shorter than the rolling window was accepted")
	} else if e, ok := errs.As(err); !ok || e.Kind != errs.Unprocessable || e.Field != "body.days" {
		t.Fatalf("short retention: %v", err)
	}
	if _, err := w.ret.Set(ctx, tenant, 8); err != nil {
		t.Fatal(err)
	}
	scores, _ := w.store.CountScores(ctx, tenant, w.board.ID)
	var calls int
	n, err := w.ret.Prune(ctx, "", func(done, total int, deleted int64) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	left, _ := w.store.CountScores(ctx, tenant, w.board.ID)
	if n == 0 || calls == 0 || left >= scores || left > 2*9 {
		t.Fatalf("pruned %d records (%d reports); scores %d -> %d", n, calls, scores, left)
	}
	stores, err := w.store.Contributions(ctx, tenant, "stores", "u1", "")
	if err != nil || len(stores) != days {
		t.Fatalf("the all-time distinct challenge kept %d of %d contributions: %v", len(stores), days, err)
	}
	if again, err := w.ret.Prune(ctx, tenant, nil); err != nil || again != 0 {
		t.Fatalf("a second prune deleted %d: %v", again, err)
	}

	if got := w.progress("u1"); got["rolling"] != before["rolling"] || got["stores"] != before["stores"] {
		t.Errorf("progress after the prune %v, want %v", got, before)
	}
	restarted := w.newBoards()
	if err := restarted.Rebuild(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	if got := w.top(restarted); got["u1"] != top["u1"] || got["u2"] != top["u2"] {
		t.Errorf("board rebuilt after the prune %v, want %v", got, top)
	}

	// A day later, one more checkin: the window lost the oldest day and
	// gained this one, and the board adds it on top of the folded total.
	w.now = w.now.Add(24 * time.Hour)
	w.boards = restarted
	w.checkin("u1", "new-store")
	if got := w.progress("u1"); got["rolling"] != 7 || got["stores"] != 21 {
		t.Errorf("progress after a new event %v, want rolling 7, stores 21", got)
	}
	if got := w.top(restarted); got["u1"] != top["u1"]+2 {
		t.Errorf("board after a new event %v, want u1 %d", got, top["u1"]+2)
	}
}

// TestPruneSparesPendingEvents checks that an event still owed a run keeps
// its records (its replay must find them, or it would add twice) and
// itself.
func TestPruneSparesPendingEvents(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	w := newWorld(t, start)
	pending := events.Event{ID: storagetest.IDAt(start), Tenant: tenant, User: "u1", Type: "checkin", Source: "player",
		OccurredAt: start, ReceivedAt: start, IdempotencyKey: "pending", Fingerprint: "fp"}
	if _, _, err := w.store.InsertEvent(ctx, pending); err != nil {
		t.Fatal(err)
	}
	w.now = start.Add(time.Hour)
	w.checkin("u1", "a")
	w.now = start.Add(500 * 24 * time.Hour)
	if _, err := w.ret.Prune(ctx, tenant, nil); err != nil {
		t.Fatal(err)
	}
	if n, _ := w.store.CountScores(ctx, tenant, w.board.ID); n != 1 {
		t.Errorf("%d scores left, want the one a pending event's replay would find", n)
	}
	if _, inserted, err := w.store.InsertEvent(ctx, pending); err != nil || inserted {
		t.Errorf("the pending event was pruned: inserted %v, %v", inserted, err)
	}
}
