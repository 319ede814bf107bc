package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/points"
)

// testOwedChanges: a change owing its event is stored owing it (and a
// repeat says so), listed across tenants oldest first before a time, up
// to a limit, until cleared by key in its tenant only.
func testOwedChanges(t *testing.T, s WalletStore) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour).Truncate(time.Millisecond) }
	apply := func(tn, user, key string, h int, owes string) points.Change {
		t.Helper()
		got, applied, err := s.ApplyChange(c, tn, user, key, func(_ context.Context, w points.WalletView) (points.Change, error) {
			bal := w.Balance()
			bal.Held += 5
			bal.Earned += 5
			return points.Change{Kind: points.KindCredit, Amount: 5, Balance: bal, At: at(h), Owes: owes}, nil
		})
		must(t, err)
		eq(t, "applied "+key, applied, true)
		return got
	}
	apply(a, "u1", "k1", 3, points.EventExpired)
	apply(b, "u1", "k1", 1, points.EventExpired)
	apply(a, "u2", "k2", 2, points.EventExpired)
	apply(a, "u2", "k3", 0, "") // owes nothing
	apply(a, "u3", "k4", 6, points.EventExpired)
	listed := func(before time.Time, limit int) []string {
		t.Helper()
		owed, err := s.OwedChanges(c, before, limit)
		must(t, err)
		var out []string
		for _, o := range owed {
			if o.Tenant == a || o.Tenant == b {
				eq(t, "owes of "+o.Change.Key, o.Change.Owes, points.EventExpired)
				out = append(out, fmt.Sprintf("%s/%s/%s/%d", o.Tenant, o.Change.Key, o.Change.User, o.Change.Amount))
			}
		}
		return out
	}
	eq(t, "owed before hour 4", listed(at(4), 10), []string{b + "/k1/u1/5", a + "/k2/u2/5", a + "/k1/u1/5"})
	eq(t, "owed, limit 2", listed(at(4), 2), []string{b + "/k1/u1/5", a + "/k2/u2/5"})
	eq(t, "owed before hour 1", listed(at(1), 10), []string(nil))
	ch, err := s.ChangeByKey(c, a, "k1")
	must(t, err)
	eq(t, "stored owing", ch.Owes, points.EventExpired)
	again, applied, err := s.ApplyChange(c, a, "u1", "k1", func(context.Context, points.WalletView) (points.Change, error) {
		return points.Change{}, errors.New("planned again")
	})
	must(t, err)
	eq(t, "repeat applied", applied, false)
	eq(t, "repeat owes", again.Owes, points.EventExpired)

	must(t, s.ClearOwed(c, a, []string{"k1", "k3", "nothing"}))
	must(t, s.ClearOwed(c, a, []string{"k1"})) // again: nothing left to clear
	eq(t, "owed after a clear", listed(at(10), 10), []string{b + "/k1/u1/5", a + "/k2/u2/5", a + "/k4/u3/5"})
	ch, err = s.ChangeByKey(c, a, "k1")
	must(t, err)
	eq(t, "cleared", ch.Owes, "")
	eq(t, "cleared change kept", ch.Amount, int64(5))
	must(t, s.ClearOwed(c, b, []string{"k1"}))
	must(t, s.ClearOwed(c, a, []string{"k2", "k4"}))
	eq(t, "owed after clearing all", listed(at(10), 10), []string(nil))
}

// RunExpiryCrash: an expiry run that dies after its changes are stored
// and before their points.expired events are emitted leaves the events
// owed; after a restart (open reopens the test's one database), two
// overlapping runs past the grace emit them, so every expiry change has
// exactly one points.expired with its amount, and nothing stays owed.
func RunExpiryCrash(t *testing.T, open func(t *testing.T) NodeStore) {
	c, tn := ctx(t), tenant(t, "a")
	now := time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
	s := open(t)
	if s == nil {
		t.FailNow() // open reported why
	}
	svc := walletService(s, &now)
	_, err := svc.PutPolicy(c, tn, points.Policy{Expiry: points.ExpireQuarters})
	must(t, err)
	const users = 20
	for u := range users {
		for l := range 3 {
			now = now.Add(time.Minute)
			credit(t, svc, tn, fmt.Sprint("u", u), fmt.Sprintf("k:%d:%d", u, l), int64(u+l+1))
		}
	}
	stream := &recorder{} // the event stream, keyed: it outlives the process
	crash := &crashingEmitter{next: stream, left: 5}
	svc.SetEmitter(crash)
	now = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	if _, err := svc.Expire(c, now, nil); !errors.Is(err, errCrash) {
		t.Fatalf("run that dies: %v", err)
	}
	// The dying run's page never got to its clear: every change owes.
	eq(t, "owed after the run that died", len(owedOf(t, s, tn)), users)
	must(t, s.Close())

	s = open(t)
	if s == nil {
		t.FailNow()
	}
	defer s.Close()
	svc = walletService(s, &now)
	svc.SetEmitter(stream)
	emitted := len(stream.ofType(points.EventExpired))
	if emitted >= users {
		t.Fatalf("the run that died emitted %d points.expired of %d", emitted, users)
	}
	// Within the grace the owed events are the dying run's to emit.
	r, err := svc.Expire(c, now, nil)
	must(t, err)
	eq(t, "run within the grace", r, points.ExpiryReport{})
	eq(t, "points.expired within the grace", len(stream.ofType(points.EventExpired)), emitted)

	now = now.Add(time.Hour) // the next hourly run, on two nodes at once
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		owed int64
	)
	for range 2 {
		wg.Go(func() {
			r, err := svc.Expire(c, now, nil)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			owed += r.Owed
			if r.Changes != 0 {
				t.Errorf("a run after the crash made %d changes", r.Changes)
			}
		})
	}
	wg.Wait()
	if owed < int64(users-emitted) {
		t.Fatalf("runs emitted %d owed events, %d were owed", owed, users-emitted)
	}
	checkExpiredOnce(t, s, stream, tn, users)
	eq(t, "owed after the runs", owedOf(t, s, tn), []string(nil))
}

// owedOf lists the keys of the tenant's changes owing their event.
func owedOf(t *testing.T, s WalletStore, tn string) []string {
	t.Helper()
	owed, err := s.OwedChanges(ctx(t), time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC), 1000)
	must(t, err)
	var out []string
	for _, o := range owed {
		if o.Tenant == tn {
			out = append(out, o.Change.Key)
		}
	}
	return out
}

// checkExpiredOnce checks that the tenant's users u0..u<users-1> each
// had one expiry change, with one points.expired of its amount.
func checkExpiredOnce(t *testing.T, s WalletStore, stream *recorder, tn string, users int) {
	t.Helper()
	c := ctx(t)
	byKey := map[string]events.Event{}
	for _, ev := range stream.ofType(points.EventExpired) {
		byKey[ev.Props["key"].(string)] = ev
	}
	var keys []string
	for u := range users {
		user := fmt.Sprint("u", u)
		checkWallet(t, s, tn, user, 0)
		lots, err := s.UserLots(c, tn, user, "", 10)
		must(t, err)
		// Its lots expire at one time: the change is keyed by the first.
		key := "expiry:" + slices.MinFunc(lots, func(x, y points.Lot) int { return strings.Compare(x.ID, y.ID) }).ID
		e, err := s.EntryByKey(c, tn, key)
		must(t, err)
		ev, ok := byKey[key]
		if !ok || ev.User != user || ev.Tenant != tn || ev.Props["amount"] != float64(-e.Amount) || ev.IdempotencyKey != points.EventExpired+":"+key {
			t.Fatalf("points.expired of %s (%d points): %+v, %v", key, -e.Amount, ev, ok)
		}
		keys = append(keys, key)
	}
	eq(t, "points.expired events", len(byKey), len(keys))
}

var errCrash = errors.New("the process died")

// crashingEmitter passes left points.expired events on, then fails every
// emit, as a process that dies after its changes are stored.
type crashingEmitter struct {
	next points.Emitter
	mu   sync.Mutex
	left int
}

func (e *crashingEmitter) Emit(ctx context.Context, ev events.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.left == 0 {
		return errCrash
	}
	if ev.Type == points.EventExpired {
		e.left--
	}
	return e.next.Emit(ctx, ev)
}
