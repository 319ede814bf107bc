package points

import (
	"context"
	"fmt"

	"github.com/questline/questline/auth"
)

// UserData is what a user's erasure needs of the ledger store.
type UserData interface {
	// AnonymiseEntries moves every ledger entry of the user to pseudonym,
	// with reason "erased" and no event id. Amounts, times and keys stay:
	// tenant sums and rebuilds stay exact, and a replay of a cause still
	// finds its key taken and never pays twice. (Keys name causes, such as
	// challenge:{id}:{completion id}, never a user.) Repeating it changes
	// nothing.
	// It also deletes the user's day sums (DaySum): they exist only for
	// the user's own tier window, which a pseudonym never has, and nothing
	// sums them across users.
	AnonymiseEntries(ctx context.Context, tenant, user, pseudonym string) error
	// EarnedDays lists the user's day sums, oldest first, for the export.
	EarnedDays(ctx context.Context, tenant, user string) ([]DaySum, error)
	// AnonymiseWallet moves the user's wallet (changes, lots, reversals)
	// to pseudonym, as AnonymiseEntries does the ledger. Repeating it
	// changes nothing.
	AnonymiseWallet(ctx context.Context, tenant, user, pseudonym string) error
}

// ErasedReason is the reason an anonymised ledger entry carries.
const ErasedReason = "erased"

// UserExport is the points section of a user's data export.
type UserExport struct {
	Wallet      Wallet       `json:"wallet"`
	Entries     []Entry      `json:"entries" doc:"The whole ledger of the user, newest first."`
	Redemptions []Redemption `json:"redemptions" doc:"The user's reward redemptions, newest first."`
	EarnedDays  []DaySum     `json:"earned_days" doc:"What the user earned on each UTC day, as kept for rolling tier windows, oldest first."`
}

// exportPage is how many ledger lines one read of an export takes.
const exportPage = 500

// Export returns the user's wallet and whole ledger.
func (s *Service) Export(ctx context.Context, tenant, user string) (string, any, error) {
	w, err := s.Wallet(ctx, tenant, user)
	if err != nil {
		return "", nil, err
	}
	reds, err := s.Redemptions(ctx, tenant, user)
	if err != nil {
		return "", nil, err
	}
	days, err := s.store.EarnedDays(ctx, tenant, user)
	if err != nil {
		return "", nil, fmt.Errorf("points: export: %w", err)
	}
	out := UserExport{Wallet: w, Entries: []Entry{}, Redemptions: append([]Redemption{}, reds...), EarnedDays: append([]DaySum{}, days...)}
	for before := ""; ; {
		page, err := s.Ledger(ctx, tenant, user, before, exportPage)
		if err != nil {
			return "", nil, err
		}
		out.Entries = append(out.Entries, page...)
		if len(page) < exportPage {
			return "points", out, nil
		}
		before = page[len(page)-1].ID
	}
}

// Erase anonymises the user's ledger: the lines stay, under the user's
// pseudonym, so every total over the tenant stays exact.
func (s *Service) Erase(ctx context.Context, tenant, user string) error {
	if err := s.store.AnonymiseEntries(ctx, tenant, user, auth.Pseudonym(tenant, user)); err != nil {
		return fmt.Errorf("points: erase %s: %w", user, err)
	}
	if err := s.store.AnonymiseWallet(ctx, tenant, user, auth.Pseudonym(tenant, user)); err != nil {
		return fmt.Errorf("points: erase %s: %w", user, err)
	}
	if err := s.store.EraseRewardUser(ctx, tenant, user); err != nil {
		return fmt.Errorf("points: erase %s: %w", user, err)
	}
	return nil
}
