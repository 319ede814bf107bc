package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/questline/questline/analytics"
	"github.com/questline/questline/events"
)

// analyticsSchema holds the rollups: markers of what was counted, counters
// per (metric, UTC quarter-hour) and per-user daily activity.
var analyticsSchema = []string{
	`CREATE TABLE IF NOT EXISTS analytics_marks (
		tenant TEXT NOT NULL, key TEXT NOT NULL,
		PRIMARY KEY (tenant, key)) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS analytics_rollup (
		tenant TEXT NOT NULL, metric TEXT NOT NULL, bucket INTEGER NOT NULL, value INTEGER NOT NULL,
		PRIMARY KEY (tenant, metric, bucket)) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS analytics_user_days (
		tenant TEXT NOT NULL, day TEXT NOT NULL, user_id TEXT NOT NULL, events INTEGER NOT NULL, points INTEGER NOT NULL,
		PRIMARY KEY (tenant, day, user_id)) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS analytics_user_days_user ON analytics_user_days (tenant, user_id)`,
	`CREATE TABLE IF NOT EXISTS analytics_settings (
		tenant TEXT NOT NULL PRIMARY KEY, currency TEXT NOT NULL, point_value REAL NOT NULL) WITHOUT ROWID`,
}

// analyticsStmts are the analytics statements on the writer connection.
type analyticsStmts struct {
	mark, bump, activity *sql.Stmt
}

func (s *Store) prepareAnalytics(ctx context.Context, conn *sql.Conn) error {
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&s.aq.mark, `INSERT INTO analytics_marks (tenant, key) VALUES (?,?) ON CONFLICT DO NOTHING`},
		{&s.aq.bump, `INSERT INTO analytics_rollup (tenant, metric, bucket, value) VALUES (?,?,?,?)
			ON CONFLICT DO UPDATE SET value = value + excluded.value`},
		{&s.aq.activity, `INSERT INTO analytics_user_days (tenant, day, user_id, events, points) VALUES (?,?,?,?,?)
			ON CONFLICT DO UPDATE SET events = events + excluded.events, points = points + excluded.points`},
	} {
		if err := s.prepareOne(ctx, conn, false, p.dst, p.q); err != nil {
			return err
		}
	}
	return nil
}

func bucketOf(t time.Time) int64 { return t.UTC().Truncate(analytics.Bucket).Unix() }

// RecordFact folds f in one write op: the marker insert decides whether f
// counts, so a replay (or a concurrent duplicate) changes nothing.
func (s *Store) RecordFact(ctx context.Context, f analytics.Fact) (bool, error) {
	var fresh bool
	err := s.w.do(ctx, func(tx *wtx) (err error) {
		fresh, err = s.recordFact(tx, f)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: record fact %s: %w", f.Key, err)
	}
	return fresh, nil
}

// recordFact is RecordFact's write, in tx.
func (s *Store) recordFact(tx *wtx, f analytics.Fact) (bool, error) {
	if fresh, err := markNew(tx, s.aq.mark, f.Tenant, f.Key); err != nil || !fresh {
		return false, err
	}
	b := bucketOf(f.At)
	for m, v := range f.Counts {
		if _, err := tx.exec(s.aq.bump, f.Tenant, m, b, v); err != nil {
			return true, err
		}
	}
	for _, first := range f.Firsts {
		ok, err := markNew(tx, s.aq.mark, f.Tenant, first.Key)
		if err != nil {
			return true, err
		}
		if ok {
			if _, err := tx.exec(s.aq.bump, f.Tenant, first.Metric, bucketOf(first.At), 1); err != nil {
				return true, err
			}
		}
	}
	if f.User == "" {
		return true, nil
	}
	_, err := tx.exec(s.aq.activity, f.Tenant, f.At.UTC().Format(time.DateOnly), f.User, f.Events, f.Points)
	return true, err
}

func markNew(tx *wtx, mark *sql.Stmt, tenant, key string) (bool, error) {
	r, err := tx.exec(mark, tenant, key)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// metricsIn is "metric IN (?,?...)" with its arguments after tenant.
func metricsIn(tenant string, metrics []string, from, to time.Time) (string, []any) {
	args := []any{tenant}
	for _, m := range metrics {
		args = append(args, m)
	}
	args = append(args, bucketOf(from), bucketOf(to))
	return "metric IN (" + strings.TrimSuffix(strings.Repeat("?,", len(metrics)), ",") + ")", args
}

// MetricPoints lists the buckets of metrics in [from, to).
func (s *Store) MetricPoints(ctx context.Context, tenant string, metrics []string, from, to time.Time) ([]analytics.Point, error) {
	in, args := metricsIn(tenant, metrics, from, to)
	rows, err := s.read.QueryContext(ctx, `SELECT metric, bucket, value FROM analytics_rollup
		WHERE tenant = ? AND `+in+` AND bucket >= ? AND bucket < ? ORDER BY metric, bucket`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: metric points: %w", err)
	}
	defer rows.Close()
	var out []analytics.Point
	for rows.Next() {
		var p analytics.Point
		var b int64
		if err := rows.Scan(&p.Metric, &b, &p.Value); err != nil {
			return nil, fmt.Errorf("sqlite: metric points: %w", err)
		}
		p.At = time.Unix(b, 0).UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// MetricTotals sums each metric over [from, to).
func (s *Store) MetricTotals(ctx context.Context, tenant string, metrics []string, from, to time.Time) (map[string]int64, error) {
	in, args := metricsIn(tenant, metrics, from, to)
	rows, err := s.read.QueryContext(ctx, `SELECT metric, sum(value) FROM analytics_rollup
		WHERE tenant = ? AND `+in+` AND bucket >= ? AND bucket < ? GROUP BY metric`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: metric totals: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var m string
		var v int64
		if err := rows.Scan(&m, &v); err != nil {
			return nil, fmt.Errorf("sqlite: metric totals: %w", err)
		}
		out[m] = v
	}
	return out, rows.Err()
}

// UserActivity sums each user's rows of the days [fromDay, toDay).
func (s *Store) UserActivity(ctx context.Context, tenant, fromDay, toDay string) ([]analytics.UserActivity, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT user_id, sum(events), sum(points) FROM analytics_user_days
		WHERE tenant = ? AND day >= ? AND day < ? GROUP BY user_id ORDER BY user_id`, tenant, fromDay, toDay)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user activity: %w", err)
	}
	defer rows.Close()
	var out []analytics.UserActivity
	for rows.Next() {
		var a analytics.UserActivity
		if err := rows.Scan(&a.User, &a.Events, &a.Points); err != nil {
			return nil, fmt.Errorf("sqlite: user activity: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AnalyticsUserDays lists the user's activity rows, oldest first.
func (s *Store) AnalyticsUserDays(ctx context.Context, tenant, user string) ([]analytics.UserDay, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT day, events, points FROM analytics_user_days INDEXED BY analytics_user_days_user
		WHERE tenant = ? AND user_id = ? ORDER BY day`, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user days: %w", err)
	}
	defer rows.Close()
	out := []analytics.UserDay{}
	for rows.Next() {
		var d analytics.UserDay
		if err := rows.Scan(&d.Day, &d.Events, &d.Points); err != nil {
			return nil, fmt.Errorf("sqlite: user days: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// EraseAnalyticsUser drops the user's activity rows and markers; the
// counters are aggregates and keep what the user added.
func (s *Store) EraseAnalyticsUser(ctx context.Context, tenant, user string) error {
	p := analytics.UserMarkPrefix(user)
	err := s.w.do(ctx, func(tx *wtx) error {
		if _, err := tx.conn.ExecContext(context.Background(), `DELETE FROM analytics_user_days WHERE tenant = ? AND user_id = ?`, tenant, user); err != nil {
			return err
		}
		_, err := tx.conn.ExecContext(context.Background(), `DELETE FROM analytics_marks WHERE tenant = ? AND key >= ? AND key < ?`,
			tenant, p, strings.TrimSuffix(p, " ")+"!")
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: erase analytics of a user: %w", err)
	}
	return nil
}

// AnalyticsSettings reads the tenant's settings (zero when never set).
func (s *Store) AnalyticsSettings(ctx context.Context, tenant string) (analytics.Settings, error) {
	var set analytics.Settings
	err := s.read.QueryRowContext(ctx, `SELECT currency, point_value FROM analytics_settings WHERE tenant = ?`, tenant).
		Scan(&set.Currency, &set.PointValue)
	if err == sql.ErrNoRows {
		return analytics.Settings{}, nil
	}
	if err != nil {
		return analytics.Settings{}, fmt.Errorf("sqlite: analytics settings: %w", err)
	}
	return set, nil
}

// SetAnalyticsSettings replaces the tenant's settings.
func (s *Store) SetAnalyticsSettings(ctx context.Context, tenant string, set analytics.Settings) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.conn.ExecContext(context.Background(), `INSERT INTO analytics_settings (tenant, currency, point_value) VALUES (?,?,?)
			ON CONFLICT DO UPDATE SET currency = excluded.currency, point_value = excluded.point_value`, tenant, set.Currency, set.PointValue)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: set analytics settings: %w", err)
	}
	return nil
}

// ScanEvents reads the tenant's events with ids after afterID, in id
// order: a range of the events primary key (tenant, id).
func (s *Store) ScanEvents(ctx context.Context, tenant, afterID string, limit int) ([]events.Event, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+eventCols+` FROM events WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?`, tenant, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: scan events: %w", err)
	}
	defer rows.Close()
	var out []events.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan events: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
