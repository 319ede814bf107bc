// Package points is the exact points ledger and the wallets derived from it.
package points

import (
	"context"
	"time"
)

// Entry is one line of the ledger. Key is unique per tenant and derived from
// what caused the entry (e.g. a challenge completion), so a replay of the
// cause can never pay twice.
type Entry struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"-"`
	User      string    `json:"user_id"`
	Amount    int64     `json:"amount"`
	Key       string    `json:"key"`
	Reason    string    `json:"reason"`
	EventID   string    `json:"event_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Totals is a user's wallet as folded from the ledger.
type Totals struct {
	Balance int64 // sum of all amounts
	Earned  int64 // sum of positive amounts (lifetime points earned)
}

// DaySum is what a user earned in one UTC day as EarnedBetween counts it:
// every positive entry created that day adds its amount, once, when it
// is written, and the reversal of one (InsertReversal) takes it off that
// day again, once. Stores fold it in the ledger's write where they can;
// a rolling tier window reads its whole days from it.
type DaySum struct {
	Day    time.Time `json:"day" doc:"The UTC day (its midnight)."`
	Earned int64     `json:"earned" doc:"Points earned that day, less reversed credits of that day."`
}

// Store keeps the ledger. (tenant, key) is unique.
type Store interface {
	UserData    // export and erasure: privacy.go
	WalletStore // lots and balances: wallet.go
	RewardStore // catalogue and redemptions: rewards.go
	// InsertEntry stores e; if the tenant has an entry with e.Key already,
	// it returns that one and inserted=false.
	InsertEntry(ctx context.Context, e Entry) (stored Entry, inserted bool, err error)
	// Totals folds a user's ledger into balance and lifetime earnings.
	Totals(ctx context.Context, tenant, user string) (Totals, error)
	// EarnedBetween sums a user's positive entries created in [from, to)
	// whose keys start with keyPrefix ("" = any), and returns when the last
	// of them was created (zero when there are none): leaderboards rank the
	// total and break ties by that time.
	EarnedBetween(ctx context.Context, tenant, user, keyPrefix string, from, to time.Time) (total int64, last time.Time, err error)
	// EarnedInWindow is EarnedBetween's total with no key prefix, exactly,
	// at a cost bounded by the window's days rather than its entries: the
	// whole UTC months and days inside it (SplitWindow) come from month and
	// day sums (DaySum), the partial first and last days from the ledger.
	EarnedInWindow(ctx context.Context, tenant, user string, from, to time.Time) (int64, error)
	// Entries pages a user's ledger newest first, starting after the entry
	// id `before` ("" = from the newest).
	Entries(ctx context.Context, tenant, user, before string, limit int) ([]Entry, error)
	// ScanEntries calls fn for every entry of tenant ("" = every tenant) in
	// id order, for rebuilds. It stops at the first error fn returns.
	ScanEntries(ctx context.Context, tenant string, fn func(Entry) error) error
	// CountEntries counts the ledger lines of tenant ("" = all), so a rebuild
	// can show progress.
	CountEntries(ctx context.Context, tenant string) (int64, error)
}

// Window is [From, To) at millisecond precision, split for day and month
// sums: the whole UTC months [FirstMonth, LastMonth) inside it, between
// the whole UTC days [First, FirstMonth) and [LastMonth, Last), between
// the partial days [From, First) and [Last, To), each shorter than a day.
// Any part may be empty. Days is false when no whole day is inside: every
// inner bound is then To.
type Window struct {
	From, First, FirstMonth, LastMonth, Last, To time.Time
	Days                                         bool
}

// SplitWindow splits [from, to) for EarnedInWindow. Every term of
// EarnedBetween (an entry, a reversed credit) lies at one instant, so the
// parts' sums add up to the window's exactly.
func SplitWindow(from, to time.Time) Window {
	from, to = from.Truncate(time.Millisecond), to.Truncate(time.Millisecond)
	first, last := from.Truncate(24*time.Hour), to.Truncate(24*time.Hour)
	if first.Before(from) {
		first = first.Add(24 * time.Hour)
	}
	if !first.Before(last) {
		return Window{From: from, First: to, FirstMonth: to, LastMonth: to, Last: to, To: to}
	}
	w := Window{From: from, First: first, FirstMonth: MonthOf(first), LastMonth: MonthOf(last), Last: last, To: to, Days: true}
	if w.FirstMonth.Before(first) {
		w.FirstMonth = w.FirstMonth.AddDate(0, 1, 0)
	}
	if !w.FirstMonth.Before(w.LastMonth) {
		w.FirstMonth, w.LastMonth = last, last
	}
	return w
}

// MonthOf is the first UTC midnight of t's month, the key of a month sum.
func MonthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}
