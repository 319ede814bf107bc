package loyalty

import (
	"context"
	"fmt"
)

// UserData is what a user's export and erasure need of the loyalty store.
type UserData interface {
	// EarnMarks lists every mark of the user, by rule and seq.
	EarnMarks(ctx context.Context, tenant, user string) ([]Mark, error)
	// EraseEarnUser deletes the user's marks and tier standing; repeating
	// it changes nothing.
	EraseEarnUser(ctx context.Context, tenant, user string) error
}

// UserExport is the loyalty section of a user's data export.
type UserExport struct {
	EarnMarks []Mark     `json:"earn_marks" doc:"Every event an earn rule counted for the user, with what it paid and the rule's count and caps after it."`
	Tier      *TierState `json:"tier,omitempty" doc:"The user's tier standing."`
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
	return "loyalty", out, nil
}

// Erase deletes what earn rules counted for the user. Their points are
// the ledger's, which anonymises them itself.
func (s *Service) Erase(ctx context.Context, tenant, user string) error {
	if err := s.Store.EraseEarnUser(ctx, tenant, user); err != nil {
		return fmt.Errorf("loyalty: erase %s: %w", user, err)
	}
	return nil
}
