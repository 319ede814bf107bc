package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/internal/norm"
)

// A user's export and erasure (package users). They are rare, so their
// statements are not prepared. A row moved to the pseudonym that collides
// with one an earlier erasure moved there (the user id came back and did
// the same again) is left out by UPDATE OR IGNORE and then deleted: the
// earlier row already counts it. Rows keyed by (tenant, owner, user, ...)
// are reached through the tenant's owners (challenges, badges, boards):
// "owner IN (SELECT id ...)" walks the primary key once per owner instead
// of scanning the tenant.

// eraseStmt is one statement of an erasure.
type eraseStmt struct {
	q    string
	args []any
}

// eraseAll runs stmts as one write: an erasure is all or nothing per
// domain.
func (s *Store) eraseAll(ctx context.Context, what string, stmts ...eraseStmt) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		for _, st := range stmts {
			if _, err := tx.conn.ExecContext(context.Background(), st.q, st.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: erase %s: %w", what, err)
	}
	return nil
}

// queryText runs a query that is not prepared on the read pool and scans
// every row.
func queryText[T any](ctx context.Context, db *sql.DB, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scan)
}

// UserEvents pages a user's events in id order after the id after.
func (s *Store) UserEvents(ctx context.Context, tenant, user, after string, limit int) ([]events.Event, error) {
	out, err := queryText(ctx, s.read, scanEvent, `SELECT `+eventCols+` FROM events INDEXED BY events_user
		WHERE tenant = ? AND user_id = ? AND id > ? ORDER BY id LIMIT ?`, tenant, user, after, norm.Limit(limit, DefaultLimit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: user events: %w", err)
	}
	return out, nil
}

// DeleteUserEvents deletes every event of the user.
func (s *Store) DeleteUserEvents(ctx context.Context, tenant, user string) error {
	return s.eraseAll(ctx, "events", eraseStmt{`DELETE FROM events WHERE tenant = ? AND user_id = ?`, []any{tenant, user}})
}

// UserMemberships lists the challenges the user joined, in challenge order.
func (s *Store) UserMemberships(ctx context.Context, tenant, user string) ([]challenges.Membership, error) {
	out, err := queryText(ctx, s.read, scanEnrolment, `SELECT `+enrolmentCols+` FROM enrolments
		WHERE tenant = ? AND challenge_id IN (SELECT id FROM challenges WHERE tenant = ?) AND user_id = ?
		ORDER BY challenge_id`, tenant, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user memberships: %w", err)
	}
	return out, nil
}

// EraseChallengeUser deletes the user's contributions, their tallies and
// unlocks and
// moves their completions and enrolments to pseudonym.
func (s *Store) EraseChallengeUser(ctx context.Context, tenant, user, pseudonym string) error {
	ofTenant := `tenant = ? AND challenge_id IN (SELECT id FROM challenges WHERE tenant = ?) AND user_id = ?`
	return s.eraseAll(ctx, "challenges",
		eraseStmt{`DELETE FROM contributions WHERE ` + ofTenant, []any{tenant, tenant, user}},
		eraseStmt{`DELETE FROM challenge_tallies WHERE ` + ofTenant, []any{tenant, tenant, user}},
		eraseStmt{`DELETE FROM challenge_day_tallies WHERE ` + ofTenant, []any{tenant, tenant, user}},
		eraseStmt{`DELETE FROM unlocks WHERE tenant = ? AND user_id = ?`, []any{tenant, user}},
		eraseStmt{`UPDATE OR IGNORE completions SET user_id = ?, event_id = '' WHERE tenant = ? AND user_id = ?`, []any{pseudonym, tenant, user}},
		eraseStmt{`DELETE FROM completions WHERE tenant = ? AND user_id = ?`, []any{tenant, user}},
		eraseStmt{`UPDATE OR IGNORE enrolments SET user_id = ? WHERE ` + ofTenant, []any{pseudonym, tenant, tenant, user}},
		eraseStmt{`DELETE FROM enrolments WHERE ` + ofTenant, []any{tenant, tenant, user}},
	)
}

// EraseBadgeUser deletes the user's badge contributions and moves their
// awards to pseudonym.
func (s *Store) EraseBadgeUser(ctx context.Context, tenant, user, pseudonym string) error {
	return s.eraseAll(ctx, "badges",
		eraseStmt{`DELETE FROM badge_contributions
			WHERE tenant = ? AND badge_id IN (SELECT id FROM badges WHERE tenant = ?) AND user_id = ?`, []any{tenant, tenant, user}},
		eraseStmt{`UPDATE OR IGNORE awards SET user_id = ?, event_id = '' WHERE tenant = ? AND user_id = ?`, []any{pseudonym, tenant, user}},
		eraseStmt{`DELETE FROM awards WHERE tenant = ? AND user_id = ?`, []any{tenant, user}},
	)
}

// AnonymiseEntries moves the user's ledger entries to pseudonym and deletes
// their day sums (see points.UserData), in one write.
func (s *Store) AnonymiseEntries(ctx context.Context, tenant, user, pseudonym string) error {
	return s.eraseAll(ctx, "ledger", eraseStmt{`UPDATE ledger SET user_id = ?, reason = ?, event_id = ''
		WHERE tenant = ? AND user_id = ?`, []any{pseudonym, points.ErasedReason, tenant, user}},
		eraseStmt{`DELETE FROM points_days WHERE tenant = ? AND user_id = ?`, []any{tenant, user}},
		eraseStmt{`DELETE FROM points_months WHERE tenant = ? AND user_id = ?`, []any{tenant, user}})
}

// UserScores lists the user's scores on every board in (board, event) order.
func (s *Store) UserScores(ctx context.Context, tenant, user string) ([]leaderboards.Score, error) {
	out, err := queryText(ctx, s.read, scanScore, `SELECT `+scoreCols+` FROM board_scores
		WHERE tenant = ? AND board_id IN (SELECT id FROM boards WHERE tenant = ?) AND user_id = ?
		ORDER BY board_id, event_id`, tenant, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user scores: %w", err)
	}
	return out, nil
}

// EraseBoardUser deletes the user's scores on every board, their totals and
// exclusions.
func (s *Store) EraseBoardUser(ctx context.Context, tenant, user string) error {
	ofTenant := `tenant = ? AND board_id IN (SELECT id FROM boards WHERE tenant = ?) AND user_id = ?`
	return s.eraseAll(ctx, "boards",
		eraseStmt{`DELETE FROM board_scores WHERE ` + ofTenant, []any{tenant, tenant, user}},
		eraseStmt{`DELETE FROM board_totals WHERE ` + ofTenant, []any{tenant, tenant, user}},
		eraseStmt{`DELETE FROM board_exclusions WHERE ` + ofTenant, []any{tenant, tenant, user}},
	)
}

// DeleteUser deletes the user's profile and attributes.
func (s *Store) DeleteUser(ctx context.Context, tenant, user string) error {
	return s.eraseAll(ctx, "profile",
		eraseStmt{`DELETE FROM profiles WHERE tenant = ? AND user_id = ?`, []any{tenant, user}},
		eraseStmt{`DELETE FROM attributes WHERE tenant = ? AND user_id = ?`, []any{tenant, user}},
	)
}

// AuditAbout lists the entries about or by the user, newest first.
func (s *Store) AuditAbout(ctx context.Context, tenant, user string) ([]audit.Entry, error) {
	subject, suffix := "user:"+user, "/user:"+user
	out, err := queryText(ctx, s.read, scanAudit, `SELECT `+auditCols+` FROM audit
		WHERE tenant = ? AND (actor = ? OR subject = ? OR substr(subject, -length(?)) = ?) ORDER BY id DESC`,
		tenant, user, subject, suffix, suffix)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit about: %w", err)
	}
	return out, nil
}

// AnonymiseAudit replaces the user's id by pseudonym in the entries about
// or by the user.
func (s *Store) AnonymiseAudit(ctx context.Context, tenant, user, pseudonym string) error {
	suffix := "/user:" + user
	return s.eraseAll(ctx, "audit",
		eraseStmt{`UPDATE audit SET actor = ? WHERE tenant = ? AND actor = ?`, []any{pseudonym, tenant, user}},
		eraseStmt{`UPDATE audit SET subject = ? WHERE tenant = ? AND subject = ?`, []any{"user:" + pseudonym, tenant, "user:" + user}},
		eraseStmt{`UPDATE audit SET subject = substr(subject, 1, length(subject) - length(?)) || ?
			WHERE tenant = ? AND substr(subject, -length(?)) = ?`, []any{suffix, "/user:" + pseudonym, tenant, suffix, suffix}},
	)
}
