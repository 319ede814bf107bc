package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// Column lists shared by the statements and the scan functions that read
// them; keeping them in one place keeps the two in step.
const (
	eventCols      = `tenant, id, idem_key, user_id, type, props, occurred_at, received_at, source, fingerprint, processed, processed_at, result, attempts, next_at, dead_at, dead_reason`
	challengeCols  = `tenant, id, name, description, status, rule, spec, created_at, updated_at, version`
	completionCols = `tenant, id, challenge_id, user_id, period, event_id, completed_at, claimed_at`
	enrolmentCols  = `tenant, challenge_id, user_id, joined_at`
	unlockCols     = `tenant, user_id, content, source, unlocked_at`
	badgeCols      = `tenant, id, name, description, image_url, status, rule, spec, created_at, updated_at, version`
	awardCols      = `tenant, id, badge_id, user_id, tier, period, edition, event_id, source, awarded_at, expires_at`
	attributeCols  = `tenant, user_id, tier, segments, updated_at`
	entryCols      = `tenant, id, user_id, amount, entry_key, reason, event_id, created_at`
	boardCols      = `tenant, id, name, win, spec, created_at`
	buildCols      = `tenant, board_id, state, done, total, error, owner, lease_until`
	scoreCols      = `tenant, board_id, event_id, user_id, value, at`
	pendingCols    = `tenant, board_id, period, user_id, at, since, token`
	exclusionCols  = `tenant, board_id, user_id, excluded_by, reason, at`
	apiKeyCols     = `tenant, id, name, prefix, hash, scopes, created_at, revoked_at`
	auditCols      = `tenant, id, actor, action, subject, detail, at`
	profileCols    = `tenant, user_id, name, avatar_url, updated_at`
)

// A board score and its fold into its member's total (see foldScore), one
// row at a time in the prepared statements and many rows at once in
// FoldScores. Sum adds and keeps the latest At; Best keeps the highest
// value, reached first; Latest the value with the latest At, the higher
// on a tie.
const (
	insertScores = `INSERT INTO board_scores (` + scoreCols + `) VALUES `
	insertTotals = `INSERT INTO board_totals (tenant, board_id, period, user_id, value, at) VALUES `
	oneScoreRow  = `(?,?,?,?,?,?)` // scores and totals have 6 columns
	onSum        = ` ON CONFLICT DO UPDATE SET value = value + excluded.value, at = max(at, excluded.at)`
	onBest       = ` ON CONFLICT DO UPDATE SET
		value = CASE WHEN excluded.value > value OR excluded.value = value AND excluded.at < at THEN excluded.value ELSE value END,
		at = CASE WHEN excluded.value > value OR excluded.value = value AND excluded.at < at THEN excluded.at ELSE at END`
	onLatest = ` ON CONFLICT DO UPDATE SET
		value = CASE WHEN excluded.at > at OR excluded.at = at AND excluded.value > value THEN excluded.value ELSE value END,
		at = CASE WHEN excluded.at > at OR excluded.at = at AND excluded.value > value THEN excluded.at ELSE at END`
)

// boardSelect reads a board with its build, if any.
const boardSelect = `SELECT b.tenant, b.id, b.name, b.win, b.spec, b.created_at, g.state, g.done, g.total, g.error, g.owner, g.lease_until
	FROM boards b LEFT JOIN board_builds g ON g.tenant = b.tenant AND g.board_id = b.id`

// writeStmts are prepared on the writer connection and used only by ops
// running in the writer goroutine. The SELECTs among them read the batch's
// own uncommitted rows, which is what "insert or return existing" needs.
type writeStmts struct {
	insertEvent, eventByKey, markProcessed, eventExists   *sql.Stmt
	recordAttempt, reviveEvent                            *sql.Stmt
	insertChallenge, updateChallenge, challengeExists     *sql.Stmt
	insertContribution, insertCompletion, completionByKey *sql.Stmt
	addTally, addDayTally                                 *sql.Stmt
	claimCompletion, completionExists                     *sql.Stmt
	insertEnrolment, enrolmentByKey, insertUnlock         *sql.Stmt
	insertBadge, updateBadge, badgeExists                 *sql.Stmt
	insertBadgeContribution, insertAward, awardByKey      *sql.Stmt
	insertEntry, entryByKey                               *sql.Stmt
	insertBoard, insertScore, extendBoard                 *sql.Stmt
	insertBuild, claimBuild, saveBuild                    *sql.Stmt
	foldSum, foldBest, foldLatest                         *sql.Stmt
	upsertExclusion, deleteExclusion                      *sql.Stmt
	queueRefresh, claimRefreshes, finishRefresh           *sql.Stmt
	insertAPIKey, revokeAPIKey, apiKeyExists              *sql.Stmt
	insertAudit, upsertProfile, upsertAttributes          *sql.Stmt
}

// readStmts are prepared on the read pool; database/sql prepares each one
// lazily on every pooled connection and reuses it from then on.
type readStmts struct {
	unprocessed, deadEvents, deadEventsBefore, countDead *sql.Stmt
	getChallenge, listChallenges, listChallengesBy       *sql.Stmt
	contributions, userCompletions                       *sql.Stmt
	contributionsBetween, contribution, tally            *sql.Stmt
	dayTally                                             *sql.Stmt
	challengeCompletions, enrolment, userUnlocks         *sql.Stmt
	challengeStats                                       *sql.Stmt
	getBadge, listBadges, listBadgesBy                   *sql.Stmt
	badgeContributions, countAwards, userAwards          *sql.Stmt
	heldAward                                            *sql.Stmt
	attributes                                           *sql.Stmt
	totals, earnedBetween, entries, entriesBefore        *sql.Stmt
	scanEntries, scanAllEntries                          *sql.Stmt
	countEntries, countAllEntries                        *sql.Stmt
	getBoard, listBoards, tenants                        *sql.Stmt
	sumScores, bestScore, latestScore                    *sql.Stmt
	total                                                *sql.Stmt
	scanScores, countScores, exclusions, allExclusions   *sql.Stmt
	refreshBacklog                                       *sql.Stmt
	apiKeyByHash, listAPIKeys                            *sql.Stmt
	audit, auditBefore                                   *sql.Stmt
}

// prepareOne prepares q into *dst, on the read pool when read and on the
// writer's connection otherwise, and keeps it to close with the store.
func (s *Store) prepareOne(ctx context.Context, conn *sql.Conn, read bool, dst **sql.Stmt, q string) error {
	var st *sql.Stmt
	var err error
	if read {
		st, err = s.read.PrepareContext(ctx, q)
	} else {
		st, err = conn.PrepareContext(ctx, q)
	}
	if err != nil {
		return fmt.Errorf("sqlite: prepare %q: %w", q, err)
	}
	*dst = st
	s.close = append(s.close, st)
	return nil
}

func (s *Store) prepare(ctx context.Context, conn *sql.Conn) error {
	w, r := &s.wq, &s.rq
	writes := []struct {
		dst **sql.Stmt
		q   string
	}{
		{&w.insertEvent, `INSERT INTO events (` + eventCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		{&w.eventByKey, `SELECT ` + eventCols + ` FROM events WHERE tenant = ? AND idem_key = ?`},
		{&w.markProcessed, `UPDATE events SET processed = 1, processed_at = ?, result = ? WHERE tenant = ? AND id = ? AND processed = 0`},
		{&w.eventExists, `SELECT 1 FROM events WHERE tenant = ? AND id = ?`},
		{&w.recordAttempt, `UPDATE events SET attempts = max(attempts, ?), next_at = max(next_at, ?), dead_at = coalesce(dead_at, ?),
			dead_reason = CASE WHEN dead_at IS NULL THEN ? ELSE dead_reason END WHERE tenant = ? AND id = ? AND processed = 0`},
		{&w.reviveEvent, `UPDATE events SET attempts = 0, next_at = 0, dead_at = NULL, dead_reason = ''
			WHERE tenant = ? AND id = ? AND processed = 0 AND dead_at IS NOT NULL RETURNING ` + eventCols},

		{&w.insertChallenge, `INSERT INTO challenges (` + challengeCols + `) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		{&w.updateChallenge, `UPDATE challenges SET name = ?, description = ?, status = ?, rule = ?, spec = ?, updated_at = ?, version = ? WHERE tenant = ? AND id = ? AND version = ?`},
		{&w.challengeExists, `SELECT 1 FROM challenges WHERE tenant = ? AND id = ?`},

		{&w.insertContribution, `INSERT INTO contributions (tenant, challenge_id, user_id, period, goal, event_id, amount, distinct_key, at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		{&w.insertCompletion, `INSERT INTO completions (` + completionCols + `) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		{&w.completionByKey, `SELECT ` + completionCols + ` FROM completions WHERE tenant = ? AND challenge_id = ? AND user_id = ? AND period = ?`},
		{&w.claimCompletion, `UPDATE completions SET claimed_at = ? WHERE tenant = ? AND id = ? AND claimed_at IS NULL`},
		{&w.completionExists, `SELECT 1 FROM completions WHERE tenant = ? AND id = ?`},
		{&w.insertEnrolment, `INSERT INTO enrolments (` + enrolmentCols + `) VALUES (?,?,?,?) ON CONFLICT DO NOTHING`},
		{&w.enrolmentByKey, `SELECT ` + enrolmentCols + ` FROM enrolments WHERE tenant = ? AND challenge_id = ? AND user_id = ?`},
		{&w.insertUnlock, `INSERT INTO unlocks (` + unlockCols + `) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`},

		{&w.insertBadge, `INSERT INTO badges (` + badgeCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		{&w.updateBadge, `UPDATE badges SET name = ?, description = ?, image_url = ?, status = ?, rule = ?, spec = ?, updated_at = ?, version = ? WHERE tenant = ? AND id = ? AND version = ?`},
		{&w.badgeExists, `SELECT 1 FROM badges WHERE tenant = ? AND id = ?`},
		{&w.addTally, `INSERT INTO challenge_tallies (tenant, challenge_id, user_id, period, goal, bucket, amount) VALUES (?,?,?,?,?,?,?)
			ON CONFLICT DO UPDATE SET amount = amount + excluded.amount`},
		{&w.addDayTally, `INSERT INTO challenge_day_tallies (tenant, challenge_id, user_id, period, goal, bucket, amount) VALUES (?,?,?,?,?,?,?)
			ON CONFLICT DO UPDATE SET amount = amount + excluded.amount`},
		{&w.insertBadgeContribution, `INSERT INTO badge_contributions (tenant, badge_id, user_id, period, goal, event_id, amount, distinct_key, at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		// DO NOTHING without a target covers both unique indexes; InsertAward
		// tells which one held by looking for the user's award.
		{&w.insertAward, `INSERT INTO awards (` + awardCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		{&w.awardByKey, `SELECT ` + awardCols + ` FROM awards WHERE tenant = ? AND badge_id = ? AND tier = ? AND user_id = ? AND period = ?`},

		{&w.insertEntry, `INSERT INTO ledger (` + entryCols + `) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		{&w.entryByKey, `SELECT ` + entryCols + ` FROM ledger WHERE tenant = ? AND entry_key = ?`},

		{&w.insertBoard, `INSERT INTO boards (` + boardCols + `) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		{&w.extendBoard, `UPDATE boards SET spec = json_set(spec, '$.ends_at', ?) WHERE tenant = ? AND id = ?`},
		{&w.insertScore, insertScores + oneScoreRow + ` ON CONFLICT DO NOTHING`},
		{&w.insertBuild, `INSERT INTO board_builds (` + buildCols + `) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		{&w.claimBuild, `UPDATE board_builds SET state = 'building', owner = ?, lease_until = ?
			WHERE tenant = ? AND board_id = ? AND state <> 'ready' AND lease_until <= ?`},
		{&w.saveBuild, `UPDATE board_builds SET state = ?, done = ?, total = ?, error = ?, owner = ?, lease_until = ?
			WHERE tenant = ? AND board_id = ? AND owner = ?`},
		// The folds of AddScore, as AggregateScores defines them.
		{&w.foldSum, insertTotals + oneScoreRow + onSum + ` RETURNING value, at`},
		{&w.foldBest, insertTotals + oneScoreRow + onBest + ` RETURNING value, at`},
		{&w.foldLatest, insertTotals + oneScoreRow + onLatest + ` RETURNING value, at`},
		{&w.upsertExclusion, `INSERT INTO board_exclusions (` + exclusionCols + `) VALUES (?,?,?,?,?,?)
			ON CONFLICT (tenant, board_id, user_id) DO UPDATE SET excluded_by = excluded.excluded_by, reason = excluded.reason, at = excluded.at`},
		{&w.deleteExclusion, `DELETE FROM board_exclusions WHERE tenant = ? AND board_id = ? AND user_id = ?`},
		{&w.queueRefresh, `INSERT INTO board_feed (` + pendingCols + `, lease_until) VALUES (?,?,?,?,?,?,?,0)
			ON CONFLICT (tenant, board_id, period, user_id) DO UPDATE SET at = excluded.at, token = excluded.token, lease_until = 0`},
		{&w.claimRefreshes, `UPDATE board_feed SET lease_until = ? WHERE (tenant, board_id, period, user_id) IN
			(SELECT tenant, board_id, period, user_id FROM board_feed INDEXED BY board_feed_due WHERE lease_until <= ? ORDER BY lease_until, since LIMIT ?)
			RETURNING ` + pendingCols},
		{&w.finishRefresh, `DELETE FROM board_feed WHERE tenant = ? AND board_id = ? AND period = ? AND user_id = ? AND token = ?`},

		{&w.insertAPIKey, `INSERT INTO api_keys (` + apiKeyCols + `) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		{&w.revokeAPIKey, `UPDATE api_keys SET revoked_at = ? WHERE tenant = ? AND id = ? AND revoked_at IS NULL`},
		{&w.apiKeyExists, `SELECT 1 FROM api_keys WHERE tenant = ? AND id = ?`},

		{&w.insertAudit, `INSERT INTO audit (` + auditCols + `) VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		{&w.upsertProfile, `INSERT INTO profiles (` + profileCols + `) VALUES (?,?,?,?,?)
			ON CONFLICT (tenant, user_id) DO UPDATE SET name = excluded.name, avatar_url = excluded.avatar_url, updated_at = excluded.updated_at`},
		{&w.upsertAttributes, `INSERT INTO attributes (` + attributeCols + `) VALUES (?,?,?,?,?)
			ON CONFLICT (tenant, user_id) DO UPDATE SET tier = excluded.tier, segments = excluded.segments, updated_at = excluded.updated_at`},
	}
	for _, p := range writes {
		if err := s.prepareOne(ctx, conn, false, p.dst, p.q); err != nil {
			s.closeStmts()
			return err
		}
	}

	// Without ANALYZE statistics the planner prefers the covering primary
	// key over a secondary index with more equality columns, which would
	// walk a whole tenant to find one user; INDEXED BY pins the right one.
	reads := []struct {
		dst **sql.Stmt
		q   string
	}{
		{&r.unprocessed, `SELECT ` + eventCols + ` FROM events INDEXED BY events_due
			WHERE processed = 0 AND dead_at IS NULL AND received_at < ? AND next_at <= ? ORDER BY received_at, tenant, id LIMIT ?`},
		{&r.deadEvents, `SELECT ` + eventCols + ` FROM events INDEXED BY events_dead
			WHERE tenant = ? AND processed = 0 AND dead_at IS NOT NULL ORDER BY id DESC LIMIT ?`},
		{&r.deadEventsBefore, `SELECT ` + eventCols + ` FROM events INDEXED BY events_dead
			WHERE tenant = ? AND processed = 0 AND dead_at IS NOT NULL AND id < ? ORDER BY id DESC LIMIT ?`},
		{&r.countDead, `SELECT count(*) FROM events WHERE processed = 0 AND dead_at IS NOT NULL`},

		{&r.getChallenge, `SELECT ` + challengeCols + ` FROM challenges WHERE tenant = ? AND id = ?`},
		{&r.listChallenges, `SELECT ` + challengeCols + ` FROM challenges WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?`},
		{&r.listChallengesBy, `SELECT ` + challengeCols + ` FROM challenges INDEXED BY challenges_status WHERE tenant = ? AND status = ? AND id > ? ORDER BY id LIMIT ?`},
		{&r.contributions, `SELECT goal, event_id, amount, distinct_key, at FROM contributions INDEXED BY contributions_at
			WHERE tenant = ? AND challenge_id = ? AND user_id = ? AND period = ? ORDER BY at, event_id, goal`},
		{&r.contributionsBetween, `SELECT goal, event_id, amount, distinct_key, at FROM contributions INDEXED BY contributions_at
			WHERE tenant = ? AND challenge_id = ? AND user_id = ? AND period = ? AND at >= ? AND at < ? ORDER BY at, event_id, goal`},
		{&r.contribution, `SELECT amount, distinct_key, at FROM contributions
			WHERE tenant = ? AND challenge_id = ? AND user_id = ? AND period = ? AND goal = ? AND event_id = ?`},
		{&r.tally, `SELECT coalesce(sum(amount), 0) FROM challenge_tallies
			WHERE tenant = ? AND challenge_id = ? AND user_id = ? AND period = ? AND goal = ? AND bucket >= ? AND bucket < ?`},
		{&r.dayTally, `SELECT coalesce(sum(amount), 0) FROM challenge_day_tallies
			WHERE tenant = ? AND challenge_id = ? AND user_id = ? AND period = ? AND goal = ? AND bucket >= ? AND bucket < ?`},
		{&r.userCompletions, `SELECT ` + completionCols + ` FROM completions WHERE tenant = ? AND user_id = ? ORDER BY completed_at DESC, id DESC`},
		{&r.challengeCompletions, `SELECT ` + completionCols + ` FROM completions INDEXED BY completions_challenge
			WHERE tenant = ? AND challenge_id = ? AND user_id = ? ORDER BY completed_at, id`},
		{&r.enrolment, `SELECT ` + enrolmentCols + ` FROM enrolments WHERE tenant = ? AND challenge_id = ? AND user_id = ?`},
		{&r.userUnlocks, `SELECT ` + unlockCols + ` FROM unlocks INDEXED BY unlocks_user WHERE tenant = ? AND user_id = ? ORDER BY unlocked_at DESC, content DESC`},
		{&r.challengeStats, `SELECT
			(SELECT count(DISTINCT user_id) FROM contributions WHERE tenant = ?1 AND challenge_id = ?2),
			(SELECT count(*) FROM completions INDEXED BY completions_once WHERE tenant = ?1 AND challenge_id = ?2),
			(SELECT count(DISTINCT user_id) FROM completions INDEXED BY completions_once WHERE tenant = ?1 AND challenge_id = ?2),
			(SELECT count(*) FROM enrolments WHERE tenant = ?1 AND challenge_id = ?2)`},

		{&r.getBadge, `SELECT ` + badgeCols + ` FROM badges WHERE tenant = ? AND id = ?`},
		{&r.listBadges, `SELECT ` + badgeCols + ` FROM badges WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?`},
		{&r.listBadgesBy, `SELECT ` + badgeCols + ` FROM badges INDEXED BY badges_status WHERE tenant = ? AND status = ? AND id > ? ORDER BY id LIMIT ?`},
		{&r.badgeContributions, `SELECT goal, event_id, amount, distinct_key, at FROM badge_contributions INDEXED BY badge_contributions_at
			WHERE tenant = ? AND badge_id = ? AND user_id = ? AND period = ? ORDER BY at, event_id, goal`},
		{&r.countAwards, `SELECT count(*) FROM awards INDEXED BY awards_once WHERE tenant = ? AND badge_id = ? AND tier = ?`},
		{&r.heldAward, `SELECT ` + awardCols + ` FROM awards WHERE tenant = ? AND badge_id = ? AND tier = ? AND user_id = ? AND period = ?`},
		{&r.userAwards, `SELECT ` + awardCols + ` FROM awards INDEXED BY awards_user WHERE tenant = ? AND user_id = ? ORDER BY awarded_at DESC, id DESC`},
		{&r.attributes, `SELECT ` + attributeCols + ` FROM attributes WHERE tenant = ? AND user_id = ?`},

		{&r.totals, `SELECT coalesce(sum(amount), 0), coalesce(sum(CASE WHEN amount > 0 THEN amount ELSE 0 END), 0) FROM ledger WHERE tenant = ? AND user_id = ?`},
		// The key range is checked in the covering index, after the time
		// range narrowed the scan to the window.
		{&r.earnedBetween, `SELECT coalesce(sum(amount), 0), max(created_at) FROM ledger INDEXED BY ledger_user_earned
			WHERE tenant = ? AND user_id = ? AND created_at >= ? AND created_at < ? AND entry_key >= ? AND entry_key < ? AND amount > 0`},
		{&r.entries, `SELECT ` + entryCols + ` FROM ledger INDEXED BY ledger_user WHERE tenant = ? AND user_id = ? ORDER BY id DESC LIMIT ?`},
		{&r.entriesBefore, `SELECT ` + entryCols + ` FROM ledger INDEXED BY ledger_user WHERE tenant = ? AND user_id = ? AND id < ? ORDER BY id DESC LIMIT ?`},
		{&r.scanEntries, `SELECT ` + entryCols + ` FROM ledger WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?`},
		{&r.scanAllEntries, `SELECT ` + entryCols + ` FROM ledger WHERE (tenant, id) > (?, ?) ORDER BY tenant, id LIMIT ?`},
		{&r.countEntries, `SELECT count(*) FROM ledger WHERE tenant = ?`},
		{&r.countAllEntries, `SELECT count(*) FROM ledger`},

		{&r.getBoard, boardSelect + ` WHERE b.tenant = ? AND b.id = ?`},
		{&r.listBoards, boardSelect + ` WHERE b.tenant = ? ORDER BY b.id`},
		{&r.tenants, `SELECT DISTINCT tenant FROM boards ORDER BY tenant`},
		// The three folds of AggregateScores. Each reads one user's window
		// from board_scores_user alone; latestScore walks it backwards and
		// stops at the first row.
		{&r.sumScores, `SELECT sum(value), max(at) FROM board_scores INDEXED BY board_scores_user
			WHERE tenant = ? AND board_id = ? AND user_id = ? AND at >= ? AND at < ?`},
		{&r.bestScore, `SELECT value, at FROM board_scores INDEXED BY board_scores_user
			WHERE tenant = ? AND board_id = ? AND user_id = ? AND at >= ? AND at < ? ORDER BY value DESC, at LIMIT 1`},
		{&r.latestScore, `SELECT value, at FROM board_scores INDEXED BY board_scores_user
			WHERE tenant = ? AND board_id = ? AND user_id = ? AND at >= ? AND at < ? ORDER BY at DESC, value DESC LIMIT 1`},
		{&r.total, `SELECT value, at FROM board_totals WHERE tenant = ? AND board_id = ? AND period = ? AND user_id = ?`},
		{&r.scanScores, `SELECT ` + scoreCols + ` FROM board_scores WHERE tenant = ? AND board_id = ? AND event_id > ? ORDER BY event_id LIMIT ?`},
		{&r.countScores, `SELECT count(*) FROM board_scores WHERE tenant = ? AND board_id = ?`},
		{&r.exclusions, `SELECT ` + exclusionCols + ` FROM board_exclusions WHERE tenant = ? AND board_id = ? ORDER BY user_id`},
		{&r.allExclusions, `SELECT ` + exclusionCols + ` FROM board_exclusions WHERE tenant = ? ORDER BY board_id, user_id`},
		{&r.refreshBacklog, `SELECT count(*), min(since) FROM board_feed`},

		{&r.apiKeyByHash, `SELECT ` + apiKeyCols + ` FROM api_keys WHERE hash = ?`},
		{&r.listAPIKeys, `SELECT ` + apiKeyCols + ` FROM api_keys WHERE tenant = ? ORDER BY id`},

		{&r.audit, `SELECT ` + auditCols + ` FROM audit WHERE tenant = ? ORDER BY id DESC LIMIT ?`},
		{&r.auditBefore, `SELECT ` + auditCols + ` FROM audit WHERE tenant = ? AND id < ? ORDER BY id DESC LIMIT ?`},
	}
	for _, p := range reads {
		if err := s.prepareOne(ctx, conn, true, p.dst, p.q); err != nil {
			s.closeStmts()
			return err
		}
	}
	if err := s.prepareWebhooks(ctx, conn); err != nil {
		s.closeStmts()
		return err
	}
	if err := s.prepareUGC(ctx, conn); err != nil {
		s.closeStmts()
		return err
	}
	if err := s.prepareWallets(ctx, conn); err != nil {
		s.closeStmts()
		return err
	}
	if err := s.prepareLoyalty(ctx, conn); err != nil {
		s.closeStmts()
		return err
	}
	if err := s.prepareContests(ctx, conn); err != nil {
		s.closeStmts()
		return err
	}
	if err := s.prepareQuizzes(ctx, conn); err != nil {
		s.closeStmts()
		return err
	}
	if err := s.prepareAnalytics(ctx, conn); err != nil {
		s.closeStmts()
		return err
	}
	return nil
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}
