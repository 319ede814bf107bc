package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/storage/internal/norm"
)

// QueueRefresh records a board refresh the engine did not take; see
// leaderboards.FeedStore.
func (s *Store) QueueRefresh(ctx context.Context, p leaderboards.Pending) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.exec(s.wq.queueRefresh, p.Tenant, p.Board, p.Period, p.User,
			norm.Millis(p.At), norm.Millis(norm.NowIfZero(p.Since)), p.Token)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: queue refresh: %w", err)
	}
	return nil
}

// ClaimRefreshes leases due refreshes in one statement, so two claims
// never share one; see leaderboards.FeedStore.
func (s *Store) ClaimRefreshes(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]leaderboards.Pending, error) {
	var out []leaderboards.Pending
	err := s.w.do(ctx, func(tx *wtx) error {
		rows, err := tx.query(s.wq.claimRefreshes, norm.Millis(now.Add(lease)), norm.Millis(now), norm.Limit(limit, DefaultLimit))
		if err != nil {
			return err
		}
		out, err = collect(rows, scanPending)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim refreshes: %w", err)
	}
	// RETURNING comes in no particular order.
	slices.SortFunc(out, func(a, b leaderboards.Pending) int { return cmp.Compare(a.Since.UnixMilli(), b.Since.UnixMilli()) })
	return out, nil
}

// FinishRefresh deletes a refresh unless it was queued again.
func (s *Store) FinishRefresh(ctx context.Context, p leaderboards.Pending) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.exec(s.wq.finishRefresh, p.Tenant, p.Board, p.Period, p.User, p.Token)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: finish refresh: %w", err)
	}
	return nil
}

// RefreshBacklog counts pending refreshes and gives the oldest.
func (s *Store) RefreshBacklog(ctx context.Context) (int64, time.Time, error) {
	var (
		n      int64
		oldest sql.NullInt64
	)
	if err := s.rq.refreshBacklog.QueryRowContext(ctx).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, fmt.Errorf("sqlite: refresh backlog: %w", err)
	}
	if !oldest.Valid {
		return n, time.Time{}, nil
	}
	return n, norm.Time(oldest.Int64), nil
}

func scanPending(sc scanner) (leaderboards.Pending, error) {
	var (
		p         leaderboards.Pending
		at, since int64
	)
	if err := sc.Scan(&p.Tenant, &p.Board, &p.Period, &p.User, &at, &since, &p.Token); err != nil {
		return leaderboards.Pending{}, err
	}
	p.At, p.Since = norm.Time(at), norm.Time(since)
	return p, nil
}
