package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/storage/internal/norm"
)

// Upgrading a version 1 file runs in migrate's transaction, so it happens
// whole or not at all. Each step recognises version 1 by its columns rather
// than by user_version, so it is a no-op on tables the schema created.
//
// Tables whose primary key or columns changed too much to ALTER
// (challenges, contributions) are renamed aside before the schema runs, so
// that it creates them afresh with their indexes; upgradeV1 then copies the
// old rows across in the new shape and drops the old tables.

// setAsideV1 renames the version 1 challenges and contributions tables to
// challenges_v1 and contributions_v1. The index challenges_status would
// move with its table and keep the schema from creating it on the new one,
// so it is dropped first.
func setAsideV1(ctx context.Context, conn *sql.Conn) error {
	cols, err := columns(ctx, conn, "challenges")
	if err != nil {
		return err
	}
	if cols["event_type"] {
		if err := execAll(ctx, conn,
			`DROP INDEX challenges_status`,
			`ALTER TABLE challenges RENAME TO challenges_v1`); err != nil {
			return err
		}
	}
	if cols, err = columns(ctx, conn, "contributions"); err != nil {
		return err
	}
	if cols["value"] {
		return execAll(ctx, conn, `ALTER TABLE contributions RENAME TO contributions_v1`)
	}
	return nil
}

// upgradeV1 brings what setAsideV1 left, and the tables that only gained
// columns, to version 2.
func upgradeV1(ctx context.Context, conn *sql.Conn) error {
	if err := upgradeBoards(ctx, conn); err != nil {
		return fmt.Errorf("boards: %w", err)
	}
	if err := copyV1Challenges(ctx, conn); err != nil {
		return fmt.Errorf("challenges: %w", err)
	}
	if err := copyV1Contributions(ctx, conn); err != nil {
		return fmt.Errorf("contributions: %w", err)
	}
	// Version 1 challenges paid on completion: their completions need no
	// claim, and claimed_at stays NULL.
	if err := addColumn(ctx, conn, "completions", "claimed_at", "INTEGER"); err != nil {
		return fmt.Errorf("completions: %w", err)
	}
	if err := upgradeTallies(ctx, conn); err != nil {
		return fmt.Errorf("challenge tallies: %w", err)
	}
	if err := upgradeBoardTotals(ctx, conn); err != nil {
		return fmt.Errorf("board totals: %w", err)
	}
	return nil
}

// upgradeTallies folds the contributions of a file from before
// challenge_tallies into it. Every contribution since is folded in its own
// transaction, so tallies empty beside contributions means exactly a file
// from before; a file with no contributions has nothing to fold. It runs
// after copyV1Contributions, which fills contributions.
func upgradeTallies(ctx context.Context, conn *sql.Conn) error {
	fold := func(table, width string) string {
		return `INSERT INTO ` + table + ` (tenant, challenge_id, user_id, period, goal, bucket, amount)
		SELECT tenant, challenge_id, user_id, period, goal, at - (at % ` + width + ` + ` + width + `) % ` + width + `, sum(amount)
		FROM contributions WHERE NOT EXISTS (SELECT 1 FROM ` + table + `)
		GROUP BY 1, 2, 3, 4, 5, 6`
	}
	return execAll(ctx, conn, fold("challenge_tallies", tallyWidthMillis), fold("challenge_day_tallies", dayMillis))
}

// dayMillis is a UTC day in milliseconds, as SQL text.
var dayMillis = strconv.FormatInt((24 * time.Hour).Milliseconds(), 10)

// upgradeBoardTotals lists the boards of a file from before board_totals
// as stale: their scores were never folded, and folding them needs the
// boards' periods, which are the leaderboards package's to compute. As
// with tallies, totals empty beside scores means exactly such a file.
func upgradeBoardTotals(ctx context.Context, conn *sql.Conn) error {
	return execAll(ctx, conn, `INSERT INTO board_totals_stale (tenant, board_id)
		SELECT DISTINCT tenant, board_id FROM board_scores
		WHERE NOT EXISTS (SELECT 1 FROM board_totals) AND NOT EXISTS (SELECT 1 FROM board_totals_stale)`)
}

// tallyWidthMillis is challenges.TallyWidth as SQL text.
var tallyWidthMillis = strconv.FormatInt(challenges.TallyWidth.Milliseconds(), 10)

// upgradeBoards brings a version 1 boards table to version 2: the new
// definition fields live in spec ('{}' reads as the version 1 board, see
// norm.Board), and metric, always "points", is dropped so inserts need not
// fill it.
func upgradeBoards(ctx context.Context, conn *sql.Conn) error {
	if err := addColumn(ctx, conn, "boards", "spec", `TEXT NOT NULL DEFAULT '{}'`); err != nil {
		return err
	}
	cols, err := columns(ctx, conn, "boards")
	if err != nil {
		return err
	}
	if cols["metric"] {
		return execAll(ctx, conn, `ALTER TABLE boards DROP COLUMN metric`)
	}
	return nil
}

// copyV1Challenges converts every row of challenges_v1 with
// norm.LegacyChallenge, the same conversion the MongoDB store applies to
// documents of that release, inserts it into challenges and drops
// challenges_v1. Challenges are few, so converting them in Go costs
// nothing and keeps the rule's JSON encoding in one place.
func copyV1Challenges(ctx context.Context, conn *sql.Conn) error {
	cols, err := columns(ctx, conn, "challenges_v1")
	if err != nil || len(cols) == 0 {
		return err
	}
	rows, err := conn.QueryContext(ctx, `SELECT tenant, id, name, description, status, event_type, filter,
		target, reward_points, starts_at, ends_at, created_at, updated_at, version FROM challenges_v1`)
	if err != nil {
		return err
	}
	old, err := collect(rows, scanV1Challenge)
	if err != nil {
		return err
	}
	for _, c := range old {
		c, def, err := prepChallenge(c)
		if err != nil {
			return fmt.Errorf("challenge %s: %w", c.ID, err)
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO challenges (`+challengeCols+`) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			challengeRow(c, def)...); err != nil {
			return err
		}
	}
	return execAll(ctx, conn, `DROP TABLE challenges_v1`)
}

func scanV1Challenge(sc scanner) (challenges.Challenge, error) {
	var (
		c                challenges.Challenge
		l                norm.LegacyChallenge
		status           string
		filter           sql.NullString
		starts, ends     sql.NullInt64
		created, updated int64
	)
	if err := sc.Scan(&c.Tenant, &c.ID, &c.Name, &c.Description, &status, &l.EventType, &filter,
		&l.Target, &l.RewardPoints, &starts, &ends, &created, &updated, &c.Version); err != nil {
		return challenges.Challenge{}, err
	}
	if filter.Valid && filter.String != "" {
		if err := json.Unmarshal([]byte(filter.String), &l.Filter); err != nil {
			return challenges.Challenge{}, fmt.Errorf("decode filter of challenge %s: %w", c.ID, err)
		}
	}
	l.StartsAt, l.EndsAt = timePtr(starts), timePtr(ends)
	l.Upgrade(&c)
	c.Status = challenges.Status(status)
	c.CreatedAt, c.UpdatedAt = norm.Time(created), norm.Time(updated)
	return c, nil
}

// copyV1Contributions moves the rows of contributions_v1 into
// contributions and drops it. Version 1 challenges had one goal, "g1" in
// the converted rule, and its contributions' value was their amount.
func copyV1Contributions(ctx context.Context, conn *sql.Conn) error {
	cols, err := columns(ctx, conn, "contributions_v1")
	if err != nil || len(cols) == 0 {
		return err
	}
	return execAll(ctx, conn,
		`INSERT INTO contributions (tenant, challenge_id, user_id, period, goal, event_id, amount, distinct_key, at)
		SELECT tenant, challenge_id, user_id, period, 'g1', event_id, value, '', at FROM contributions_v1`,
		`DROP TABLE contributions_v1`)
}

// upgradeEvents gives an events table from before the sweeper's retries
// its attempt and dead-letter columns, and drops the sweeper index that
// events_due replaces. It runs before the schema, whose indexes name the
// new columns; a file without an events table gets them from the schema.
func upgradeEvents(ctx context.Context, conn *sql.Conn) error {
	cols, err := columns(ctx, conn, "events")
	if err != nil || len(cols) == 0 || cols["attempts"] {
		return err
	}
	for _, c := range [][2]string{
		{"attempts", "INTEGER NOT NULL DEFAULT 0"},
		{"next_at", "INTEGER NOT NULL DEFAULT 0"},
		{"dead_at", "INTEGER"},
		{"dead_reason", "TEXT NOT NULL DEFAULT ''"},
	} {
		if err := addColumn(ctx, conn, "events", c[0], c[1]); err != nil {
			return err
		}
	}
	return execAll(ctx, conn, `DROP INDEX IF EXISTS events_unprocessed`)
}

// addColumn adds column (of type typ) to table unless it has it.
func addColumn(ctx context.Context, conn *sql.Conn, table, column, typ string) error {
	cols, err := columns(ctx, conn, table)
	if err != nil || cols[column] {
		return err
	}
	return execAll(ctx, conn, `ALTER TABLE `+table+` ADD COLUMN `+column+` `+typ)
}

// columns returns the set of column names of table; it is empty when
// there is no such table.
func columns(ctx context.Context, conn *sql.Conn, table string) (map[string]bool, error) {
	rows, err := conn.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return nil, err
	}
	names, err := collect(rows, func(sc scanner) (string, error) {
		var n string
		err := sc.Scan(&n)
		return n, err
	})
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set, nil
}

// upgradePointsBoards starts the build of every points board of a file
// from before version 5 again, so the build folds the ledger into its
// totals: until version 5 points boards read the ledger and folded
// nothing, and boards from before builds existed have no build row.
// Reads say "building" meanwhile. A board's spec without a source is a
// points board (see norm.Board).
func upgradePointsBoards(ctx context.Context, conn *sql.Conn) error {
	return execAll(ctx, conn, `INSERT INTO board_builds (tenant, board_id, state, done, total, error, owner, lease_until)
		SELECT tenant, id, 'building', 0, 0, '', '', 0 FROM boards
		WHERE coalesce(json_extract(spec, '$.source'), 'points') IN ('', 'points')
		ON CONFLICT DO UPDATE SET state = 'building', done = 0, total = 0, error = '', owner = '', lease_until = 0`)
}
