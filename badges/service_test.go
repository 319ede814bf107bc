package badges_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/questline/questline/badges"
	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/storage/sqlite"
)

const tenant = "acme"

var start = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// recorder is a Notifier that keeps what it was asked to push.
type recorder struct {
	mu     sync.Mutex
	pushes []string // user/type/badge/tier
}

func (r *recorder) PublishUser(_ context.Context, _, user, typ string, data any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pushes = append(r.pushes, fmt.Sprintf("%s/%s/%v", user, typ, data))
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pushes)
}

type fixture struct {
	t     *testing.T
	ctx   context.Context
	store *sqlite.Store
	svc   *badges.Service
	push  *recorder

	mu  sync.Mutex
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, ctx: ctx, store: st, push: &recorder{}, now: start}
	f.svc = badges.NewService(st, f.push)
	badges.SetClock(f.svc, f.clock)
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func (f *fixture) publish(d badges.Definition) badges.Badge {
	f.t.Helper()
	b, err := f.svc.Create(f.ctx, tenant, d)
	if err != nil {
		f.t.Fatal(err)
	}
	if b, err = f.svc.Publish(f.ctx, tenant, b.ID); err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f *fixture) handle(ev events.Event) []events.Event {
	f.t.Helper()
	sys, err := f.svc.HandleEvent(f.ctx, ev, &events.Result{})
	if err != nil {
		f.t.Fatal(err)
	}
	return sys
}

func (f *fixture) awards(user string) []badges.Award {
	f.t.Helper()
	as, err := f.store.UserAwards(f.ctx, tenant, user)
	if err != nil {
		f.t.Fatal(err)
	}
	return as
}

func (f *fixture) mine(user, badgeID string) (badges.PlayerBadge, bool) {
	f.t.Helper()
	pbs, err := f.svc.ForPlayer(f.ctx, tenant, user)
	if err != nil {
		f.t.Fatal(err)
	}
	i := slices.IndexFunc(pbs, func(pb badges.PlayerBadge) bool { return pb.ID == badgeID })
	if i < 0 {
		return badges.PlayerBadge{}, false
	}
	return pbs[i], true
}

func event(user, typ string, props map[string]any, at time.Time) events.Event {
	id := uuid.Must(uuid.NewV7()).String()
	return events.Event{ID: id, Tenant: tenant, User: user, Type: typ, Props: props, OccurredAt: at, ReceivedAt: at, IdempotencyKey: id}
}

func share(user string, at time.Time) events.Event { return event(user, "share", nil, at) }

// tiers returns the tier prop of each badge.unlocked system event.
func tiers(t *testing.T, sys []events.Event) []string {
	t.Helper()
	var out []string
	for _, ev := range sys {
		if ev.Type != badges.UnlockedType || ev.Tenant != tenant {
			t.Fatalf("system event %+v", ev)
		}
		out = append(out, ev.Props["tier"].(string))
	}
	return out
}

func spender() badges.Definition {
	return badges.Definition{
		Name: "Big spender", ImageURL: "https://cdn.example.com/spender.png",
		Rule:  events.RuleDoc(`{"goals":[{"kind":"sum","event_type":"purchase","prop":"amount","target":10}]}`),
		Tiers: []badges.Tier{{Name: "bronze", Target: "10"}, {Name: "silver", Target: "50"}, {Name: "gold", Target: "100"}},
	}
}

func TestTiersInOneEvent(t *testing.T) {
	f := newFixture(t)
	b := f.publish(spender())
	ev := event("u1", "purchase", map[string]any{"amount": 120.0}, start)
	sys := f.handle(ev)
	if got := tiers(t, sys); !slices.Equal(got, []string{"bronze", "silver", "gold"}) {
		t.Fatalf("unlocked %v, want every tier", got)
	}
	as := f.awards("u1")
	if len(as) != 3 || f.push.count() != 3 {
		t.Fatalf("%d awards, %d pushes; want 3 of each", len(as), f.push.count())
	}
	for _, a := range as {
		if a.BadgeID != b.ID || a.EventID != ev.ID || a.Source != "event:"+ev.ID || a.Period != "" || a.ExpiresAt != nil || !a.AwardedAt.Equal(start) {
			t.Errorf("award %+v", a)
		}
		i := slices.IndexFunc(sys, func(e events.Event) bool { return e.IdempotencyKey == badges.UnlockedType+":"+a.ID })
		if i < 0 || sys[i].User != "u1" || sys[i].Props["badge_id"] != b.ID || sys[i].Props["tier"] != a.Tier || !sys[i].OccurredAt.Equal(a.AwardedAt) {
			t.Errorf("no system event for award %+v in %+v", a, sys)
		}
	}
	pb, _ := f.mine("u1", b.ID)
	if !pb.Earned || pb.NextTier != "" || pb.Progress != nil || len(pb.Awards) != 3 {
		t.Errorf("player view %+v, want every tier earned and nothing left", pb)
	}
}

func TestTiersAcrossEvents(t *testing.T) {
	f := newFixture(t)
	b := f.publish(spender())
	steps := []struct {
		amount float64
		want   []string
		next   string
		cur    float64
	}{
		{5.5, nil, "bronze", 5.5},
		{14.5, []string{"bronze"}, "silver", 20},
		{40, []string{"silver"}, "gold", 60},
		{0.001, nil, "gold", 60.001},
		{39.999, []string{"gold"}, "", 0},
		{500, nil, "", 0},
	}
	for i, st := range steps {
		sys := f.handle(event("u1", "purchase", map[string]any{"amount": st.amount}, start.Add(time.Duration(i)*time.Minute)))
		if got := tiers(t, sys); !slices.Equal(got, st.want) {
			t.Fatalf("step %d: unlocked %v, want %v", i, got, st.want)
		}
		pb, _ := f.mine("u1", b.ID)
		if pb.NextTier != st.next {
			t.Fatalf("step %d: next tier %q, want %q", i, pb.NextTier, st.next)
		}
		if st.next != "" && (len(pb.Progress) != 1 || pb.Progress[0].Current != st.cur) {
			t.Fatalf("step %d: progress %+v, want %v", i, pb.Progress, st.cur)
		}
	}
	if n := f.push.count(); n != 3 {
		t.Errorf("%d pushes, want 3", n)
	}
}

// "3 challenges this month", in New York: a challenge completed at 23:30
// on 31 January local time is a January one, though it is February in UTC.
func TestChallengesThisMonth(t *testing.T) {
	f := newFixture(t)
	b := f.publish(badges.Definition{Name: "Busy month", Rule: events.RuleDoc(
		`{"goals":[{"kind":"count","event_type":"challenge.completed","target":3}],"window":{"recurrence":"monthly","time_zone":"America/New_York"}}`)})
	done := func(user, at string) []events.Event {
		ts, err := time.Parse(time.RFC3339, at)
		if err != nil {
			t.Fatal(err)
		}
		return f.handle(event(user, "challenge.completed", map[string]any{"challenge_id": uuid.NewString()}, ts))
	}
	for _, u := range []string{"jan", "feb"} {
		done(u, "2026-01-10T15:00:00Z")
		done(u, "2026-01-20T15:00:00Z")
	}
	if sys := done("jan", "2026-02-01T04:30:00Z"); len(sys) != 1 { // 23:30 on 31 Jan in New York
		t.Fatalf("third challenge in January local time: %+v", sys)
	}
	if sys := done("feb", "2026-02-01T05:30:00Z"); len(sys) != 0 { // 00:30 on 1 Feb
		t.Fatalf("first challenge of February completed January's badge: %+v", sys)
	}
	if as := f.awards("jan"); len(as) != 1 || as[0].Period != "2026-01" || as[0].BadgeID != b.ID {
		t.Errorf("awards %+v, want one for 2026-01", as)
	}
	if as := f.awards("feb"); len(as) != 0 {
		t.Errorf("awards %+v, want none", as)
	}
	// February counts afresh.
	done("jan", "2026-02-02T15:00:00Z")
	done("jan", "2026-02-03T15:00:00Z")
	done("jan", "2026-02-04T15:00:00Z")
	if as := f.awards("jan"); len(as) != 2 || as[0].Period != "2026-02" {
		t.Errorf("awards %+v, want January's and February's", as)
	}
}

func TestLifetimePoints(t *testing.T) {
	f := newFixture(t)
	b := f.publish(badges.Definition{Name: "1,000 points", Rule: events.RuleDoc(
		`{"goals":[{"kind":"sum","event_type":"points.earned","prop":"amount","target":1000,"label":"points earned"}]}`)})
	earn := func(amount any, i int) []events.Event {
		return f.handle(event("u1", "points.earned", map[string]any{"amount": amount, "key": fmt.Sprint("k", i)}, start.Add(time.Duration(i)*time.Second)))
	}
	for i, amount := range []any{400.0, 599.999, "1000", -5.0} { // a string and a refund do not count
		if sys := earn(amount, i); len(sys) != 0 {
			t.Fatalf("%v points awarded %+v", amount, sys)
		}
	}
	pb, _ := f.mine("u1", b.ID)
	if pb.Earned || len(pb.Progress) != 1 || pb.Progress[0].Current != 999.999 || pb.Progress[0].Target != 1000 || pb.Progress[0].Label != "points earned" {
		t.Fatalf("player view %+v, want 999.999 of 1000", pb)
	}
	if sys := earn(0.001, 9); len(sys) != 1 {
		t.Fatalf("the last thousandth awarded %+v", sys)
	}
	if pb, _ = f.mine("u1", b.ID); !pb.Earned || pb.Progress != nil {
		t.Errorf("player view %+v, want earned", pb)
	}
}

func TestLimitedEditionRace(t *testing.T) {
	f := newFixture(t)
	b := f.publish(badges.Definition{Name: "First three", Limit: 3, Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"share","target":1}]}`)})
	var wg sync.WaitGroup
	emitted := make([][]events.Event, 10)
	for i := range emitted {
		wg.Go(func() {
			sys, err := f.svc.HandleEvent(f.ctx, share(fmt.Sprint("u", i), start), &events.Result{})
			if err != nil {
				t.Error(err)
			}
			emitted[i] = sys
		})
	}
	wg.Wait()
	var editions []int64
	winners := 0
	for i, sys := range emitted {
		as := f.awards(fmt.Sprint("u", i))
		if len(as) != len(sys) || len(as) > 1 {
			t.Fatalf("user %d: awards %+v, emitted %+v", i, as, sys)
		}
		for _, a := range as {
			editions = append(editions, a.Edition)
			winners++
		}
	}
	slices.Sort(editions)
	if !slices.Equal(editions, []int64{1, 2, 3}) || f.push.count() != 3 {
		t.Fatalf("editions %v and %d pushes, want 1, 2, 3 and 3 pushes", editions, f.push.count())
	}
	if n, _ := f.store.CountAwards(f.ctx, tenant, b.ID, ""); n != 3 {
		t.Errorf("%d awards stored", n)
	}
	// Sold out: later earners get nothing, and see none left.
	if sys := f.handle(share("late", start)); len(sys) != 0 {
		t.Errorf("a late earner got %+v", sys)
	}
	if pb, ok := f.mine("late", b.ID); !ok || pb.Remaining == nil || *pb.Remaining != 0 || pb.Earned {
		t.Errorf("late player's view %+v", pb)
	}
}

func TestSameEventConcurrently(t *testing.T) {
	f := newFixture(t)
	f.publish(spender())
	ev := event("u1", "purchase", map[string]any{"amount": 60.0}, start)
	var wg sync.WaitGroup
	emitted := make([][]events.Event, 20)
	for i := range emitted {
		wg.Go(func() {
			sys, err := f.svc.HandleEvent(f.ctx, ev, &events.Result{})
			if err != nil {
				t.Error(err)
			}
			emitted[i] = sys
		})
	}
	wg.Wait()
	if as := f.awards("u1"); len(as) != 2 || f.push.count() != 2 {
		t.Fatalf("%d awards, %d pushes; want bronze and silver once each", len(as), f.push.count())
	}
	for i, sys := range emitted {
		if !sameEvents(sys, emitted[0]) || len(sys) != 2 {
			t.Errorf("copy %d emitted %+v, copy 0 %+v", i, sys, emitted[0])
		}
	}
}

// A replay of the event that made an award (the sweeper, after a crash
// that struck before its system events were stored) emits them again,
// the same, and pushes nothing.
func TestReplayEmitsTheSame(t *testing.T) {
	f := newFixture(t)
	f.publish(spender())
	ev := event("u1", "purchase", map[string]any{"amount": 15.0}, start)
	first := f.handle(ev)
	f.advance(time.Hour)
	f.handle(event("u1", "purchase", map[string]any{"amount": 1.0}, start.Add(time.Minute)))
	again := f.handle(ev)
	if len(first) != 1 || !sameEvents(first, again) {
		t.Fatalf("first run emitted %+v, the replay %+v", first, again)
	}
	if f.push.count() != 1 {
		t.Errorf("%d pushes, want 1", f.push.count())
	}
}

func sameEvents(a, b []events.Event) bool {
	return slices.EqualFunc(a, b, func(x, y events.Event) bool {
		return x.IdempotencyKey == y.IdempotencyKey && x.Type == y.Type && x.User == y.User &&
			x.OccurredAt.Equal(y.OccurredAt) && fmt.Sprint(x.Props) == fmt.Sprint(y.Props)
	})
}

func TestHiddenBadge(t *testing.T) {
	f := newFixture(t)
	open := f.publish(badges.Definition{Name: "Liker", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"like","target":5}]}`)})
	secret := f.publish(badges.Definition{Name: "Night owl", Hidden: true, Rule: events.RuleDoc(
		`{"goals":[{"kind":"count","event_type":"app_open","target":1,"filters":[{"prop":"hour","op":"lt","value":5}]}]}`)})
	draft, err := f.svc.Create(f.ctx, tenant, badges.Definition{Name: "Draft", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"like","target":1}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	pbs, err := f.svc.ForPlayer(f.ctx, tenant, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(pbs) != 1 || pbs[0].ID != open.ID {
		t.Fatalf("before earning: %+v, want only %s", pbs, open.Name)
	}
	f.handle(event("u1", "app_open", map[string]any{"hour": 14.0}, start))
	if _, ok := f.mine("u1", secret.ID); ok {
		t.Fatal("the secret shows before it is earned")
	}
	f.handle(event("u1", "app_open", map[string]any{"hour": 3.0}, start))
	pb, ok := f.mine("u1", secret.ID)
	if !ok || !pb.Earned {
		t.Fatalf("the secret, once earned: %+v, %v", pb, ok)
	}
	if _, ok := f.mine("u2", secret.ID); ok {
		t.Error("another player sees the secret")
	}
	if _, ok := f.mine("u1", draft.ID); ok {
		t.Error("a draft shows")
	}
	sc, err := f.svc.Showcase(f.ctx, tenant, "u1")
	if err != nil || len(sc) != 1 || sc[0].Name != "Night owl" {
		t.Errorf("showcase %+v, %v", sc, err)
	}
}

func TestExpiry(t *testing.T) {
	f := newFixture(t)
	once := f.publish(badges.Definition{Name: "Once", ValidFor: "1d", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"share","target":1}]}`)})
	daily := f.publish(badges.Definition{Name: "Daily", ValidFor: "1d", Rule: events.RuleDoc(
		`{"goals":[{"kind":"count","event_type":"share","target":1}],"window":{"recurrence":"daily"}}`)})
	if sys := f.handle(share("u1", start)); len(sys) != 2 {
		t.Fatalf("first share unlocked %+v", sys)
	}
	for _, a := range f.awards("u1") {
		if a.ExpiresAt == nil || !a.ExpiresAt.Equal(start.Add(24*time.Hour)) {
			t.Errorf("award %+v, want it to expire a day after %v", a, start)
		}
	}
	f.advance(25 * time.Hour)
	pb, _ := f.mine("u1", once.ID)
	if pb.Earned || len(pb.Awards) != 1 || !pb.Awards[0].Expired || pb.Progress != nil {
		t.Errorf("expired one-off badge: %+v; want held no longer, flagged, nothing to earn", pb)
	}
	if sc, _ := f.svc.Showcase(f.ctx, tenant, "u1"); len(sc) != 0 {
		t.Errorf("showcase %+v, want nothing held", sc)
	}
	// The daily one is earned again the next day; the one-off never.
	sys := f.handle(share("u1", start.Add(25*time.Hour)))
	if len(sys) != 1 || sys[0].Props["badge_id"] != daily.ID {
		t.Fatalf("next day unlocked %+v, want only the daily badge", sys)
	}
	pb, _ = f.mine("u1", daily.ID)
	if !pb.Earned || len(pb.Awards) != 2 || pb.Awards[0].Expired || !pb.Awards[1].Expired || pb.Awards[0].Period != "2026-03-11" {
		t.Errorf("daily badge %+v", pb)
	}
	if pb.ResetsAt == nil || !pb.ResetsAt.Equal(time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("resets at %v", pb.ResetsAt)
	}
	if sc, _ := f.svc.Showcase(f.ctx, tenant, "u1"); len(sc) != 1 || sc[0].BadgeID != daily.ID || sc[0].Periods != 1 {
		t.Errorf("showcase %+v, want today's daily badge", sc)
	}
}

func TestAward(t *testing.T) {
	f := newFixture(t)
	b := f.publish(badges.Definition{Name: "Finisher", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"like","target":100}]}`),
		Tiers: []badges.Tier{{Name: "one", Target: "100"}, {Name: "two", Target: "200"}}})
	draft, _ := f.svc.Create(f.ctx, tenant, badges.Definition{Name: "Draft", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"like","target":1}]}`)})
	if _, err := f.svc.Award(f.ctx, tenant, "u1", "nope", "challenge:c1", "e1"); errs.KindOf(err) != errs.NotFound {
		t.Errorf("unknown badge: %v", err)
	}
	if _, err := f.svc.Award(f.ctx, tenant, "u1", draft.ID, "challenge:c1", "e1"); errs.KindOf(err) != errs.Conflict {
		t.Errorf("draft badge: %v", err)
	}
	first, err := f.svc.Award(f.ctx, tenant, "u1", b.ID, "challenge:c1", "e1")
	if err != nil || len(first) != 1 || first[0].Props["tier"] != "one" {
		t.Fatalf("award: %+v, %v", first, err)
	}
	again, err := f.svc.Award(f.ctx, tenant, "u1", b.ID, "challenge:c1", "e1")
	if err != nil || !sameEvents(first, again) {
		t.Errorf("retry: %+v, %v; want %+v", again, err, first)
	}
	other, err := f.svc.Award(f.ctx, tenant, "u1", b.ID, "challenge:c2", "e2")
	if err != nil || len(other) != 0 {
		t.Errorf("awarded by another event: %+v, %v", other, err)
	}
	if as := f.awards("u1"); len(as) != 1 || as[0].Source != "challenge:c1" || as[0].EventID != "e1" || f.push.count() != 1 {
		t.Errorf("awards %+v, %d pushes", as, f.push.count())
	}
	limited := f.publish(badges.Definition{Name: "One only", Limit: 1, Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"like","target":1}]}`)})
	if sys, err := f.svc.Award(f.ctx, tenant, "u1", limited.ID, "challenge:c1", "e1"); err != nil || len(sys) != 1 {
		t.Fatalf("limited: %+v, %v", sys, err)
	}
	if sys, err := f.svc.Award(f.ctx, tenant, "u2", limited.ID, "challenge:c1", "e3"); err != nil || len(sys) != 0 {
		t.Errorf("sold out: %+v, %v; want nothing and no error", sys, err)
	}
}

func TestUpdate(t *testing.T) {
	f := newFixture(t)
	rule := events.RuleDoc(`{"goals":[{"kind":"count","event_type":"like","target":2}]}`)
	b, err := f.svc.Create(f.ctx, tenant, badges.Definition{Name: "Liker", Rule: rule})
	if err != nil {
		t.Fatal(err)
	}
	other := events.RuleDoc(`{"goals":[{"kind":"count","event_type":"like","target":3}]}`)
	if b, err = f.svc.Update(f.ctx, tenant, b.ID, badges.Patch{Rule: other}); err != nil || b.Rule.Goals[0].Target != "3" || b.Version != 2 {
		t.Fatalf("draft rule change: %+v, %v", b, err)
	}
	if b, err = f.svc.Publish(f.ctx, tenant, b.ID); err != nil {
		t.Fatal(err)
	}
	name, limit := "Big liker", int64(5)
	if b, err = f.svc.Update(f.ctx, tenant, b.ID, badges.Patch{Name: &name, Rule: other}); err != nil || b.Name != name {
		t.Errorf("published, new name and the same rule: %+v, %v", b, err)
	}
	for _, p := range []badges.Patch{{Rule: rule}, {Limit: &limit}, {Tiers: &[]badges.Tier{{Name: "a", Target: "3"}}}} {
		if _, err := f.svc.Update(f.ctx, tenant, b.ID, p); !isError(err, errs.Conflict, "badge-published") {
			t.Errorf("published, patch %+v: %v", p, err)
		}
	}
	if _, err := f.svc.Archive(f.ctx, tenant, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Publish(f.ctx, tenant, b.ID); !isError(err, errs.Conflict, "bad-transition") {
		t.Errorf("republishing an archived badge: %v", err)
	}
	if _, err := f.svc.Update(f.ctx, tenant, "nope", badges.Patch{Name: &name}); errs.KindOf(err) != errs.NotFound {
		t.Errorf("unknown badge: %v", err)
	}
}

func isError(err error, kind errs.Kind, code string) bool {
	e, ok := errs.As(err)
	return ok && e.Kind == kind && e.Code == code
}

func TestPreview(t *testing.T) {
	f := newFixture(t)
	quiet := func(ev events.Event) bool {
		q, err := f.svc.Preview(f.ctx, ev, &events.Result{})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	if !quiet(share("u1", start)) {
		t.Error("no badges, not quiet")
	}
	f.publish(badges.Definition{Name: "Sharer", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"share","target":1}]}`)})
	if quiet(share("u1", start)) {
		t.Error("an event that earns a badge is quiet")
	}
	if !quiet(event("u1", "like", nil, start)) {
		t.Error("an event no badge counts is not quiet")
	}
	f.handle(share("u1", start))
	if !quiet(share("u1", start)) {
		t.Error("an event for a badge held is not quiet")
	}
}

func TestPlayerView(t *testing.T) {
	f := newFixture(t)
	b := f.publish(badges.Definition{Name: "Monthly sharer", Limit: 10, Rule: events.RuleDoc(
		`{"goals":[{"kind":"count","event_type":"share","target":2}],"window":{"recurrence":"monthly","time_zone":"Europe/Paris"}}`),
		Tiers: []badges.Tier{{Name: "bronze", Target: "2"}, {Name: "silver", Target: "5"}}})
	for i := range 3 {
		f.handle(share("u1", start.Add(time.Duration(i)*time.Hour)))
	}
	pb, ok := f.mine("u1", b.ID)
	switch {
	case !ok || !pb.Earned || len(pb.Awards) != 1 || pb.Awards[0].Tier != "bronze" || pb.Awards[0].Edition != 1:
		t.Errorf("awards %+v", pb)
	case pb.NextTier != "silver" || len(pb.Progress) != 1 || pb.Progress[0].Current != 3 || pb.Progress[0].Target != 5:
		t.Errorf("next %q, progress %+v; want 3 of 5 towards silver", pb.NextTier, pb.Progress)
	case pb.Remaining == nil || *pb.Remaining != 9:
		t.Errorf("remaining %v, want 9", pb.Remaining)
	case pb.ResetsAt == nil || !pb.ResetsAt.Equal(time.Date(2026, 3, 31, 22, 0, 0, 0, time.UTC)):
		t.Errorf("resets at %v, want midnight on 1 April in Paris", pb.ResetsAt)
	}
	if pb, _ := f.mine("u2", b.ID); pb.Earned || pb.NextTier != "bronze" || pb.Progress[0].Current != 0 || pb.Progress[0].Target != 2 {
		t.Errorf("a newcomer's view %+v", pb)
	}
}

// Through the event pipeline: badge.unlocked re-enters the rules, so a
// badge for collecting badges is just a rule.
func TestCollectorThroughEvents(t *testing.T) {
	f := newFixture(t)
	evs := events.NewService(f.store, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), f.svc)
	t.Cleanup(evs.Close)
	f.publish(badges.Definition{Name: "First share", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"share","target":1}]}`)})
	f.publish(badges.Definition{Name: "Second share", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"share","target":2}]}`)})
	collector := f.publish(badges.Definition{Name: "Collector", Rule: events.RuleDoc(`{"goals":[{"kind":"count","event_type":"badge.unlocked","target":2}]}`)})
	for i := range 2 {
		if _, err := evs.Ingest(f.ctx, events.Event{Tenant: tenant, User: "u1", Type: "share", OccurredAt: start.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	as := f.awards("u1")
	if len(as) != 3 || as[0].BadgeID != collector.ID {
		t.Fatalf("awards %+v, want two and then the collector's", as)
	}
}
