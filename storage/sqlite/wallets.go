package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/internal/norm"
)

// walletSchema holds the points wallets: every keyed change with the
// balance after it (the latest one per user is the wallet), the lots, and
// the reversed credits EarnedBetween leaves out. A lot that never expires
// has expires_at = neverMillis, so spending order sorts it last. A change
// owing its event (points.Change.Owes) has owes and owed_at (its time)
// set until ClearOwed; files from before them get the columns in
// applyWalletSchema, and owe nothing.
var walletSchema = []string{
	`CREATE TABLE IF NOT EXISTS points_changes (
		tenant TEXT NOT NULL, change_key TEXT NOT NULL, user_id TEXT NOT NULL,
		version INTEGER NOT NULL, balance TEXT NOT NULL, body TEXT NOT NULL,
		owes TEXT, owed_at INTEGER,
		PRIMARY KEY (tenant, change_key)) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX IF NOT EXISTS points_changes_version ON points_changes (tenant, user_id, version)`,
	// The balance after each user's latest change, apart from the
	// changes (whose bodies may be large), so a wallet read is one small row.
	`CREATE TABLE IF NOT EXISTS points_balances (
		tenant TEXT NOT NULL, user_id TEXT NOT NULL, version INTEGER NOT NULL, balance TEXT NOT NULL,
		PRIMARY KEY (tenant, user_id)) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS points_lots (
		tenant TEXT NOT NULL, user_id TEXT NOT NULL, id TEXT NOT NULL, entry_key TEXT NOT NULL,
		amount INTEGER NOT NULL, remaining INTEGER NOT NULL,
		earned_at INTEGER NOT NULL, available_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
		PRIMARY KEY (tenant, user_id, id)) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS points_lots_spend ON points_lots (tenant, user_id, expires_at, earned_at, id) WHERE remaining > 0`,
	`CREATE INDEX IF NOT EXISTS points_lots_due ON points_lots (tenant, expires_at, user_id, id) WHERE remaining > 0`,
	`CREATE TABLE IF NOT EXISTS points_reversals (
		tenant TEXT NOT NULL, entry_key TEXT NOT NULL, user_id TEXT NOT NULL,
		amount INTEGER NOT NULL, earned_at INTEGER NOT NULL, reversed_at INTEGER NOT NULL,
		PRIMARY KEY (tenant, entry_key)) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS points_reversals_user ON points_reversals (tenant, user_id, earned_at, entry_key, amount)`,
	`CREATE TABLE IF NOT EXISTS points_policies (tenant TEXT NOT NULL PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID`,
}

// applyWalletSchema creates the wallet tables; the first time, it opens a
// wallet for every user the ledger already pays, holding the ledger's
// balance in one lot that never expires, so points earned before wallets
// existed stay spendable. A database from before points_balances gets it
// filled from each user's latest change.
func applyWalletSchema(ctx context.Context, conn *sql.Conn) error {
	var changes, balances int
	err := conn.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE name = 'points_changes'), count(*) FILTER (WHERE name = 'points_balances')
		FROM sqlite_master`).Scan(&changes, &balances)
	if err != nil {
		return err
	}
	if err := execAll(ctx, conn, walletSchema...); err != nil {
		return err
	}
	if err := upgradeOwed(ctx, conn); err != nil {
		return fmt.Errorf("points changes: %w", err)
	}
	switch {
	case changes == 0:
		return execAll(ctx, conn, walletBackfill...)
	case balances == 0:
		_, err := conn.ExecContext(ctx, `INSERT INTO points_balances (tenant, user_id, version, balance)
			SELECT tenant, user_id, version, balance FROM points_changes c
			WHERE version = (SELECT max(version) FROM points_changes d WHERE d.tenant = c.tenant AND d.user_id = c.user_id)`)
		return err
	}
	return nil
}

// upgradeOwed gives a points_changes table from before owed events its
// two columns (ADD COLUMN of a NULL column rewrites no row, and adds
// nothing to a table that has them) and creates the owed index after
// them. The index is the one across tenants, as the sweep of owed events
// reads it, and holds only the few changes owing one. The step is
// additive, so it needs no schema version of its own: a binary from
// before names its columns and leaves these NULL (owing nothing).
func upgradeOwed(ctx context.Context, conn *sql.Conn) error {
	if err := addColumn(ctx, conn, "points_changes", "owes", "TEXT"); err != nil {
		return err
	}
	if err := addColumn(ctx, conn, "points_changes", "owed_at", "INTEGER"); err != nil {
		return err
	}
	return execAll(ctx, conn, `CREATE INDEX IF NOT EXISTS points_changes_owed ON points_changes (owed_at, tenant, change_key)
		WHERE owed_at IS NOT NULL`)
}

// walletBackfill is the wallets of the users paid before wallets existed.
// Keys name the user's first ledger line, never the user.
var walletBackfill = []string{
	`CREATE TEMP TABLE wallet_seed AS SELECT tenant, user_id, min(id) AS first, max(created_at) AS at,
		sum(amount) AS held, sum(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS earned
		FROM ledger GROUP BY tenant, user_id`,
	`INSERT INTO points_balances (tenant, user_id, version, balance)
		SELECT tenant, user_id, 1, json_object('version', 1, 'held', max(held, 0), 'spent', 0, 'expired', 0,
			'reversed', 0, 'unrecovered', 0, 'earned', earned) FROM wallet_seed`,
	`INSERT INTO points_changes (tenant, change_key, user_id, version, balance, body)
		SELECT b.tenant, 'legacy:' || s.first, b.user_id, 1, b.balance,
			json_object('key', 'legacy:' || s.first, 'kind', 'credit', 'amount', max(s.held, 0), 'balance', json(b.balance),
				'at', strftime('%Y-%m-%dT%H:%M:%fZ', s.at / 1000.0, 'unixepoch'))
		FROM points_balances b JOIN wallet_seed s ON s.tenant = b.tenant AND s.user_id = b.user_id`,
	`INSERT INTO points_lots (` + lotCols + `)
		SELECT tenant, user_id, 'legacy-' || first, 'legacy:' || first, held, held, at, at, ` + neverLiteral + `
		FROM wallet_seed WHERE held > 0`,
	`DROP TABLE wallet_seed`,
}

// neverLiteral is neverMillis in SQL.
const neverLiteral = "9223372036854775807"

// neverMillis stands for "never expires" in points_lots.expires_at.
const neverMillis = math.MaxInt64

const lotCols = `tenant, user_id, id, entry_key, amount, remaining, earned_at, available_at, expires_at`

// walletStmts are the wallets' statements: w* on the writer connection,
// the others on the read pool.
type walletStmts struct {
	wChangeByKey, wLatest, wInsertChange, wUpsertLot, wLot, wSpendable *sql.Stmt
	wInsertReversal, wPutPolicy, wPutBalance, wExpiringBy              *sql.Stmt
	wClearOwed                                                         *sql.Stmt
	changeByKey, latest, userLots, entryByKey, reversedBetween         *sql.Stmt
	policy, policyTenants, expiringLots, countExpiringLots, owed       *sql.Stmt
	wFoldDay, wFoldMonth, earnedInWindow, earnedDays                   *sql.Stmt // points_days
}

func (s *Store) prepareWallets(ctx context.Context, conn *sql.Conn) error {
	p := &s.wallets
	stmts := []struct {
		dst   **sql.Stmt
		write bool
		q     string
	}{
		{&p.wChangeByKey, true, `SELECT user_id, body, owes FROM points_changes WHERE tenant = ? AND change_key = ?`},
		{&p.wLatest, true, `SELECT balance FROM points_balances WHERE tenant = ? AND user_id = ?`},
		{&p.wPutBalance, true, `INSERT INTO points_balances (tenant, user_id, version, balance) VALUES (?,?,?,?)
			ON CONFLICT (tenant, user_id) DO UPDATE SET version = excluded.version, balance = excluded.balance`},
		{&p.wInsertChange, true, `INSERT INTO points_changes (tenant, change_key, user_id, version, balance, body, owes, owed_at)
			VALUES (?,?,?,?,?,?,?,?)`},
		{&p.wClearOwed, true, `UPDATE points_changes SET owes = NULL, owed_at = NULL
			WHERE tenant = ? AND change_key IN (SELECT value FROM json_each(?)) AND owed_at IS NOT NULL`},
		{&p.wUpsertLot, true, `INSERT INTO points_lots (` + lotCols + `) VALUES (?,?,?,?,?,?,?,?,?)
			ON CONFLICT (tenant, user_id, id) DO UPDATE SET remaining = excluded.remaining`},
		{&p.wLot, true, `SELECT ` + lotCols + ` FROM points_lots WHERE tenant = ? AND user_id = ? AND id = ?`},
		{&p.wSpendable, true, `SELECT ` + lotCols + ` FROM points_lots INDEXED BY points_lots_spend
			WHERE tenant = ? AND user_id = ? AND remaining > 0 AND expires_at > ? AND available_at <= ?
			ORDER BY expires_at, earned_at, id`},
		{&p.wExpiringBy, true, `SELECT ` + lotCols + ` FROM points_lots INDEXED BY points_lots_spend
			WHERE tenant = ? AND user_id = ? AND expires_at <= ? AND remaining > 0 ORDER BY expires_at, earned_at, id`},
		{&p.wInsertReversal, true, `INSERT INTO points_reversals (tenant, entry_key, user_id, amount, earned_at, reversed_at)
			VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		{&p.wPutPolicy, true, `INSERT INTO points_policies (tenant, body) VALUES (?, ?)
			ON CONFLICT (tenant) DO UPDATE SET body = excluded.body`},
		{&p.policy, false, `SELECT body FROM points_policies WHERE tenant = ?`},
		{&p.policyTenants, false, `SELECT tenant FROM points_policies ORDER BY tenant`},
		// (expires_at, user_id, id) > the cursor: a row value walks the index.
		{&p.expiringLots, false, `SELECT ` + lotCols + ` FROM points_lots INDEXED BY points_lots_due
			WHERE tenant = ? AND remaining > 0 AND expires_at >= ? AND expires_at < ? AND (expires_at, user_id, id) > (?, ?, ?)
			ORDER BY expires_at, user_id, id LIMIT ?`},
		{&p.countExpiringLots, false, `SELECT count(*) FROM points_lots INDEXED BY points_lots_due
			WHERE tenant = ? AND remaining > 0 AND expires_at >= ? AND expires_at < ?`},
		{&p.owed, false, `SELECT tenant, user_id, body, owes FROM points_changes INDEXED BY points_changes_owed
			WHERE owed_at IS NOT NULL AND owed_at < ? ORDER BY owed_at, tenant, change_key LIMIT ?`},
		{&p.changeByKey, false, `SELECT user_id, body, owes FROM points_changes WHERE tenant = ? AND change_key = ?`},
		{&p.latest, false, `SELECT balance FROM points_balances WHERE tenant = ? AND user_id = ?`},
		{&p.userLots, false, `SELECT ` + lotCols + ` FROM points_lots WHERE tenant = ? AND user_id = ? AND id > ? ORDER BY id LIMIT ?`},
		{&p.entryByKey, false, `SELECT ` + entryCols + ` FROM ledger WHERE tenant = ? AND entry_key = ?`},
		{&p.wFoldDay, true, `INSERT INTO points_days (tenant, user_id, day, earned) VALUES (?,?,?,?)
			ON CONFLICT (tenant, user_id, day) DO UPDATE SET earned = earned + excluded.earned`},
		{&p.wFoldMonth, true, `INSERT INTO points_months (tenant, user_id, month, earned) VALUES (?,?,?,?)
			ON CONFLICT (tenant, user_id, month) DO UPDATE SET earned = earned + excluded.earned`},
		{&p.earnedInWindow, false, earnedInWindowSQL},
		{&p.earnedDays, false, `SELECT day, earned FROM points_days WHERE tenant = ? AND user_id = ? ORDER BY day`},
		{&p.reversedBetween, false, `SELECT coalesce(sum(amount), 0) FROM points_reversals INDEXED BY points_reversals_user
			WHERE tenant = ? AND user_id = ? AND earned_at >= ? AND earned_at < ? AND entry_key >= ? AND entry_key < ?`},
	}
	for _, st := range stmts {
		if err := s.prepareOne(ctx, conn, !st.write, st.dst, st.q); err != nil {
			return err
		}
	}
	return nil
}

// ApplyChange stores the change plan computes from the user's wallet,
// once per key, in one write op: the single writer serialises every
// change, so plan runs once against the latest version.
func (s *Store) ApplyChange(ctx context.Context, tenant, user, key string, plan points.Planner) (points.Change, bool, error) {
	var r points.ChangeResult
	err := s.w.do(ctx, func(tx *wtx) (err error) {
		if r, err = s.applyChange(ctx, tx, tenant, points.ChangeOp{User: user, Key: key, Plan: plan}); err != nil {
			return err
		}
		return r.Err
	})
	if err != nil {
		return points.Change{}, false, fmt.Errorf("sqlite: apply wallet change %s: %w", key, err)
	}
	return r.Change, r.Applied, nil
}

// ApplyChanges applies ops in one write op, in order.
func (s *Store) ApplyChanges(ctx context.Context, tenant string, ops []points.ChangeOp) ([]points.ChangeResult, error) {
	out := make([]points.ChangeResult, len(ops))
	err := s.w.do(ctx, func(tx *wtx) (err error) {
		for i, op := range ops {
			// A plan's refusal wrote nothing and is its op's alone; a
			// failed write undoes the whole batch.
			if out[i], err = s.applyChange(ctx, tx, tenant, op); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: apply wallet changes: %w", err)
	}
	return out, nil
}

// applyChange applies one op inside a write op: the result's Err is the
// plan's refusal, the error returned a failed read or write.
func (s *Store) applyChange(ctx context.Context, tx *wtx, tenant string, op points.ChangeOp) (points.ChangeResult, error) {
	prior, err := changeFrom(tx.queryRow(s.wallets.wChangeByKey, tenant, op.Key))
	if err == nil {
		return points.ChangeResult{Change: prior}, nil
	}
	if !errors.Is(err, errs.ErrNotFound) {
		return points.ChangeResult{}, err
	}
	b, err := balanceFrom(tx.queryRow(s.wallets.wLatest, tenant, op.User))
	if err != nil {
		return points.ChangeResult{}, err
	}
	c, err := op.Plan(ctx, &txWallet{s: s, tx: tx, tenant: tenant, user: op.User, balance: b})
	if err != nil {
		return points.ChangeResult{Err: err}, nil
	}
	c.Key, c.User, c.At = op.Key, op.User, norm.Trunc(c.At)
	c.Balance.Version = b.Version + 1
	if err := s.storeChange(tx, tenant, c); err != nil {
		return points.ChangeResult{}, err
	}
	return points.ChangeResult{Change: c, Applied: true}, nil
}

func (s *Store) storeChange(tx *wtx, tenant string, c points.Change) error {
	balance, err := json.Marshal(c.Balance)
	if err != nil {
		return err
	}
	// The lots are written to points_lots in this same transaction, so
	// the stored body need not repeat them (no reader of a stored change
	// uses them; an expiry's body would be mostly lots, written again).
	stored := c
	stored.Lots = nil
	body, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	var owes, owedAt any // NULL: owes nothing
	if c.Owes != "" {
		owes, owedAt = c.Owes, norm.Millis(c.At)
	}
	if _, err := tx.exec(s.wallets.wInsertChange, tenant, c.Key, c.User, c.Balance.Version, string(balance), string(body), owes, owedAt); err != nil {
		return err
	}
	if _, err := tx.exec(s.wallets.wPutBalance, tenant, c.User, c.Balance.Version, string(balance)); err != nil {
		return err
	}
	for _, l := range c.Lots {
		if _, err := tx.exec(s.wallets.wUpsertLot, lotArgs(tenant, c.User, l)...); err != nil {
			return err
		}
	}
	if e := c.Ledger; e != nil {
		// ON CONFLICT DO NOTHING: a line under the key is this one.
		r, err := tx.exec(s.wq.insertEntry, tenant, e.ID, c.User, e.Amount, e.Key, e.Reason, e.EventID, norm.Millis(e.CreatedAt))
		if err != nil {
			return err
		}
		if e.Amount > 0 {
			if err := s.foldIfInserted(tx, r, tenant, c.User, e.CreatedAt, e.Amount); err != nil {
				return err
			}
		}
	}
	return nil
}

func lotArgs(tenant, user string, l points.Lot) []any {
	return []any{tenant, user, l.ID, l.Key, l.Amount, l.Remaining, norm.Millis(l.EarnedAt), norm.Millis(l.AvailableAt), expiresMillis(l)}
}

// expiresMillis is the stored expires_at of l.
func expiresMillis(l points.Lot) int64 {
	if l.ExpiresAt.IsZero() {
		return neverMillis
	}
	return norm.Millis(l.ExpiresAt)
}

// txWallet is the view of one wallet inside a write op.
type txWallet struct {
	s            *Store
	tx           *wtx
	tenant, user string
	balance      points.Balance
}

func (w *txWallet) Balance() points.Balance { return w.balance }

func (w *txWallet) Lot(_ context.Context, id string) (points.Lot, bool, error) {
	l, err := scanLot(w.tx.queryRow(w.s.wallets.wLot, w.tenant, w.user, id))
	if errors.Is(err, sql.ErrNoRows) {
		return points.Lot{}, false, nil
	}
	return l, err == nil, err
}

func (w *txWallet) Spendable(_ context.Context, now time.Time, fn func(points.Lot) bool) error {
	at := norm.Millis(now)
	rows, err := w.tx.query(w.s.wallets.wSpendable, w.tenant, w.user, at, at)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		l, err := scanLot(rows)
		if err != nil {
			return err
		}
		if !fn(l) {
			return nil
		}
	}
	return rows.Err()
}

func (w *txWallet) ExpiringBy(_ context.Context, at time.Time) ([]points.Lot, error) {
	rows, err := w.tx.query(w.s.wallets.wExpiringBy, w.tenant, w.user, norm.Millis(at))
	if err != nil {
		return nil, err
	}
	return collect(rows, scanLot)
}

// ChangeByKey returns the change stored under key.
func (s *Store) ChangeByKey(ctx context.Context, tenant, key string) (points.Change, error) {
	c, err := changeFrom(s.wallets.changeByKey.QueryRowContext(ctx, tenant, key))
	if err != nil {
		return points.Change{}, fmt.Errorf("sqlite: wallet change %s: %w", key, err)
	}
	return c, nil
}

// OwedChanges lists the changes of every tenant owing their event,
// made before before, oldest first.
func (s *Store) OwedChanges(ctx context.Context, before time.Time, limit int) ([]points.OwedChange, error) {
	out, err := queryAll(ctx, s.wallets.owed, func(sc scanner) (points.OwedChange, error) {
		var tenant string
		c, err := scanChange(sc, &tenant)
		return points.OwedChange{Tenant: tenant, Change: c}, err
	}, norm.Millis(before), norm.Limit(limit, DefaultLimit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: owed wallet changes: %w", err)
	}
	return out, nil
}

// ClearOwed marks the tenant's changes under keys as owing nothing, in
// one write op; the keys go as one JSON array.
func (s *Store) ClearOwed(ctx context.Context, tenant string, keys []string) error {
	list, err := json.Marshal(keys)
	if err == nil {
		err = s.w.do(ctx, func(tx *wtx) error {
			_, err := tx.exec(s.wallets.wClearOwed, tenant, string(list))
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("sqlite: clear owed wallet changes: %w", err)
	}
	return nil
}

// UserBalance returns the balance of the user's latest change.
func (s *Store) UserBalance(ctx context.Context, tenant, user string) (points.Balance, error) {
	b, err := balanceFrom(s.wallets.latest.QueryRowContext(ctx, tenant, user))
	if err != nil {
		return points.Balance{}, fmt.Errorf("sqlite: wallet balance: %w", err)
	}
	return b, nil
}

// UserLots pages a user's lots by id.
func (s *Store) UserLots(ctx context.Context, tenant, user, after string, limit int) ([]points.Lot, error) {
	out, err := queryAll(ctx, s.wallets.userLots, scanLot, tenant, user, after, norm.Limit(limit, DefaultLimit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: user lots: %w", err)
	}
	return out, nil
}

// EntryByKey returns the ledger entry with key.
func (s *Store) EntryByKey(ctx context.Context, tenant, key string) (points.Entry, error) {
	e, err := scanEntry(s.wallets.entryByKey.QueryRowContext(ctx, tenant, key))
	if errors.Is(err, sql.ErrNoRows) {
		return points.Entry{}, fmt.Errorf("sqlite: ledger entry %s: %w", key, errs.ErrNotFound)
	}
	if err != nil {
		return points.Entry{}, fmt.Errorf("sqlite: ledger entry %s: %w", key, err)
	}
	return e, nil
}

// InsertReversal records the reversal of credit e, once per key, and
// takes e off its day sum in the same write.
func (s *Store) InsertReversal(ctx context.Context, e points.Entry, at time.Time) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		r, err := tx.exec(s.wallets.wInsertReversal, e.Tenant, e.Key, e.User, e.Amount, norm.Millis(e.CreatedAt), norm.Millis(at))
		if err != nil {
			return err
		}
		return s.foldIfInserted(tx, r, e.Tenant, e.User, e.CreatedAt, -e.Amount)
	})
	if err != nil {
		return fmt.Errorf("sqlite: insert reversal %s: %w", e.Key, err)
	}
	return nil
}

// reversedBetween sums the reversed credits EarnedBetween would count.
func (s *Store) reversedBetween(ctx context.Context, tenant, user, keyPrefix string, from, to time.Time) (int64, error) {
	var n int64
	err := s.wallets.reversedBetween.QueryRowContext(ctx, tenant, user, norm.Millis(from), norm.Millis(to), keyPrefix, keyPrefix+"\xff").Scan(&n)
	return n, err
}

func changeFrom(row *sql.Row) (points.Change, error) {
	c, err := scanChange(row)
	if errors.Is(err, sql.ErrNoRows) {
		return points.Change{}, errs.ErrNotFound
	}
	return c, err
}

// scanChange scans the columns lead points to, then user_id, body, owes.
func scanChange(sc scanner, lead ...any) (points.Change, error) {
	var (
		user, body string
		owes       sql.NullString
	)
	if err := sc.Scan(append(lead, &user, &body, &owes)...); err != nil {
		return points.Change{}, err
	}
	var c points.Change
	err := json.Unmarshal([]byte(body), &c)
	c.User, c.Owes = user, owes.String
	return c, err
}

// balanceFrom reads a balance column; no row is an untouched wallet.
func balanceFrom(row *sql.Row) (points.Balance, error) {
	var body string
	if err := row.Scan(&body); errors.Is(err, sql.ErrNoRows) {
		return points.Balance{}, nil
	} else if err != nil {
		return points.Balance{}, err
	}
	var b points.Balance
	err := json.Unmarshal([]byte(body), &b)
	return b, err
}

func scanLot(sc scanner) (points.Lot, error) {
	var (
		l                   points.Lot
		tenant              string
		earned, avail, exps int64
	)
	if err := sc.Scan(&tenant, &l.User, &l.ID, &l.Key, &l.Amount, &l.Remaining, &earned, &avail, &exps); err != nil {
		return points.Lot{}, err
	}
	l.EarnedAt, l.AvailableAt = norm.Time(earned), norm.Time(avail)
	if exps != neverMillis {
		l.ExpiresAt = norm.Time(exps)
	}
	return l, nil
}

// AnonymiseWallet moves the user's changes, lots and reversals to
// pseudonym. A user id back after an erasure has changes whose versions
// the first life's took under the pseudonym: those are dropped (the
// pseudonym's wallet is never read; the ledger keeps every key).
func (s *Store) AnonymiseWallet(ctx context.Context, tenant, user, pseudonym string) error {
	args, key := []any{pseudonym, tenant, user}, []any{tenant, user}
	return s.eraseAll(ctx, "wallet",
		eraseStmt{`UPDATE OR IGNORE points_balances SET user_id = ? WHERE tenant = ? AND user_id = ?`, args},
		eraseStmt{`DELETE FROM points_balances WHERE tenant = ? AND user_id = ?`, key},
		eraseStmt{`UPDATE OR IGNORE points_changes SET user_id = ? WHERE tenant = ? AND user_id = ?`, args},
		eraseStmt{`DELETE FROM points_changes WHERE tenant = ? AND user_id = ?`, key},
		eraseStmt{`UPDATE OR IGNORE points_lots SET user_id = ? WHERE tenant = ? AND user_id = ?`, args},
		eraseStmt{`DELETE FROM points_lots WHERE tenant = ? AND user_id = ?`, key},
		eraseStmt{`UPDATE points_reversals SET user_id = ? WHERE tenant = ? AND user_id = ?`, args},
	)
}

// PutPolicy stores the tenant's lot policy.
func (s *Store) PutPolicy(ctx context.Context, tenant string, p points.Policy) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("sqlite: put points policy: %w", err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.exec(s.wallets.wPutPolicy, tenant, string(body))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: put points policy: %w", err)
	}
	return nil
}

// Policy returns the tenant's lot policy, if it set one.
func (s *Store) Policy(ctx context.Context, tenant string) (points.Policy, bool, error) {
	var body string
	err := s.wallets.policy.QueryRowContext(ctx, tenant).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return points.Policy{}, false, nil
	}
	var p points.Policy
	if err == nil {
		err = json.Unmarshal([]byte(body), &p)
	}
	if err != nil {
		return points.Policy{}, false, fmt.Errorf("sqlite: points policy: %w", err)
	}
	return p, true, nil
}

// PolicyTenants lists the tenants with a lot policy.
func (s *Store) PolicyTenants(ctx context.Context) ([]string, error) {
	out, err := queryAll(ctx, s.wallets.policyTenants, func(sc scanner) (string, error) {
		var t string
		return t, sc.Scan(&t)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: points policy tenants: %w", err)
	}
	return out, nil
}

// ExpiringLots pages the tenant's lots with points left expiring in
// [from, to), by (expires_at, user, id), after the lot after.
func (s *Store) ExpiringLots(ctx context.Context, tenant string, from, to time.Time, after *points.Lot, limit int) ([]points.Lot, error) {
	at, user, id := norm.Millis(from), "", ""
	if after != nil {
		at, user, id = expiresMillis(*after), after.User, after.ID
	}
	out, err := queryAll(ctx, s.wallets.expiringLots, scanLot, tenant, norm.Millis(from), norm.Millis(to), at, user, id, norm.Limit(limit, DefaultLimit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: expiring lots: %w", err)
	}
	return out, nil
}

// CountExpiringLots counts what ExpiringLots pages.
func (s *Store) CountExpiringLots(ctx context.Context, tenant string, from, to time.Time) (int64, error) {
	var n int64
	if err := s.wallets.countExpiringLots.QueryRowContext(ctx, tenant, norm.Millis(from), norm.Millis(to)).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count expiring lots: %w", err)
	}
	return n, nil
}
