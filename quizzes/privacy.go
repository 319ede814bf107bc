package quizzes

import (
	"context"
	"errors"
	"fmt"

	"github.com/questline/questline/internal/errs"
)

// UserExport is the quizzes section of a user's data export.
type UserExport struct {
	Attempts []Attempt  `json:"attempts" doc:"Every attempt with the answers given and how they scored."`
	Live     []LiveShow `json:"live" doc:"The live shows joined in the last 24 hours, with the standing and the answers."`
}

// LiveShow is one live show a user joined, as their export shows it.
type LiveShow struct {
	SessionID string             `json:"session_id"`
	QuizID    string             `json:"quiz_id"`
	Player    Player             `json:"player"`
	Answers   map[int]LiveAnswer `json:"answers" doc:"By question index."`
}

// Export returns the user's attempts (users.Participant).
func (s *Service) Export(ctx context.Context, tenant, user string) (string, any, error) {
	as, err := s.Store.UserAttempts(ctx, tenant, "", user)
	if err != nil {
		return "", nil, fmt.Errorf("quizzes: export %s: %w", user, err)
	}
	live, err := s.liveShows(ctx, tenant, user)
	if err != nil {
		return "", nil, err
	}
	return "quizzes", UserExport{Attempts: append([]Attempt{}, as...), Live: live}, nil
}

// liveShows reads the user's live standing and answers from the engine,
// where they live for sessionTTL.
func (s *Service) liveShows(ctx context.Context, tenant, user string) ([]LiveShow, error) {
	out := []LiveShow{}
	if s.Engine == nil {
		return out, nil
	}
	err := s.eachShow(ctx, tenant, user, func(sess Session) error {
		p, ok, err := s.Engine.Player(ctx, tenant, sess.ID, user)
		if err != nil || !ok {
			return err
		}
		as, err := s.Engine.PlayerAnswers(ctx, tenant, sess.ID, user, len(sess.Questions))
		if err == nil {
			out = append(out, LiveShow{SessionID: sess.ID, QuizID: sess.QuizID, Player: p, Answers: as})
		}
		return err
	})
	return out, err
}

// eachShow calls fn with every live show user joined that still exists.
func (s *Service) eachShow(ctx context.Context, tenant, user string, fn func(Session) error) error {
	ids, err := s.Engine.UserSessions(ctx, tenant, user)
	if err != nil {
		return fmt.Errorf("quizzes: live shows of %s: %w", user, err)
	}
	for _, id := range ids {
		sess, err := s.Engine.GetSession(ctx, tenant, id)
		if errors.Is(err, errs.ErrNotFound) {
			sess = Session{ID: id, Tenant: tenant} // expired: only the index entry is left
		} else if err != nil {
			return fmt.Errorf("quizzes: live show %s: %w", id, err)
		}
		if err := fn(sess); err != nil {
			return fmt.Errorf("quizzes: live show %s of %s: %w", id, user, err)
		}
	}
	return nil
}

// Erase deletes the user's attempts and answers, and their players and
// answers in live shows (users.Participant);
// survey results and CSV exports then no longer count them. Points,
// badges and unlocks they earned are erased by their own domains.
func (s *Service) Erase(ctx context.Context, tenant, user string) error {
	if err := s.Store.EraseQuizUser(ctx, tenant, user); err != nil {
		return fmt.Errorf("quizzes: erase %s: %w", user, err)
	}
	if s.Engine == nil {
		return nil
	}
	return s.eachShow(ctx, tenant, user, func(sess Session) error {
		return s.Engine.ErasePlayer(ctx, tenant, sess.ID, user, len(sess.Questions))
	})
}
