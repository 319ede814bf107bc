package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/questline/questline/leaderboards"
)

func openT(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func insertBoard(s *Store, id string) func(tx *wtx) error {
	return func(tx *wtx) error {
		_, err := tx.exec(s.wq.insertBoard, "t", id, "n", "daily", "{}", 0)
		return err
	}
}

// TestSavepointIsolation runs a good op, a failing op that wrote before
// failing, and another good op in one batch: only the failing op's write
// must be undone.
func TestSavepointIsolation(t *testing.T) {
	s := openT(t)
	ctx := context.Background()
	hold := make(chan struct{})
	started := make(chan struct{})
	// Occupy the writer so the next three ops queue up into one batch.
	go s.w.do(ctx, func(*wtx) error { close(started); <-hold; return nil })
	<-started

	boom := errors.New("boom")
	results := make(chan error, 3)
	go func() { results <- s.w.do(ctx, insertBoard(s, "good1")) }()
	time.Sleep(20 * time.Millisecond)
	go func() {
		results <- s.w.do(ctx, func(tx *wtx) error {
			if err := insertBoard(s, "bad")(tx); err != nil {
				return err
			}
			return boom
		})
	}()
	time.Sleep(20 * time.Millisecond)
	go func() { results <- s.w.do(ctx, insertBoard(s, "good2")) }()
	time.Sleep(20 * time.Millisecond)
	close(hold)

	var failed int
	for i := 0; i < 3; i++ {
		if err := <-results; errors.Is(err, boom) {
			failed++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if failed != 1 {
		t.Fatalf("%d ops failed, want 1", failed)
	}
	bs, err := s.ListBoards(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range bs {
		got = append(got, b.ID)
	}
	if len(got) != 2 || got[0] != "good1" || got[1] != "good2" {
		t.Fatalf("boards = %v, want [good1 good2]", got)
	}
}

// TestCancelWhileQueued: a caller that gives up while its op waits behind
// a busy writer gets its context error at once, and its op is skipped.
func TestCancelWhileQueued(t *testing.T) {
	s := openT(t)
	hold := make(chan struct{})
	started := make(chan struct{})
	go s.w.do(context.Background(), func(*wtx) error { close(started); <-hold; return nil })
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var ran atomic.Bool
	start := time.Now()
	err := s.w.do(ctx, func(*wtx) error { ran.Store(true); return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("gave up after %v", d)
	}
	close(hold)
	// A later op runs after the skipped one; by then it was decided.
	if err := s.CreateBoard(context.Background(), leaderboards.Board{ID: "b", Tenant: "t", Name: "n", Source: leaderboards.FromPoints, Window: leaderboards.Daily}); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Fatal("the op of a caller that gave up ran anyway")
	}
}

// TestCancelWhileRunning: a caller whose context ends while its op runs
// waits for the op's batch and gets its result, so the op's writes to the
// caller's variables are over when do returns (-race checks it), and a nil
// error still means the write is durable.
func TestCancelWhileRunning(t *testing.T) {
	s := openT(t)
	ctx, cancel := context.WithCancel(context.Background())
	running := make(chan struct{})
	var inserted bool // written by the op, read by this goroutine after do
	go func() { <-running; cancel() }()
	err := s.w.do(ctx, func(tx *wtx) error {
		close(running)
		time.Sleep(50 * time.Millisecond) // the caller's context ends meanwhile
		inserted = true
		return insertBoard(s, "late")(tx)
	})
	if err != nil || !inserted {
		t.Fatalf("do = %v, inserted %v; want the op's own result", err, inserted)
	}
	if _, err := s.GetBoard(context.Background(), "t", "late"); err != nil {
		t.Fatalf("the op's write: %v", err)
	}
}

// TestPanicInOp: a panicking op fails alone and the writer keeps working.
func TestPanicInOp(t *testing.T) {
	s := openT(t)
	err := s.w.do(context.Background(), func(*wtx) error { panic("bad op") })
	if err == nil {
		t.Fatal("panicking op reported success")
	}
	if err := s.CreateBoard(context.Background(), leaderboards.Board{ID: "b", Tenant: "t", Name: "n", Source: leaderboards.FromPoints, Window: leaderboards.Daily}); err != nil {
		t.Fatal(err)
	}
}

// TestCloseDrainsQueue: writes queued before Close are completed, not lost.
func TestCloseDrainsQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	started := make(chan struct{})
	go s.w.do(context.Background(), func(*wtx) error { close(started); <-hold; return nil })
	<-started
	done := make(chan error, 1)
	go func() { done <- s.w.do(context.Background(), insertBoard(s, "queued")) }()
	time.Sleep(20 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	time.Sleep(20 * time.Millisecond)
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	s, err = Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetBoard(context.Background(), "t", "queued"); err != nil {
		t.Fatal(err)
	}
}
