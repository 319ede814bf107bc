package loyalty_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/loyalty"
	"github.com/questline/questline/loyalty/tier"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/sqlite"
)

// wallets is a fixed lifetime value per user.
type wallets struct {
	mu     sync.Mutex
	earned map[string]int64
}

func (w *wallets) Wallet(_ context.Context, _, user string) (points.Wallet, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return points.Wallet{Earned: w.earned[user]}, nil
}

func (w *wallets) EarnedInWindow(context.Context, string, string, time.Time, time.Time) (int64, error) {
	return 0, nil
}

// emitted records the system events, by idempotency key.
type emitted struct {
	mu   sync.Mutex
	keys map[string]int
}

func (e *emitted) Emit(_ context.Context, ev events.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keys[ev.Type+" "+ev.Props["to"].(string)]++
	return nil
}

// TestTierReviewJob runs the review job over a real store across review
// dates, with two runs overlapping and the store reopened in between (a
// restart): each downgrade happens once, one tier per review, at local
// midnight of the anniversary (Paris), leap day included.
func TestTierReviewJob(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	w := &wallets{earned: map[string]int64{"alice": 2500}}
	em := &emitted{keys: map[string]int{}}
	var now time.Time
	open := func() (*loyalty.Service, func()) {
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		s := loyalty.NewService(loyalty.Config{Store: st, Now: func() time.Time { return now }})
		s.SetTiers(loyalty.TierConfig{Wallets: w, Emitter: em})
		return s, func() { st.Close() }
	}
	s, closeStore := open()
	now = time.Date(2028, 2, 29, 9, 0, 0, 0, time.UTC)
	_, err := s.PutProgramme(ctx, "acme", 0, tier.Programme{Basis: tier.Lifetime,
		Review: tier.Review{Mode: tier.Anniversary, TimeZone: "Europe/Paris"},
		Tiers:  []tier.Tier{{Name: "bronze"}, {Name: "silver", Threshold: 500}, {Name: "gold", Threshold: 2000}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Earned(ctx, points.Entry{Tenant: "acme", User: "alice", Amount: 2500}); err != nil {
		t.Fatal(err)
	}
	w.earned["alice"] = 0 // from now on below every threshold but bronze's
	steps := []struct {
		at   time.Time
		tier string
	}{
		{time.Date(2029, 2, 27, 22, 59, 0, 0, time.UTC), "gold"},  // 23:59 in Paris, the 27th
		{time.Date(2029, 2, 27, 23, 0, 0, 0, time.UTC), "silver"}, // Feb 28 00:00 Paris: the leap day's anniversary
		{time.Date(2029, 6, 1, 0, 0, 0, 0, time.UTC), "silver"},
		{time.Date(2030, 2, 27, 23, 0, 0, 0, time.UTC), "bronze"}, // a year after the downgrade
		{time.Date(2031, 2, 27, 23, 0, 0, 0, time.UTC), "bronze"},
	}
	for i, st := range steps {
		now = st.at
		reviewOverlapping(t, s, now)
		closeStore() // a restart between runs
		s, closeStore = open()
		if _, err := s.ReviewTiers(ctx, now); err != nil {
			t.Fatal(err)
		}
		v, err := s.View(ctx, "acme", "alice")
		if err != nil {
			t.Fatal(err)
		}
		if v.Tier != st.tier {
			t.Fatalf("step %d at %s: tier %q, want %q", i, now, v.Tier, st.tier)
		}
	}
	closeStore()
	want := map[string]int{"tier.changed gold": 1, "tier.changed silver": 1, "tier.changed bronze": 1}
	for k, n := range want {
		if em.keys[k] != n {
			t.Fatalf("emitted %v, want each of %v once", em.keys, want)
		}
	}
}

// reviewOverlapping runs two review jobs at once, as two nodes would.
func reviewOverlapping(t *testing.T, s *loyalty.Service, now time.Time) {
	t.Helper()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := s.ReviewTiers(context.Background(), now); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// flakyEmitter fails its first fail emits, as a crash right after the
// standing's write would, and records the events it took by key.
type flakyEmitter struct {
	mu   sync.Mutex
	fail int
	keys map[string]string // idempotency key -> type and target tier
}

func (e *flakyEmitter) Emit(_ context.Context, ev events.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail > 0 {
		e.fail--
		return errors.New("crash")
	}
	e.keys[ev.IdempotencyKey] = ev.Type + " " + ev.Props["to"].(string)
	return nil
}

// TestTierAnnouncementSurvivesCrash: a tier change whose tier.changed
// could not be emitted (the process died after storing the standing) is
// emitted by the review job once it is overdue, after a restart, with two
// jobs overlapping, under the key it would have had, and only once.
func TestTierAnnouncementSurvivesCrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	w := &wallets{earned: map[string]int64{"alice": 600}}
	em := &flakyEmitter{fail: 1, keys: map[string]string{}}
	now := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	var store *sqlite.Store
	open := func() (*loyalty.Service, func()) {
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		store = st
		s := loyalty.NewService(loyalty.Config{Store: st, Now: func() time.Time { return now }})
		s.SetTiers(loyalty.TierConfig{Wallets: w, Emitter: em})
		return s, func() { st.Close() }
	}
	s, closeStore := open()
	if _, err := s.PutProgramme(ctx, "acme", 0, tier.Programme{Basis: tier.Lifetime, Review: tier.Review{Mode: tier.Calendar},
		Tiers: []tier.Tier{{Name: "bronze"}, {Name: "silver", Threshold: 500}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Earned(ctx, points.Entry{Tenant: "acme", User: "alice", Amount: 600}); err == nil {
		t.Fatal("the failed emit was not reported")
	}
	if v, err := s.View(ctx, "acme", "alice"); err != nil || v.Tier != "silver" {
		t.Fatalf("tier after the crash: %+v, %v", v, err)
	}
	closeStore() // the restart
	s, closeStore = open()
	defer func() { closeStore() }()
	review := func() { reviewOverlapping(t, s, now) }
	review()
	if len(em.keys) != 0 {
		t.Fatalf("announced before it was overdue: %v", em.keys)
	}
	now = now.Add(2 * time.Minute)
	review()
	review()
	if len(em.keys) != 1 || em.keys["tier.changed:alice:1"] != "tier.changed silver" {
		t.Fatalf("announced %v, want tier.changed silver once under the standing's key", em.keys)
	}
	st, _, err := store.TierState(ctx, "acme", "alice")
	if err != nil || len(st.Owed) != 0 || st.Tier != "silver" {
		t.Fatalf("standing after the review: %+v, %v", st, err)
	}
}
