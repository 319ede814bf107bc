package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/storage/internal/norm"
)

// definition is the JSON of a rule and of the rest of a definition, as the
// challenges and badges tables store them.
type definition struct {
	rule, spec string
}

func encodeDefinition(r, spec any) (definition, error) {
	rb, err := json.Marshal(r)
	if err != nil {
		return definition{}, fmt.Errorf("encode rule: %w", err)
	}
	sb, err := json.Marshal(spec)
	if err != nil {
		return definition{}, fmt.Errorf("encode spec: %w", err)
	}
	return definition{string(rb), string(sb)}, nil
}

// prepChallenge fills c's defaults and encodes its definition.
func prepChallenge(c challenges.Challenge) (challenges.Challenge, definition, error) {
	c.CreatedAt = norm.NowIfZero(c.CreatedAt)
	c.UpdatedAt = norm.NowIfZero(c.UpdatedAt)
	def, err := encodeDefinition(c.Rule, norm.ChallengeSpecOf(c))
	return c, def, err
}

// challengeRow is c in challengeCols order.
func challengeRow(c challenges.Challenge, def definition) []any {
	return []any{c.Tenant, c.ID, c.Name, c.Description, string(c.Status), def.rule, def.spec,
		norm.Millis(c.CreatedAt), norm.Millis(c.UpdatedAt), c.Version}
}

// CreateChallenge stores a new challenge; an existing (tenant, id) is an
// errs.ErrDuplicate. Zero CreatedAt/UpdatedAt become now.
func (s *Store) CreateChallenge(ctx context.Context, c challenges.Challenge) error {
	if c.ID == "" {
		return errors.New("sqlite: create challenge: empty id")
	}
	c, def, err := prepChallenge(c)
	if err != nil {
		return fmt.Errorf("sqlite: create challenge: %w", err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		return insertNew(tx, s.wq.insertChallenge, challengeRow(c, def), "challenge "+c.ID)
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
	c, def, err := prepChallenge(c)
	if err != nil {
		return fmt.Errorf("sqlite: update challenge: %w", err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		return updateVersioned(tx, s.wq.updateChallenge, s.wq.challengeExists,
			[]any{c.Name, c.Description, string(c.Status), def.rule, def.spec, norm.Millis(c.UpdatedAt), c.Version},
			c.Tenant, c.ID, c.Version, "challenge")
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
		out []challenges.Challenge
		err error
	)
	if status == "" {
		out, err = queryAll(ctx, s.rq.listChallenges, scanChallenge, tenant, after, limit)
	} else {
		out, err = queryAll(ctx, s.rq.listChallengesBy, scanChallenge, tenant, string(status), after, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list challenges: %w", err)
	}
	return out, nil
}

func scanChallenge(sc scanner) (challenges.Challenge, error) {
	var (
		c                challenges.Challenge
		status, r, spec  string
		created, updated int64
	)
	if err := sc.Scan(&c.Tenant, &c.ID, &c.Name, &c.Description, &status, &r, &spec,
		&created, &updated, &c.Version); err != nil {
		return challenges.Challenge{}, err
	}
	c.Status = challenges.Status(status)
	c.CreatedAt, c.UpdatedAt = norm.Time(created), norm.Time(updated)
	var err error
	if c.Rule, err = norm.DecodeRule([]byte(r)); err != nil {
		return challenges.Challenge{}, fmt.Errorf("decode rule of challenge %s: %w", c.ID, err)
	}
	var sp norm.ChallengeSpec
	if err := json.Unmarshal([]byte(spec), &sp); err != nil {
		return challenges.Challenge{}, fmt.Errorf("decode spec of challenge %s: %w", c.ID, err)
	}
	sp.Apply(&c)
	return c, nil
}

// AddContribution stores c once; inserted is false for a repeat of the same
// (tenant, challenge, user, period, goal, event). A new contribution's
// amount is added to its tally bucket in the same transaction, so the
// tallies always equal the sum of the contributions. A zero At becomes now.
func (s *Store) AddContribution(ctx context.Context, c challenges.Contribution) (bool, error) {
	c.At = norm.NowIfZero(c.At)
	var inserted bool
	err := s.w.do(ctx, func(tx *wtx) (err error) {
		inserted, err = s.addContribution(tx, c)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: add contribution: %w", err)
	}
	return inserted, nil
}

// addContribution is AddContribution's write, in tx, of c with its At set.
func (s *Store) addContribution(tx *wtx, c challenges.Contribution) (bool, error) {
	r, err := tx.exec(s.wq.insertContribution, c.Tenant, c.ChallengeID, c.User, c.Period,
		c.Goal, c.EventID, c.Amount, c.Key, norm.Millis(c.At))
	if err != nil {
		return false, err
	}
	if n, err := r.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	return true, s.addTallies(tx, c)
}

// addTallies adds c's amount to its hour and day tallies.
func (s *Store) addTallies(tx *wtx, c challenges.Contribution) error {
	if _, err := tx.exec(s.wq.addTally, c.Tenant, c.ChallengeID, c.User, c.Period, c.Goal,
		challenges.TallyBucket(c.At).UnixMilli(), c.Amount); err != nil {
		return err
	}
	_, err := tx.exec(s.wq.addDayTally, c.Tenant, c.ChallengeID, c.User, c.Period, c.Goal,
		challenges.DayBucket(c.At).UnixMilli(), c.Amount)
	return err
}

// Contributions returns a user's contributions to one period of a
// challenge, every goal, in (At, EventID, Goal) order.
func (s *Store) Contributions(ctx context.Context, tenant, challengeID, user, period string) ([]challenges.Contribution, error) {
	out, err := queryAll(ctx, s.rq.contributions, scanContribution(tenant, challengeID, user, period),
		tenant, challengeID, user, period)
	if err != nil {
		return nil, fmt.Errorf("sqlite: contributions: %w", err)
	}
	return out, nil
}

// ContributionsBetween is Contributions limited to At in [from, to),
// compared at millisecond precision.
func (s *Store) ContributionsBetween(ctx context.Context, tenant, challengeID, user, period string, from, to time.Time) ([]challenges.Contribution, error) {
	out, err := queryAll(ctx, s.rq.contributionsBetween, scanContribution(tenant, challengeID, user, period),
		tenant, challengeID, user, period, norm.Millis(from), norm.Millis(to))
	if err != nil {
		return nil, fmt.Errorf("sqlite: contributions between: %w", err)
	}
	return out, nil
}

func scanContribution(tenant, challengeID, user, period string) func(scanner) (challenges.Contribution, error) {
	return func(sc scanner) (challenges.Contribution, error) {
		c := challenges.Contribution{Tenant: tenant, ChallengeID: challengeID, User: user, Period: period}
		var at int64
		err := sc.Scan(&c.Goal, &c.EventID, &c.Amount, &c.Key, &at)
		c.At = norm.Time(at)
		return c, err
	}
}

// Contribution returns the contribution of one event to one goal.
func (s *Store) Contribution(ctx context.Context, tenant, challengeID, user, period, goal, eventID string) (challenges.Contribution, bool, error) {
	c := challenges.Contribution{Tenant: tenant, ChallengeID: challengeID, User: user, Period: period, Goal: goal, EventID: eventID}
	var at int64
	err := s.rq.contribution.QueryRowContext(ctx, tenant, challengeID, user, period, goal, eventID).Scan(&c.Amount, &c.Key, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return challenges.Contribution{}, false, nil
	}
	if err != nil {
		return challenges.Contribution{}, false, fmt.Errorf("sqlite: contribution: %w", err)
	}
	c.At = norm.Time(at)
	return c, true, nil
}

// Tally sums a goal's tally buckets starting in [from, to): the whole
// UTC days inside from the day tallies, the hours before and after them
// from the hour tallies.
func (s *Store) Tally(ctx context.Context, tenant, challengeID, user, period, goal string, from, to time.Time) (int64, error) {
	args := func(from, to time.Time) []any {
		return []any{tenant, challengeID, user, period, goal, norm.Millis(from), norm.Millis(to)}
	}
	ranges := []tallyRange{{s.rq.tally, from, to}}
	if d0, d1, ok := challenges.TallyDays(from, to); ok {
		ranges = []tallyRange{{s.rq.tally, from, d0}, {s.rq.dayTally, d0, d1}, {s.rq.tally, d1, to}}
	}
	var total int64
	for _, r := range ranges {
		if !r.from.Before(r.to) {
			// An empty end of hours: a whole period (day-aligned bounds)
			// is one query of its days, not three.
			continue
		}
		var n int64
		if err := r.st.QueryRowContext(ctx, args(r.from, r.to)...).Scan(&n); err != nil {
			return 0, fmt.Errorf("sqlite: tally: %w", err)
		}
		total += n
	}
	return total, nil
}

// tallyRange is one query of Tally: st over buckets in [from, to).
type tallyRange struct {
	st       *sql.Stmt
	from, to time.Time
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
	c.ClaimedAt = norm.TruncPtr(c.ClaimedAt)
	var (
		stored   challenges.Completion
		inserted bool
	)
	err := s.w.do(ctx, func(tx *wtx) (err error) {
		stored, inserted, err = insertOrExisting(tx, s.wq.insertCompletion,
			[]any{c.Tenant, c.ID, c.ChallengeID, c.User, c.Period, c.EventID, norm.Millis(c.CompletedAt), nullTime(c.ClaimedAt)}, c,
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
	out, err := queryAll(ctx, s.rq.userCompletions, scanCompletion, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user completions: %w", err)
	}
	return out, nil
}

// ChallengeCompletions lists a user's completions of one challenge, oldest
// first (ties by id).
func (s *Store) ChallengeCompletions(ctx context.Context, tenant, challengeID, user string) ([]challenges.Completion, error) {
	out, err := queryAll(ctx, s.rq.challengeCompletions, scanCompletion, tenant, challengeID, user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: challenge completions: %w", err)
	}
	return out, nil
}

// ClaimCompletion sets ClaimedAt on an unclaimed completion; claimed is
// false when it was claimed already, and a missing completion is an
// errs.ErrNotFound. The update is conditional on claimed_at being NULL,
// so of concurrent claims exactly one succeeds. A zero at becomes now.
func (s *Store) ClaimCompletion(ctx context.Context, tenant, completionID string, at time.Time) (bool, error) {
	var claimed bool
	err := s.w.do(ctx, func(tx *wtx) error {
		r, err := tx.exec(s.wq.claimCompletion, norm.Millis(norm.NowIfZero(at)), tenant, completionID)
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		if err != nil || n == 1 {
			claimed = n == 1
			return err
		}
		var one int
		return notFound(tx.queryRow(s.wq.completionExists, tenant, completionID).Scan(&one), "completion", completionID)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: claim completion: %w", err)
	}
	return claimed, nil
}

func scanCompletion(sc scanner) (challenges.Completion, error) {
	var (
		c       challenges.Completion
		at      int64
		claimed sql.NullInt64
	)
	if err := sc.Scan(&c.Tenant, &c.ID, &c.ChallengeID, &c.User, &c.Period, &c.EventID, &at, &claimed); err != nil {
		return challenges.Completion{}, err
	}
	c.CompletedAt, c.ClaimedAt = norm.Time(at), timePtr(claimed)
	return c, nil
}

// Join stores e unless the user joined already; then it returns the
// stored enrolment, with the first JoinedAt, and inserted=false. A zero
// JoinedAt becomes now.
func (s *Store) Join(ctx context.Context, e challenges.Membership) (challenges.Membership, bool, error) {
	e.JoinedAt = norm.NowIfZero(e.JoinedAt)
	var (
		stored   challenges.Membership
		inserted bool
	)
	err := s.w.do(ctx, func(tx *wtx) (err error) {
		stored, inserted, err = insertOrExisting(tx, s.wq.insertEnrolment,
			[]any{e.Tenant, e.ChallengeID, e.User, norm.Millis(e.JoinedAt)}, e,
			func() (challenges.Membership, error) {
				return scanEnrolment(tx.queryRow(s.wq.enrolmentByKey, e.Tenant, e.ChallengeID, e.User))
			},
			"enrolment of "+e.User)
		return err
	})
	if err != nil {
		return challenges.Membership{}, false, fmt.Errorf("sqlite: join: %w", err)
	}
	return stored, inserted, nil
}

// Enrolled returns the user's enrolment; ok is false when there is none.
func (s *Store) Enrolled(ctx context.Context, tenant, challengeID, user string) (challenges.Membership, bool, error) {
	e, err := scanEnrolment(s.rq.enrolment.QueryRowContext(ctx, tenant, challengeID, user))
	if errors.Is(err, sql.ErrNoRows) {
		return challenges.Membership{}, false, nil
	}
	if err != nil {
		return challenges.Membership{}, false, fmt.Errorf("sqlite: enrolled: %w", err)
	}
	return e, true, nil
}

func scanEnrolment(sc scanner) (challenges.Membership, error) {
	var (
		e  challenges.Membership
		at int64
	)
	if err := sc.Scan(&e.Tenant, &e.ChallengeID, &e.User, &at); err != nil {
		return challenges.Membership{}, err
	}
	e.JoinedAt = norm.Time(at)
	return e, nil
}

// AddUnlock stores u unless the user has that content already (then
// inserted is false and the first unlock stays). A zero UnlockedAt becomes
// now.
func (s *Store) AddUnlock(ctx context.Context, u challenges.Unlock) (bool, error) {
	inserted, err := s.insertIgnore(ctx, s.wq.insertUnlock,
		u.Tenant, u.User, u.Content, u.Source, norm.Millis(norm.NowIfZero(u.UnlockedAt)))
	if err != nil {
		return false, fmt.Errorf("sqlite: add unlock: %w", err)
	}
	return inserted, nil
}

// UserUnlocks lists a user's unlocks, newest first (ties by content,
// descending).
func (s *Store) UserUnlocks(ctx context.Context, tenant, user string) ([]challenges.Unlock, error) {
	out, err := queryAll(ctx, s.rq.userUnlocks, func(sc scanner) (challenges.Unlock, error) {
		var (
			u  challenges.Unlock
			at int64
		)
		err := sc.Scan(&u.Tenant, &u.User, &u.Content, &u.Source, &at)
		u.UnlockedAt = norm.Time(at)
		return u, err
	}, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user unlocks: %w", err)
	}
	return out, nil
}

// ChallengeStats counts a challenge's participants, completions,
// completers and enrolments in one statement, so the four figures come
// from one snapshot. Each count is a range of the challenge in an index
// that leads with (tenant, challenge_id); no other challenge is read.
func (s *Store) ChallengeStats(ctx context.Context, tenant, challengeID string) (challenges.Stats, error) {
	var st challenges.Stats
	err := s.rq.challengeStats.QueryRowContext(ctx, tenant, challengeID).
		Scan(&st.Participants, &st.Completions, &st.Completers, &st.Joined)
	if err != nil {
		return challenges.Stats{}, fmt.Errorf("sqlite: challenge stats: %w", err)
	}
	return st, nil
}
