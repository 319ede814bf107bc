package points

import (
	"cmp"
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/questline/questline/internal/errs"
)

// memWallet is a WalletView over lots in memory, applying changes as a
// store would.
type memWallet struct {
	b    Balance
	lots []Lot
}

func (m *memWallet) Balance() Balance { return m.b }

func (m *memWallet) Lot(_ context.Context, id string) (Lot, bool, error) {
	i := slices.IndexFunc(m.lots, func(l Lot) bool { return l.ID == id })
	if i < 0 {
		return Lot{}, false, nil
	}
	return m.lots[i], true, nil
}

func (m *memWallet) Spendable(_ context.Context, now time.Time, fn func(Lot) bool) error {
	never := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	exp := func(l Lot) time.Time {
		if l.ExpiresAt.IsZero() {
			return never
		}
		return l.ExpiresAt
	}
	ls := slices.Clone(m.lots)
	slices.SortFunc(ls, func(a, b Lot) int {
		return cmp.Or(exp(a).Compare(exp(b)), a.EarnedAt.Compare(b.EarnedAt), cmp.Compare(a.ID, b.ID))
	})
	for _, l := range ls {
		if l.spendable(now) && !fn(l) {
			return nil
		}
	}
	return nil
}

func (m *memWallet) ExpiringBy(_ context.Context, at time.Time) ([]Lot, error) {
	var out []Lot
	for _, l := range m.lots {
		if l.Remaining > 0 && !l.ExpiresAt.IsZero() && !l.ExpiresAt.After(at) {
			out = append(out, l)
		}
	}
	return out, nil
}

func (m *memWallet) apply(t *testing.T, p Planner) (Change, error) {
	t.Helper()
	c, err := p(context.Background(), m)
	if err != nil {
		return c, err
	}
	m.b = c.Balance
	for _, l := range c.Lots {
		if i := slices.IndexFunc(m.lots, func(x Lot) bool { return x.ID == l.ID }); i >= 0 {
			m.lots[i] = l
		} else {
			m.lots = append(m.lots, l)
		}
	}
	return c, nil
}

var t0 = time.Date(2028, 2, 28, 12, 0, 0, 0, time.UTC)

func lot(id string, amount int64, earned time.Duration, avail time.Duration, expires time.Duration) Lot {
	l := Lot{ID: id, Key: "k:" + id, Amount: amount, EarnedAt: t0.Add(earned), AvailableAt: t0.Add(avail)}
	if expires != 0 {
		l.ExpiresAt = t0.Add(expires)
	}
	return l
}

func TestPlanSpend(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		name   string
		lots   []Lot
		now    time.Duration
		amount int64
		takes  []Take
		err    string
	}{
		{"soonest expiry first", []Lot{lot("a", 5, 0, 0, 30*day), lot("b", 5, day, day, 10*day)}, 2 * day, 7,
			[]Take{{"b", 5}, {"a", 2}}, ""},
		{"never-expiring last", []Lot{lot("a", 5, 0, 0, 0), lot("b", 5, day, day, 10*day)}, 2 * day, 6,
			[]Take{{"b", 5}, {"a", 1}}, ""},
		{"same expiry: oldest earned first", []Lot{lot("b", 5, day, day, 10*day), lot("a", 5, 2*day, 2*day, 10*day)}, 3 * day, 6,
			[]Take{{"b", 5}, {"a", 1}}, ""},
		{"pending points are not spendable", []Lot{lot("a", 5, 0, 14*day, 0), lot("b", 3, 0, 0, 0)}, day, 4,
			nil, ErrInsufficient},
		{"pending points become spendable", []Lot{lot("a", 5, 0, 14*day, 0), lot("b", 3, 0, 0, 0)}, 14 * day, 8,
			[]Take{{"a", 5}, {"b", 3}}, ""},
		{"expired points are not spendable before the job", []Lot{lot("a", 5, 0, 0, day), lot("b", 3, 0, 0, 0)}, day, 4,
			nil, ErrInsufficient},
		{"across the leap day", []Lot{lot("a", 5, 0, 0, 36*time.Hour), lot("b", 3, 0, 0, 0)}, 35 * time.Hour, 6,
			[]Take{{"a", 5}, {"b", 1}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &memWallet{}
			for _, l := range tc.lots {
				if _, err := m.apply(t, planCredit(l, l.EarnedAt)); err != nil {
					t.Fatal(err)
				}
			}
			held := m.b.Held
			c, err := m.apply(t, planSpend("u", tc.amount, t0.Add(tc.now)))
			if tc.err != "" {
				if e, ok := errs.As(err); !ok || e.Code != tc.err {
					t.Fatalf("got %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Takes, tc.takes) {
				t.Fatalf("takes %v, want %v", c.Takes, tc.takes)
			}
			if m.b.Held != held-tc.amount || m.b.Spent != tc.amount {
				t.Fatalf("balance %+v after spending %d of %d", m.b, tc.amount, held)
			}
			checkBuckets(t, m)
		})
	}
}

// checkBuckets checks the folded buckets against the lots.
func checkBuckets(t *testing.T, m *memWallet) {
	t.Helper()
	var want Buckets
	var held int64
	for _, l := range m.lots {
		held += l.Remaining
		if !l.ExpiresAt.IsZero() && l.Remaining > 0 {
			want = addBucket(want, l.ExpiresAt, l.Remaining)
		}
	}
	if !reflect.DeepEqual(m.b.Expiring, want) && !(len(want) == 0 && len(m.b.Expiring) == 0) {
		t.Fatalf("expiring buckets %v, lots say %v", m.b.Expiring, want)
	}
	if held != m.b.Held {
		t.Fatalf("held %d, lots hold %d", m.b.Held, held)
	}
}

func TestPlanReverseAndExpire(t *testing.T) {
	day := 24 * time.Hour
	m := &memWallet{}
	for _, l := range []Lot{lot("a", 10, 0, 0, 10*day), lot("b", 20, time.Hour, 14*day, 40*day), lot("c", 5, 2*time.Hour, 2*time.Hour, 5*day)} {
		if _, err := m.apply(t, planCredit(l, l.EarnedAt)); err != nil {
			t.Fatal(err)
		}
	}
	// Spend 12 of the 15 available (c first, then a).
	if _, err := m.apply(t, planSpend("u", 12, t0.Add(day))); err != nil {
		t.Fatal(err)
	}
	if got := m.b.PendingAt(t0.Add(day)); got != 20 {
		t.Fatalf("pending %d", got)
	}
	// Reverse the pending b: all 20 come back from its own lot.
	c, err := m.apply(t, planReverse(Entry{ID: "b", Amount: 20}, t0.Add(day)))
	if err != nil || !reflect.DeepEqual(c.Takes, []Take{{"b", 20}}) || m.b.Unrecovered != 0 {
		t.Fatalf("reverse b: %+v, %v", c, err)
	}
	if got := m.b.PendingAt(t0.Add(day)); got != 0 {
		t.Fatalf("pending after reversal %d", got)
	}
	checkBuckets(t, m)
	// Reverse c (all spent): 3 from a, 2 unrecovered.
	c, err = m.apply(t, planReverse(Entry{ID: "c", Amount: 5}, t0.Add(day)))
	if err != nil || !reflect.DeepEqual(c.Takes, []Take{{"a", 3}}) || m.b.Unrecovered != 2 || m.b.Held != 0 {
		t.Fatalf("reverse c: %+v, %v, balance %+v", c, err, m.b)
	}
	checkBuckets(t, m)
	// Nothing is left to expire.
	if _, err := m.apply(t, planExpire("x", t0.Add(20*day))); !errors.Is(err, errNothing) {
		t.Fatalf("expire of empty lots: %v", err)
	}
	if m.b.Earned != 10 || m.b.Reversed != 25 {
		t.Fatalf("earned %d, reversed %d", m.b.Earned, m.b.Reversed)
	}
}

func TestPlanExpire(t *testing.T) {
	day := 24 * time.Hour
	m := &memWallet{}
	for _, l := range []Lot{lot("a", 10, 0, 0, 10*day), lot("b", 7, 0, 0, 10*day), lot("c", 5, 0, 0, 20*day)} {
		if _, err := m.apply(t, planCredit(l, l.EarnedAt)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.apply(t, planSpend("u", 4, t0)); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(10 * day)
	if got := m.b.ExpiredAt(at); got != 13 {
		t.Fatalf("expired at its time, before the job: %d", got)
	}
	if got := m.b.AvailableAt(at); got != 5 {
		t.Fatalf("available at expiry: %d", got)
	}
	if _, err := m.apply(t, planExpire("x", at.Add(-time.Millisecond))); !errors.Is(err, errNothing) {
		t.Fatalf("expiry before its time: %v", err)
	}
	// c has not expired: only a and b's remainders go.
	c, err := m.apply(t, planExpire("x", at))
	if err != nil || c.Amount != 13 || m.b.Expired != 13 || m.b.Held != 5 {
		t.Fatalf("expire: %+v, %v, balance %+v", c, err, m.b)
	}
	checkBuckets(t, m)
	if _, err := m.apply(t, planExpire("x", at)); !errors.Is(err, errNothing) {
		t.Fatalf("second expiry: %v", err)
	}
}

// TestPlanExpireSpread: one change expires every lot due by then, whatever
// its expiry time, and leaves the lots not yet due.
func TestPlanExpireSpread(t *testing.T) {
	day := 24 * time.Hour
	m := &memWallet{}
	for _, l := range []Lot{lot("a", 10, 0, 0, 10*day), lot("b", 7, 0, 0, 15*day), lot("c", 5, 0, 0, 30*day)} {
		if _, err := m.apply(t, planCredit(l, l.EarnedAt)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := m.apply(t, planExpire("x", t0.Add(20*day)))
	if err != nil || c.Amount != 17 || len(c.Takes) != 2 || m.b.Expired != 17 || m.b.Held != 5 {
		t.Fatalf("expire: %+v, %v, balance %+v", c, err, m.b)
	}
	checkBuckets(t, m)
}
