package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/internal/norm"
)

// pointsDaysSchema holds each user's earnings per UTC day (points.DaySum),
// day being the day's midnight in milliseconds, and the same per UTC
// month (month: its first midnight), so a year's window reads about a
// dozen months and the days of two partial months instead of 365 days.
// Every row change happens in the write that stores what it counts (a
// ledger entry, a reversal), so a sum never counts a replay twice nor
// misses a crash.
var pointsDaysSchema = []string{
	`CREATE TABLE IF NOT EXISTS points_days (
		tenant TEXT NOT NULL, user_id TEXT NOT NULL, day INTEGER NOT NULL, earned INTEGER NOT NULL,
		PRIMARY KEY (tenant, user_id, day)) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS points_months (
		tenant TEXT NOT NULL, user_id TEXT NOT NULL, month INTEGER NOT NULL, earned INTEGER NOT NULL,
		PRIMARY KEY (tenant, user_id, month)) WITHOUT ROWID`,
}

// dayOf is the UTC day of the millisecond at, as SQL over the column at:
// its midnight, rounding down before 1970 too.
func dayOf(at string) string {
	return at + ` - (` + at + ` % ` + dayMillis + ` + ` + dayMillis + `) % ` + dayMillis
}

// applyPointsDays creates points_days and points_months; a file from
// before either gets it filled (days from the ledger and the reversals,
// as the write path would have folded them; months from the days), in
// migrate's transaction. It looks for the tables rather than at
// user_version, so it runs once whatever other upgrades share the
// version, and never on a file that has them (their rows are folded
// with every write since).
func applyPointsDays(ctx context.Context, conn *sql.Conn) error {
	var days, months int
	err := conn.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE name = 'points_days'), count(*) FILTER (WHERE name = 'points_months')
		FROM sqlite_master`).Scan(&days, &months)
	if err != nil {
		return err
	}
	if err := execAll(ctx, conn, pointsDaysSchema...); err != nil {
		return err
	}
	if days == 0 {
		err = execAll(ctx, conn, `INSERT INTO points_days (tenant, user_id, day, earned)
			SELECT tenant, user_id, day, sum(amount) FROM (
				SELECT tenant, user_id, `+dayOf("created_at")+` AS day, amount FROM ledger WHERE amount > 0
				UNION ALL
				SELECT tenant, user_id, `+dayOf("earned_at")+`, -amount FROM points_reversals)
			GROUP BY 1, 2, 3`)
	}
	if err != nil || months > 0 {
		return err
	}
	return execAll(ctx, conn, `INSERT INTO points_months (tenant, user_id, month, earned)
		SELECT tenant, user_id, unixepoch(day / 1000, 'unixepoch', 'start of month') * 1000, sum(earned)
		FROM points_days GROUP BY 1, 2, 3`)
}

// foldDay adds amount to the user's day and month of at, inside the
// write op that stored what it counts.
func (s *Store) foldDay(tx *wtx, tenant, user string, at time.Time, amount int64) error {
	at = norm.Trunc(at)
	if _, err := tx.exec(s.wallets.wFoldDay, tenant, user, norm.Millis(at.Truncate(24*time.Hour)), amount); err != nil {
		return err
	}
	_, err := tx.exec(s.wallets.wFoldMonth, tenant, user, norm.Millis(points.MonthOf(at)), amount)
	return err
}

// foldIfInserted adds amount to the user's day and month of at when the insert r
// reports inserted a row.
func (s *Store) foldIfInserted(tx *wtx, r sql.Result, tenant, user string, at time.Time, amount int64) error {
	if n, err := r.RowsAffected(); err != nil || n == 0 {
		return err
	}
	return s.foldDay(tx, tenant, user, at, amount)
}

// earnedInWindowSQL sums a window split by points.SplitWindow in one
// statement: ?3-?6 are its From, First, Last and To, ?7 and ?8 its
// FirstMonth and LastMonth. The whole months come from points_months, the whole
// days around them from points_days; each partial day is EarnedBetween's
// sum, to the letter (no positive entry there counts nothing, reversals
// included).
var earnedInWindowSQL = `SELECT
	(SELECT coalesce(sum(earned), 0) FROM points_months WHERE tenant = ?1 AND user_id = ?2 AND month >= ?7 AND month < ?8)
	+ (SELECT coalesce(sum(earned), 0) FROM points_days WHERE tenant = ?1 AND user_id = ?2 AND day >= ?4 AND day < ?7)
	+ (SELECT coalesce(sum(earned), 0) FROM points_days WHERE tenant = ?1 AND user_id = ?2 AND day >= ?8 AND day < ?5)
	+ ` + partialDay("?3", "?4") + ` + ` + partialDay("?5", "?6")

// partialDay is EarnedBetween's total over [from, to) as SQL.
func partialDay(from, to string) string {
	return `(SELECT CASE WHEN count(*) = 0 THEN 0 ELSE sum(amount) - (SELECT coalesce(sum(amount), 0)
		FROM points_reversals INDEXED BY points_reversals_user
		WHERE tenant = ?1 AND user_id = ?2 AND earned_at >= ` + from + ` AND earned_at < ` + to + `) END
	FROM ledger INDEXED BY ledger_user_earned
	WHERE tenant = ?1 AND user_id = ?2 AND created_at >= ` + from + ` AND created_at < ` + to + ` AND amount > 0)`
}

// EarnedInWindow is EarnedBetween's total over [from, to), its whole
// UTC months and days read from points_months and points_days, in one
// query.
func (s *Store) EarnedInWindow(ctx context.Context, tenant, user string, from, to time.Time) (int64, error) {
	w := points.SplitWindow(from, to)
	var n int64
	err := s.wallets.earnedInWindow.QueryRowContext(ctx, tenant, user, norm.Millis(w.From), norm.Millis(w.First),
		norm.Millis(w.Last), norm.Millis(w.To), norm.Millis(w.FirstMonth), norm.Millis(w.LastMonth)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: earned in window: %w", err)
	}
	return n, nil
}

// EarnedDays lists the user's day sums, oldest first.
func (s *Store) EarnedDays(ctx context.Context, tenant, user string) ([]points.DaySum, error) {
	out, err := queryAll(ctx, s.wallets.earnedDays, func(sc scanner) (points.DaySum, error) {
		var (
			d   points.DaySum
			day int64
		)
		err := sc.Scan(&day, &d.Earned)
		d.Day = norm.Time(day)
		return d, err
	}, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: earned days: %w", err)
	}
	return out, nil
}
