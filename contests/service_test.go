package contests_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/contests"
	"github.com/questline/questline/contests/draw"
	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
	"github.com/questline/questline/profiles"
	"github.com/questline/questline/storage/sqlite"
)

// fakes records what the service asked of its collaborators.
type fakes struct {
	mu      sync.Mutex
	attrs   map[string]profiles.Attributes
	audits  []audit.Entry
	emitted map[string]int // idempotency key -> times emitted
	pushes  []string
	board   []leaderboards.Row
	failPay int // payments to fail before one succeeds
	boards  []leaderboards.CreateInput
	ends    map[string]time.Time // board id -> close set by Extend
}

func (f *fakes) GetAttributes(_ context.Context, _, user string) (profiles.Attributes, bool, error) {
	a, ok := f.attrs[user]
	return a, ok, nil
}

func (f *fakes) Append(_ context.Context, e audit.Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audits = append(f.audits, e)
	return nil
}

func (f *fakes) Emit(_ context.Context, ev events.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.emitted[ev.IdempotencyKey]++
	return nil
}

func (f *fakes) PublishUser(_ context.Context, _, user, typ string, _ any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pushes = append(f.pushes, user+" "+typ)
	return nil
}

func (f *fakes) Publish(_ context.Context, _, channel, typ string, _ any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pushes = append(f.pushes, channel+" "+typ)
	return nil
}

func (f *fakes) Create(_ context.Context, _ string, in leaderboards.CreateInput) (leaderboards.Board, error) {
	if in.Window != leaderboards.Custom || in.StartsAt == nil || in.EndsAt == nil {
		return leaderboards.Board{}, fmt.Errorf("board %+v is not the contest's window", in)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.boards = append(f.boards, in)
	return leaderboards.Board{ID: fmt.Sprintf("board-%d", len(f.boards))}, nil
}

func (f *fakes) Extend(_ context.Context, _, id string, endsAt time.Time) (leaderboards.Board, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ends == nil {
		f.ends = map[string]time.Time{}
	}
	f.ends[id] = endsAt
	return leaderboards.Board{ID: id, EndsAt: &endsAt}, nil
}

func (f *fakes) Top(_ context.Context, _, _, _ string, offset, limit int) (leaderboards.Page, error) {
	return leaderboards.Page{Entries: f.board[offset:min(len(f.board), offset+limit)]}, nil
}

// flakyPayer fails the first failPay payments, as a crash would.
type flakyPayer struct {
	*points.Service
	f *fakes
}

func (p flakyPayer) PayOnce(ctx context.Context, tenant, user string, amount int64, key, reason, eventID string) (string, int64, error) {
	p.f.mu.Lock()
	fail := p.f.failPay > 0
	p.f.failPay--
	p.f.mu.Unlock()
	if fail {
		return "", 0, errors.New("crash")
	}
	return p.Service.PayOnce(ctx, tenant, user, amount, key, reason, eventID)
}

type env struct {
	t     *testing.T
	path  string
	store *sqlite.Store
	f     *fakes
	now   time.Time
	svc   *contests.Service
	pts   *points.Service
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, path: filepath.Join(t.TempDir(), "q.db"), now: time.Now().UTC().Truncate(time.Millisecond),
		f: &fakes{attrs: map[string]profiles.Attributes{}, emitted: map[string]int{}}}
	e.open()
	return e
}

// open (re)opens the store and a fresh service over it, as a restart does.
func (e *env) open() {
	e.t.Helper()
	if e.store != nil {
		if err := e.store.Close(); err != nil {
			e.t.Fatal(err)
		}
	}
	s, err := sqlite.Open(context.Background(), e.path)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = s.Close() })
	e.store, e.pts = s, points.NewService(s, nil)
	e.svc = contests.NewService(contests.Config{
		Store: s, Boards: e.f, Payer: flakyPayer{e.pts, e.f}, Spender: e.pts, Reverser: e.pts, Rewarder: e.pts, Emitter: e.f, Publisher: e.f, Attributes: e.f, Auditor: e.f,
		Now: func() time.Time { return e.now }, Settle: time.Second,
	})
}

func (e *env) create(d contests.Definition) contests.Contest {
	e.t.Helper()
	c, err := e.svc.Create(context.Background(), "acme", d)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) event(user, typ string, props map[string]any) {
	e.t.Helper()
	ev := events.Event{ID: fmt.Sprintf("%s-%s-%d", user, typ, len(props)), Tenant: "acme", User: user, Type: typ, Props: props, ReceivedAt: e.now}
	e.eventAs(ev)
}

func (e *env) eventAs(ev events.Event) {
	e.t.Helper()
	if _, err := e.svc.HandleEvent(context.Background(), ev, nil); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) tickets(c contests.Contest, user string) int64 {
	e.t.Helper()
	n, _, err := e.store.ContestUserEntries(context.Background(), "acme", c.ID, user)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) balance(user string) int64 {
	e.t.Helper()
	w, err := e.pts.Wallet(context.Background(), "acme", user)
	if err != nil {
		e.t.Fatal(err)
	}
	return w.Balance
}

func drawDef(now time.Time) contests.Definition {
	return contests.Definition{
		Name: "Draw", Kind: contests.DrawKind, StartsAt: now.Add(-time.Hour), EndsAt: now.Add(time.Hour),
		Prizes:     []contests.Prize{{Description: "100 points", Quantity: 1, Points: 100}, {Description: "10 points", Quantity: 2, Points: 10}},
		Earn:       []contests.EarnRule{{EventType: "visit"}, {EventType: "purchase", Prop: "amount", Over: 20, Entries: 2}},
		MaxEntries: 3,
	}
}

// TestEarning: which events earn how many tickets, for whom.
func TestEarning(t *testing.T) {
	e := newEnv(t)
	gold := drawDef(e.now)
	gold.Eligibility = &contests.Eligibility{Tiers: []string{"gold"}}
	optIn := drawDef(e.now)
	optIn.Eligibility = &contests.Eligibility{OptIn: true}
	e.f.attrs["g"] = profiles.Attributes{Tier: "gold"}
	open, forGold, forOptIn := e.create(drawDef(e.now)), e.create(gold), e.create(optIn)
	ctx := context.Background()
	if _, err := e.svc.Enter(ctx, "acme", "o", forOptIn.ID, "", contests.EnterInput{OptIn: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Enter(ctx, "acme", "s", forGold.ID, "", contests.EnterInput{OptIn: true}); errs.KindOf(err) != errs.Forbidden {
		t.Fatalf("an ineligible opt-in: %v", err)
	}
	for _, tc := range []struct {
		name   string
		user   string
		events []map[string]any // type and props
		want   [3]int64         // tickets in open, forGold, forOptIn
	}{
		{"one visit", "a", []map[string]any{{"type": "visit"}}, [3]int64{1, 0, 0}},
		{"purchase over 20", "b", []map[string]any{{"type": "purchase", "amount": 20.5}}, [3]int64{2, 0, 0}},
		{"purchase of 20 exactly", "c", []map[string]any{{"type": "purchase", "amount": 20.0}}, [3]int64{0, 0, 0}},
		{"purchase without an amount", "d", []map[string]any{{"type": "purchase"}}, [3]int64{0, 0, 0}},
		{"other types", "f", []map[string]any{{"type": "share"}}, [3]int64{0, 0, 0}},
		{"capped at 3", "h", []map[string]any{{"type": "visit"}, {"type": "purchase", "amount": 50.0}, {"type": "purchase", "amount": 60.0}}, [3]int64{3, 0, 0}},
		{"a gold player", "g", []map[string]any{{"type": "visit"}}, [3]int64{1, 1, 0}},
		{"an opted-in player", "o", []map[string]any{{"type": "visit"}}, [3]int64{1, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, ev := range tc.events {
				props := map[string]any{}
				for k, v := range ev {
					if k != "type" {
						props[k] = v
					}
				}
				x := events.Event{ID: fmt.Sprintf("%s-%d", tc.user, i), Tenant: "acme", User: tc.user, Type: ev["type"].(string), Props: props, ReceivedAt: e.now}
				for range 2 { // a replayed event adds nothing
					e.eventAs(x)
				}
			}
			got := [3]int64{e.tickets(open, tc.user), e.tickets(forGold, tc.user), e.tickets(forOptIn, tc.user)}
			if got != tc.want {
				t.Fatalf("tickets %v, want %v", got, tc.want)
			}
		})
	}
	// Outside the window, and after the close has settled, nothing counts.
	late := events.Event{ID: "late", Tenant: "acme", User: "z", Type: "visit", ReceivedAt: e.now.Add(2 * time.Hour)}
	e.eventAs(late)
	if n := e.tickets(open, "z"); n != 0 {
		t.Fatalf("an event after the close earned %d", n)
	}
}

// TestDrawPaysOnceAcrossCrashesAndRaces: a payment that fails leaves the
// draw finished with the place unpaid; a restart and a retry pay it once;
// racing draws decide one result and pay each place once.
func TestDrawPaysOnceAcrossCrashesAndRaces(t *testing.T) {
	e := newEnv(t)
	c := e.create(drawDef(e.now))
	for i := range 20 {
		e.event(fmt.Sprintf("u%02d", i), "visit", nil)
	}
	e.now = e.now.Add(2 * time.Hour)
	e.f.failPay = 1
	ctx := context.Background()
	if _, err := e.svc.Draw(ctx, "acme", c.ID); err == nil {
		t.Fatal("the failed payment was not reported")
	}
	e.open() // a restart
	var wg sync.WaitGroup
	results := make([]contests.Contest, 8)
	for i := range results {
		wg.Go(func() {
			r, err := e.svc.Draw(ctx, "acme", c.ID)
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		})
	}
	wg.Wait()
	got, err := e.svc.Get(ctx, "acme", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, w := range got.Result.Winners {
		if w.User == "" || w.PaidAt == nil {
			t.Fatalf("place %+v not paid", w)
		}
		total += e.balance(w.User)
	}
	if total != 120 {
		t.Fatalf("winners hold %d points, want 100+10+10", total)
	}
	for k, n := range e.f.emitted {
		if n < 1 {
			t.Fatalf("%s emitted %d times", k, n)
		}
	}
	if c.Commitment != got.Commitment || got.Result.Seed == "" {
		t.Fatalf("commitment %s then %s", c.Commitment, got.Commitment)
	}
	if _, err := draw.ParseSeed(got.Result.Seed, c.Commitment); err != nil {
		t.Fatal(err)
	}
	file, err := e.svc.EntryList(ctx, "acme", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := draw.Verify(*got.Record(), file); err != nil {
		t.Fatal(err)
	}
}

// TestDisqualifyLeaderboard: the next row of the frozen standings takes the
// place; nobody else moves; the audit log has the reason.
func TestDisqualifyLeaderboard(t *testing.T) {
	e := newEnv(t)
	for i, u := range []string{"amy", "bob", "cat", "dan", "eve"} {
		e.f.board = append(e.f.board, leaderboards.Row{Entry: leaderboards.Entry{Member: u, Score: int64(50 - i), Rank: int64(i + 1)}})
	}
	c := e.create(contests.Definition{Name: "Top", Kind: contests.LeaderboardKind, StartsAt: e.now.Add(-time.Hour), EndsAt: e.now.Add(time.Hour),
		Prizes: []contests.Prize{{Description: "gold", Quantity: 1, Points: 30}, {Description: "silver", Quantity: 2, Points: 5}},
		Board:  &contests.BoardSpec{Source: leaderboards.FromPoints}})
	ctx := context.Background()
	// Extending moves the close of the contest and of its board, in place,
	// whatever the board's source; not in the last seconds before the close.
	later := e.now.Add(3 * time.Hour)
	ext, err := e.svc.Extend(ctx, "acme", "boss", c.ID, contests.Reschedule{Reason: "r", EndsAt: &later})
	if err != nil {
		t.Fatalf("extend a points leaderboard contest: %v", err)
	}
	if ext.BoardID != c.BoardID || !ext.EndsAt.Equal(later) || !e.f.ends[c.BoardID].Equal(later) || len(e.f.boards) != 1 {
		t.Fatalf("extended: board %s (was %s), ends %s, board ends %v, %d boards", ext.BoardID, c.BoardID, ext.EndsAt, e.f.ends, len(e.f.boards))
	}
	ev := e.create(contests.Definition{Name: "Visits", Kind: contests.LeaderboardKind, StartsAt: e.now.Add(-time.Hour), EndsAt: e.now.Add(4 * time.Second),
		Prizes: []contests.Prize{{Description: "gold", Quantity: 1}}, Board: &contests.BoardSpec{Source: leaderboards.FromEvents, EventType: "visit"}})
	_, err = e.svc.Extend(ctx, "acme", "boss", ev.ID, contests.Reschedule{Reason: "r", EndsAt: &later})
	if x, ok := errs.As(err); !ok || x.Code != "contest-closing" || x.Kind != errs.Conflict {
		t.Fatalf("extend 4 s before the close: %v", err)
	}
	if _, err := e.svc.Draw(ctx, "acme", c.ID); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("draw before the close: %v", err)
	}
	if _, err := e.svc.ForceEnd(ctx, "acme", "boss", c.ID, contests.Reschedule{Reason: "fraud found"}); err != nil {
		t.Fatal(err)
	}
	d, err := e.svc.Draw(ctx, "acme", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if w := winners(d); !slices.Equal(w, []string{"amy", "bob", "cat"}) {
		t.Fatalf("winners %v", w)
	}
	for _, bad := range []string{"dan", "nobody"} {
		if _, err := e.svc.Disqualify(ctx, "acme", "boss", c.ID, contests.DisqualifyInput{User: bad, Reason: "x"}); errs.KindOf(err) != errs.Conflict {
			t.Fatalf("disqualify %s, who holds no place: %v", bad, err)
		}
	}
	d, err = e.svc.Disqualify(ctx, "acme", "boss", c.ID, contests.DisqualifyInput{User: "bob", Reason: "staff account"})
	if err != nil {
		t.Fatal(err)
	}
	if w := winners(d); !slices.Equal(w, []string{"amy", "dan", "cat"}) {
		t.Fatalf("winners after disqualifying bob %v", w)
	}
	if d.Result.Winners[1].Replaced[0] != "bob" || e.balance("dan") != 5 || e.balance("amy") != 30 || e.balance("bob") != 0 {
		t.Fatalf("place 2 %+v, dan %d, amy %d, bob %d (his prize reversed)", d.Result.Winners[1], e.balance("dan"), e.balance("amy"), e.balance("bob"))
	}
	for range 2 { // a repeat reverses and pays nothing more
		if _, err := e.svc.Disqualify(ctx, "acme", "boss", c.ID, contests.DisqualifyInput{User: "bob", Reason: "staff account"}); err != nil {
			t.Fatal(err)
		}
	}
	if e.balance("dan") != 5 || e.balance("bob") != 0 {
		t.Fatalf("after repeats: dan %d, bob %d", e.balance("dan"), e.balance("bob"))
	}
	var actions []string
	for _, a := range e.f.audits {
		actions = append(actions, a.Action+":"+a.Detail["reason"])
	}
	if !slices.Equal(actions, []string{"contest.extend:r", "contest.force-end:fraud found", "contest.disqualify:staff account"}) || e.f.audits[2].Detail["points_reversed"] != "5" {
		t.Fatalf("audit %v", actions)
	}
}

// TestErasure: the user's entries and places move to the pseudonym, and
// the published draw still verifies.
func TestErasure(t *testing.T) {
	e := newEnv(t)
	c := e.create(drawDef(e.now))
	for _, u := range []string{"a", "b", "c", "d"} {
		e.event(u, "visit", nil)
	}
	e.now = e.now.Add(2 * time.Hour)
	ctx := context.Background()
	d, err := e.svc.Draw(ctx, "acme", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	victim := d.Result.Winners[0].User
	_, before, err := e.svc.Export(ctx, "acme", victim)
	if err != nil {
		t.Fatal(err)
	}
	if x := before.(contests.UserExport); len(x.Entries) != 1 || len(x.Wins) != 1 {
		t.Fatalf("export %+v", x)
	}
	for range 2 {
		if err := e.svc.Erase(ctx, "acme", victim); err != nil {
			t.Fatal(err)
		}
	}
	_, after, err := e.svc.Export(ctx, "acme", victim)
	if err != nil {
		t.Fatal(err)
	}
	if x := after.(contests.UserExport); len(x.Entries) != 0 || len(x.Wins) != 0 {
		t.Fatalf("export after erasure %+v", x)
	}
	got, err := e.svc.Get(ctx, "acme", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Result.Winners[0].User == victim {
		t.Fatal("the winner still names the erased user")
	}
	file, err := e.svc.EntryList(ctx, "acme", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := draw.Verify(*got.Record(), file); err != nil {
		t.Fatalf("after erasure: %v", err)
	}
}

// TestBuyingEntries: tickets bought with points are paid once per
// purchase key, never overdraw, and stay within the cap.
func TestBuyingEntries(t *testing.T) {
	e := newEnv(t)
	d := drawDef(e.now)
	d.PointsPerEntry = 10
	c := e.create(d)
	free := e.create(drawDef(e.now))
	ctx := context.Background()
	if _, _, err := e.pts.PayOnce(ctx, "acme", "ann", 25, "gift", "gift", ""); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 { // one purchase, sent 8 times at once
		wg.Go(func() {
			if _, err := e.svc.Enter(ctx, "acme", "ann", c.ID, "p1", contests.EnterInput{Buy: 2}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n, b := e.tickets(c, "ann"), e.balance("ann"); n != 2 || b != 5 {
		t.Fatalf("after one purchase of 2: %d tickets, balance %d", n, b)
	}
	for _, tc := range []struct {
		name     string
		contest  string
		purchase string
		buy      int64
		code     string
	}{
		{"too few points", c.ID, "p2", 1, "insufficient-points"},
		{"past the cap", c.ID, "p3", 2, "entry-cap"},
		{"not for sale", free.ID, "p4", 1, "not-for-sale"},
	} {
		_, err := e.svc.Enter(ctx, "acme", "ann", tc.contest, tc.purchase, contests.EnterInput{Buy: tc.buy})
		if x, ok := errs.As(err); !ok || x.Code != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	if n, b := e.tickets(c, "ann"), e.balance("ann"); n != 2 || b != 5 {
		t.Fatalf("after refused purchases: %d tickets, balance %d", n, b)
	}

	// Six purchases of one ticket each, with their own keys, racing for
	// the last places under the cap of 3: every ticket is paid once and
	// nothing is paid without a ticket.
	if _, _, err := e.pts.PayOnce(ctx, "acme", "bea", 100, "gift-bea", "gift", ""); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		wg.Go(func() {
			_, err := e.svc.Enter(ctx, "acme", "bea", c.ID, fmt.Sprintf("b%d", i), contests.EnterInput{Buy: 1})
			if x, ok := errs.As(err); err != nil && (!ok || x.Code != "entry-cap") {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n, b := e.tickets(c, "bea"), e.balance("bea"); n != 3 || b != 100-3*10 {
		t.Fatalf("after racing purchases: %d tickets, balance %d", n, b)
	}
}

// copyBetween is a Store that, once, right after a HasContestEntry of
// source found nothing for the second time (buy's retry check, then
// buyOne's), runs then: another copy of the same purchase finishing while
// this one is between its reads.
type copyBetween struct {
	contests.Store
	source string
	seen   int
	then   func()
}

func (c *copyBetween) HasContestEntry(ctx context.Context, tenant, contest, source string) (bool, error) {
	held, err := c.Store.HasContestEntry(ctx, tenant, contest, source)
	if source == c.source && !held && err == nil {
		if c.seen++; c.seen == 2 && c.then != nil {
			then := c.then
			c.then = nil
			then()
		}
	}
	return held, err
}

// TestPurchaseCopyFinishesBetweenReads: a copy of a purchase that checked
// for its ticket just before another copy claimed every ticket of the
// purchase finds them, spending nothing more; it does not buy the next
// slot, nor fail for want of points.
func TestPurchaseCopyFinishesBetweenReads(t *testing.T) {
	e := newEnv(t)
	d := drawDef(e.now)
	d.PointsPerEntry = 10
	c := e.create(d)
	ctx := context.Background()
	if _, _, err := e.pts.PayOnce(ctx, "acme", "ann", 25, "gift", "gift", ""); err != nil {
		t.Fatal(err)
	}
	plain := e.svc.Store
	hook := &copyBetween{Store: plain, source: contests.BoughtPrefix + contests.Entrant("acme", "ann") + ":p1:0"}
	hook.then = func() {
		e.svc.Store = plain // the other copy runs on the plain store
		defer func() { e.svc.Store = hook }()
		if _, err := e.svc.Enter(ctx, "acme", "ann", c.ID, "p1", contests.EnterInput{Buy: 2}); err != nil {
			t.Errorf("the other copy: %v", err)
		}
	}
	e.svc.Store = hook
	res, err := e.svc.Enter(ctx, "acme", "ann", c.ID, "p1", contests.EnterInput{Buy: 2})
	if err != nil {
		t.Fatalf("the copy that waited: %v", err)
	}
	if hook.then != nil {
		t.Fatal("the other copy never ran: the test no longer meets the race")
	}
	if n, b := e.tickets(c, "ann"), e.balance("ann"); n != 2 || b != 5 || res.Tickets != 2 {
		t.Fatalf("%d tickets (answered %d), balance %d; want 2 tickets and 5 points left", n, res.Tickets, b)
	}
}

func winners(c contests.Contest) []string {
	var out []string
	for _, w := range c.Result.Winners {
		out = append(out, w.User)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// earnMidPurchase is a Spender that, right after the first payment of a
// ticket slot, lets an earned ticket take that slot, as an event landing
// between a purchase's payment and its claim would.
type earnMidPurchase struct {
	*points.Service
	e    *env
	c    contests.Contest
	once sync.Once
}

func (s *earnMidPurchase) Spend(ctx context.Context, sp points.Spend) (points.Change, error) {
	ch, err := s.Service.Spend(ctx, sp)
	s.once.Do(func() {
		n := s.e.tickets(s.c, sp.User) + 1
		en := contests.Entry{Tenant: "acme", Contest: s.c.ID, User: sp.User, Entrant: contests.Entrant("acme", sp.User),
			N: n, Source: "event:visit-" + sp.User, At: s.e.now}
		if _, err := s.e.store.AddContestEntry(ctx, en); err != nil {
			s.e.t.Error(err)
		}
	})
	return ch, err
}

// TestPurchaseRaceRefunds: an earned ticket taking the slot a purchase
// has just paid for costs the buyer nothing: the slot's payment is
// refunded once, whether the purchase then gets the next slot or meets the
// cap, and a retry of the purchase changes nothing.
func TestPurchaseRaceRefunds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		held     int64 // tickets the buyer holds before (cap 3)
		tickets  int64 // after the purchase of one
		balance  int64 // of 100, tickets at 10
		wantCode string
	}{
		{"next slot free", 0, 2, 90, ""},
		{"raced to the cap", 2, 3, 100, "entry-cap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			d := drawDef(e.now)
			d.PointsPerEntry = 10
			c := e.create(d)
			ctx := context.Background()
			for i := range tc.held {
				en := contests.Entry{Tenant: "acme", Contest: c.ID, User: "ann", Entrant: contests.Entrant("acme", "ann"),
					N: i + 1, Source: fmt.Sprintf("event:old-%d", i), At: e.now}
				if _, err := e.store.AddContestEntry(ctx, en); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := e.pts.PayOnce(ctx, "acme", "ann", 100, "gift", "gift", ""); err != nil {
				t.Fatal(err)
			}
			sp := &earnMidPurchase{Service: e.pts, e: e, c: c}
			e.svc.Spender = sp
			for try := range 2 { // the purchase, then its retry
				_, err := e.svc.Enter(ctx, "acme", "ann", c.ID, "p1", contests.EnterInput{Buy: 1})
				if x, ok := errs.As(err); (tc.wantCode == "" && err != nil) || (tc.wantCode != "" && (!ok || x.Code != tc.wantCode)) {
					t.Fatalf("try %d: %v, want %q", try, err, tc.wantCode)
				}
				if n, b := e.tickets(c, "ann"), e.balance("ann"); n != tc.tickets || b != tc.balance {
					t.Fatalf("try %d: %d tickets, balance %d; want %d, %d", try, n, b, tc.tickets, tc.balance)
				}
			}
		})
	}
}

// TestRewardPrizes: a reward prize is checked against the stock when the
// contest is made, granted without payment once per place across a crash
// and racing draws, and a place whose stock ran out since records why.
func TestRewardPrizes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	newReward := func(stock int64) points.Reward {
		r, err := e.pts.CreateReward(ctx, "acme", points.Reward{Name: "Mug", Kind: points.KindGenerated, Cost: 500, Stock: &stock, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	mug, hat := newReward(3), newReward(2)
	d := drawDef(e.now)
	d.Prizes = []contests.Prize{{Description: "a mug", Quantity: 2, Reward: mug.ID}, {Description: "a cap", Quantity: 2, Reward: hat.ID}}
	for _, tc := range []struct {
		name   string
		prizes []contests.Prize
		code   string
	}{
		{"stock short", []contests.Prize{{Description: "mugs", Quantity: 4, Reward: mug.ID}}, "prize-out-of-stock"},
		{"no such reward", []contests.Prize{{Description: "?", Quantity: 1, Reward: "nope"}}, "bad-contest"},
	} {
		bad := drawDef(e.now)
		bad.Prizes = tc.prizes
		if _, err := e.svc.Create(ctx, "acme", bad); err == nil || func() bool { x, ok := errs.As(err); return !ok || x.Code != tc.code }() {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	c := e.create(d)
	// A player buys a cap meanwhile: one cap is left for two places.
	if _, _, err := e.pts.PayOnce(ctx, "acme", "zed", 500, "gift", "gift", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pts.Redeem(ctx, "acme", "zed", hat.ID, "r1"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		e.event(fmt.Sprintf("u%02d", i), "visit", nil)
	}
	e.now = e.now.Add(2 * time.Hour)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := e.svc.Draw(ctx, "acme", c.ID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	e.open() // a restart, then a repeat: nothing granted twice
	got, err := e.svc.Draw(ctx, "acme", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	granted, failed := 0, 0
	for _, w := range got.Result.Winners {
		rs, err := e.pts.Redemptions(ctx, "acme", w.User)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case w.Redemption != "" && len(rs) == 1 && rs[0].ID == w.Redemption && rs[0].Code != "" && rs[0].Cost == 0:
			granted++
		case w.RewardFailure == "out-of-stock" && w.Prize == 1 && w.PaidAt != nil:
			failed++
		default:
			t.Errorf("place %+v, redemptions %+v", w, rs)
		}
		if b := e.balance(w.User); b != 0 {
			t.Errorf("%s paid for a prize: balance %d", w.User, b)
		}
	}
	for _, tc := range []struct {
		r    points.Reward
		want int64
	}{{mug, 1}, {hat, 0}} {
		if left, err := e.pts.StockLeft(ctx, tc.r); err != nil || *left != tc.want {
			t.Errorf("%s: %v left (%v), want %d", tc.r.Name, *left, err, tc.want)
		}
	}
	if granted != 3 || failed != 1 {
		t.Fatalf("%d granted, %d out of stock; want 3, 1", granted, failed)
	}
}

// TestCloseJob: the close job draws a prize draw only once its close has
// settled and freezes a leaderboard contest at its end; two nodes running
// it at once, and a run after a restart, give one result paid once.
func TestCloseJob(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i, u := range []string{"amy", "bob", "cat"} {
		e.f.board = append(e.f.board, leaderboards.Row{Entry: leaderboards.Entry{Member: u, Score: int64(50 - i), Rank: int64(i + 1)}})
	}
	dr := e.create(drawDef(e.now))
	lb := e.create(contests.Definition{Name: "Top", Kind: contests.LeaderboardKind, StartsAt: e.now.Add(-time.Hour), EndsAt: e.now.Add(time.Hour),
		Prizes: []contests.Prize{{Description: "gold", Quantity: 1, Points: 30}}, Board: &contests.BoardSpec{Source: leaderboards.FromPoints}})
	later := e.create(drawDef(e.now.Add(24 * time.Hour)))
	for i := range 10 {
		e.event(fmt.Sprintf("u%02d", i), "visit", nil)
	}
	status := func(c contests.Contest) contests.Status {
		got, err := e.svc.Get(ctx, "acme", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	e.now = e.now.Add(time.Hour) // at the close: the draw is still settling
	if n, err := e.svc.CloseDue(ctx); err != nil || n != 1 || status(lb) != contests.Finished || status(dr) != contests.Open {
		t.Fatalf("at the close: %d closed, %v; board %s, draw %s", n, err, status(lb), status(dr))
	}
	e.now = e.now.Add(2 * time.Second) // settled (Settle is 1 s here)
	other := contests.NewService(e.svc.Config)
	var wg sync.WaitGroup
	for _, node := range []*contests.Service{e.svc, other, e.svc, other} {
		wg.Go(func() {
			if _, err := node.CloseDue(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	e.open() // a restart: the job finds nothing left to close
	if n, err := e.svc.CloseDue(ctx); err != nil || n != 0 {
		t.Fatalf("after the restart: %d closed, %v", n, err)
	}
	if status(dr) != contests.Finished || status(later) != contests.Open {
		t.Fatalf("draw %s, later %s", status(dr), status(later))
	}
	got, err := e.svc.Get(ctx, "acme", dr.ID)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, w := range got.Result.Winners {
		if w.PaidAt == nil {
			t.Fatalf("place %+v not paid", w)
		}
		total += e.balance(w.User)
	}
	if total != 120 || e.balance("amy") != 30 {
		t.Fatalf("draw winners hold %d points (want 120), amy %d (want 30)", total, e.balance("amy"))
	}
}
