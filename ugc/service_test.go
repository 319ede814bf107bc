package ugc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/sqlite"
	"github.com/questline/questline/ugc"
)

const tenant = "acme"

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func service(st *sqlite.Store) (*ugc.Service, *points.Service) {
	p := points.NewService(st, nil)
	return ugc.NewService(ugc.Config{Store: st, Payer: p}), p
}

func submitReview(t *testing.T, s *ugc.Service, user, product, body string) ugc.Submission {
	t.Helper()
	sub, err := s.Submit(context.Background(), tenant, user, ugc.Input{Kind: ugc.Review, ProductID: product, Rating: 4, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// TestApprovePaysOnce: ten moderators approving at once, and approving
// again after a restart, pay each rule once.
func TestApprovePaysOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	st := open(t, path)
	s, p := service(st)
	sub := submitReview(t, s, "alice", "sku-1", "A calm serum that soaked in fast and left no shine at all.")
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Approve(ctx, ugc.Moderator{Tenant: tenant, ID: "mod" + string(rune('0'+i))}, sub.ID, ugc.Decision{Reason: "ok"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	check := func(p *points.Service, when string) {
		t.Helper()
		w, err := p.Wallet(ctx, tenant, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if w.Balance != 30 { // review 20 + first review of sku-1 10
			t.Fatalf("%s: balance %d, want 30", when, w.Balance)
		}
	}
	check(p, "after concurrent approvals")
	st.Close()
	st = open(t, path)
	s, p = service(st)
	if _, err := s.Approve(ctx, ugc.Moderator{Tenant: tenant, ID: "mod"}, sub.ID, ugc.Decision{Reason: "ok"}); err != nil {
		t.Fatal(err)
	}
	check(p, "after a restart and another approval")
	// The first-review bonus of a product goes to one review only.
	second := submitReview(t, s, "bob", "sku-1", "Nothing special, it did what it said and the pump works.")
	if _, err := s.Approve(ctx, ugc.Moderator{Tenant: tenant, ID: "mod"}, second.ID, ugc.Decision{Reason: "ok"}); err != nil {
		t.Fatal(err)
	}
	if w, _ := p.Wallet(ctx, tenant, "bob"); w.Balance != 20 {
		t.Fatalf("second review of the product: balance %d, want 20", w.Balance)
	}
}

// TestVerifiedLater: a purchase reported after the review was written
// verifies it at approval, and the verified bonus is paid.
func TestVerifiedLater(t *testing.T) {
	ctx := context.Background()
	st := open(t, filepath.Join(t.TempDir(), "q.db"))
	s, p := service(st)
	sub := submitReview(t, s, "alice", "sku-1", "Bought it on a whim and it turned out to be my favourite cream.")
	if sub.Verified {
		t.Fatal("verified without a purchase")
	}
	ev := events.Event{ID: "e1", Tenant: tenant, User: "alice", Type: "purchase", Props: map[string]any{"product_id": "sku-1"}}
	if quiet, _ := s.Preview(ctx, ev, nil); quiet {
		t.Fatal("a purchase of a product is quiet")
	}
	if quiet, _ := s.Preview(ctx, events.Event{Type: "share"}, nil); !quiet {
		t.Fatal("a share is not quiet")
	}
	if _, err := s.HandleEvent(ctx, ev, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Approve(ctx, ugc.Moderator{Tenant: tenant, ID: "mod"}, sub.ID, ugc.Decision{Reason: "ok"})
	if err != nil || !got.Verified {
		t.Fatalf("approved %+v, %v", got, err)
	}
	if w, _ := p.Wallet(ctx, tenant, "alice"); w.Balance != 40 {
		t.Fatalf("balance %d, want 40 (review, verified, first review)", w.Balance)
	}
}

// TestApproveRacingErasure: whichever of an approval and the author's
// erasure wins, the summary counts exactly the listed reviews.
func TestApproveRacingErasure(t *testing.T) {
	ctx := context.Background()
	st := open(t, filepath.Join(t.TempDir(), "q.db"))
	s, _ := service(st)
	for i := range 20 {
		user := "u" + string(rune('a'+i))
		sub := submitReview(t, s, user, "sku-9", "Review number "+user+" with enough words in it to pass.")
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := s.Approve(ctx, ugc.Moderator{Tenant: tenant, ID: "mod"}, sub.ID, ugc.Decision{Reason: "ok"})
			if err != nil && errs.KindOf(err) != errs.NotFound {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if err := s.DeleteOwn(ctx, tenant, user, sub.ID); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
	}
	sum, err := s.Summary(ctx, tenant, "sku-9")
	if err != nil {
		t.Fatal(err)
	}
	feed, err := s.Feed(ctx, tenant, "sku-9", ugc.FeedQuery{Sort: ugc.Newest, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Count != 0 || len(feed) != 0 {
		t.Fatalf("after every erasure: summary %+v, %d listed", sum, len(feed))
	}
}

// TestClaimLease: a claim hands an item to one moderator only until its
// lease ends.
func TestClaimLease(t *testing.T) {
	ctx := context.Background()
	st := open(t, filepath.Join(t.TempDir(), "q.db"))
	s, _ := service(st)
	for i := range 4 {
		submitReview(t, s, "u"+string(rune('a'+i)), "sku-1", "Item "+string(rune('a'+i))+" waiting in the queue for a decision.")
	}
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for _, m := range []string{"m1", "m2", "m3", "m4"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.Claim(ctx, tenant, m, ugc.QueueQuery{Limit: 2})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, g := range got {
				if other, ok := seen[g.ID]; ok {
					t.Errorf("%s handed to %s and %s", g.ID, other, m)
				}
				seen[g.ID] = m
			}
		}()
	}
	wg.Wait()
	if len(seen) != 4 {
		t.Fatalf("claimed %d of 4", len(seen))
	}
}

// FuzzSubmission: any payload is stored or refused with a client error
// naming a field, never an internal one.
func FuzzSubmission(f *testing.F) {
	for _, s := range []string{
		`{"kind":"review","product_id":"sku-1","rating":5,"body":"A body long enough to pass the checks."}`,
		`{"kind":"photo","media":["https://img.example/a.jpg"]}`,
		`{"kind":"tutorial","title":"t","body":"b","steps":["a",""]}`,
		`{"kind":"social_post","link":"https://x.example/p"}`,
		`{"kind":"review","product_id":"a b","rating":9}`,
		`{"kind":"video","media":["javascript:alert(1)"]}`,
	} {
		f.Add(s)
	}
	st := open(f, filepath.Join(f.TempDir(), "q.db"))
	s, _ := service(st)
	f.Fuzz(func(t *testing.T, payload string) {
		var in ugc.Input
		if json.Unmarshal([]byte(payload), &in) != nil {
			return // huma answers 400/422 before the service sees it
		}
		_, err := s.Submit(context.Background(), tenant, "fuzz", in)
		if err == nil {
			return
		}
		e, ok := errs.As(err)
		if !ok || e.Kind == errs.Internal || e.Field == "" {
			t.Fatalf("%s: %v", payload, err)
		}
	})
}

// FuzzQueue: any queue filter and feed cursor reads without an internal
// error.
func FuzzQueue(f *testing.F) {
	f.Add("review", "sku-1", "reported", 60, "newest", "")
	f.Add("", "", "", 0, "helpful", "aGVscGZ1bHwxfGE")
	f.Add("x'; DROP TABLE ugc_submissions; --", "%", "_", -5, "rating_low", "%%")
	st := open(f, filepath.Join(f.TempDir(), "q.db"))
	s, _ := service(st)
	f.Fuzz(func(t *testing.T, kind, product, flag string, age int, sort, cursor string) {
		ctx := context.Background()
		if _, err := s.Queue(ctx, tenant, "mod", ugc.QueueQuery{Kind: ugc.Kind(kind), ProductID: product, Flag: flag,
			Before: time.Now().Add(-time.Duration(age) * time.Second), Limit: 10}); err != nil {
			t.Fatal(err)
		}
		after, err := ugc.ParseCursor(cursor, ugc.Sort(sort))
		if err != nil {
			if e, ok := errs.As(err); !ok || e.Kind != errs.Invalid {
				t.Fatal(err)
			}
			return
		}
		if _, err := s.Feed(ctx, tenant, product, ugc.FeedQuery{Sort: ugc.Sort(sort), After: after, Limit: 10}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestDailyCapConcurrent: 50 concurrent submissions by one user against
// a daily cap of 5 store exactly 5; the others are refused with the cap.
func TestDailyCapConcurrent(t *testing.T) {
	ctx := context.Background()
	st := open(t, filepath.Join(t.TempDir(), "q.db"))
	s, _ := service(st)
	set := ugc.DefaultSettings()
	set.Checks.PerHour, set.Checks.PerDay, set.Checks.Duplicates = 0, 5, false
	if _, err := s.PutSettings(ctx, tenant, set); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Submit(ctx, tenant, "alice", ugc.Input{Kind: ugc.Review, ProductID: fmt.Sprintf("sku-%d", i), Rating: 4,
				Body: "A calm serum that soaked in fast and left no shine at all."})
			code := "ok"
			if err != nil {
				var e *errs.Error
				if !errors.As(err, &e) {
					t.Error(err)
					return
				}
				code = e.Code
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes["ok"] != 5 || codes[ugc.CheckDailyCap] != 45 {
		t.Fatalf("outcomes %v, want 5 ok and 45 %s", codes, ugc.CheckDailyCap)
	}
	mine, err := s.Mine(ctx, tenant, "alice", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 5 {
		t.Fatalf("%d stored, want 5", len(mine))
	}
}

// flakyPayer fails its next PayOnce or Reverse when told to: a crash
// between the decision's save and its effects.
type flakyPayer struct {
	ugc.Payer
	mu                  sync.Mutex
	failPay, failRevert bool
}

func (f *flakyPayer) PayOnce(ctx context.Context, tenant, user string, amount int64, key, reason, eventID string) (string, int64, error) {
	f.mu.Lock()
	fail := f.failPay
	f.failPay = false
	f.mu.Unlock()
	if fail {
		return "", 0, errors.New("injected crash")
	}
	return f.Payer.PayOnce(ctx, tenant, user, amount, key, reason, eventID)
}

func (f *flakyPayer) Reverse(ctx context.Context, tenant, key string) (points.Change, error) {
	f.mu.Lock()
	fail := f.failRevert
	f.failRevert = false
	f.mu.Unlock()
	if fail {
		return points.Change{}, errors.New("injected crash")
	}
	return f.Payer.Reverse(ctx, tenant, key)
}

type countingEmitter struct {
	mu   sync.Mutex
	keys map[string]int
}

func (c *countingEmitter) Emit(_ context.Context, ev events.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys[ev.IdempotencyKey]++
	return nil
}

// TestSweepFinishesOwed: an approval whose payout failed after its save,
// and a take-down whose reversal failed, are finished by the sweep once;
// a second sweep (and a restart) finds nothing owed.
func TestSweepFinishesOwed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	st := open(t, path)
	p := points.NewService(st, nil)
	pay := &flakyPayer{Payer: p}
	em := &countingEmitter{keys: map[string]int{}}
	s := ugc.NewService(ugc.Config{Store: st, Payer: pay, Emitter: em})
	sub := submitReview(t, s, "alice", "sku-1", "A calm serum that soaked in fast and left no shine at all.")
	mod := ugc.Moderator{Tenant: tenant, ID: "mod"}
	balance := func(want int64, when string) {
		t.Helper()
		w, err := p.Wallet(ctx, tenant, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if w.Balance != want {
			t.Fatalf("%s: balance %d, want %d", when, w.Balance, want)
		}
	}
	owed := func(want, when string) {
		t.Helper()
		got, err := s.Get(ctx, tenant, sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Owed != want {
			t.Fatalf("%s: owed %q, want %q", when, got.Owed, want)
		}
	}
	sweep := func(want int, when string) {
		t.Helper()
		time.Sleep(5 * time.Millisecond) // past the decision's millisecond
		n, err := s.Sweep(ctx, 0)
		if err != nil || n != want {
			t.Fatalf("%s: sweep settled %d (%v), want %d", when, n, err, want)
		}
	}
	pay.failPay = true
	if _, err := s.Approve(ctx, mod, sub.ID, ugc.Decision{Reason: "ok"}); err == nil {
		t.Fatal("approval with a failed payout succeeded")
	}
	balance(0, "after the cut-short approval")
	owed(ugc.OwePay, "after the cut-short approval")
	sweep(1, "first sweep")
	balance(30, "after the sweep")
	owed("", "after the sweep")
	sweep(0, "second sweep")
	if em.keys["ugc.approved:"+sub.ID] != 1 {
		t.Fatalf("ugc.approved emitted %d times, want 1", em.keys["ugc.approved:"+sub.ID])
	}

	pay.failRevert = true
	if _, err := s.Remove(ctx, mod, sub.ID, ugc.Decision{Reason: "off-topic"}); err == nil {
		t.Fatal("take-down with a failed reversal succeeded")
	}
	balance(30, "after the cut-short take-down")
	owed(ugc.OweReverse, "after the cut-short take-down")
	st.Close()
	st = open(t, path)
	p = points.NewService(st, nil)
	s = ugc.NewService(ugc.Config{Store: st, Payer: p, Emitter: em})
	sweep(1, "sweep after a restart")
	balance(0, "after the reversal sweep")
	owed("", "after the reversal sweep")
	sweep(0, "last sweep")
}
