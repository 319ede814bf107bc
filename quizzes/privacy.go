package quizzes

import (
	"context"
	"fmt"
)

// UserExport is the quizzes section of a user's data export.
type UserExport struct {
	Attempts []Attempt `json:"attempts" doc:"Every attempt with the answers given and how they scored."`
}

// Export returns the user's attempts (users.Participant).
func (s *Service) Export(ctx context.Context, tenant, user string) (string, any, error) {
	as, err := s.Store.UserAttempts(ctx, tenant, "", user)
	if err != nil {
		return "", nil, fmt.Errorf("quizzes: export %s: %w", user, err)
	}
	return "quizzes", UserExport{Attempts: append([]Attempt{}, as...)}, nil
}

// Erase deletes the user's attempts and answers (users.Participant);
// survey results and CSV exports then no longer count them. Points,
// badges and unlocks they earned are erased by their own domains.
func (s *Service) Erase(ctx context.Context, tenant, user string) error {
	if err := s.Store.EraseQuizUser(ctx, tenant, user); err != nil {
		return fmt.Errorf("quizzes: erase %s: %w", user, err)
	}
	return nil
}
