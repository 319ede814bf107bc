package events_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/storage/sqlite"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// flaky fails every event whose "bad" prop is true until healed.
type flaky struct {
	mu     sync.Mutex
	healed bool
	calls  map[string]int
}

func (f *flaky) HandleEvent(_ context.Context, ev events.Event, _ *events.Result) ([]events.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[ev.ID]++
	if ev.Props["bad"] == true && !f.healed {
		return nil, errors.New("backend down")
	}
	return nil, nil
}

func (f *flaky) heal() { f.mu.Lock(); f.healed = true; f.mu.Unlock() }

// fixture is an event service over a SQLite file, with a movable clock;
// reopen simulates a restart on the same file.
type fixture struct {
	t     *testing.T
	path  string
	h     events.Handler
	now   time.Time
	store *sqlite.Store
	svc   *events.Service
	reg   *prometheus.Registry
}

func newFixture(t *testing.T, h events.Handler) *fixture {
	f := &fixture{t: t, path: filepath.Join(t.TempDir(), "q.db"), h: h, now: t0}
	f.open()
	t.Cleanup(f.close)
	return f
}

func (f *fixture) open() {
	s, err := sqlite.Open(context.Background(), f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.store, f.reg = s, prometheus.NewRegistry()
	f.svc = events.NewService(s, slog.New(slog.DiscardHandler), f.reg, f.h)
	events.SetClock(f.svc, func() time.Time { return f.now })
}

func (f *fixture) close() {
	if f.store == nil {
		return
	}
	f.svc.Close()
	f.store.Close()
	f.store = nil
}

func (f *fixture) reopen() { f.close(); f.open() }

// insert stores an unprocessed event received at.
func (f *fixture) insert(key string, bad bool, at time.Time) events.Event {
	f.t.Helper()
	ev, _, err := f.store.InsertEvent(context.Background(), events.Event{
		Tenant: "acme", User: "u1", Type: "share", Props: map[string]any{"bad": bad},
		OccurredAt: at, ReceivedAt: at, IdempotencyKey: key, Source: "player", Fingerprint: key,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return ev
}

// get reads an event back by its key.
func (f *fixture) get(key string) events.Event {
	f.t.Helper()
	f.svc.Close() // let the processed marks land
	ev, _, err := f.store.InsertEvent(context.Background(), events.Event{Tenant: "acme", IdempotencyKey: key})
	if err != nil {
		f.t.Fatal(err)
	}
	return ev
}

// TestSweepFailuresDoNotBlockNewer: 250 events that always fail, older
// than a good one, do not keep the sweeper from finishing it in the same
// tick; each failure is counted and scheduled.
func TestSweepFailuresDoNotBlockNewer(t *testing.T) {
	h := &flaky{calls: map[string]int{}}
	f := newFixture(t, h)
	for i := range 250 {
		f.insert(fmt.Sprint("bad-", i), true, t0.Add(-time.Hour+time.Duration(i)*time.Millisecond))
	}
	good := f.insert("good", false, t0.Add(-time.Minute))
	events.SweepAll(f.svc, 0)
	if ev := f.get("good"); !ev.Processed {
		t.Fatalf("good event %s still unprocessed after a sweep", good.ID)
	}
	bad := f.get("bad-7")
	if bad.Attempts != 1 || bad.NextAttemptAt == nil || !bad.NextAttemptAt.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("failed event: attempts %d next %v, want 1 at %v", bad.Attempts, bad.NextAttemptAt, t0.Add(2*time.Second))
	}
	if n := h.calls[bad.ID]; n != 1 {
		t.Fatalf("failing event tried %d times in one tick, want 1", n)
	}
}

// TestSweepBackoffDeadLetterRetry: a failing event is retried only when
// its backoff, which doubles, has passed; the count survives a restart;
// after MaxAttempts it is dead (listed, counted by the metric) and no
// longer tried; a retry by ops processes it once healed.
func TestSweepBackoffDeadLetterRetry(t *testing.T) {
	h := &flaky{calls: map[string]int{}}
	f := newFixture(t, h)
	ev := f.insert("bad", true, t0.Add(-time.Minute))
	wait := 2 * time.Second
	for i := 1; i <= events.MaxAttempts; i++ {
		events.SweepAll(f.svc, 0)
		got := f.get("bad")
		if got.Attempts != i {
			t.Fatalf("after sweep %d: attempts %d", i, got.Attempts)
		}
		if i == events.MaxAttempts {
			break
		}
		if want := f.now.Add(wait); !got.NextAttemptAt.Equal(want) {
			t.Fatalf("after %d failures next attempt %v, want %v (backoff %v)", i, got.NextAttemptAt, want, wait)
		}
		// Not before its time.
		f.now = f.now.Add(wait - time.Millisecond)
		events.SweepAll(f.svc, 0)
		if got := f.get("bad"); got.Attempts != i {
			t.Fatalf("retried %v early: attempts %d", wait, got.Attempts)
		}
		if i == 3 {
			f.reopen() // a crash keeps the count and the schedule
			if got := f.get("bad"); got.Attempts != 3 {
				t.Fatalf("after a restart attempts %d, want 3", got.Attempts)
			}
		}
		f.now = f.now.Add(time.Millisecond)
		wait = min(2*wait, 15*time.Minute)
	}

	got := f.get("bad")
	if got.DeadAt == nil || got.DeadReason != events.ReasonAttempts {
		t.Fatalf("after %d failures: dead_at %v reason %q", events.MaxAttempts, got.DeadAt, got.DeadReason)
	}
	f.now = f.now.Add(24 * time.Hour)
	calls := h.calls[ev.ID]
	events.SweepAll(f.svc, 0)
	if h.calls[ev.ID] != calls {
		t.Fatal("the sweeper tried a dead event")
	}
	if v := gauge(t, f.reg, "questline_events_dead"); v != 1 {
		t.Fatalf("questline_events_dead = %v, want 1", v)
	}
	dead, err := f.svc.DeadEvents(context.Background(), "acme", "", 10)
	if err != nil || len(dead) != 1 || dead[0].ID != ev.ID {
		t.Fatalf("dead list = %v, %v", dead, err)
	}
	if other, _ := f.svc.DeadEvents(context.Background(), "other", "", 10); len(other) != 0 {
		t.Fatalf("another tenant sees %d dead events", len(other))
	}

	h.heal()
	r, err := f.svc.Retry(context.Background(), "acme", ev.ID)
	if err != nil || !r.Processed {
		t.Fatalf("retry = %+v, %v", r, err)
	}
	if got := f.get("bad"); !got.Processed {
		t.Fatal("retried event not stored processed")
	}
	if _, err := f.svc.Retry(context.Background(), "acme", ev.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("second retry error = %v, want not found", err)
	}
	events.SweepAll(f.svc, 0)
	if v := gauge(t, f.reg, "questline_events_dead"); v != 0 {
		t.Fatalf("questline_events_dead = %v after the retry, want 0", v)
	}
}

// looper emits a system event for every event it sees: a rule loop.
type looper struct{}

func (looper) HandleEvent(_ context.Context, ev events.Event, _ *events.Result) ([]events.Event, error) {
	return []events.Event{{Tenant: ev.Tenant, User: ev.User, Type: "loop", OccurredAt: ev.OccurredAt,
		IdempotencyKey: "loop:" + ev.ID}}, nil
}

// TestSystemDepthDeadLetters: the system event past the depth limit is
// stored dead, with its reason, not dropped.
func TestSystemDepthDeadLetters(t *testing.T) {
	f := newFixture(t, looper{})
	if _, err := f.svc.Ingest(context.Background(), events.Event{Tenant: "acme", User: "u1", Type: "share", IdempotencyKey: "k"}); err != nil {
		t.Fatal(err)
	}
	dead, err := f.svc.DeadEvents(context.Background(), "acme", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Type != "loop" || dead[0].DeadReason != events.ReasonDepth || dead[0].Source != "system" {
		t.Fatalf("dead = %+v", dead)
	}
}

// gauge reads an unlabelled gauge from reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
