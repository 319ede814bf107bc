package points

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/internal/bus"
)

// Observer learns of every credit that earns points, for derived state such
// as leaderboards. It must be idempotent: a replayed credit is reported
// again, because a crash may have struck between the ledger write and the
// observer.
type Observer interface {
	Earned(ctx context.Context, e Entry) error
}

// Notifier pushes a frame to a user's live connections.
type Notifier interface {
	PublishUser(ctx context.Context, tenant, user, typ string, data any) error
}

// Service is the ledger's logic: credits keyed for exactly-once, wallets.
type Service struct {
	store     Store
	observers []Observer
	notify    Notifier
	emit      Emitter
	attrs     Attributes
	tiers     Tiers
	rewards   *bus.Cache[[]Reward] // tenant -> catalogue
	bus       bus.Bus
	now       func() time.Time
}

// NewService returns a ledger service. observers are told of every credit.
func NewService(store Store, notify Notifier, observers ...Observer) *Service {
	return &Service{store: store, notify: notify, observers: observers, now: time.Now, rewards: bus.NewCache[[]Reward](rewardCacheTTL, 0)}
}

// SetClock replaces the service's clock (time.Now), for tests that move
// across pending windows and expiry dates.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Credit is one request to pay points.
type Credit struct {
	Tenant, User string
	Amount       int64
	Key          string // unique per tenant: the same key never pays twice
	Reason       string
	EventID      string
}

// Credit writes c to the ledger once, however often it is called, makes
// it a lot of the user's wallet, and returns the entry (the first one
// written under c.Key) and the balance.
func (s *Service) Credit(ctx context.Context, c Credit) (Entry, Totals, error) {
	now := s.now().UTC()
	e := Entry{
		ID: uuid.Must(uuid.NewV7()).String(), Tenant: c.Tenant, User: c.User, Amount: c.Amount,
		Key: c.Key, Reason: c.Reason, EventID: c.EventID, CreatedAt: now,
	}
	stored, inserted, err := s.store.InsertEntry(ctx, e)
	if err != nil {
		return Entry{}, Totals{}, fmt.Errorf("points: credit %s: %w", c.Key, err)
	}
	b, err := s.lot(ctx, stored, now)
	if err != nil {
		return Entry{}, Totals{}, fmt.Errorf("points: credit %s: %w", c.Key, err)
	}
	if stored.Amount > 0 {
		for _, o := range s.observers {
			if err := o.Earned(ctx, stored); err != nil {
				return Entry{}, Totals{}, fmt.Errorf("points: credit %s: observer: %w", c.Key, err)
			}
		}
	}
	t := Totals{Balance: b.Held, Earned: b.Earned}
	if inserted && s.notify != nil {
		// A push is a courtesy on top of durable state; its failure must not
		// fail the credit (the wallet endpoint always tells the truth).
		_ = s.notify.PublishUser(ctx, c.Tenant, c.User, "points", pointsFrame{
			Amount: stored.Amount, Reason: stored.Reason, Balance: b.AvailableAt(now), Earned: t.Earned,
		})
	}
	return stored, t, nil
}

// lot makes the credit e a lot of its user's wallet, once, and returns
// the wallet's balance. A repeat of the credit (a retry after a crash
// between the ledger and the wallet) finds the lot made or makes it now.
func (s *Service) lot(ctx context.Context, e Entry, now time.Time) (Balance, error) {
	if e.Amount <= 0 {
		return s.store.UserBalance(ctx, e.Tenant, e.User)
	}
	p, err := s.Policy(ctx, e.Tenant)
	if err != nil {
		return Balance{}, err
	}
	c, applied, err := s.store.ApplyChange(ctx, e.Tenant, e.User, e.Key, planCredit(p.Lot(e), now))
	if err != nil {
		return Balance{}, fmt.Errorf("lot: %w", err)
	}
	if !applied {
		return s.store.UserBalance(ctx, e.Tenant, e.User)
	}
	return c.Balance, nil
}

type pointsFrame struct {
	Amount  int64  `json:"amount"`
	Reason  string `json:"reason"`
	Balance int64  `json:"balance"`
	Earned  int64  `json:"earned"`
}

// Wallet is what a player sees of their points.
type Wallet struct {
	Balance   int64    `json:"balance" doc:"Points available to spend now."`
	Available int64    `json:"available" doc:"The same as balance."`
	Pending   int64    `json:"pending" doc:"Points earned but not yet available (e.g. until a return window closes)."`
	Spent     int64    `json:"spent" doc:"Points spent, lifetime."`
	Expired   int64    `json:"expired" doc:"Points that expired unspent, lifetime."`
	Earned    int64    `json:"earned" doc:"Lifetime points earned, less reversed credits; spending and expiry do not reduce it."`
	Expiring  []Bucket `json:"expiring" doc:"Points that expire in the next 90 days unless spent: how many at each time, soonest first."`
	// The programme around the balance; each is absent when the tenant
	// has none (no tier programme, no reward the user may redeem).
	Tier       *WalletTier `json:"tier,omitempty" doc:"The user's tier, the next one and what it still needs."`
	NextReward *NextReward `json:"next_reward,omitempty" doc:"The cheapest reward open to the user (active, in stock, their tier) they cannot afford yet, and how many points short they are; when they can afford every one, the dearest."`
}

// expiringWindow is how far ahead the wallet lists expiring points.
const expiringWindow = 90 * 24 * time.Hour

// Programme returns the wallet with the user's tier and next reward, as
// the user sees it.
func (s *Service) Programme(ctx context.Context, tenant, user string) (Wallet, error) {
	w, err := s.Wallet(ctx, tenant, user)
	if err != nil {
		return Wallet{}, err
	}
	return w, s.reach(ctx, tenant, user, &w)
}

// Wallet reads the folded balance of one user (no tier nor rewards).
func (s *Service) Wallet(ctx context.Context, tenant, user string) (Wallet, error) {
	b, err := s.store.UserBalance(ctx, tenant, user)
	if err != nil {
		return Wallet{}, fmt.Errorf("points: wallet: %w", err)
	}
	now := s.now()
	avail := b.AvailableAt(now)
	w := Wallet{
		Balance: avail, Available: avail, Pending: b.PendingAt(now), Spent: b.Spent,
		Expired: b.Expired + b.ExpiredAt(now), Earned: b.Earned, Expiring: []Bucket{},
	}
	for _, x := range b.Expiring {
		if x.At.After(now) && !x.At.After(now.Add(expiringWindow)) {
			w.Expiring = append(w.Expiring, x)
		}
	}
	return w, nil
}

// Ledger pages a user's entries newest first.
func (s *Service) Ledger(ctx context.Context, tenant, user, before string, limit int) ([]Entry, error) {
	es, err := s.store.Entries(ctx, tenant, user, before, limit)
	if err != nil {
		return nil, fmt.Errorf("points: ledger: %w", err)
	}
	return es, nil
}

// EarnedBetween sums what a user earned in [from, to) from entries whose
// keys start with keyPrefix, and says when the last of them was created;
// leaderboards rank it.
func (s *Service) EarnedBetween(ctx context.Context, tenant, user, keyPrefix string, from, to time.Time) (int64, time.Time, error) {
	return s.store.EarnedBetween(ctx, tenant, user, keyPrefix, from, to)
}

// EarnedInWindow is EarnedBetween's total with no key prefix, read at a
// cost bounded by the window's days rather than its entries (see
// Store.EarnedInWindow), for rolling tier windows.
func (s *Service) EarnedInWindow(ctx context.Context, tenant, user string, from, to time.Time) (int64, error) {
	n, err := s.store.EarnedInWindow(ctx, tenant, user, from, to)
	if err != nil {
		return 0, fmt.Errorf("points: earned in window: %w", err)
	}
	return n, nil
}

// ScanEarnings calls fn for every positive entry of tenant ("" = all)
// but refunds, in ledger order, for rebuilds of derived state. A reversal
// comes as its credit with the amount negated, so a sum over a credit's
// window undoes it.
func (s *Service) ScanEarnings(ctx context.Context, tenant string, fn func(Entry) error) error {
	return s.store.ScanEntries(ctx, tenant, func(e Entry) error {
		if e.Amount > 0 && e.Reason != ReasonRefund {
			return fn(e)
		}
		orig, ok := strings.CutSuffix(e.Key, reversalSuffix)
		if !ok || e.Reason != ReasonReversal {
			return nil
		}
		credit, err := s.store.EntryByKey(ctx, e.Tenant, orig)
		if err != nil {
			return fmt.Errorf("points: scan: credit of reversal %s: %w", e.Key, err)
		}
		credit.Amount = -credit.Amount
		return fn(credit)
	})
}

// CountEntries counts ledger lines, for progress bars.
func (s *Service) CountEntries(ctx context.Context, tenant string) (int64, error) {
	return s.store.CountEntries(ctx, tenant)
}

// PayOnce credits amount under key unless that key has paid already; it
// reports which event the payment belongs to, so a caller replaying an
// event can tell its own payment from an earlier one.
func (s *Service) PayOnce(ctx context.Context, tenant, user string, amount int64, key, reason, eventID string) (string, int64, error) {
	e, t, err := s.Credit(ctx, Credit{Tenant: tenant, User: user, Amount: amount, Key: key, Reason: reason, EventID: eventID})
	if err != nil {
		return "", 0, err
	}
	return e.EventID, t.Balance, nil
}
