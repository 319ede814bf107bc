package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/storage/internal/norm"
)

func prepChallenge(c challenges.Challenge) (challenges.Challenge, any, error) {
	c.Filter = norm.StringMap(c.Filter)
	c.StartsAt, c.EndsAt = norm.TruncPtr(c.StartsAt), norm.TruncPtr(c.EndsAt)
	c.CreatedAt = norm.NowIfZero(c.CreatedAt)
	c.UpdatedAt = norm.NowIfZero(c.UpdatedAt)
	if c.Filter == nil {
		return c, nil, nil
	}
	b, err := json.Marshal(c.Filter)
	if err != nil {
		return c, nil, fmt.Errorf("encode filter: %w", err)
	}
	return c, string(b), nil
}

// CreateChallenge stores a new challenge; an existing (tenant, id) is an
// errs.ErrDuplicate. Zero CreatedAt/UpdatedAt become now.
func (s *Store) CreateChallenge(ctx context.Context, c challenges.Challenge) error {
	if c.ID == "" {
		return errors.New("sqlite: create challenge: empty id")
	}
	c, filter, err := prepChallenge(c)
	if err != nil {
		return fmt.Errorf("sqlite: create challenge: %w", err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		r, err := tx.exec(s.wq.insertChallenge, c.Tenant, c.ID, c.Name, c.Description, string(c.Status),
			c.EventType, filter, c.Target, c.RewardPoints, nullTime(c.StartsAt), nullTime(c.EndsAt),
			norm.Millis(c.CreatedAt), norm.Millis(c.UpdatedAt), c.Version)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("challenge %s: %w", c.ID, errs.ErrDuplicate)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: create challenge: %w", err)
	}
	return nil
}

// UpdateChallenge replaces the stored challenge if its version is
// c.Version-1 (compare-and-set); a different version is an
// errs.ErrDuplicate, a missing challenge an errs.ErrNotFound. CreatedAt is
// immutable and kept from the stored row.
func (s *Store) UpdateChallenge(ctx context.Context, c challenges.Challenge) error {
	c, filter, err := prepChallenge(c)
	if err != nil {
		return fmt.Errorf("sqlite: update challenge: %w", err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		r, err := tx.exec(s.wq.updateChallenge, c.Name, c.Description, string(c.Status), c.EventType,
			filter, c.Target, c.RewardPoints, nullTime(c.StartsAt), nullTime(c.EndsAt),
			norm.Millis(c.UpdatedAt), c.Version, c.Tenant, c.ID, c.Version-1)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		err = tx.queryRow(s.wq.challengeExists, c.Tenant, c.ID).Scan(&one)
		if err == nil {
			return fmt.Errorf("challenge %s version %d: %w", c.ID, c.Version, errs.ErrDuplicate)
		}
		return notFound(err, "challenge", c.ID)
	})
	if err != nil {
		return fmt.Errorf("sqlite: update challenge: %w", err)
	}
	return nil
}

// GetChallenge returns one challenge of tenant.
func (s *Store) GetChallenge(ctx context.Context, tenant, id string) (challenges.Challenge, error) {
	c, err := scanChallenge(s.rq.getChallenge.QueryRowContext(ctx, tenant, id))
	if err != nil {
		return challenges.Challenge{}, fmt.Errorf("sqlite: get challenge: %w", notFound(err, "challenge", id))
	}
	return c, nil
}

// ListChallenges pages a tenant's challenges by id, after the given id;
// status "" lists every status.
func (s *Store) ListChallenges(ctx context.Context, tenant string, status challenges.Status, after string, limit int) ([]challenges.Challenge, error) {
	limit = norm.Limit(limit, DefaultLimit)
	var (
		rows *sql.Rows
		err  error
	)
	if status == "" {
		rows, err = s.rq.listChallenges.QueryContext(ctx, tenant, after, limit)
	} else {
		rows, err = s.rq.listChallengesBy.QueryContext(ctx, tenant, string(status), after, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list challenges: %w", err)
	}
	out, err := collect(rows, scanChallenge)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list challenges: %w", err)
	}
	return out, nil
}

func scanChallenge(sc scanner) (challenges.Challenge, error) {
	var (
		c                challenges.Challenge
		status           string
		filter           sql.NullString
		starts, ends     sql.NullInt64
		created, updated int64
	)
	if err := sc.Scan(&c.Tenant, &c.ID, &c.Name, &c.Description, &status, &c.EventType, &filter,
		&c.Target, &c.RewardPoints, &starts, &ends, &created, &updated, &c.Version); err != nil {
		return challenges.Challenge{}, err
	}
	c.Status = challenges.Status(status)
	c.StartsAt, c.EndsAt = timePtr(starts), timePtr(ends)
	c.CreatedAt, c.UpdatedAt = norm.Time(created), norm.Time(updated)
	if filter.Valid && filter.String != "" {
		if err := json.Unmarshal([]byte(filter.String), &c.Filter); err != nil {
			return challenges.Challenge{}, fmt.Errorf("decode filter of challenge %s: %w", c.ID, err)
		}
		c.Filter = norm.StringMap(c.Filter)
	}
	return c, nil
}

// AddContribution stores c once; inserted is false for a repeat of the same
// (tenant, challenge, user, period, event).
func (s *Store) AddContribution(ctx context.Context, c challenges.Contribution) (bool, error) {
	at := norm.NowIfZero(c.At)
	var inserted bool
	err := s.w.do(ctx, func(tx *wtx) error {
		r, err := tx.exec(s.wq.insertContribution, c.Tenant, c.ChallengeID, c.User, c.Period, c.EventID, c.Value, norm.Millis(at))
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		inserted = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: add contribution: %w", err)
	}
	return inserted, nil
}

// CountContributions counts a user's contributions to one challenge
// period, stopping at max when max > 0.
func (s *Store) CountContributions(ctx context.Context, tenant, challengeID, user, period string, max int64) (int64, error) {
	if max <= 0 {
		max = -1 // SQLite: no limit
	}
	var n int64
	if err := s.rq.countContributions.QueryRowContext(ctx, tenant, challengeID, user, period, max).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count contributions: %w", err)
	}
	return n, nil
}

// UserProgress returns a user's contribution counts per challenge and
// period, ordered by challenge id then period.
func (s *Store) UserProgress(ctx context.Context, tenant, user string) ([]challenges.ProgressRow, error) {
	rows, err := s.rq.userProgress.QueryContext(ctx, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user progress: %w", err)
	}
	out, err := collect(rows, func(sc scanner) (challenges.ProgressRow, error) {
		var p challenges.ProgressRow
		err := sc.Scan(&p.ChallengeID, &p.Period, &p.Count)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: user progress: %w", err)
	}
	return out, nil
}

// InsertCompletion stores c unless the user already completed that
// challenge period, in which case it returns the existing completion and
// inserted=false. An empty ID gets a UUIDv7 and a zero CompletedAt becomes
// now; an ID already used for another period is an errs.ErrDuplicate.
func (s *Store) InsertCompletion(ctx context.Context, c challenges.Completion) (challenges.Completion, bool, error) {
	if c.ID == "" {
		c.ID = uuid.Must(uuid.NewV7()).String()
	}
	c.CompletedAt = norm.NowIfZero(c.CompletedAt)
	var (
		stored   challenges.Completion
		inserted bool
	)
	err := s.w.do(ctx, func(tx *wtx) (err error) {
		stored, inserted, err = insertOrExisting(tx, s.wq.insertCompletion,
			[]any{c.Tenant, c.ID, c.ChallengeID, c.User, c.Period, c.EventID, norm.Millis(c.CompletedAt)}, c,
			func() (challenges.Completion, error) {
				return scanCompletion(tx.queryRow(s.wq.completionByKey, c.Tenant, c.ChallengeID, c.User, c.Period))
			},
			"completion id "+c.ID)
		return err
	})
	if err != nil {
		return challenges.Completion{}, false, fmt.Errorf("sqlite: insert completion: %w", err)
	}
	return stored, inserted, nil
}

// UserCompletions lists a user's completions, newest first.
func (s *Store) UserCompletions(ctx context.Context, tenant, user string) ([]challenges.Completion, error) {
	rows, err := s.rq.userCompletions.QueryContext(ctx, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user completions: %w", err)
	}
	out, err := collect(rows, scanCompletion)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user completions: %w", err)
	}
	return out, nil
}

func scanCompletion(sc scanner) (challenges.Completion, error) {
	var (
		c  challenges.Completion
		at int64
	)
	if err := sc.Scan(&c.Tenant, &c.ID, &c.ChallengeID, &c.User, &c.Period, &c.EventID, &at); err != nil {
		return challenges.Completion{}, err
	}
	c.CompletedAt = norm.Time(at)
	return c, nil
}
