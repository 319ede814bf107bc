package points

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Lot is the points of one credit: every credit is a lot, and every point
// later spent, expired or reversed is taken from a lot (see Take), so each
// point can be traced back to what earned it.
type Lot struct {
	ID          string    `json:"id" doc:"The id of the ledger entry that credited it."`
	User        string    `json:"-"`
	Key         string    `json:"key" doc:"The ledger key of that credit."`
	Amount      int64     `json:"amount"`
	Remaining   int64     `json:"remaining" doc:"Points not yet spent, expired or reversed."`
	EarnedAt    time.Time `json:"earned_at"`
	AvailableAt time.Time `json:"available_at" doc:"Until then the points are pending."`
	ExpiresAt   time.Time `json:"expires_at,omitzero" doc:"Absent: the points never expire."`
}

// spendable reports whether the lot's points may be spent at now.
func (l Lot) spendable(now time.Time) bool {
	return l.Remaining > 0 && !l.AvailableAt.After(now) && (l.ExpiresAt.IsZero() || l.ExpiresAt.After(now))
}

// Take is a number of points taken from one lot by a change.
type Take struct {
	Lot    string `json:"lot"`
	Amount int64  `json:"amount"`
}

// Bucket is an amount due at one time (pending points becoming available,
// held points expiring).
type Bucket struct {
	At     time.Time `json:"at"`
	Amount int64     `json:"amount"`
}

// Balance is a user's wallet folded change by change, so reading it costs
// the same whatever the user's history. Held is every point in lots not
// spent, expired or reversed; which of them are pending or past expiry at
// a given time follows from the two bucket lists.
type Balance struct {
	Version     int64   `json:"version"` // changes applied; 0 = untouched
	Held        int64   `json:"held"`
	Spent       int64   `json:"spent"`
	Expired     int64   `json:"expired"`
	Reversed    int64   `json:"reversed"`    // points of reversed credits
	Unrecovered int64   `json:"unrecovered"` // of those, points spent before the reversal
	Earned      int64   `json:"earned"`      // lifetime, net of reversals
	Pending     Buckets `json:"pending,omitempty"`
	Expiring    Buckets `json:"expiring,omitempty"`
}

// Buckets are a balance's due amounts, sorted by time. They are stored
// as a flat JSON array of millisecond times and amounts, which a wallet
// read decodes several times faster than RFC 3339 strings: a wallet of
// lots expiring on every day of a year holds hundreds.
type Buckets []Bucket

// MarshalJSON encodes bs as [at1, amount1, at2, amount2, ...].
func (bs Buckets) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(bs)*22)
	b = append(b, '[')
	for i, x := range bs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, x.At.UnixMilli(), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, x.Amount, 10)
	}
	return append(b, ']'), nil
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (bs *Buckets) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) < 2 || data[0] != '[' || data[len(data)-1] != ']' {
		return errors.New("points: buckets: not an array")
	}
	body := bytes.TrimSpace(data[1 : len(data)-1])
	if len(body) == 0 {
		*bs = nil
		return nil
	}
	parts := bytes.Split(body, []byte{','})
	if len(parts)%2 != 0 {
		return errors.New("points: buckets: odd length")
	}
	out := make(Buckets, len(parts)/2)
	for i := range out {
		at, err := strconv.ParseInt(string(bytes.TrimSpace(parts[2*i])), 10, 64)
		if err != nil {
			return fmt.Errorf("points: buckets: %w", err)
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(parts[2*i+1])), 10, 64)
		if err != nil {
			return fmt.Errorf("points: buckets: %w", err)
		}
		out[i] = Bucket{At: time.UnixMilli(at).UTC(), Amount: n}
	}
	*bs = out
	return nil
}

// PendingAt is how many held points are still pending at now.
func (b Balance) PendingAt(now time.Time) int64 { return dueAfter(b.Pending, now) }

// ExpiredAt is how many held points have passed their expiry at now but
// not yet been expired by the expiry job.
func (b Balance) ExpiredAt(now time.Time) int64 { return b.heldExpiring() - dueAfter(b.Expiring, now) }

// AvailableAt is how many points may be spent at now.
func (b Balance) AvailableAt(now time.Time) int64 {
	return b.Held - b.PendingAt(now) - b.ExpiredAt(now)
}

func (b Balance) heldExpiring() int64 {
	var n int64
	for _, x := range b.Expiring {
		n += x.Amount
	}
	return n
}

// dueAfter sums the buckets due after now.
func dueAfter(bs Buckets, now time.Time) int64 {
	var n int64
	for _, x := range bs {
		if x.At.After(now) {
			n += x.Amount
		}
	}
	return n
}

// addBucket adds delta to the bucket at at, keeping bs sorted by time and
// free of empty buckets. It never changes bs in place: a Balance may be a
// planner's input that is planned again.
func addBucket(bs Buckets, at time.Time, delta int64) Buckets {
	at = at.UTC().Truncate(time.Millisecond) // as stored
	i, found := slices.BinarySearchFunc(bs, at, func(b Bucket, t time.Time) int { return b.At.Compare(t) })
	out := slices.Clone(bs)
	switch {
	case found && out[i].Amount+delta == 0:
		return slices.Delete(out, i, i+1)
	case found:
		out[i].Amount += delta
		return out
	case delta == 0:
		return out
	}
	return slices.Insert(out, i, Bucket{At: at, Amount: delta})
}

// prune drops pending buckets due by now: those points are available.
func (b Balance) prune(now time.Time) Balance {
	i := 0
	for i < len(b.Pending) && !b.Pending[i].At.After(now) {
		i++
	}
	b.Pending = slices.Clone(b.Pending[i:])
	return b
}

// Change is what one keyed operation did to a wallet: stored once per
// (tenant, key), so a retry of the operation finds and returns it.
type Change struct {
	Key     string    `json:"key"`
	Kind    string    `json:"kind"`
	User    string    `json:"-"`      // kept beside the change, so erasure can move it
	Amount  int64     `json:"amount"` // points the operation asked to move
	Balance Balance   `json:"balance"`
	Lots    []Lot     `json:"lots,omitempty"`  // lots created or changed, as they are after it
	Takes   []Take    `json:"takes,omitempty"` // points taken from lots
	At      time.Time `json:"at"`
	// Ledger, when set, is the change's ledger line, stored with it (in
	// the same write where the store can) under its own key, once.
	Ledger *Entry `json:"ledger,omitempty"`
	// Repeat is set on a change returned to a repeated call (never
	// stored): an earlier call under the key made it.
	Repeat bool `json:"-"`
	// Owes, when set, is the event type the change still owes (an
	// expiry's points.expired): stored with the change, in its write, and
	// listed by OwedChanges until ClearOwed, so a crash between the change
	// and its event delays the event instead of losing it. It is kept
	// beside the body, not in it, so clearing it rewrites no body.
	Owes string `json:"-"`
}

// OwedChange is a change that still owes its event (Change.Owes).
type OwedChange struct {
	Tenant string
	Change Change
}

// Kinds of change.
const (
	KindCredit   = "credit"
	KindSpend    = "spend"
	KindReversal = "reversal"
	KindExpiry   = "expiry"
	KindRefund   = "refund"
)

// WalletView is a user's wallet as a planner sees it, read consistently
// with the version it is planned against.
type WalletView interface {
	Balance() Balance
	// Lot returns one lot of the user; ok is false when there is none.
	Lot(ctx context.Context, id string) (lot Lot, ok bool, err error)
	// Spendable calls fn for the user's lots spendable at now (Remaining >
	// 0, available, not expired) in spending order: the soonest expiry
	// first (never-expiring last), then the oldest earned, then by id;
	// until fn returns false.
	Spendable(ctx context.Context, now time.Time, fn func(Lot) bool) error
	// ExpiringBy returns the user's lots with points left whose expiry is
	// at or before at (never-expiring lots never), soonest expiry first.
	ExpiringBy(ctx context.Context, at time.Time) ([]Lot, error)
}

// Planner computes a change from a wallet. A store may call it more than
// once for one operation (when another change won the race), so it must
// not have side effects; an error it returns stops the operation and is
// returned as is.
type Planner func(ctx context.Context, w WalletView) (Change, error)

// ChangeOp is one change of a batch (see ApplyChanges).
type ChangeOp struct {
	User, Key string
	Plan      Planner
}

// ChangeResult is what became of one ChangeOp.
type ChangeResult struct {
	Change  Change
	Applied bool
	Err     error // the plan's error, if it refused
}

// WalletStore keeps lots and folded balances. Every change is decided
// against one version of the user's wallet and stored with the next one,
// so changes of one user are serialised without transactions: of
// concurrent changes planned against the same version exactly one is
// stored and the others are planned again.
type WalletStore interface {
	// ApplyChange stores the change plan computes from the user's wallet,
	// once per (tenant, key): when key has a change already it returns
	// that one with applied=false and does not call plan. The change is
	// stored with Balance.Version one above the wallet's, and its Lots
	// replace the user's lots of the same ids.
	ApplyChange(ctx context.Context, tenant, user, key string, plan Planner) (Change, bool, error)
	// ApplyChanges is ApplyChange for many changes of one tenant at once
	// (a store may write them in one go), each with its own result. An
	// error of a plan is its result's; the error returned is the store's.
	ApplyChanges(ctx context.Context, tenant string, ops []ChangeOp) ([]ChangeResult, error)
	// ChangeByKey returns the change stored under key, or errs.ErrNotFound.
	ChangeByKey(ctx context.Context, tenant, key string) (Change, error)
	// OwedChanges lists the changes of every tenant that still owe their
	// event and were made (Change.At) before before, oldest first, up to
	// limit; ClearOwed marks the tenant's changes under keys as owing
	// nothing, in one write (unknown or cleared keys are skipped).
	OwedChanges(ctx context.Context, before time.Time, limit int) ([]OwedChange, error)
	ClearOwed(ctx context.Context, tenant string, keys []string) error
	// UserBalance returns the user's balance as of the latest change
	// (the zero Balance for an untouched wallet).
	UserBalance(ctx context.Context, tenant, user string) (Balance, error)
	// UserLots pages a user's lots by id, after the id `after`.
	UserLots(ctx context.Context, tenant, user, after string, limit int) ([]Lot, error)
	// EntryByKey returns the ledger entry with key, or errs.ErrNotFound.
	EntryByKey(ctx context.Context, tenant, key string) (Entry, error)
	// InsertReversal records that the credit e was reversed, once per
	// (tenant, e.Key): EarnedBetween no longer counts it.
	InsertReversal(ctx context.Context, e Entry, at time.Time) error

	// PutPolicy stores the tenant's lot policy; Policy returns it, ok
	// false when the tenant set none. PolicyTenants lists the tenants
	// that set one (only their lots can expire).
	PutPolicy(ctx context.Context, tenant string, p Policy) error
	Policy(ctx context.Context, tenant string) (p Policy, ok bool, err error)
	PolicyTenants(ctx context.Context) ([]string, error)
	// ExpiringLots pages the tenant's lots with points left whose expiry
	// is in [from, to), ordered by (ExpiresAt, User, ID), after the lot
	// `after` (nil = from the start); CountExpiringLots counts them.
	ExpiringLots(ctx context.Context, tenant string, from, to time.Time, after *Lot, limit int) ([]Lot, error)
	CountExpiringLots(ctx context.Context, tenant string, from, to time.Time) (int64, error)
}
