package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/loyalty"
	"github.com/questline/questline/storage/internal/norm"
)

// loyaltySchema holds the loyalty programme's tables. loyalty_docs keeps
// definitions as JSON documents by (tenant, kind, id): a tenant's event
// catalogue (kind event_types, id ""), earn rules (kind earn_rule).
// earn_marks is each earn rule's chain of counted events per user.
var loyaltySchema = []string{
	`CREATE TABLE IF NOT EXISTS loyalty_docs (
		tenant     TEXT NOT NULL,
		kind       TEXT NOT NULL,
		id         TEXT NOT NULL,
		body       TEXT NOT NULL,
		version    INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		PRIMARY KEY (tenant, kind, id)
	) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS earn_marks (
		tenant   TEXT NOT NULL,
		rule_id  TEXT NOT NULL,
		user_id  TEXT NOT NULL,
		seq      INTEGER NOT NULL,
		event_id TEXT NOT NULL,
		payout   INTEGER NOT NULL,
		state    TEXT NOT NULL,
		at       INTEGER NOT NULL,
		PRIMARY KEY (tenant, rule_id, user_id, seq)
	) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX IF NOT EXISTS earn_marks_event ON earn_marks (tenant, rule_id, event_id)`,
	`CREATE INDEX IF NOT EXISTS earn_marks_user ON earn_marks (tenant, user_id)`,
	// tier_states is each user's tier standing; review_at 0 is none. The
	// review job scans due standings of every tenant, like the sweeper.
	`CREATE TABLE IF NOT EXISTS tier_states (
		tenant    TEXT NOT NULL,
		user_id   TEXT NOT NULL,
		body      TEXT NOT NULL,
		review_at INTEGER NOT NULL,
		version   INTEGER NOT NULL,
		PRIMARY KEY (tenant, user_id)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS tier_states_due ON tier_states (review_at, tenant, user_id) WHERE review_at > 0`,
	`CREATE TABLE IF NOT EXISTS referral_codes (
		tenant  TEXT NOT NULL,
		user_id TEXT NOT NULL,
		code    TEXT NOT NULL,
		PRIMARY KEY (tenant, user_id)
	) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX IF NOT EXISTS referral_codes_code ON referral_codes (tenant, code)`,
	// completed_at 0 is not completed.
	`CREATE TABLE IF NOT EXISTS referral_claims (
		tenant        TEXT NOT NULL,
		referee       TEXT NOT NULL,
		referrer      TEXT NOT NULL,
		code          TEXT NOT NULL,
		claimed_at    INTEGER NOT NULL,
		event_id      TEXT NOT NULL,
		completed_at  INTEGER NOT NULL,
		referrer_paid INTEGER NOT NULL,
		PRIMARY KEY (tenant, referee)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS referral_claims_referrer ON referral_claims (tenant, referrer, completed_at)`,
}

const (
	markCols  = `tenant, rule_id, user_id, seq, event_id, payout, state, at`
	claimCols = `tenant, referee, referrer, code, claimed_at`
)

// loyaltyStmts are the loyalty programme's prepared statements: w* on
// the writer connection, r* on the read pool.
type loyaltyStmts struct {
	wInsertDoc, wUpdateDoc, wDocExists   *sql.Stmt
	wInsertMark, wMarkByEvent, wEraseMks *sql.Stmt
	wInsertTier, wUpdateTier, wEraseTier *sql.Stmt
	rGetDoc, rListDocs, rLastMark        *sql.Stmt
	rUserMarks, rTierState, rDueTiers    *sql.Stmt
	wInsertCode, wCodeOf, wInsertClaim   *sql.Stmt
	wCompleteClaim, wClaimOf, wEraseRefs *sql.Stmt
	wEraseClaims, wAnonReferrer          *sql.Stmt
	rCodeOwner, rClaimOf, rCountClaims   *sql.Stmt
	rCodeOf, rClaimsBy                   *sql.Stmt
}

// prepareLoyalty prepares loyaltyStmts; closeStmts closes them.
func (s *Store) prepareLoyalty(ctx context.Context, conn *sql.Conn) error {
	l := &s.lq
	for _, p := range []struct {
		dst   **sql.Stmt
		q     string
		write bool
	}{
		{&l.wInsertDoc, `INSERT INTO loyalty_docs (tenant, kind, id, body, version, updated_at) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING`, true},
		{&l.wUpdateDoc, `UPDATE loyalty_docs SET body = ?, version = ?, updated_at = ? WHERE tenant = ? AND kind = ? AND id = ? AND version = ?`, true},
		{&l.wDocExists, `SELECT 1 FROM loyalty_docs WHERE tenant = ? AND kind = ? AND id = ?`, true},
		{&l.wInsertMark, `INSERT INTO earn_marks (` + markCols + `) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`, true},
		{&l.wMarkByEvent, `SELECT ` + markCols + ` FROM earn_marks WHERE tenant = ? AND rule_id = ? AND event_id = ?`, true},
		{&l.wEraseMks, `DELETE FROM earn_marks WHERE tenant = ? AND user_id = ?`, true},
		{&l.wInsertTier, `INSERT INTO tier_states (tenant, user_id, body, review_at, version) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`, true},
		{&l.wUpdateTier, `UPDATE tier_states SET body = ?, review_at = ?, version = ? WHERE tenant = ? AND user_id = ? AND version = ?`, true},
		{&l.wEraseTier, `DELETE FROM tier_states WHERE tenant = ? AND user_id = ?`, true},
		{&l.rTierState, `SELECT body, version FROM tier_states WHERE tenant = ? AND user_id = ?`, false},
		{&l.rDueTiers, `SELECT tenant, user_id, body, version FROM tier_states INDEXED BY tier_states_due
			WHERE review_at > 0 AND review_at <= ? ORDER BY review_at, tenant, user_id LIMIT ?`, false},
		{&l.wInsertCode, `INSERT INTO referral_codes (tenant, user_id, code) VALUES (?,?,?) ON CONFLICT DO NOTHING`, true},
		{&l.wCodeOf, `SELECT code FROM referral_codes WHERE tenant = ? AND user_id = ?`, true},
		{&l.wInsertClaim, `INSERT INTO referral_claims (` + claimCols + `, event_id, completed_at, referrer_paid) VALUES (?,?,?,?,?,'',0,0) ON CONFLICT DO NOTHING`, true},
		{&l.wCompleteClaim, `UPDATE referral_claims SET event_id = ?, completed_at = ?, referrer_paid = ? WHERE tenant = ? AND referee = ? AND completed_at = 0`, true},
		{&l.wClaimOf, `SELECT ` + claimCols + `, event_id, completed_at, referrer_paid FROM referral_claims WHERE tenant = ? AND referee = ?`, true},
		{&l.wEraseRefs, `DELETE FROM referral_codes WHERE tenant = ? AND user_id = ?`, true},
		{&l.wEraseClaims, `DELETE FROM referral_claims WHERE tenant = ? AND referee = ?`, true},
		{&l.wAnonReferrer, `UPDATE referral_claims SET referrer = ? WHERE tenant = ? AND referrer = ?`, true},
		{&l.rCodeOf, `SELECT code FROM referral_codes WHERE tenant = ? AND user_id = ?`, false},
		{&l.rClaimsBy, `SELECT ` + claimCols + `, event_id, completed_at, referrer_paid FROM referral_claims INDEXED BY referral_claims_referrer
			WHERE tenant = ? AND referrer = ? ORDER BY claimed_at, referee`, false},
		{&l.rCodeOwner, `SELECT user_id FROM referral_codes INDEXED BY referral_codes_code WHERE tenant = ? AND code = ?`, false},
		{&l.rClaimOf, `SELECT ` + claimCols + `, event_id, completed_at, referrer_paid FROM referral_claims WHERE tenant = ? AND referee = ?`, false},
		{&l.rCountClaims, `SELECT count(*) FROM referral_claims INDEXED BY referral_claims_referrer
			WHERE tenant = ? AND referrer = ? AND completed_at >= ? AND completed_at < ? AND referrer_paid = 1`, false},
		{&l.rGetDoc, `SELECT body, version FROM loyalty_docs WHERE tenant = ? AND kind = ? AND id = ?`, false},
		{&l.rListDocs, `SELECT body, version FROM loyalty_docs WHERE tenant = ? AND kind = ? AND id > ? ORDER BY id LIMIT ?`, false},
		{&l.rLastMark, `SELECT ` + markCols + ` FROM earn_marks WHERE tenant = ? AND rule_id = ? AND user_id = ? ORDER BY seq DESC LIMIT 1`, false},
		{&l.rUserMarks, `SELECT ` + markCols + ` FROM earn_marks INDEXED BY earn_marks_user WHERE tenant = ? AND user_id = ? ORDER BY rule_id, seq`, false},
	} {
		if err := s.prepareOne(ctx, conn, !p.write, p.dst, p.q); err != nil {
			return err
		}
	}
	return nil
}

// Kinds of loyalty_docs.
const (
	docEventTypes = "event_types"
	docEarnRule   = "earn_rule"
	docTiers      = "tiers"
	docReferrals  = "referrals"
)

// getDoc decodes the document (tenant, kind, id) into v and returns its
// version; errs.ErrNotFound when there is none.
func (s *Store) getDoc(ctx context.Context, tenant, kind, id string, v any) (int64, error) {
	var (
		body    string
		version int64
	)
	err := s.lq.rGetDoc.QueryRowContext(ctx, tenant, kind, id).Scan(&body, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%s %s: %w", kind, id, errs.ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	return version, json.Unmarshal([]byte(body), v)
}

// putDoc stores v as version of (tenant, kind, id): version 1 creates it
// (errs.ErrDuplicate if it exists), a later one replaces version-1
// (errs.ErrDuplicate if the stored one is another, errs.ErrNotFound if
// there is none).
func (s *Store) putDoc(ctx context.Context, tenant, kind, id string, version int64, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	at := norm.Millis(time.Now())
	return s.w.do(ctx, func(tx *wtx) error {
		if version == 1 {
			return insertNew(tx, s.lq.wInsertDoc, []any{tenant, kind, id, string(body), version, at}, kind+" "+id)
		}
		r, err := tx.exec(s.lq.wUpdateDoc, string(body), version, at, tenant, kind, id, version-1)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		if err := tx.queryRow(s.lq.wDocExists, tenant, kind, id).Scan(&one); err != nil {
			return notFound(err, kind, id)
		}
		return fmt.Errorf("%s %s version %d: %w", kind, id, version, errs.ErrDuplicate)
	})
}

// listDocs decodes a page of a tenant's documents of kind, by id after
// `after`, with conv.
func listDocs[T any](ctx context.Context, s *Store, tenant, kind, after string, limit int) ([]T, error) {
	rows, err := s.lq.rListDocs.QueryContext(ctx, tenant, kind, after, limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(sc scanner) (T, error) {
		var (
			v       T
			body    string
			version int64
		)
		if err := sc.Scan(&body, &version); err != nil {
			return v, err
		}
		return v, json.Unmarshal([]byte(body), &v)
	})
}

// EventTypes returns the tenant's own event catalogue.
func (s *Store) EventTypes(ctx context.Context, tenant string) (events.Catalogue, bool, error) {
	var c events.Catalogue
	_, err := s.getDoc(ctx, tenant, docEventTypes, "", &c)
	if errors.Is(err, errs.ErrNotFound) {
		return events.Catalogue{}, false, nil
	}
	if err != nil {
		return events.Catalogue{}, false, fmt.Errorf("sqlite: event types: %w", err)
	}
	c.Tenant = tenant
	return c, true, nil
}

// PutEventTypes stores c if the stored version is c.Version-1.
func (s *Store) PutEventTypes(ctx context.Context, c events.Catalogue) error {
	if err := s.putDoc(ctx, c.Tenant, docEventTypes, "", c.Version, c); err != nil {
		if errors.Is(err, errs.ErrNotFound) {
			err = fmt.Errorf("event types: %w", errs.ErrDuplicate)
		}
		return fmt.Errorf("sqlite: put event types: %w", err)
	}
	return nil
}

// CreateEarnRule stores a new earn rule.
func (s *Store) CreateEarnRule(ctx context.Context, r loyalty.EarnRule) error {
	if err := s.putDoc(ctx, r.Tenant, docEarnRule, r.ID, 1, r); err != nil {
		return fmt.Errorf("sqlite: create earn rule: %w", err)
	}
	return nil
}

// UpdateEarnRule replaces an earn rule whose stored version is r.Version-1.
func (s *Store) UpdateEarnRule(ctx context.Context, r loyalty.EarnRule) error {
	if r.Version < 2 {
		return fmt.Errorf("sqlite: update earn rule %s: version %d: %w", r.ID, r.Version, errs.ErrDuplicate)
	}
	if err := s.putDoc(ctx, r.Tenant, docEarnRule, r.ID, r.Version, r); err != nil {
		return fmt.Errorf("sqlite: update earn rule: %w", err)
	}
	return nil
}

// GetEarnRule returns one earn rule.
func (s *Store) GetEarnRule(ctx context.Context, tenant, id string) (loyalty.EarnRule, error) {
	var r loyalty.EarnRule
	if _, err := s.getDoc(ctx, tenant, docEarnRule, id, &r); err != nil {
		return loyalty.EarnRule{}, fmt.Errorf("sqlite: get earn rule: %w", err)
	}
	r.Tenant = tenant
	return r, nil
}

// ListEarnRules pages a tenant's earn rules by id.
func (s *Store) ListEarnRules(ctx context.Context, tenant, after string, limit int) ([]loyalty.EarnRule, error) {
	rs, err := listDocs[loyalty.EarnRule](ctx, s, tenant, docEarnRule, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list earn rules: %w", err)
	}
	for i := range rs {
		rs[i].Tenant = tenant
	}
	return rs, nil
}

// LastEarnMark returns the latest mark of (rule, user).
func (s *Store) LastEarnMark(ctx context.Context, tenant, rule, user string) (loyalty.Mark, bool, error) {
	m, err := scanMark(s.lq.rLastMark.QueryRowContext(ctx, tenant, rule, user))
	if errors.Is(err, sql.ErrNoRows) {
		return loyalty.Mark{}, false, nil
	}
	if err != nil {
		return loyalty.Mark{}, false, fmt.Errorf("sqlite: last earn mark: %w", err)
	}
	return m, true, nil
}

// AppendEarnMark stores m, or returns the mark of its event.
func (s *Store) AppendEarnMark(ctx context.Context, m loyalty.Mark) (loyalty.Mark, bool, error) {
	state, err := json.Marshal(m.State)
	if err != nil {
		return loyalty.Mark{}, false, fmt.Errorf("sqlite: append earn mark: %w", err)
	}
	m.At = norm.Trunc(m.At)
	var (
		stored   loyalty.Mark
		inserted bool
	)
	err = s.w.do(ctx, func(tx *wtx) (err error) {
		stored, inserted, err = insertOrExisting(tx, s.lq.wInsertMark,
			[]any{m.Tenant, m.Rule, m.User, m.Seq, m.EventID, m.Payout, string(state), norm.Millis(m.At)}, m,
			func() (loyalty.Mark, error) {
				return scanMark(tx.queryRow(s.lq.wMarkByEvent, m.Tenant, m.Rule, m.EventID))
			},
			"earn mark seq")
		return err
	})
	if err != nil {
		return loyalty.Mark{}, false, fmt.Errorf("sqlite: append earn mark: %w", err)
	}
	return stored, inserted, nil
}

// EarnMarks lists a user's marks by rule and seq.
func (s *Store) EarnMarks(ctx context.Context, tenant, user string) ([]loyalty.Mark, error) {
	rows, err := s.lq.rUserMarks.QueryContext(ctx, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: earn marks: %w", err)
	}
	ms, err := collect(rows, scanMark)
	if err != nil {
		return nil, fmt.Errorf("sqlite: earn marks: %w", err)
	}
	return ms, nil
}

// EraseEarnUser deletes a user's marks.
func (s *Store) EraseEarnUser(ctx context.Context, tenant, user string) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		if _, err := tx.exec(s.lq.wEraseMks, tenant, user); err != nil {
			return err
		}
		for _, st := range []*sql.Stmt{s.lq.wEraseTier, s.lq.wEraseRefs, s.lq.wEraseClaims} {
			if _, err := tx.exec(st, tenant, user); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: erase earn marks: %w", err)
	}
	return nil
}

func scanMark(sc scanner) (loyalty.Mark, error) {
	var (
		m     loyalty.Mark
		state string
		at    int64
	)
	if err := sc.Scan(&m.Tenant, &m.Rule, &m.User, &m.Seq, &m.EventID, &m.Payout, &state, &at); err != nil {
		return loyalty.Mark{}, err
	}
	m.At = norm.Time(at)
	return m, json.Unmarshal([]byte(state), &m.State)
}

// Tiers returns the tenant's tier programme.
func (s *Store) Tiers(ctx context.Context, tenant string) (loyalty.Programme, bool, error) {
	var p loyalty.Programme
	_, err := s.getDoc(ctx, tenant, docTiers, "", &p)
	if errors.Is(err, errs.ErrNotFound) {
		return loyalty.Programme{}, false, nil
	}
	if err != nil {
		return loyalty.Programme{}, false, fmt.Errorf("sqlite: tiers: %w", err)
	}
	return p, true, nil
}

// PutTiers stores p if the stored version is p.Version-1.
func (s *Store) PutTiers(ctx context.Context, tenant string, p loyalty.Programme) error {
	if err := s.putDoc(ctx, tenant, docTiers, "", p.Version, p); err != nil {
		return fmt.Errorf("sqlite: put tiers: %w", err)
	}
	return nil
}

// TierState returns a user's tier standing.
func (s *Store) TierState(ctx context.Context, tenant, user string) (loyalty.TierState, bool, error) {
	var (
		body string
		st   loyalty.TierState
	)
	err := s.lq.rTierState.QueryRowContext(ctx, tenant, user).Scan(&body, &st.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return loyalty.TierState{}, false, nil
	}
	if err == nil {
		err = st.UnmarshalBody([]byte(body))
	}
	if err != nil {
		return loyalty.TierState{}, false, fmt.Errorf("sqlite: tier state: %w", err)
	}
	st.Tenant, st.User = tenant, user
	return st, true, nil
}

// PutTierState stores st if the stored version is st.Version-1.
func (s *Store) PutTierState(ctx context.Context, st loyalty.TierState) error {
	body, err := st.MarshalBody()
	if err != nil {
		return fmt.Errorf("sqlite: put tier state: %w", err)
	}
	due := int64(0) // the review job's next look (review_at is its column)
	if at := st.DueAt(); !at.IsZero() {
		due = norm.Millis(at)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		if st.Version == 1 {
			return insertNew(tx, s.lq.wInsertTier, []any{st.Tenant, st.User, string(body), due, st.Version}, "tier state "+st.User)
		}
		r, err := tx.exec(s.lq.wUpdateTier, string(body), due, st.Version, st.Tenant, st.User, st.Version-1)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 1 {
			return err
		}
		return fmt.Errorf("tier state %s version %d: %w", st.User, st.Version, errs.ErrDuplicate)
	})
	if err != nil {
		return fmt.Errorf("sqlite: put tier state: %w", err)
	}
	return nil
}

// DueTierStates lists standings due for review by before, soonest first.
func (s *Store) DueTierStates(ctx context.Context, before time.Time, limit int) ([]loyalty.TierState, error) {
	rows, err := s.lq.rDueTiers.QueryContext(ctx, norm.Millis(before), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: due tier states: %w", err)
	}
	sts, err := collect(rows, func(sc scanner) (loyalty.TierState, error) {
		var (
			st   loyalty.TierState
			body string
		)
		if err := sc.Scan(&st.Tenant, &st.User, &body, &st.Version); err != nil {
			return st, err
		}
		return st, st.UnmarshalBody([]byte(body))
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: due tier states: %w", err)
	}
	return sts, nil
}

// ReferralProgramme returns the tenant's referral terms.
func (s *Store) ReferralProgramme(ctx context.Context, tenant string) (loyalty.ReferralProgramme, bool, error) {
	var p loyalty.ReferralProgramme
	_, err := s.getDoc(ctx, tenant, docReferrals, "", &p)
	if errors.Is(err, errs.ErrNotFound) {
		return loyalty.ReferralProgramme{}, false, nil
	}
	if err != nil {
		return loyalty.ReferralProgramme{}, false, fmt.Errorf("sqlite: referral terms: %w", err)
	}
	return p, true, nil
}

// PutReferralProgramme stores p if the stored version is p.Version-1.
func (s *Store) PutReferralProgramme(ctx context.Context, tenant string, p loyalty.ReferralProgramme) error {
	if err := s.putDoc(ctx, tenant, docReferrals, "", p.Version, p); err != nil {
		return fmt.Errorf("sqlite: put referral terms: %w", err)
	}
	return nil
}

// ReferralCode stores code as user's unless they have one.
func (s *Store) ReferralCode(ctx context.Context, tenant, user, code string) (string, error) {
	var stored string
	err := s.w.do(ctx, func(tx *wtx) error {
		if _, err := tx.exec(s.lq.wInsertCode, tenant, user, code); err != nil {
			return err
		}
		err := tx.queryRow(s.lq.wCodeOf, tenant, user).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("referral code %s: %w", code, errs.ErrDuplicate) // another user's
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("sqlite: referral code: %w", err)
	}
	return stored, nil
}

// CodeOf returns the user's referral code.
func (s *Store) CodeOf(ctx context.Context, tenant, user string) (string, bool, error) {
	var code string
	err := s.lq.rCodeOf.QueryRowContext(ctx, tenant, user).Scan(&code)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("sqlite: referral code of %s: %w", user, err)
	}
	return code, true, nil
}

// ReferralsBy lists the claims of the referrer's code, oldest first.
func (s *Store) ReferralsBy(ctx context.Context, tenant, referrer string) ([]loyalty.Claim, error) {
	rows, err := s.lq.rClaimsBy.QueryContext(ctx, tenant, referrer)
	if err != nil {
		return nil, fmt.Errorf("sqlite: referrals by %s: %w", referrer, err)
	}
	cs, err := collect(rows, scanClaim)
	if err != nil {
		return nil, fmt.Errorf("sqlite: referrals by %s: %w", referrer, err)
	}
	return cs, nil
}

// AnonymiseReferrer moves the claims naming user as referrer to pseudonym.
func (s *Store) AnonymiseReferrer(ctx context.Context, tenant, user, pseudonym string) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.exec(s.lq.wAnonReferrer, pseudonym, tenant, user)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: anonymise referrer %s: %w", user, err)
	}
	return nil
}

// CodeOwner returns the user holding code.
func (s *Store) CodeOwner(ctx context.Context, tenant, code string) (string, error) {
	var user string
	err := s.lq.rCodeOwner.QueryRowContext(ctx, tenant, code).Scan(&user)
	if err != nil {
		return "", fmt.Errorf("sqlite: code owner: %w", notFound(err, "referral code", code))
	}
	return user, nil
}

// InsertClaim stores c; a referee who claimed before is errs.ErrDuplicate.
func (s *Store) InsertClaim(ctx context.Context, c loyalty.Claim) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		return insertNew(tx, s.lq.wInsertClaim, []any{c.Tenant, c.Referee, c.Referrer, c.Code, norm.Millis(c.ClaimedAt)}, "claim of "+c.Referee)
	})
	if err != nil {
		return fmt.Errorf("sqlite: insert claim: %w", err)
	}
	return nil
}

// ClaimOf returns the referee's claim.
func (s *Store) ClaimOf(ctx context.Context, tenant, referee string) (loyalty.Claim, bool, error) {
	c, err := scanClaim(s.lq.rClaimOf.QueryRowContext(ctx, tenant, referee))
	if errors.Is(err, sql.ErrNoRows) {
		return loyalty.Claim{}, false, nil
	}
	if err != nil {
		return loyalty.Claim{}, false, fmt.Errorf("sqlite: claim: %w", err)
	}
	return c, true, nil
}

// CompleteClaim records the claim's completion once and returns it.
func (s *Store) CompleteClaim(ctx context.Context, tenant, referee, eventID string, referrerPaid bool, at time.Time) (loyalty.Claim, error) {
	var c loyalty.Claim
	err := s.w.do(ctx, func(tx *wtx) (err error) {
		if _, err := tx.exec(s.lq.wCompleteClaim, eventID, norm.Millis(at), referrerPaid, tenant, referee); err != nil {
			return err
		}
		c, err = scanClaim(tx.queryRow(s.lq.wClaimOf, tenant, referee))
		return notFound(err, "claim of", referee)
	})
	if err != nil {
		return loyalty.Claim{}, fmt.Errorf("sqlite: complete claim: %w", err)
	}
	return c, nil
}

// CountCompleted counts the referrer's paid completions in [from, to).
func (s *Store) CountCompleted(ctx context.Context, tenant, referrer string, from, to time.Time) (int64, error) {
	var n int64
	if err := s.lq.rCountClaims.QueryRowContext(ctx, tenant, referrer, norm.Millis(from), norm.Millis(to)).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count referrals: %w", err)
	}
	return n, nil
}

func scanClaim(sc scanner) (loyalty.Claim, error) {
	var (
		c              loyalty.Claim
		claimed, compl int64
	)
	if err := sc.Scan(&c.Tenant, &c.Referee, &c.Referrer, &c.Code, &claimed, &c.EventID, &compl, &c.ReferrerPaid); err != nil {
		return loyalty.Claim{}, err
	}
	c.ClaimedAt = norm.Time(claimed)
	if compl != 0 {
		at := norm.Time(compl)
		c.CompletedAt = &at
	}
	return c, nil
}
