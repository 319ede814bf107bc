package leaderboards

import (
	"context"
	"time"

	"github.com/questline/questline/retention"
)

// RetentionTargets lists the scores of each of tenant's event boards.
// No read needs a score once it is folded into its member's total: writes
// and reads use the totals and rebuilds scan them (see scanFolded), so the
// scores have no reach of their own. A points board's scores are never
// pruned: each is the record that one ledger entry was folded, and the
// ledger keeps its entries forever and pays (and reports) a repeated key
// at any time, so without the record a replayed credit, or a build run
// again, would fold it twice.
func (s *Service) RetentionTargets(ctx context.Context, tenant string, _ time.Time) ([]retention.Target, error) {
	bs, err := s.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	var out []retention.Target
	for _, b := range bs {
		if b.Source != FromEvents {
			continue
		}
		out = append(out, retention.Target{
			What: "scores of board " + b.ID,
			Prune: func(ctx context.Context, before time.Time, progress func(int64)) (int64, error) {
				return s.Store.PruneScores(ctx, tenant, b.ID, before, progress)
			},
		})
	}
	return out, nil
}
