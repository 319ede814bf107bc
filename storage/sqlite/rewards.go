package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/internal/norm"
)

// rewardSchema holds the rewards catalogue, the slots that bound stock
// and per-user limits (a slot per holder, counted in the single writer),
// and redemptions.
var rewardSchema = []string{
	`CREATE TABLE IF NOT EXISTS points_rewards (tenant TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
		PRIMARY KEY (tenant, id)) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS points_slots (tenant TEXT NOT NULL, scope TEXT NOT NULL, owner TEXT NOT NULL,
		user_id TEXT NOT NULL, slot INTEGER NOT NULL, PRIMARY KEY (tenant, scope, owner)) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX IF NOT EXISTS points_slots_slot ON points_slots (tenant, scope, slot)`,
	`CREATE INDEX IF NOT EXISTS points_slots_user ON points_slots (tenant, user_id)`,
	`CREATE TABLE IF NOT EXISTS points_redemptions (tenant TEXT NOT NULL, id TEXT NOT NULL, user_id TEXT NOT NULL,
		idem_key TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (tenant, id)) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX IF NOT EXISTS points_redemptions_idem ON points_redemptions (tenant, user_id, idem_key)`,
}

// rewardRow and redemptionRow are the stored JSON bodies, with what the
// API never shows.
type rewardRow struct {
	points.Reward
	Codes []string `json:"codes,omitempty"`
}

type redemptionRow struct {
	points.Redemption
	Idem   string `json:"idem"`
	Period string `json:"period"`
}

func redemptionBody(r points.Redemption) (string, error) {
	b, err := json.Marshal(redemptionRow{Redemption: r, Idem: r.IdempotencyKey, Period: r.Period})
	return string(b), err
}

func redemptionFrom(tenant, body string) (points.Redemption, error) {
	var row redemptionRow
	if err := json.Unmarshal([]byte(body), &row); err != nil {
		return points.Redemption{}, err
	}
	r := row.Redemption
	r.Tenant, r.IdempotencyKey, r.Period = tenant, row.Idem, row.Period
	return r, nil
}

// PutReward creates or replaces a reward.
func (s *Store) PutReward(ctx context.Context, r points.Reward) error {
	body, err := json.Marshal(rewardRow{Reward: r, Codes: r.Codes})
	if err == nil {
		err = s.exec(ctx, `INSERT INTO points_rewards (tenant, id, body) VALUES (?,?,?)
			ON CONFLICT (tenant, id) DO UPDATE SET body = excluded.body`, r.Tenant, r.ID, string(body))
	}
	if err != nil {
		return fmt.Errorf("sqlite: put reward %s: %w", r.ID, err)
	}
	return nil
}

func rewardFrom(tenant, body string) (points.Reward, error) {
	var row rewardRow
	if err := json.Unmarshal([]byte(body), &row); err != nil {
		return points.Reward{}, err
	}
	r := row.Reward
	r.Tenant, r.Codes = tenant, row.Codes
	return r, nil
}

// GetReward returns a reward.
func (s *Store) GetReward(ctx context.Context, tenant, id string) (points.Reward, error) {
	var body string
	err := s.read.QueryRowContext(ctx, `SELECT body FROM points_rewards WHERE tenant = ? AND id = ?`, tenant, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return points.Reward{}, fmt.Errorf("sqlite: reward %s: %w", id, errs.ErrNotFound)
	}
	if err != nil {
		return points.Reward{}, fmt.Errorf("sqlite: reward %s: %w", id, err)
	}
	return rewardFrom(tenant, body)
}

// ListRewards lists the tenant's rewards by id.
func (s *Store) ListRewards(ctx context.Context, tenant string) ([]points.Reward, error) {
	out, err := queryText(ctx, s.read, func(sc scanner) (points.Reward, error) {
		var body string
		if err := sc.Scan(&body); err != nil {
			return points.Reward{}, err
		}
		return rewardFrom(tenant, body)
	}, `SELECT body FROM points_rewards WHERE tenant = ? ORDER BY id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rewards: %w", err)
	}
	return out, nil
}

// ClaimSlot gives owner the lowest free slot of scope below n, in one
// write op: the single writer makes the count and the insert one step.
func (s *Store) ClaimSlot(ctx context.Context, tenant, scope, user, owner string, n int64) (int64, bool, error) {
	var (
		slot int64
		ok   bool
	)
	err := s.w.do(ctx, func(tx *wtx) error {
		bg := context.Background()
		err := tx.conn.QueryRowContext(bg, `SELECT slot FROM points_slots WHERE tenant = ? AND scope = ? AND owner = ?`, tenant, scope, owner).Scan(&slot)
		if err == nil {
			ok = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Slots are taken in order, so the count held is free unless a
		// release left a hole below it; then the lowest free one is found.
		var taken int
		err = tx.conn.QueryRowContext(bg, `SELECT count(*), EXISTS (SELECT 1 FROM points_slots WHERE tenant = ?1 AND scope = ?2
			AND slot = (SELECT count(*) FROM points_slots WHERE tenant = ?1 AND scope = ?2))
			FROM points_slots WHERE tenant = ?1 AND scope = ?2`, tenant, scope).Scan(&slot, &taken)
		if err != nil || slot >= n {
			return err
		}
		if taken == 1 {
			err = tx.conn.QueryRowContext(bg, `SELECT min(s) FROM (
					SELECT 0 AS s WHERE NOT EXISTS (SELECT 1 FROM points_slots WHERE tenant = ?1 AND scope = ?2 AND slot = 0)
					UNION ALL
					SELECT p.slot + 1 FROM points_slots p WHERE p.tenant = ?1 AND p.scope = ?2
					AND NOT EXISTS (SELECT 1 FROM points_slots q WHERE q.tenant = ?1 AND q.scope = ?2 AND q.slot = p.slot + 1))`,
				tenant, scope).Scan(&slot)
			if err != nil || slot >= n {
				return err
			}
		}
		_, err = tx.conn.ExecContext(bg, `INSERT INTO points_slots (tenant, scope, owner, user_id, slot) VALUES (?,?,?,?,?)`,
			tenant, scope, owner, user, slot)
		ok = err == nil
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("sqlite: claim slot of %s: %w", scope, err)
	}
	return slot, ok, nil
}

// ReleaseSlot frees owner's slot of scope.
func (s *Store) ReleaseSlot(ctx context.Context, tenant, scope, owner string) error {
	if err := s.exec(ctx, `DELETE FROM points_slots WHERE tenant = ? AND scope = ? AND owner = ?`, tenant, scope, owner); err != nil {
		return fmt.Errorf("sqlite: release slot of %s: %w", scope, err)
	}
	return nil
}

// exec runs one statement that is not prepared as a write op.
func (s *Store) exec(ctx context.Context, q string, args ...any) error {
	return s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.conn.ExecContext(context.Background(), q, args...)
		return err
	})
}

// CountSlots counts the held slots of scope.
func (s *Store) CountSlots(ctx context.Context, tenant, scope string) (int64, error) {
	var n int64
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM points_slots WHERE tenant = ? AND scope = ?`, tenant, scope).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count slots of %s: %w", scope, err)
	}
	return n, nil
}

// InsertRedemption stores r unless its user has one with its key.
func (s *Store) InsertRedemption(ctx context.Context, r points.Redemption) (points.Redemption, bool, error) {
	body, err := redemptionBody(r)
	if err != nil {
		return points.Redemption{}, false, err
	}
	var (
		out      points.Redemption
		inserted bool
	)
	err = s.w.do(ctx, func(tx *wtx) error {
		bg := context.Background()
		res, err := tx.conn.ExecContext(bg, `INSERT INTO points_redemptions (tenant, id, user_id, idem_key, body) VALUES (?,?,?,?,?)
			ON CONFLICT DO NOTHING`, r.Tenant, r.ID, r.User, r.IdempotencyKey, body)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out, inserted = r, true
			return nil
		}
		var stored string
		if err := tx.conn.QueryRowContext(bg, `SELECT body FROM points_redemptions WHERE tenant = ? AND user_id = ? AND idem_key = ?`,
			r.Tenant, r.User, r.IdempotencyKey).Scan(&stored); err != nil {
			return err
		}
		out, err = redemptionFrom(r.Tenant, stored)
		return err
	})
	if err != nil {
		return points.Redemption{}, false, fmt.Errorf("sqlite: insert redemption: %w", err)
	}
	return out, inserted, nil
}

// SaveRedemption replaces a stored redemption.
func (s *Store) SaveRedemption(ctx context.Context, r points.Redemption) error {
	body, err := redemptionBody(r)
	if err == nil {
		err = s.exec(ctx, `UPDATE points_redemptions SET body = ? WHERE tenant = ? AND id = ?`, body, r.Tenant, r.ID)
	}
	if err != nil {
		return fmt.Errorf("sqlite: save redemption %s: %w", r.ID, err)
	}
	return nil
}

// GetRedemption returns a redemption.
func (s *Store) GetRedemption(ctx context.Context, tenant, id string) (points.Redemption, error) {
	var body string
	err := s.read.QueryRowContext(ctx, `SELECT body FROM points_redemptions WHERE tenant = ? AND id = ?`, tenant, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return points.Redemption{}, fmt.Errorf("sqlite: redemption %s: %w", id, errs.ErrNotFound)
	}
	if err != nil {
		return points.Redemption{}, fmt.Errorf("sqlite: redemption %s: %w", id, err)
	}
	return redemptionFrom(tenant, body)
}

// UserRedemptions lists a user's redemptions, newest first.
func (s *Store) UserRedemptions(ctx context.Context, tenant, user string) ([]points.Redemption, error) {
	out, err := queryText(ctx, s.read, func(sc scanner) (points.Redemption, error) {
		var body string
		if err := sc.Scan(&body); err != nil {
			return points.Redemption{}, err
		}
		return redemptionFrom(tenant, body)
	}, `SELECT body FROM points_redemptions INDEXED BY points_redemptions_idem WHERE tenant = ? AND user_id = ? ORDER BY id DESC LIMIT ?`,
		tenant, user, norm.Limit(0, DefaultLimit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: user redemptions: %w", err)
	}
	return out, nil
}

// EraseRewardUser deletes the user's redemptions and slots.
func (s *Store) EraseRewardUser(ctx context.Context, tenant, user string) error {
	key := []any{tenant, user}
	return s.eraseAll(ctx, "rewards",
		eraseStmt{`DELETE FROM points_redemptions WHERE tenant = ? AND user_id = ?`, key},
		eraseStmt{`DELETE FROM points_slots WHERE tenant = ? AND user_id = ?`, key},
	)
}
