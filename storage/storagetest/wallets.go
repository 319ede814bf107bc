package storagetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/points"
)

// WalletStore is what the wallet cases need: the ledger with its lots.
type WalletStore = points.Store

// RunWallets runs the wallet cases (lots, spending, reversal) through the
// points service against stores from open.
func RunWallets(t *testing.T, open func(t *testing.T) WalletStore) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, WalletStore)
	}{
		{"SpendOldestFirst", testSpendOldestFirst},
		{"SpendRefusals", testSpendRefusals},
		{"SpendConcurrent", testSpendConcurrent},
		{"SpendSameKeyConcurrent", testSpendSameKeyConcurrent},
		{"Reverse", testReverse},
		{"ReverseConcurrent", testReverseConcurrent},
		{"Policy", testPolicy},
		{"Pending", testPending},
		{"Expiry", testExpiry},
		{"ExpiryOverlapping", testExpiryOverlapping},
		{"PointsDays", PointsDays},
		{"PointsDaysConcurrent", testPointsDaysConcurrent},
		{"OwedChanges", testOwedChanges},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// walletService is a points service on s whose clock stands at *now.
func walletService(s WalletStore, now *time.Time) *points.Service {
	svc := points.NewService(s, nil)
	svc.SetClock(func() time.Time { return *now })
	return svc
}

func credit(t *testing.T, svc *points.Service, tn, user, key string, amount int64) points.Entry {
	t.Helper()
	e, _, err := svc.Credit(context.Background(), points.Credit{Tenant: tn, User: user, Amount: amount, Key: key, Reason: "test"})
	must(t, err)
	return e
}

// checkWallet checks the balance against its sources: the held points are
// the ledger's sum and the lots' remaining points.
func checkWallet(t *testing.T, s WalletStore, tn, user string, held int64) {
	t.Helper()
	c := context.Background()
	b, err := s.UserBalance(c, tn, user)
	must(t, err)
	eq(t, "held", b.Held, held)
	tot, err := s.Totals(c, tn, user)
	must(t, err)
	eq(t, "ledger balance", tot.Balance, held)
	lots, err := s.UserLots(c, tn, user, "", 1000)
	must(t, err)
	var rem int64
	for _, l := range lots {
		if l.Remaining < 0 || l.Remaining > l.Amount {
			t.Fatalf("lot %s holds %d of %d", l.ID, l.Remaining, l.Amount)
		}
		rem += l.Remaining
	}
	eq(t, "lots' remaining points", rem, held)
}

func testSpendOldestFirst(t *testing.T, s WalletStore) {
	c, tn := ctx(t), tenant(t, "a")
	now := base
	svc := walletService(s, &now)
	first := credit(t, svc, tn, "u1", "k1", 10)
	now = now.Add(time.Minute)
	second := credit(t, svc, tn, "u1", "k2", 20)
	now = now.Add(time.Minute)
	ch, err := svc.Spend(c, points.Spend{Tenant: tn, User: "u1", Amount: 15, Key: "spend:1", Reason: "reward"})
	must(t, err)
	eq(t, "takes", ch.Takes, []points.Take{{Lot: first.ID, Amount: 10}, {Lot: second.ID, Amount: 5}})
	eq(t, "balance", ch.Balance.Held, int64(15))
	eq(t, "spent", ch.Balance.Spent, int64(15))
	eq(t, "version", ch.Balance.Version, int64(3))
	checkWallet(t, s, tn, "u1", 15)
	w, err := svc.Wallet(c, tn, "u1")
	must(t, err)
	eq(t, "wallet", w, points.Wallet{Balance: 15, Available: 15, Spent: 15, Earned: 30, Expiring: []points.Bucket{}})

	again, err := svc.Spend(c, points.Spend{Tenant: tn, User: "u1", Amount: 15, Key: "spend:1", Reason: "reward"})
	must(t, err)
	if !again.Repeat || again.Balance.Version != 3 {
		t.Fatalf("a repeated spend gave %+v", again)
	}
	checkWallet(t, s, tn, "u1", 15)
	got, err := s.ChangeByKey(c, tn, "spend:1")
	must(t, err)
	eq(t, "stored change", got.Takes, ch.Takes)
	_, err = s.ChangeByKey(c, tn, "nope")
	mustIs(t, err, errs.ErrNotFound)
	// Another tenant's wallet is another wallet.
	b, err := s.UserBalance(c, tenant(t, "b"), "u1")
	must(t, err)
	eq(t, "other tenant", b, points.Balance{})
}

func testSpendRefusals(t *testing.T, s WalletStore) {
	c, tn := ctx(t), tenant(t, "a")
	now := base
	svc := walletService(s, &now)
	credit(t, svc, tn, "u1", "k1", 5)
	for _, tc := range []struct {
		name string
		sp   points.Spend
		kind errs.Kind
		code string
	}{
		{"too much", points.Spend{Amount: 6, Key: "s1"}, errs.Conflict, points.ErrInsufficient},
		{"nothing", points.Spend{Amount: 0, Key: "s2"}, errs.Unprocessable, points.ErrBadAmount},
		{"negative", points.Spend{Amount: -1, Key: "s3"}, errs.Unprocessable, points.ErrBadAmount},
		{"a credit's key", points.Spend{Amount: 1, Key: "k1"}, errs.Conflict, points.ErrKeyReused},
		{"another user", points.Spend{Amount: 1, Key: "k1", User: "u2"}, errs.Conflict, points.ErrKeyReused},
	} {
		tc.sp.Tenant = tn
		if tc.sp.User == "" {
			tc.sp.User = "u1"
		}
		_, err := svc.Spend(c, tc.sp)
		e, ok := errs.As(err)
		if !ok || e.Kind != tc.kind || e.Code != tc.code {
			t.Errorf("%s: got %v, want %s", tc.name, err, tc.code)
		}
	}
	checkWallet(t, s, tn, "u1", 5)
	_, err := svc.Spend(c, points.Spend{Tenant: tn, User: "u1", Amount: 5, Key: "s4"})
	must(t, err)
	checkWallet(t, s, tn, "u1", 0)
}

// testSpendConcurrent races 200 spends of one point against a balance of
// three, in three lots: exactly three succeed.
func testSpendConcurrent(t *testing.T, s WalletStore) {
	c, tn := ctx(t), tenant(t, "a")
	now := base
	svc := walletService(s, &now)
	for i := range 3 {
		credit(t, svc, tn, "u1", fmt.Sprint("k", i), 1)
	}
	var ok, short atomic.Int64
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.Spend(c, points.Spend{Tenant: tn, User: "u1", Amount: 1, Key: fmt.Sprint("spend:", i)})
			if e, isErr := errs.As(err); isErr && e.Code == points.ErrInsufficient {
				short.Add(1)
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			ok.Add(1)
		}()
	}
	wg.Wait()
	eq(t, "spends that succeeded", ok.Load(), int64(3))
	eq(t, "spends refused", short.Load(), int64(197))
	checkWallet(t, s, tn, "u1", 0)
	b, err := s.UserBalance(c, tn, "u1")
	must(t, err)
	eq(t, "spent", b.Spent, int64(3))
}

// testSpendSameKeyConcurrent races one spend's retries: it pays once.
func testSpendSameKeyConcurrent(t *testing.T, s WalletStore) {
	c, tn := ctx(t), tenant(t, "a")
	now := base
	svc := walletService(s, &now)
	credit(t, svc, tn, "u1", "k", 100)
	var firsts atomic.Int64
	var wg sync.WaitGroup
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch, err := svc.Spend(c, points.Spend{Tenant: tn, User: "u1", Amount: 7, Key: "once"})
			if err != nil {
				t.Error(err)
				return
			}
			if !ch.Repeat {
				firsts.Add(1)
			}
		}()
	}
	wg.Wait()
	eq(t, "first spends", firsts.Load(), int64(1))
	checkWallet(t, s, tn, "u1", 93)
}

func testReverse(t *testing.T, s WalletStore) {
	c, tn := ctx(t), tenant(t, "a")
	now := base
	svc := walletService(s, &now)
	credit(t, svc, tn, "u1", "challenge:c1:a", 50)
	now = now.Add(time.Hour)
	buy := credit(t, svc, tn, "u1", "purchase:p1", 100)
	now = now.Add(time.Hour)
	// 120 spent: all of the first lot (expiring no sooner, earned first)
	// and 70 of the purchase's.
	_, err := svc.Spend(c, points.Spend{Tenant: tn, User: "u1", Amount: 120, Key: "spend:1"})
	must(t, err)
	ch, err := svc.Reverse(c, tn, "purchase:p1")
	must(t, err)
	// 30 left in its lot come back; of the 70 spent none can be taken.
	eq(t, "takes", ch.Takes, []points.Take{{Lot: buy.ID, Amount: 30}})
	eq(t, "unrecovered", ch.Balance.Unrecovered, int64(70))
	eq(t, "earned", ch.Balance.Earned, int64(50))
	eq(t, "reversed", ch.Balance.Reversed, int64(100))
	checkWallet(t, s, tn, "u1", 0)
	e, err := s.EntryByKey(c, tn, points.ReversalKey("purchase:p1"))
	must(t, err)
	eq(t, "reversal entry", e.Amount, int64(-30))
	n, _, err := s.EarnedBetween(c, tn, "u1", "", base, base.Add(24*time.Hour))
	must(t, err)
	eq(t, "earned in the day", n, int64(50))
	n, _, err = s.EarnedBetween(c, tn, "u1", "purchase:", base, base.Add(24*time.Hour))
	must(t, err)
	eq(t, "earned by purchases", n, int64(0))
	n, _, err = s.EarnedBetween(c, tn, "u1", "challenge:", base, base.Add(24*time.Hour))
	must(t, err)
	eq(t, "earned by challenges", n, int64(50))

	again, err := svc.Reverse(c, tn, "purchase:p1")
	must(t, err)
	if !again.Repeat || again.Balance.Version != ch.Balance.Version {
		t.Fatalf("a repeated reversal gave %+v", again)
	}
	// A reversal of a credit with points left elsewhere takes them: the
	// second credit is spent, so reversing it takes from the third.
	now = now.Add(time.Hour)
	credit(t, svc, tn, "u1", "purchase:p2", 40)
	_, err = svc.Spend(c, points.Spend{Tenant: tn, User: "u1", Amount: 40, Key: "spend:2"})
	must(t, err)
	third := credit(t, svc, tn, "u1", "purchase:p3", 60)
	ch, err = svc.Reverse(c, tn, "purchase:p2")
	must(t, err)
	eq(t, "takes from another lot", ch.Takes, []points.Take{{Lot: third.ID, Amount: 40}})
	checkWallet(t, s, tn, "u1", 20)

	for _, tc := range []struct {
		key  string
		kind errs.Kind
		code string
	}{
		{"nope", errs.NotFound, points.ErrNoCredit},
		{"spend:1", errs.Unprocessable, points.ErrNotACredit},
		{points.ReversalKey("purchase:p1"), errs.Unprocessable, points.ErrNotACredit},
	} {
		_, err := svc.Reverse(c, tn, tc.key)
		if e, ok := errs.As(err); !ok || e.Kind != tc.kind || e.Code != tc.code {
			t.Errorf("reverse %s: got %v, want %s", tc.key, err, tc.code)
		}
	}
	// Rebuilds see a reversal as its credit negated.
	var sum int64
	must(t, svc.ScanEarnings(c, tn, func(e points.Entry) error { sum += e.Amount; return nil }))
	eq(t, "earnings scanned", sum, int64(50+60))
}

// testReverseConcurrent races retries of one reversal: it takes once.
func testReverseConcurrent(t *testing.T, s WalletStore) {
	c, tn := ctx(t), tenant(t, "a")
	now := base
	svc := walletService(s, &now)
	credit(t, svc, tn, "u1", "keep", 10)
	credit(t, svc, tn, "u1", "undo", 25)
	var firsts atomic.Int64
	var wg sync.WaitGroup
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch, err := svc.Reverse(c, tn, "undo")
			if err != nil {
				t.Error(err)
				return
			}
			if !ch.Repeat {
				firsts.Add(1)
			}
		}()
	}
	wg.Wait()
	eq(t, "first reversals", firsts.Load(), int64(1))
	checkWallet(t, s, tn, "u1", 10)
}

// recorder is an Emitter that keeps events by idempotency key, as the
// event store does.
type recorder struct {
	mu   sync.Mutex
	evs  map[string]events.Event
	sent int
}

func (r *recorder) Emit(_ context.Context, ev events.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.evs == nil {
		r.evs = map[string]events.Event{}
	}
	r.sent++
	if _, ok := r.evs[ev.IdempotencyKey]; !ok {
		r.evs[ev.IdempotencyKey] = ev
	}
	return nil
}

func (r *recorder) ofType(typ string) []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []events.Event
	for _, ev := range r.evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func testPolicy(t *testing.T, s WalletStore) {
	c, a, b := ctx(t), tenant(t, "a"), tenant(t, "b")
	_, ok, err := s.Policy(c, a)
	must(t, err)
	eq(t, "no policy", ok, false)
	p := points.Policy{PendingDays: 14, Expiry: points.ExpireQuarters, ExpiryN: 4, TimeZone: "Europe/Paris", NoticeDays: 30}
	must(t, s.PutPolicy(c, a, p))
	must(t, s.PutPolicy(c, b, points.DefaultPolicy))
	p.ExpiryN = 3
	must(t, s.PutPolicy(c, a, p))
	got, ok, err := s.Policy(c, a)
	must(t, err)
	eq(t, "policy", got, p)
	eq(t, "found", ok, true)
	ts, err := s.PolicyTenants(c)
	must(t, err)
	var mine []string
	for _, tn := range ts {
		if tn == a || tn == b {
			mine = append(mine, tn)
		}
	}
	if len(mine) != 2 {
		t.Fatalf("policy tenants %v lack %s or %s", ts, a, b)
	}
}

func testPending(t *testing.T, s WalletStore) {
	c, tn := ctx(t), tenant(t, "a")
	now := base
	svc := walletService(s, &now)
	_, err := svc.PutPolicy(c, tn, points.Policy{PendingDays: 14})
	must(t, err)
	credit(t, svc, tn, "u1", "purchase:1", 30)
	w, err := svc.Wallet(c, tn, "u1")
	must(t, err)
	eq(t, "pending wallet", w, points.Wallet{Pending: 30, Earned: 30, Expiring: []points.Bucket{}})
	_, err = svc.Spend(c, points.Spend{Tenant: tn, User: "u1", Amount: 1, Key: "s1"})
	if e, ok := errs.As(err); !ok || e.Code != points.ErrInsufficient {
		t.Fatalf("spend of pending points: %v", err)
	}
	now = points.Policy{PendingDays: 14}.AvailableAt(base) // 14 days, up to the hour
	w, err = svc.Wallet(c, tn, "u1")
	must(t, err)
	eq(t, "available wallet", w, points.Wallet{Balance: 30, Available: 30, Earned: 30, Expiring: []points.Bucket{}})
	_, err = svc.Spend(c, points.Spend{Tenant: tn, User: "u1", Amount: 30, Key: "s1"})
	must(t, err)
	checkWallet(t, s, tn, "u1", 0)
}

func testExpiry(t *testing.T, s WalletStore) {
	c, tn := ctx(t), tenant(t, "a")
	now := time.Date(2028, 1, 31, 10, 0, 0, 0, time.UTC) // 1 month later is the leap day
	svc := walletService(s, &now)
	rec := &recorder{}
	svc.SetEmitter(rec)
	_, err := svc.PutPolicy(c, tn, points.Policy{Expiry: points.ExpireMonths, ExpiryN: 1, NoticeDays: 7})
	must(t, err)
	a := credit(t, svc, tn, "u1", "k:a", 10) // expires 2028-03-01
	now = now.Add(48 * time.Hour)
	credit(t, svc, tn, "u1", "k:b", 5) // expires 2028-03-03
	_, err = svc.Spend(c, points.Spend{Tenant: tn, User: "u1", Amount: 3, Key: "s1"})
	must(t, err)
	w, err := svc.Wallet(c, tn, "u1")
	must(t, err)
	eq(t, "expiring", w.Expiring, []points.Bucket{
		{At: time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC), Amount: 7},
		{At: time.Date(2028, 3, 3, 0, 0, 0, 0, time.UTC), Amount: 5},
	})

	// On the leap day nothing has expired; a's expiry is tomorrow.
	now = time.Date(2028, 2, 29, 23, 59, 59, 0, time.UTC)
	r, err := svc.Expire(c, now, nil)
	must(t, err)
	eq(t, "report on the leap day", r, points.ExpiryReport{Notices: 2})
	eq(t, "notices", len(rec.ofType(points.EventExpiring)), 2)

	now = time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)
	w, err = svc.Wallet(c, tn, "u1")
	must(t, err)
	if w.Balance != 5 || w.Expired != 7 {
		t.Fatalf("wallet past a's expiry, before the job: %+v", w)
	}
	var seen []int64
	r, err = svc.Expire(c, now, func(done, total int64) { seen = append(seen, done, total) })
	must(t, err)
	eq(t, "report", r, points.ExpiryReport{Lots: 1, Changes: 1, Points: 7, Notices: 1})
	eq(t, "progress", seen, []int64{1, 1})
	eq(t, "owed once emitted", owedOf(t, s, tn), []string(nil))
	r, err = svc.Expire(c, now, nil)
	must(t, err)
	eq(t, "second run", r, points.ExpiryReport{Notices: 1})
	checkWallet(t, s, tn, "u1", 5)
	e, err := s.EntryByKey(c, tn, "expiry:"+a.ID)
	must(t, err)
	eq(t, "expiry entry", e.Amount, int64(-7))
	expired := rec.ofType(points.EventExpired)
	if len(expired) != 1 || expired[0].Props["amount"] != float64(7) || expired[0].User != "u1" {
		t.Fatalf("points.expired events: %+v", expired)
	}
	bal, err := s.UserBalance(c, tn, "u1")
	must(t, err)
	eq(t, "expired", bal.Expired, int64(7))
	eq(t, "earned", bal.Earned, int64(15)) // expiry never lowers earnings
	n, _, err := s.EarnedBetween(c, tn, "u1", "", base, now)
	must(t, err)
	eq(t, "earned between", n, int64(15))

	// A run that finds a user's lots due at two times expires them in
	// one change (one points.expired), keyed by the soonest lot.
	now = time.Date(2028, 1, 31, 10, 0, 0, 0, time.UTC)
	d := credit(t, svc, tn, "u2", "k:d", 4) // expires 2028-03-01
	now = now.Add(24 * time.Hour)
	credit(t, svc, tn, "u2", "k:e", 6) // expires 2028-03-02
	now = time.Date(2028, 3, 2, 12, 0, 0, 0, time.UTC)
	r, err = svc.Expire(c, now, nil)
	must(t, err)
	eq(t, "report of two expiry times", r, points.ExpiryReport{Lots: 2, Changes: 1, Points: 10, Notices: 1})
	checkWallet(t, s, tn, "u2", 0)
	e, err = s.EntryByKey(c, tn, "expiry:"+d.ID)
	must(t, err)
	eq(t, "one entry for both", e.Amount, int64(-10))
	eq(t, "points.expired events", len(rec.ofType(points.EventExpired)), 2)
}

// testExpiryOverlapping runs two expiry jobs at once over many users'
// lots: every lot expires once.
func testExpiryOverlapping(t *testing.T, s WalletStore) {
	c, tn := ctx(t), tenant(t, "a")
	now := time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
	svc := walletService(s, &now)
	rec := &recorder{}
	svc.SetEmitter(rec)
	_, err := svc.PutPolicy(c, tn, points.Policy{Expiry: points.ExpireQuarters})
	must(t, err)
	const users, lots = 12, 5
	for u := range users {
		for l := range lots {
			now = now.Add(time.Minute)
			credit(t, svc, tn, fmt.Sprint("u", u), fmt.Sprintf("k:%d:%d", u, l), int64(l+1))
		}
	}
	now = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	var expired atomic.Int64
	for range 2 {
		wg.Go(func() {
			r, err := svc.Expire(c, now, nil)
			if err != nil {
				t.Error(err)
			}
			expired.Add(r.Points)
		})
	}
	wg.Wait()
	eq(t, "points expired by both runs", expired.Load(), int64(users*(1+2+3+4+5)))
	for u := range users {
		user := fmt.Sprint("u", u)
		checkWallet(t, s, tn, user, 0)
		b, err := s.UserBalance(c, tn, user)
		must(t, err)
		eq(t, "expired of "+user, b.Expired, int64(15))
	}
	var sum float64
	for _, ev := range rec.ofType(points.EventExpired) {
		sum += ev.Props["amount"].(float64)
	}
	eq(t, "points in points.expired events", sum, float64(users*15))
}

// RunRewards runs the rewards cases through the points service.
func RunRewards(t *testing.T, open func(t *testing.T) WalletStore) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, WalletStore)
	}{
		{"RedeemConcurrentBalance", testRedeemConcurrentBalance},
		{"RedeemConcurrentStock", testRedeemConcurrentStock},
		{"RedeemAndCancel", testRedeemAndCancel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func newReward(t *testing.T, svc *points.Service, tn string, r points.Reward) points.Reward {
	t.Helper()
	r.Active = true
	got, err := svc.CreateReward(ctx(t), tn, r)
	must(t, err)
	return got
}

// redeemAll races n redemptions (user of i, key of i) and counts the
// completed ones.
func redeemAll(t *testing.T, svc *points.Service, tn, reward string, n int, user func(int) string) int64 {
	t.Helper()
	var ok atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]bool{}
	for i := range n {
		wg.Go(func() {
			red, err := svc.Redeem(context.Background(), tn, user(i), reward, fmt.Sprint("idem-", i))
			if e, isErr := errs.As(err); isErr && e.Kind == errs.Conflict {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			if red.State == points.RedemptionCompleted {
				ok.Add(1)
			}
			mu.Lock()
			defer mu.Unlock()
			if red.Code != "" && codes[red.Code] {
				t.Errorf("code %s handed out twice", red.Code)
			}
			codes[red.Code] = true
		})
	}
	wg.Wait()
	return ok.Load()
}

// testRedeemConcurrentBalance: 200 redemptions by one user whose balance
// pays for 3, of a reward with stock 10: exactly 3 are paid, 3 of stock go.
func testRedeemConcurrentBalance(t *testing.T, s WalletStore) {
	c, tn := ctx(t), tenant(t, "a")
	now := base
	svc := walletService(s, &now)
	stock := int64(10)
	r := newReward(t, svc, tn, points.Reward{Name: "Mug", Kind: points.KindGenerated, Cost: 10, Stock: &stock})
	credit(t, svc, tn, "u1", "k1", 30)
	eq(t, "redeemed", redeemAll(t, svc, tn, r.ID, 200, func(int) string { return "u1" }), int64(3))
	checkWallet(t, s, tn, "u1", 0)
	left, err := svc.StockLeft(c, r)
	must(t, err)
	eq(t, "stock left", *left, int64(7))
}

// testRedeemConcurrentStock: 200 redemptions by 20 users who can all pay,
// of a reward with stock 10: exactly 10 are sold.
func testRedeemConcurrentStock(t *testing.T, s WalletStore) {
	c, tn := ctx(t), tenant(t, "a")
	now := base
	svc := walletService(s, &now)
	stock := int64(10)
	r := newReward(t, svc, tn, points.Reward{Name: "Ticket", Kind: points.KindPhysical, Cost: 1, Stock: &stock})
	for u := range 20 {
		credit(t, svc, tn, fmt.Sprint("u", u), fmt.Sprint("k", u), 100)
	}
	eq(t, "sold", redeemAll(t, svc, tn, r.ID, 200, func(i int) string { return fmt.Sprint("u", i%20) }), int64(10))
	left, err := svc.StockLeft(c, r)
	must(t, err)
	eq(t, "stock left", *left, int64(0))
	var spent int64
	for u := range 20 {
		b, err := s.UserBalance(c, tn, fmt.Sprint("u", u))
		must(t, err)
		spent += b.Spent
	}
	eq(t, "points spent", spent, int64(10))
}

// testRedeemAndCancel: a coupon redemption pays from the soonest-expiring
// lot and hands a code; a repeat with the key returns it; the limit and
// the tier hold; a cancel refunds the same lots (a new lot for an expired
// one) and restocks, once.
func testRedeemAndCancel(t *testing.T, s WalletStore) {
	c, tn := ctx(t), tenant(t, "a")
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	svc := walletService(s, &now)
	rec := &recorder{}
	svc.SetEmitter(rec)
	_, err := svc.PutPolicy(c, tn, points.Policy{Expiry: points.ExpireQuarters})
	must(t, err)
	r := newReward(t, svc, tn, points.Reward{Name: "Coupon", Kind: points.KindCoupon, Cost: 15, Codes: []string{"AAA", "BBB"},
		UserLimit: 1, LimitPeriod: points.PeriodMonth})
	credit(t, svc, tn, "u1", "k1", 10) // expires 2026-04-01
	now = time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)
	_, err = svc.Expire(c, now, nil) // old expires unspent: none of it left
	must(t, err)
	now = time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	a := credit(t, svc, tn, "u1", "k2", 10) // expires 2026-04-01
	b := credit(t, svc, tn, "u1", "k3", 20) // same expiry, later
	red, err := svc.Redeem(c, tn, "u1", r.ID, "key-1")
	must(t, err)
	eq(t, "paid from", red.Takes, []points.Take{{Lot: a.ID, Amount: 10}, {Lot: b.ID, Amount: 5}})
	eq(t, "code", red.Code, "AAA")
	again, err := svc.Redeem(c, tn, "u1", r.ID, "key-1")
	must(t, err)
	eq(t, "repeat", again.ID, red.ID)
	_, err = svc.Redeem(c, tn, "u1", r.ID, "key-2")
	if e, ok := errs.As(err); !ok || e.Code != points.ErrLimitReached {
		t.Fatalf("second redemption this month: %v", err)
	}
	vip := newReward(t, svc, tn, points.Reward{Name: "VIP", Kind: points.KindContent, Content: "lounge", Cost: 1, Tiers: []string{"gold"}})
	_, err = svc.Redeem(c, tn, "u1", vip.ID, "key-3")
	if e, ok := errs.As(err); !ok || e.Code != points.ErrTierRequired {
		t.Fatalf("VIP reward without the tier: %v", err)
	}
	eq(t, "reward.redeemed events", len(rec.ofType(points.EventRedeemed)), 1)

	// a and b expire before the cancel.
	now = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for range 2 {
		got, err := svc.Cancel(c, tn, red.ID)
		must(t, err)
		eq(t, "state", got.State, points.RedemptionCancelled)
	}
	bal, err := s.UserBalance(c, tn, "u1")
	must(t, err)
	eq(t, "spent after cancel", bal.Spent, int64(0))
	w, err := svc.Wallet(c, tn, "u1")
	must(t, err)
	// a and b expired at midnight: the 15 come back as new lots, expiring
	// at the end of the quarter now begun.
	if w.Balance != 15 || w.Expired != 25 {
		lots, _ := s.UserLots(c, tn, "u1", "", 100)
		t.Fatalf("available after cancel: %+v, balance %+v, lots %+v", w, bal, lots)
	}
	left, err := svc.StockLeft(c, r)
	must(t, err)
	// The cancelled coupon's code was seen: its slot stays taken, so AAA
	// is never handed out again.
	eq(t, "stock left after a coupon's cancel", *left, int64(1))
	n, _, err := s.EarnedBetween(c, tn, "u1", "", time.Unix(0, 0), now.Add(time.Hour))
	must(t, err)
	eq(t, "a refund earns nothing", n, int64(40))
	_, err = svc.Fulfil(c, tn, red.ID)
	if e, ok := errs.As(err); !ok || e.Code != points.ErrRedemptionState {
		t.Fatalf("fulfil a cancelled redemption: %v", err)
	}
}
