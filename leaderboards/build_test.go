package leaderboards_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
)

// gatedLedger is the real ledger, except that a scan stops after `after`
// entries until open is closed (or its context ends), and counts scans.
type gatedLedger struct {
	leaderboards.Ledger
	after int
	open  chan struct{}
	scans atomic.Int32
	fail  error
}

func (g *gatedLedger) ScanEarnings(ctx context.Context, tenant string, fn func(points.Entry) error) error {
	g.scans.Add(1)
	if g.fail != nil {
		return g.fail
	}
	n := 0
	return g.Ledger.ScanEarnings(ctx, tenant, func(e points.Entry) error {
		if n++; n == g.after {
			select {
			case <-g.open:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return fn(e)
	})
}

// node is one server's leaderboard service over the world's store and
// engine, with its own clock offset, running its builds.
func node(t *testing.T, w *world, engine leaderboards.Engine, ledger leaderboards.Ledger, skew time.Duration) (*leaderboards.Service, context.CancelFunc) {
	t.Helper()
	s := leaderboards.NewService(leaderboards.Config{
		Store: w.store, Engine: engine, Ledger: ledger, Now: func() time.Time { return time.Now().Add(skew) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.RunBuilds(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return s, stop
}

// waitBuild polls the board until its build reaches state.
func waitBuild(t *testing.T, s *leaderboards.Service, id string, state leaderboards.BuildState) leaderboards.Build {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := s.Get(context.Background(), "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		if b.Build != nil && b.Build.State == state {
			return *b.Build
		}
		if time.Now().After(deadline) {
			t.Fatalf("build of %s = %+v, want %s", id, b.Build, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBuildInBackground: creating a points board on a large ledger returns
// at once; the board's GET and its pages show the build's progress while it
// runs, pages hold what is there meanwhile, and the board ends up exact.
func TestBuildInBackground(t *testing.T) {
	const entries, users = 20_000, 500
	for _, ec := range engines() {
		t.Run(ec.name, func(t *testing.T) {
			ctx := context.Background()
			engine, _ := ec.open(t)
			w := newWorld(t, engine)
			seedLedger(t, w, entries, users)
			gate := &gatedLedger{Ledger: w.points, after: entries / 2, open: make(chan struct{})}
			s, _ := node(t, w, engine, gate, 0)

			start := time.Now()
			b, err := s.Create(ctx, "acme", leaderboards.CreateInput{Name: "All time"})
			if err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("Create took %s: it must not wait for the build", took)
			}
			if b.Build == nil || b.Build.State != leaderboards.Building {
				t.Fatalf("new board's build = %+v, want building", b.Build)
			}
			// Halfway, the build is stuck at the gate: progress shows.
			var mid leaderboards.Build
			for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if mid = waitBuild(t, s, b.ID, leaderboards.Building); mid.Total == entries && mid.Done > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no progress shown: %+v", mid)
				}
			}
			if mid.Done >= entries {
				t.Fatalf("progress %+v while the scan is held halfway", mid)
			}
			pg, err := s.Top(ctx, "acme", b.ID, "", 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if pg.Build == nil || pg.Build.State != leaderboards.Building {
				t.Fatalf("page while building = %+v, want its build state", pg)
			}
			close(gate.open)
			done := waitBuild(t, s, b.ID, leaderboards.Ready)
			if done.Done != entries || done.Total != entries || done.Error != "" {
				t.Fatalf("finished build = %+v", done)
			}
			if pg, err = s.Top(ctx, "acme", b.ID, "", 0, 1); err != nil || pg.Total != users || pg.Build != nil {
				t.Fatalf("built board = %+v, %v; want %d members and no build state", pg, err, users)
			}
			if n := gate.scans.Load(); n != 1 {
				t.Fatalf("ledger scanned %d times, want once", n)
			}
		})
	}
}

// TestBuildResumedAfterCrash: a node that dies mid-build leaves the board
// "building" under its lease; a second node does not touch it while the
// lease holds, takes it over once it lapses, and finishes it.
func TestBuildResumedAfterCrash(t *testing.T) {
	ctx := context.Background()
	engine, _ := engines()[1].open(t) // shared state across nodes: Redis
	w := newWorld(t, engine)
	seedLedger(t, w, 2000, 50)
	held := &gatedLedger{Ledger: w.points, after: 1000, open: make(chan struct{})}
	first, crash := node(t, w, engine, held, 0)
	b, err := first.Create(ctx, "acme", leaderboards.CreateInput{Name: "All time"})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); held.scans.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first node never started the build")
		}
	}
	// A second node starting now sees the build leased and leaves it.
	other := &gatedLedger{Ledger: w.points, open: make(chan struct{})}
	close(other.open)
	_, stopOther := node(t, w, engine, other, 0)
	time.Sleep(300 * time.Millisecond)
	stopOther()
	if n := other.scans.Load(); n != 0 {
		t.Fatalf("a second node scanned %d times while the first held the lease", n)
	}
	crash()
	if got := waitBuild(t, first, b.ID, leaderboards.Building); got.Done == 2000 {
		t.Fatalf("build after the crash = %+v", got)
	}
	// A node starting after the lease lapsed (its clock is a minute on)
	// takes the build over at once.
	next := &gatedLedger{Ledger: w.points, open: make(chan struct{})}
	close(next.open)
	later, _ := node(t, w, engine, next, time.Minute)
	if got := waitBuild(t, later, b.ID, leaderboards.Ready); got.Done != 2000 || got.Total != 2000 {
		t.Fatalf("resumed build = %+v", got)
	}
	if pg, err := later.Top(ctx, "acme", b.ID, "", 0, 1); err != nil || pg.Total != 50 {
		t.Fatalf("board after the resumed build = %+v, %v", pg, err)
	}
}

// TestBuildFails: a build whose source fails says so, without the cause
// (players read it), and is tried again once its retry time comes.
func TestBuildFails(t *testing.T) {
	ctx := context.Background()
	engine := leaderboards.NewMemoryEngine()
	w := newWorld(t, engine)
	broken := &gatedLedger{Ledger: w.points, fail: errors.New("disk on fire at /var/lib/secret")}
	s, stop := node(t, w, engine, broken, 0)
	b, err := s.Create(ctx, "acme", leaderboards.CreateInput{Name: "All time"})
	if err != nil {
		t.Fatal(err)
	}
	got := waitBuild(t, s, b.ID, leaderboards.Failed)
	if got.Error == "" || got.Error == broken.fail.Error() || got.Owner != "" {
		t.Fatalf("failed build = %+v", got)
	}
	stop()
	fixed := &gatedLedger{Ledger: w.points, open: make(chan struct{})}
	close(fixed.open)
	later, _ := node(t, w, engine, fixed, 2*time.Minute)
	if got := waitBuild(t, later, b.ID, leaderboards.Ready); got.Error != "" {
		t.Fatalf("retried build = %+v", got)
	}
}
