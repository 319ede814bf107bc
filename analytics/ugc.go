package analytics

import (
	"context"
	"fmt"

	"github.com/questline/questline/events"
	"github.com/questline/questline/ugc"
)

// MetricUGCApproved counts submissions approved (each once, the first
// time), from ugc.approved: the series' approvals per day.
const MetricUGCApproved = "ugc_approved"

// UGCCounter counts the tenant's submissions per status.
//
// The summary's UGC numbers are counted in the ugc store over an index on
// (tenant, status) rather than folded here: submissions and rejections
// emit no event, and a fold of a fact the ugc service would have to write
// beside each decision needs the decision's crash recovery (its owed
// effects) to cover it too. The store's rows are the decisions
// themselves, so their count is exact after any crash, and an index count
// costs milliseconds. Only approvals per day, which the status of now
// cannot date, are folded, from ugc.approved.
type UGCCounter interface {
	StatusCounts(ctx context.Context, tenant string) (ugc.StatusCounts, error)
}

func ugcMetrics(ev events.Event) map[string]int64 {
	if ev.Type != "ugc.approved" {
		return nil
	}
	return map[string]int64{MetricUGCApproved: 1}
}

// UGCTotals are the tenant's submissions as they stand now.
type UGCTotals struct {
	Received     int64   `json:"received" doc:"Submissions stored (an erased user's are gone)."`
	Pending      int64   `json:"pending" doc:"Waiting for a decision, edits of approved content included."`
	Approved     int64   `json:"approved" doc:"Approved and public."`
	Rejected     int64   `json:"rejected"`
	Removed      int64   `json:"removed" doc:"Taken down after approval; what their approval paid is reversed (points.reversed)."`
	ApprovalRate float64 `json:"approval_rate" doc:"Approved / decided (approved, rejected and removed), 0 to 1, rounded to 4 places."`
	EverApproved int64   `json:"ever_approved" doc:"Submissions approved at least once (ugc.approved, counted once each): the sum of the series' ugc_approved."`
}

// ugcTotals reads the status counts; everApproved is the fold's total.
func (s *Service) ugcTotals(ctx context.Context, tenant string, everApproved int64) (UGCTotals, error) {
	out := UGCTotals{EverApproved: everApproved}
	if s.ugc == nil {
		return out, nil
	}
	c, err := s.ugc.StatusCounts(ctx, tenant)
	if err != nil {
		return UGCTotals{}, fmt.Errorf("analytics: ugc: %w", err)
	}
	out.Pending, out.Approved, out.Rejected, out.Removed = c.Pending, c.Approved, c.Rejected, c.Removed
	out.Received = c.Pending + c.Approved + c.Rejected + c.Removed
	if decided := c.Approved + c.Rejected + c.Removed; decided > 0 {
		out.ApprovalRate = round4(float64(c.Approved) / float64(decided))
	}
	return out, nil
}
