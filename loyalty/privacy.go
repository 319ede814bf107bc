package loyalty

import (
	"context"
	"fmt"

	"github.com/questline/questline/auth"
)

// UserData is what a user's export and erasure need of the loyalty store.
type UserData interface {
	// EarnMarks lists every mark of the user, by rule and seq.
	EarnMarks(ctx context.Context, tenant, user string) ([]Mark, error)
	// EraseEarnUser deletes the user's marks, tier standing, referral
	// code and their own claim of a code; repeating it changes nothing.
	EraseEarnUser(ctx context.Context, tenant, user string) error
	// CodeOf returns the user's referral code; found is false without one.
	CodeOf(ctx context.Context, tenant, user string) (code string, found bool, err error)
	// ReferralsBy lists the claims of the user's code (the users they
	// referred), oldest first.
	ReferralsBy(ctx context.Context, tenant, referrer string) ([]Claim, error)
	// AnonymiseReferrer moves the claims naming the user as referrer to
	// pseudonym. The claims stay, as each referee may claim once; they
	// just no longer say who referred them. Repeating it changes nothing.
	AnonymiseReferrer(ctx context.Context, tenant, user, pseudonym string) error
}

// UserExport is the loyalty section of a user's data export.
type UserExport struct {
	EarnMarks    []Mark     `json:"earn_marks" doc:"Every event an earn rule counted for the user, with what it paid and the rule's count and caps after it."`
	Tier         *TierState `json:"tier,omitempty" doc:"The user's tier standing."`
	ReferralCode string     `json:"referral_code,omitempty" doc:"The user's own referral code."`
	ReferredBy   *Claim     `json:"referred_by,omitempty" doc:"The user's claim of another user's code."`
	Referred     []Claim    `json:"referred" doc:"The claims of the user's code: whom they referred, oldest first."`
}

// Export returns what earn rules counted for the user.
func (s *Service) Export(ctx context.Context, tenant, user string) (string, any, error) {
	ms, err := s.Store.EarnMarks(ctx, tenant, user)
	if err != nil {
		return "", nil, fmt.Errorf("loyalty: export %s: %w", user, err)
	}
	if ms == nil {
		ms = []Mark{}
	}
	out := UserExport{EarnMarks: ms}
	st, found, err := s.Store.TierState(ctx, tenant, user)
	if err != nil {
		return "", nil, fmt.Errorf("loyalty: export %s: %w", user, err)
	}
	if found {
		out.Tier = &st
	}
	if out.ReferralCode, _, err = s.Store.CodeOf(ctx, tenant, user); err != nil {
		return "", nil, fmt.Errorf("loyalty: export %s: %w", user, err)
	}
	c, found, err := s.Store.ClaimOf(ctx, tenant, user)
	if err != nil {
		return "", nil, fmt.Errorf("loyalty: export %s: %w", user, err)
	}
	if found {
		out.ReferredBy = &c
	}
	if out.Referred, err = s.Store.ReferralsBy(ctx, tenant, user); err != nil {
		return "", nil, fmt.Errorf("loyalty: export %s: %w", user, err)
	}
	if out.Referred == nil {
		out.Referred = []Claim{}
	}
	return "loyalty", out, nil
}

// Erase deletes what earn rules counted for the user, their tier
// standing, referral code and claim, and takes their id off the claims of
// the users they referred. Their points are the ledger's, which
// anonymises them itself.
func (s *Service) Erase(ctx context.Context, tenant, user string) error {
	if err := s.Store.EraseEarnUser(ctx, tenant, user); err != nil {
		return fmt.Errorf("loyalty: erase %s: %w", user, err)
	}
	if err := s.Store.AnonymiseReferrer(ctx, tenant, user, auth.Pseudonym(tenant, user)); err != nil {
		return fmt.Errorf("loyalty: erase %s: %w", user, err)
	}
	return nil
}
