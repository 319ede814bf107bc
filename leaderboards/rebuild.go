package leaderboards

import (
	"context"
	"fmt"
	"time"
)

// Progress reports how far a rebuild is: ledger entries read of total.
type Progress func(done, total int64)

// Rebuild recomputes every board of tenant ("" = every tenant) from the
// ledger and swaps each board period in atomically. It is how derived state
// comes back after Redis is flushed or lost, and how the in-process engine
// is filled at start.
func (s *Service) Rebuild(ctx context.Context, tenant string, progress Progress) error {
	tenants := []string{tenant}
	if tenant == "" {
		var err error
		if tenants, err = s.store.Tenants(ctx); err != nil {
			return fmt.Errorf("leaderboards: rebuild: tenants: %w", err)
		}
	}
	for _, t := range tenants {
		bs, err := s.List(ctx, t)
		if err != nil {
			return err
		}
		if err := s.rebuildBoards(ctx, t, bs, progress); err != nil {
			return err
		}
	}
	return nil
}

// RebuildBoard recomputes one board.
func (s *Service) RebuildBoard(ctx context.Context, tenant, id string, progress Progress) error {
	b, err := s.Get(ctx, tenant, id)
	if err != nil {
		return err
	}
	return s.rebuildBoards(ctx, tenant, []Board{b}, progress)
}

// rebuildBoards folds the tenant's ledger once for all of bs.
func (s *Service) rebuildBoards(ctx context.Context, tenant string, bs []Board, progress Progress) error {
	if len(bs) == 0 {
		return nil
	}
	var total int64
	if progress != nil {
		var err error
		if total, err = s.ledger.CountEntries(ctx, tenant); err != nil {
			return fmt.Errorf("leaderboards: rebuild %s: count: %w", tenant, err)
		}
	}
	// key -> user -> score
	scores := map[string]map[string]int64{}
	for _, b := range bs {
		// The current period always exists, so an empty board is written
		// (as empty) rather than left with stale members.
		scores[engineKey(tenant, b.ID, PeriodAt(b.Window, s.now()).Name)] = map[string]int64{}
	}
	var done int64
	last := time.Now()
	err := s.ledger.ScanEarnings(ctx, tenant, func(_, user string, amount int64, at time.Time) error {
		for _, b := range bs {
			key := engineKey(tenant, b.ID, PeriodAt(b.Window, at).Name)
			m := scores[key]
			if m == nil {
				m = map[string]int64{}
				scores[key] = m
			}
			m[user] += amount
		}
		done++
		if progress != nil && time.Since(last) > 100*time.Millisecond {
			progress(done, total)
			last = time.Now()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("leaderboards: rebuild %s: scan: %w", tenant, err)
	}
	for key, m := range scores {
		entries := make([]Entry, 0, len(m))
		for user, score := range m {
			entries = append(entries, Entry{Member: user, Score: score})
		}
		if err := s.engine.Replace(ctx, key, entries); err != nil {
			return fmt.Errorf("leaderboards: rebuild %s: %w", key, err)
		}
	}
	if progress != nil {
		progress(total, total)
	}
	return nil
}
