package points

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/questline/questline/internal/errs"
)

// Spend is one request to spend points.
type Spend struct {
	Tenant, User string
	Amount       int64  // > 0
	Key          string // unique per tenant: the same key never spends twice
	Reason       string
	EventID      string
}

// Error codes of Spend and Reverse besides ErrInsufficient.
const (
	ErrBadAmount   = "bad-amount"        // 422: a spend of no points
	ErrKeyReused   = "key-reused"        // 409: the key did something else
	ErrNoCredit    = "credit-not-found"  // 404: Reverse of an unknown key
	ErrNotACredit  = "not-a-credit"      // 422: Reverse of a spend, a reversal...
	ReasonReversal = "reversal"          // the reason of a reversal's ledger entry
	reversalSuffix = ":reversal"         // ReversalKey
	errKeyMissing  = "points: empty key" // a programming error, not a client's
)

// ReversalKey is the ledger key of the reversal of the credit keyed key.
func ReversalKey(key string) string { return key + reversalSuffix }

// Spend takes sp.Amount points from the user's available lots, soonest
// expiry first, and writes a negative ledger entry under sp.Key. It is
// exact under any concurrency: the balance never goes below zero, and a
// key spends once however often it is called; a repeat returns the first
// call's change (Repeat set). A spend larger than the available points
// fails with ErrInsufficient (409) and changes nothing.
func (s *Service) Spend(ctx context.Context, sp Spend) (Change, error) {
	if sp.Key == "" {
		return Change{}, errors.New(errKeyMissing)
	}
	if sp.Amount <= 0 {
		return Change{}, errs.New(errs.Unprocessable, ErrBadAmount, "a spend must be of at least 1 point").OnField("amount")
	}
	now := s.now().UTC()
	c, applied, err := s.store.ApplyChange(ctx, sp.Tenant, sp.User, sp.Key, planSpend(sp.User, sp.Amount, now))
	if err != nil {
		return Change{}, fmt.Errorf("points: spend %s: %w", sp.Key, err)
	}
	if !applied && (c.Kind != KindSpend || c.User != sp.User || c.Amount != sp.Amount) {
		return Change{}, errs.New(errs.Conflict, ErrKeyReused, "the key %q was used for another operation", sp.Key)
	}
	c.Repeat = !applied
	// The ledger line follows the wallet: a crash in between leaves the
	// change stored, and the retry that finds it writes the line.
	e := Entry{Tenant: sp.Tenant, User: sp.User, Amount: -sp.Amount, Key: sp.Key, Reason: sp.Reason, EventID: sp.EventID, CreatedAt: c.At}
	if _, _, err := s.store.InsertEntry(ctx, e); err != nil {
		return Change{}, fmt.Errorf("points: spend %s: ledger: %w", sp.Key, err)
	}
	s.pushBalance(ctx, sp.Tenant, sp.User, -sp.Amount, sp.Reason, c.Balance, applied)
	return c, nil
}

// ReversalObserver is an Observer that also learns of reversed credits,
// to undo what they counted for. It must be idempotent, like Earned.
type ReversalObserver interface {
	Reversed(ctx context.Context, credit Entry) error
}

// Reverse undoes the credit keyed key, once however often it is called:
// the points left of its lot are taken back, and points of it already
// spent are taken from the user's other available lots; what those
// cannot cover is counted in Balance.Unrecovered, never as a negative
// balance. The credit stops counting for lifetime earnings and for points
// leaderboards (observers implementing ReversalObserver are told). The
// reversal's ledger entry is keyed ReversalKey(key) and carries the
// points actually taken back, negated. A repeat returns the first call's
// change (Repeat set).
func (s *Service) Reverse(ctx context.Context, tenant, key string) (Change, error) {
	credit, err := s.store.EntryByKey(ctx, tenant, key)
	if errors.Is(err, errs.ErrNotFound) {
		return Change{}, errs.New(errs.NotFound, ErrNoCredit, "no ledger entry has the key %q", key)
	}
	if err != nil {
		return Change{}, fmt.Errorf("points: reverse %s: %w", key, err)
	}
	if credit.Amount <= 0 || strings.HasSuffix(key, reversalSuffix) {
		return Change{}, errs.New(errs.Unprocessable, ErrNotACredit, "the ledger entry %q is not a credit", key)
	}
	now := s.now().UTC()
	rkey := ReversalKey(key)
	c, applied, err := s.store.ApplyChange(ctx, tenant, credit.User, rkey, planReverse(credit, now))
	if err != nil {
		return Change{}, fmt.Errorf("points: reverse %s: %w", key, err)
	}
	c.Repeat = !applied
	clawed := sumTakes(c.Takes)
	e := Entry{Tenant: tenant, User: credit.User, Amount: -clawed, Key: rkey, Reason: ReasonReversal, EventID: credit.EventID, CreatedAt: c.At}
	if _, _, err := s.store.InsertEntry(ctx, e); err != nil {
		return Change{}, fmt.Errorf("points: reverse %s: ledger: %w", key, err)
	}
	if err := s.store.InsertReversal(ctx, credit, c.At); err != nil {
		return Change{}, fmt.Errorf("points: reverse %s: %w", key, err)
	}
	for _, o := range s.observers {
		if r, ok := o.(ReversalObserver); ok {
			if err := r.Reversed(ctx, credit); err != nil {
				return Change{}, fmt.Errorf("points: reverse %s: observer: %w", key, err)
			}
		}
	}
	s.pushBalance(ctx, tenant, credit.User, -clawed, ReasonReversal, c.Balance, applied)
	return c, nil
}

// pushBalance tells the user's live connections of a change, once.
func (s *Service) pushBalance(ctx context.Context, tenant, user string, amount int64, reason string, b Balance, applied bool) {
	if !applied || s.notify == nil {
		return
	}
	// A push is a courtesy on top of durable state (see Credit).
	_ = s.notify.PublishUser(ctx, tenant, user, "points", pointsFrame{
		Amount: amount, Reason: reason, Balance: b.AvailableAt(s.now()), Earned: b.Earned,
	})
}
