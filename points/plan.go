package points

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/questline/questline/internal/errs"
)

// The planners: pure functions of a wallet that say what an operation
// does to it. Stores apply their changes; nothing here writes.

// planCredit adds lot to the wallet.
func planCredit(lot Lot, now time.Time) Planner {
	return func(_ context.Context, w WalletView) (Change, error) {
		b := w.Balance().prune(now)
		b.Held += lot.Amount
		b.Earned += lot.Amount
		if lot.AvailableAt.After(now) {
			b.Pending = addBucket(b.Pending, lot.AvailableAt, lot.Amount)
		}
		if !lot.ExpiresAt.IsZero() {
			b.Expiring = addBucket(b.Expiring, lot.ExpiresAt, lot.Amount)
		}
		lot.Remaining = lot.Amount
		return Change{Kind: KindCredit, User: lot.User, Amount: lot.Amount, Balance: b, Lots: []Lot{lot}, At: now}, nil
	}
}

// ErrInsufficient is the code of a spend larger than the available
// points (HTTP 409).
const ErrInsufficient = "insufficient-points"

// planSpend takes amount points from the spendable lots, soonest expiry
// first; it fails with ErrInsufficient when fewer are available.
func planSpend(user string, amount int64, now time.Time) Planner {
	return func(ctx context.Context, w WalletView) (Change, error) {
		b := w.Balance().prune(now)
		if avail := b.AvailableAt(now); avail < amount {
			return Change{}, errs.New(errs.Conflict, ErrInsufficient,
				"%d points are available, %d are needed", avail, amount)
		}
		c := Change{Kind: KindSpend, User: user, Amount: amount, At: now}
		b, err := take(ctx, w, b, &c, amount, now)
		if err != nil {
			return Change{}, err
		}
		if got := sumTakes(c.Takes); got != amount {
			return Change{}, fmt.Errorf("points: spend %d: lots hold %d spendable points but the balance says %d", amount, got, b.AvailableAt(now)+got)
		}
		b.Held -= amount
		b.Spent += amount
		c.Balance = b
		return c, nil
	}
}

// take takes up to want points from the spendable lots into c, soonest
// expiry first, and returns b with their expiring buckets lowered.
func take(ctx context.Context, w WalletView, b Balance, c *Change, want int64, now time.Time) (Balance, error) {
	err := w.Spendable(ctx, now, func(l Lot) bool {
		if slices.ContainsFunc(c.Lots, func(x Lot) bool { return x.ID == l.ID }) {
			return true // emptied by this change already (a reversal's own lot)
		}
		n := min(l.Remaining, want)
		l.Remaining -= n
		want -= n
		c.Lots = append(c.Lots, l)
		c.Takes = append(c.Takes, Take{Lot: l.ID, Amount: n})
		if !l.ExpiresAt.IsZero() {
			b.Expiring = addBucket(b.Expiring, l.ExpiresAt, -n)
		}
		return want > 0
	})
	return b, err
}

func sumTakes(ts []Take) int64 {
	var n int64
	for _, t := range ts {
		n += t.Amount
	}
	return n
}

// planReverse undoes the credit e: what is left of its lot goes first;
// points of it already spent are taken from the other spendable lots,
// soonest expiry first; what even they cannot cover is counted as
// unrecovered, never as a negative balance. Lifetime earnings lose the
// whole credit.
func planReverse(e Entry, now time.Time) Planner {
	return func(ctx context.Context, w WalletView) (Change, error) {
		b := w.Balance().prune(now)
		c := Change{Kind: KindReversal, User: e.User, Amount: e.Amount, At: now}
		lot, ok, err := w.Lot(ctx, e.ID)
		if err != nil {
			return Change{}, err
		}
		if ok && lot.Remaining > 0 {
			n := lot.Remaining
			if lot.AvailableAt.After(now) {
				b.Pending = addBucket(b.Pending, lot.AvailableAt, -n)
			}
			if !lot.ExpiresAt.IsZero() {
				b.Expiring = addBucket(b.Expiring, lot.ExpiresAt, -n)
			}
			lot.Remaining = 0
			c.Lots = append(c.Lots, lot)
			c.Takes = append(c.Takes, Take{Lot: lot.ID, Amount: n})
		}
		if short := e.Amount - sumTakes(c.Takes); short > 0 {
			if b, err = take(ctx, w, b, &c, short, now); err != nil {
				return Change{}, err
			}
		}
		clawed := sumTakes(c.Takes)
		b.Held -= clawed
		b.Earned -= e.Amount
		b.Reversed += e.Amount
		b.Unrecovered += e.Amount - clawed
		c.Balance = b
		return c, nil
	}
}
