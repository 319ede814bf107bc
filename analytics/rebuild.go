package analytics

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/internal/errs"
)

// Rebuild is a job folding a tenant's stored events into the rollups, for
// a database whose events predate them (or to repair them). Every fact is
// keyed as on the write path, so events already counted count nothing.
type Rebuild struct {
	ID      string    `json:"id"`
	Tenant  string    `json:"-"`
	Status  string    `json:"status" enum:"running,done,failed"`
	Started time.Time `json:"started_at"`
	Scanned int64     `json:"scanned_events"`
	Error   string    `json:"error,omitempty"`
}

// StartRebuild starts folding the tenant's stored events in the background.
func (s *Service) StartRebuild(ctx context.Context, tenant string) Rebuild {
	j := Rebuild{ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, Status: "running", Started: s.now().UTC()}
	s.rebuilds.put(j.ID, j)
	go s.runRebuild(context.WithoutCancel(ctx), j)
	return j
}

// RebuildJob returns a rebuild of the tenant.
func (s *Service) RebuildJob(tenant, id string) (Rebuild, error) {
	j, ok := s.rebuilds.get(id)
	if !ok || j.Tenant != tenant {
		return Rebuild{}, errs.New(errs.NotFound, "not-found", "no such rebuild")
	}
	return j, nil
}

// runRebuild scans the events by id. Challenge funnels are not rebuilt:
// they come from the progress the engine reports as events are processed.
func (s *Service) runRebuild(ctx context.Context, j Rebuild) {
	for after := ""; ; {
		page, err := s.scanner.ScanEvents(ctx, j.Tenant, after, scanPage)
		if err == nil {
			for _, ev := range page {
				if err = s.fold(ctx, ev, nil); err != nil {
					break
				}
			}
		}
		if err != nil {
			j.Status, j.Error = "failed", "the rebuild failed; run it again (it is idempotent)"
			s.logger.Error("analytics: rebuild", "tenant", j.Tenant, "job", j.ID, "err", err)
			s.rebuilds.put(j.ID, j)
			return
		}
		j.Scanned += int64(len(page))
		if len(page) < scanPage {
			break
		}
		after = page[len(page)-1].ID
		s.rebuilds.put(j.ID, j)
	}
	j.Status = "done"
	s.rebuilds.put(j.ID, j)
}
