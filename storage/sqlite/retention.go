package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/questline/questline/analytics"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/storage/internal/norm"
)

// retentionSchema holds each tenant's retention setting (package
// retention); tenants without a row have the default.
var retentionSchema = []string{
	`CREATE TABLE IF NOT EXISTS retention_settings (
		tenant     TEXT NOT NULL,
		days       INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		PRIMARY KEY (tenant)
	) WITHOUT ROWID`,
}

// pruneBatch is how many rows one writer operation of a prune deletes: a
// small transaction, so intake waits for it no longer than for a batch of
// events.
const pruneBatch = 1000

// RetentionDays returns tenant's retention setting; ok is false when unset.
func (s *Store) RetentionDays(ctx context.Context, tenant string) (int, bool, error) {
	var days int
	err := s.read.QueryRowContext(ctx, `SELECT days FROM retention_settings WHERE tenant = ?`, tenant).Scan(&days)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("sqlite: retention days: %w", err)
	}
	return days, true, nil
}

// SetRetentionDays stores tenant's retention setting.
func (s *Store) SetRetentionDays(ctx context.Context, tenant string, days int, at time.Time) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.conn.ExecContext(context.Background(), `INSERT INTO retention_settings (tenant, days, updated_at) VALUES (?,?,?)
			ON CONFLICT DO UPDATE SET days = excluded.days, updated_at = excluded.updated_at`, tenant, days, norm.Millis(at))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: set retention days: %w", err)
	}
	return nil
}

// PendingSince returns the received_at of tenant's oldest unprocessed
// event, waiting or dead, through the two partial indexes that hold them
// (the aggregate min skips the side that has none).
func (s *Store) PendingSince(ctx context.Context, tenant string) (time.Time, bool, error) {
	var ms sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT min(x) FROM (
		SELECT (SELECT min(received_at) FROM events WHERE processed = 0 AND dead_at IS NULL AND tenant = ?) AS x
		UNION ALL
		SELECT (SELECT min(received_at) FROM events INDEXED BY events_dead WHERE processed = 0 AND dead_at IS NOT NULL AND tenant = ?))`,
		tenant, tenant).Scan(&ms)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: pending events: %w", err)
	}
	if !ms.Valid {
		return time.Time{}, false, nil
	}
	return norm.Time(ms.Int64), true, nil
}

// EventTenants lists the tenants with events, skipping through the
// primary key one tenant at a time rather than scanning every event.
func (s *Store) EventTenants(ctx context.Context) ([]string, error) {
	out, err := queryText(ctx, s.read, func(sc scanner) (string, error) {
		var t string
		return t, sc.Scan(&t)
	}, `WITH RECURSIVE t(x) AS (SELECT min(tenant) FROM events
		UNION ALL SELECT (SELECT min(tenant) FROM events WHERE tenant > x) FROM t WHERE x IS NOT NULL)
		SELECT x FROM t WHERE x IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: event tenants: %w", err)
	}
	return out, nil
}

// PruneEvents deletes tenant's events received before `before`, but for
// those the sweeper still owes a run (unprocessed and not dead), with
// their analytics markers. Ids are UUIDv7, so the walk covers only the old
// end of the tenant's key range.
func (s *Store) PruneEvents(ctx context.Context, tenant string, before time.Time, progress func(int64)) (int64, error) {
	sp := pruneSpec{table: "events", scope: "tenant = ?", keys: []string{"id"},
		where: "id < ? AND received_at < ? AND NOT (processed = 0 AND dead_at IS NULL)",
		also: `DELETE FROM analytics_marks WHERE (tenant, key) IN
			(SELECT tenant, '` + analytics.EventMarkPrefix + `' || idem_key FROM events WHERE tenant = ? AND id = ?)`}
	return s.prune(ctx, sp, []any{tenant}, []any{norm.IDBefore(before), norm.Millis(before)}, progress)
}

// PruneContributions deletes a challenge's contributions that occurred
// before `before`; their tallies stay.
func (s *Store) PruneContributions(ctx context.Context, tenant, challengeID string, before time.Time, progress func(int64)) (int64, error) {
	sp := pruneSpec{table: "contributions", scope: "tenant = ? AND challenge_id = ?",
		keys: []string{"user_id", "period", "goal", "event_id"}, where: "at < ?"}
	return s.prune(ctx, sp, []any{tenant, challengeID}, []any{norm.Millis(before)}, progress)
}

// PruneBadgeContributions deletes a badge's contributions that occurred
// before `before`.
func (s *Store) PruneBadgeContributions(ctx context.Context, tenant, badgeID string, before time.Time, progress func(int64)) (int64, error) {
	sp := pruneSpec{table: "badge_contributions", scope: "tenant = ? AND badge_id = ?",
		keys: []string{"user_id", "period", "goal", "event_id"}, where: "at < ?"}
	return s.prune(ctx, sp, []any{tenant, badgeID}, []any{norm.Millis(before)}, progress)
}

// PruneScores deletes a board's scores that occurred before `before`;
// their totals stay. A stale board (see upgradeBoardTotals) is read from
// its scores and keeps them. An event is received at most 30 days after
// it occurred, which bounds the walk along the event ids.
func (s *Store) PruneScores(ctx context.Context, tenant, board string, before time.Time, progress func(int64)) (int64, error) {
	if s.stale[[2]string{tenant, board}] {
		return 0, nil
	}
	sp := pruneSpec{table: "board_scores", scope: "tenant = ? AND board_id = ?", keys: []string{"event_id"},
		where: "event_id < ? AND at < ?"}
	bound := norm.IDBefore(before.Add(31*24*time.Hour + rule.FutureSkew))
	return s.prune(ctx, sp, []any{tenant, board}, []any{bound, norm.Millis(before)}, progress)
}

// ScanTotals calls fn for every member's folded entry of every period of
// a board, in (period, user) order; ok is false, and fn is not called,
// for a stale board, whose rebuild reads its scores.
func (s *Store) ScanTotals(ctx context.Context, tenant, board string, fn func(leaderboards.TotalRow) error) (bool, error) {
	if s.stale[[2]string{tenant, board}] {
		return false, nil
	}
	rows, err := s.read.QueryContext(ctx, `SELECT period, user_id, value, at FROM board_totals
		WHERE tenant = ? AND board_id = ? ORDER BY period, user_id`, tenant, board)
	if err != nil {
		return false, fmt.Errorf("sqlite: scan totals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r leaderboards.TotalRow
		var at int64
		if err := rows.Scan(&r.Period, &r.User, &r.Value, &at); err != nil {
			return false, fmt.Errorf("sqlite: scan totals: %w", err)
		}
		r.At = norm.Time(at)
		if err := fn(r); err != nil {
			return false, err
		}
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("sqlite: scan totals: %w", err)
	}
	return true, nil
}

// CountTotals counts a board's folded entries; ok as in ScanTotals.
func (s *Store) CountTotals(ctx context.Context, tenant, board string) (int64, bool, error) {
	if s.stale[[2]string{tenant, board}] {
		return 0, false, nil
	}
	var n int64
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM board_totals WHERE tenant = ? AND board_id = ?`, tenant, board).Scan(&n)
	if err != nil {
		return 0, false, fmt.Errorf("sqlite: count totals: %w", err)
	}
	return n, true, nil
}

// loadStale reads the stale boards once migrate is done.
func (s *Store) loadStale(ctx context.Context) error {
	rows, err := s.wdb.QueryContext(ctx, `SELECT tenant, board_id FROM board_totals_stale`)
	if err != nil {
		return fmt.Errorf("sqlite: open: stale boards: %w", err)
	}
	defer rows.Close()
	s.stale = map[[2]string]bool{}
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			return fmt.Errorf("sqlite: open: stale boards: %w", err)
		}
		s.stale[k] = true
	}
	return rows.Err()
}

// pruneSpec describes a batched delete along a table's primary key: the
// rows of one scope (the key's leading columns, fixed) that match where,
// walked in the order of the key's other columns.
type pruneSpec struct {
	table string
	scope string   // e.g. "tenant = ? AND challenge_id = ?"
	keys  []string // the rest of the primary key, in key order
	where string   // the rows to delete
	// also, when set, runs before each row's delete with the same
	// arguments (scope, then key), in the same write: rows of other
	// tables that go with it.
	also string
}

// prune deletes what sp selects in batches of pruneBatch: each batch's
// keys are read on the read pool, from where the last one ended, and
// deleted in one writer operation, so the walk passes each row once and
// intake is never held behind a long transaction.
func (s *Store) prune(ctx context.Context, sp pruneSpec, scope, cond []any, progress func(int64)) (int64, error) {
	cols := strings.Join(sp.keys, ", ")
	marks := strings.TrimSuffix(strings.Repeat("?,", len(sp.keys)), ",")
	sel := `SELECT ` + cols + ` FROM ` + sp.table + ` WHERE ` + sp.scope + ` AND ` + sp.where
	order := ` ORDER BY ` + cols + ` LIMIT ?`
	del := `DELETE FROM ` + sp.table + ` WHERE ` + sp.scope + ` AND ` + strings.Join(sp.keys, " = ? AND ") + ` = ?`
	stmts := []string{del}
	if sp.also != "" {
		stmts = []string{sp.also, del}
	}
	var deleted int64
	var cursor []any
	for {
		q, args := sel+order, append(append(append([]any{}, scope...), cond...), pruneBatch)
		if cursor != nil {
			q = sel + ` AND (` + cols + `) > (` + marks + `)` + order
			args = append(append(append(append([]any{}, scope...), cond...), cursor...), pruneBatch)
		}
		keys, err := queryText(ctx, s.read, func(sc scanner) ([]any, error) {
			row := make([]any, len(sp.keys))
			ptrs := make([]any, len(row))
			for i := range row {
				ptrs[i] = &row[i]
			}
			return row, sc.Scan(ptrs...)
		}, q, args...)
		if err != nil {
			return deleted, fmt.Errorf("sqlite: prune %s: %w", sp.table, err)
		}
		if len(keys) == 0 {
			return deleted, nil
		}
		if err := s.deleteKeys(ctx, stmts, scope, keys); err != nil {
			return deleted, fmt.Errorf("sqlite: prune %s: %w", sp.table, err)
		}
		deleted += int64(len(keys))
		if progress != nil {
			progress(deleted)
		}
		if len(keys) < pruneBatch {
			return deleted, nil
		}
		cursor = keys[len(keys)-1]
	}
}

// deleteKeys runs the statements in order for each key (scope's
// arguments, then the key's), all in one write.
func (s *Store) deleteKeys(ctx context.Context, stmts []string, scope []any, keys [][]any) error {
	return s.w.do(ctx, func(tx *wtx) error {
		var prepared []*sql.Stmt
		defer func() {
			for _, st := range prepared {
				st.Close()
			}
		}()
		for _, q := range stmts {
			st, err := tx.conn.PrepareContext(context.Background(), q)
			if err != nil {
				return err
			}
			prepared = append(prepared, st)
		}
		for _, k := range keys {
			args := append(append([]any{}, scope...), k...)
			for _, st := range prepared {
				if _, err := st.ExecContext(context.Background(), args...); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
