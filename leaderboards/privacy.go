package leaderboards

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// UserData is what a user's export and erasure need of the board store.
type UserData interface {
	// UserScores lists the user's scores on every board of the tenant,
	// in (board, event id) order.
	UserScores(ctx context.Context, tenant, user string) ([]Score, error)
	// EraseBoardUser deletes the user's scores, totals and exclusions
	// on every board. Repeating it changes nothing.
	EraseBoardUser(ctx context.Context, tenant, user string) error
}

// UserExport is the leaderboards section of a user's data export.
type UserExport struct {
	Standings  []Standing    `json:"standings" doc:"The user's rank on every board they are on, in its current period."`
	Scores     []ScoreExport `json:"scores" doc:"What the user's events scored on event boards."`
	Exclusions []Exclusion   `json:"exclusions" doc:"Boards the user was taken off, by whom and why."`
}

// ScoreExport is one event's score on an event board.
type ScoreExport struct {
	Board   string    `json:"board_id"`
	EventID string    `json:"event_id"`
	Value   int64     `json:"value"`
	At      time.Time `json:"at"`
}

// Export returns the user's ranks, event-board scores and exclusions.
func (s *Service) Export(ctx context.Context, tenant, user string) (string, any, error) {
	st, err := s.Standings(ctx, tenant, user)
	if err != nil {
		return "", nil, err
	}
	out := UserExport{Standings: st, Scores: []ScoreExport{}, Exclusions: []Exclusion{}}
	scores, err := s.Store.UserScores(ctx, tenant, user)
	if err != nil {
		return "", nil, fmt.Errorf("leaderboards: export %s: %w", user, err)
	}
	bs, err := s.List(ctx, tenant)
	if err != nil {
		return "", nil, err
	}
	for _, sc := range scores {
		// A points board's scores are the user's ledger entries, which
		// the points section of the export lists.
		if i := slices.IndexFunc(bs, func(b Board) bool { return b.ID == sc.Board }); i >= 0 && bs[i].Source == FromPoints {
			continue
		}
		out.Scores = append(out.Scores, ScoreExport{Board: sc.Board, EventID: sc.EventID, Value: sc.Value, At: sc.At})
	}
	ex, err := s.Store.Exclusions(ctx, tenant, "")
	if err != nil {
		return "", nil, fmt.Errorf("leaderboards: export %s: %w", user, err)
	}
	for _, e := range ex {
		if e.User == user {
			out.Exclusions = append(out.Exclusions, e)
		}
	}
	return "leaderboards", out, nil
}

// Erase deletes the user's scores and exclusions and takes the user off
// every kept period of every board. Their ledger entries, anonymised by
// points, count on no board (see paidBy), so a rebuild cannot bring them
// back.
func (s *Service) Erase(ctx context.Context, tenant, user string) error {
	if err := s.Store.EraseBoardUser(ctx, tenant, user); err != nil {
		return fmt.Errorf("leaderboards: erase %s: %w", user, err)
	}
	s.forget(ctx, tenant)
	bs, err := s.List(ctx, tenant)
	if err != nil {
		return err
	}
	for _, b := range bs {
		if err := s.removeEverywhere(ctx, b, user); err != nil {
			return fmt.Errorf("leaderboards: erase %s: %w", user, err)
		}
	}
	return nil
}
