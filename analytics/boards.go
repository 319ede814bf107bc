package analytics

import (
	"context"
	"fmt"

	"github.com/questline/questline/leaderboards"
)

// BoardReader reads what board stats report from the leaderboards service.
type BoardReader interface {
	Top(ctx context.Context, tenant, id, sel string, offset, limit int) (leaderboards.Page, error)
	Exclusions(ctx context.Context, tenant, id string) ([]leaderboards.Exclusion, error)
}

// BoardStats is a board's current period at a glance.
type BoardStats struct {
	ID           string `json:"id"`
	Period       string `json:"period"`
	Participants int64  `json:"participants" doc:"Members on the board's current period."`
	Excluded     int    `json:"excluded" doc:"Users taken off the board (staff, bots, fraud)."`
	Building     bool   `json:"building" doc:"The board is still being filled from the ledger; participants may grow."`
	Previous     *int64 `json:"previous_participants,omitempty" doc:"Members of the period before, for a board that resets."`
}

// BoardStats reads a board's participants now and in the period before,
// and its exclusions. Another tenant's board is not found.
func (s *Service) BoardStats(ctx context.Context, tenant, id string) (BoardStats, error) {
	cur, err := s.boards.Top(ctx, tenant, id, "current", 0, 1)
	if err != nil {
		return BoardStats{}, err
	}
	ex, err := s.boards.Exclusions(ctx, tenant, id)
	if err != nil {
		return BoardStats{}, fmt.Errorf("analytics: board %s: %w", id, err)
	}
	out := BoardStats{ID: id, Period: cur.Period, Participants: cur.Total, Excluded: len(ex), Building: cur.Build != nil}
	if cur.ResetsAt != nil {
		if prev, err := s.boards.Top(ctx, tenant, id, "previous", 0, 1); err == nil {
			out.Previous = &prev.Total
		}
	}
	return out, nil
}
