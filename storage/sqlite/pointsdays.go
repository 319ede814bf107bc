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
// day being the day's midnight in milliseconds. Every row change happens
// in the write that stores what it counts (a ledger entry, a reversal),
// so a sum never counts a replay twice nor misses a crash.
var pointsDaysSchema = []string{
	`CREATE TABLE IF NOT EXISTS points_days (
		tenant TEXT NOT NULL, user_id TEXT NOT NULL, day INTEGER NOT NULL, earned INTEGER NOT NULL,
		PRIMARY KEY (tenant, user_id, day)) WITHOUT ROWID`,
}

// dayOf is the UTC day of the millisecond at, as SQL over the column at:
// its midnight, rounding down before 1970 too.
func dayOf(at string) string {
	return at + ` - (` + at + ` % ` + dayMillis + ` + ` + dayMillis + `) % ` + dayMillis
}

// applyPointsDays creates points_days; a file from before it gets it
// filled from the ledger and the reversals, as the write path would have
// folded them, in migrate's transaction. It looks for the table rather
// than at user_version, so it runs once whatever other upgrades share the
// version, and never on a file that has the table (its rows are folded
// with every write since).
func applyPointsDays(ctx context.Context, conn *sql.Conn) error {
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'points_days'`).Scan(&n); err != nil {
		return err
	}
	if err := execAll(ctx, conn, pointsDaysSchema...); err != nil || n > 0 {
		return err
	}
	return execAll(ctx, conn, `INSERT INTO points_days (tenant, user_id, day, earned)
		SELECT tenant, user_id, day, sum(amount) FROM (
			SELECT tenant, user_id, `+dayOf("created_at")+` AS day, amount FROM ledger WHERE amount > 0
			UNION ALL
			SELECT tenant, user_id, `+dayOf("earned_at")+`, -amount FROM points_reversals)
		GROUP BY 1, 2, 3`)
}

// foldDay adds amount to the user's day of at, inside the write op that
// stored what it counts.
func (s *Store) foldDay(tx *wtx, tenant, user string, at time.Time, amount int64) error {
	ms := norm.Millis(at)
	_, err := tx.exec(s.wallets.wFoldDay, tenant, user, ms-((ms%dayMs)+dayMs)%dayMs, amount)
	return err
}

// dayMs is a UTC day in milliseconds.
const dayMs = int64(24 * time.Hour / time.Millisecond)

// foldIfInserted adds amount to the user's day of at when the insert r
// reports inserted a row.
func (s *Store) foldIfInserted(tx *wtx, r sql.Result, tenant, user string, at time.Time, amount int64) error {
	if n, err := r.RowsAffected(); err != nil || n == 0 {
		return err
	}
	return s.foldDay(tx, tenant, user, at, amount)
}

// earnedInWindowSQL sums a window split by points.SplitWindow in one
// statement: ?3-?6 are its From, First, Last and To. The whole days come
// from points_days; each partial day is EarnedBetween's sum, to the
// letter (no positive entry there counts nothing, reversals included).
var earnedInWindowSQL = `SELECT
	(SELECT coalesce(sum(earned), 0) FROM points_days WHERE tenant = ?1 AND user_id = ?2 AND day >= ?4 AND day < ?5)
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
// UTC days read from points_days, in one query.
func (s *Store) EarnedInWindow(ctx context.Context, tenant, user string, from, to time.Time) (int64, error) {
	w := points.SplitWindow(from, to)
	var n int64
	err := s.wallets.earnedInWindow.QueryRowContext(ctx, tenant, user,
		norm.Millis(w.From), norm.Millis(w.First), norm.Millis(w.Last), norm.Millis(w.To)).Scan(&n)
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
