package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/questline/questline/ugc"
	"github.com/questline/questline/ugc/text"
)

// ugcSchema holds user-generated content. A submission's searchable
// fields are columns (the feed's sort keys, the queue's filters, the
// duplicate fingerprints); the rest is one JSON document. Feed indexes are
// partial on listed rows, the queue's on pending ones, so neither grows
// with the other. b0..b7 are the MinHash signature's band keys (see
// ugc/text): a near duplicate almost surely shares one, an unrelated text
// almost never does.
var ugcSchema = []string{
	`CREATE TABLE IF NOT EXISTS ugc_submissions (
		tenant TEXT NOT NULL, id TEXT NOT NULL, user_id TEXT NOT NULL, kind TEXT NOT NULL,
		product_id TEXT NOT NULL, review_key TEXT, status TEXT NOT NULL,
		listed INTEGER NOT NULL, rating INTEGER NOT NULL, helpful INTEGER NOT NULL DEFAULT 0,
		reports INTEGER NOT NULL DEFAULT 0, verified INTEGER NOT NULL, photos INTEGER NOT NULL,
		flags TEXT NOT NULL, queued_at INTEGER NOT NULL, created_at INTEGER NOT NULL,
		lease_by TEXT NOT NULL, lease_until INTEGER NOT NULL,
		text_hash TEXT NOT NULL, signature BLOB, b0 INTEGER, b1 INTEGER, b2 INTEGER, b3 INTEGER,
		b4 INTEGER, b5 INTEGER, b6 INTEGER, b7 INTEGER,
		doc BLOB NOT NULL, version INTEGER NOT NULL,
		PRIMARY KEY (tenant, id)) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX IF NOT EXISTS ugc_review_key ON ugc_submissions (tenant, review_key) WHERE review_key IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS ugc_user ON ugc_submissions (tenant, user_id, id)`,
	`CREATE INDEX IF NOT EXISTS ugc_user_created ON ugc_submissions (tenant, user_id, created_at)`,
	`CREATE INDEX IF NOT EXISTS ugc_queue ON ugc_submissions (tenant, queued_at, id) WHERE status = 'pending'`,
	`CREATE INDEX IF NOT EXISTS ugc_feed_newest ON ugc_submissions (tenant, product_id, id) WHERE listed = 1`,
	`CREATE INDEX IF NOT EXISTS ugc_feed_helpful ON ugc_submissions (tenant, product_id, helpful, id) WHERE listed = 1`,
	`CREATE INDEX IF NOT EXISTS ugc_feed_rating ON ugc_submissions (tenant, product_id, rating, id) WHERE listed = 1`,
	`CREATE INDEX IF NOT EXISTS ugc_text_hash ON ugc_submissions (tenant, text_hash)`,
	// Analytics count submissions per status from this index alone.
	`CREATE INDEX IF NOT EXISTS ugc_status ON ugc_submissions (tenant, status)`,
	`CREATE INDEX IF NOT EXISTS ugc_band0 ON ugc_submissions (tenant, b0) WHERE b0 IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS ugc_band1 ON ugc_submissions (tenant, b1) WHERE b1 IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS ugc_band2 ON ugc_submissions (tenant, b2) WHERE b2 IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS ugc_band3 ON ugc_submissions (tenant, b3) WHERE b3 IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS ugc_band4 ON ugc_submissions (tenant, b4) WHERE b4 IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS ugc_band5 ON ugc_submissions (tenant, b5) WHERE b5 IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS ugc_band6 ON ugc_submissions (tenant, b6) WHERE b6 IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS ugc_band7 ON ugc_submissions (tenant, b7) WHERE b7 IS NOT NULL`,
	`CREATE TABLE IF NOT EXISTS ugc_summaries (
		tenant TEXT NOT NULL, product_id TEXT NOT NULL,
		r1 INTEGER NOT NULL DEFAULT 0, r2 INTEGER NOT NULL DEFAULT 0, r3 INTEGER NOT NULL DEFAULT 0,
		r4 INTEGER NOT NULL DEFAULT 0, r5 INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (tenant, product_id)) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS ugc_votes (
		tenant TEXT NOT NULL, submission_id TEXT NOT NULL, user_id TEXT NOT NULL, helpful INTEGER NOT NULL,
		PRIMARY KEY (tenant, submission_id, user_id)) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS ugc_votes_user ON ugc_votes (tenant, user_id)`,
	`CREATE TABLE IF NOT EXISTS ugc_reports (
		tenant TEXT NOT NULL, submission_id TEXT NOT NULL, user_id TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL,
		PRIMARY KEY (tenant, submission_id, user_id)) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS ugc_reports_user ON ugc_reports (tenant, user_id)`,
	`CREATE TABLE IF NOT EXISTS ugc_settings (tenant TEXT NOT NULL PRIMARY KEY, doc BLOB NOT NULL) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS ugc_purchases (
		tenant TEXT NOT NULL, user_id TEXT NOT NULL, product_id TEXT NOT NULL,
		PRIMARY KEY (tenant, user_id, product_id)) WITHOUT ROWID`,
	// The submissions whose decision's effects are owed (Submission.Owed),
	// kept in the same write as the submission; across tenants, for the
	// sweep.
	`CREATE TABLE IF NOT EXISTS ugc_owed (
		updated_at INTEGER NOT NULL, tenant TEXT NOT NULL, id TEXT NOT NULL,
		PRIMARY KEY (updated_at, tenant, id)) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX IF NOT EXISTS ugc_owed_id ON ugc_owed (tenant, id)`,
	// One counter per user and rate window (an hour or a day), moved
	// conditionally in a write, so the limit holds under concurrency.
	`CREATE TABLE IF NOT EXISTS ugc_rate (
		tenant TEXT NOT NULL, user_id TEXT NOT NULL, win TEXT NOT NULL, n INTEGER NOT NULL,
		PRIMARY KEY (tenant, user_id, win)) WITHOUT ROWID`,
}

// ugcCols are the columns in the order the writes and scans use: the
// fixed ones, the counters, then what SaveSubmission sets (ugcRow).
const ugcCols = `tenant, id, user_id, kind, product_id, review_key, created_at, helpful, reports,
	status, listed, rating, verified, photos, flags, queued_at, lease_by, lease_until, text_hash, signature, b0, b1, b2, b3, b4, b5, b6, b7, doc, version`

// ugcStmts are the UGC statements: writes on the writer connection, reads
// on the pool. Feed and queue queries vary with their filters; they are
// prepared on first use and kept (a few dozen shapes at most).
type ugcStmts struct {
	insert, save, exists, get, byReviewW, summaryAdd *sql.Stmt
	deleteOne                                        *sql.Stmt
	voteGet, voteSet, helpfulAdd                     *sql.Stmt
	reportAdd, reportsAdd, settingsPut, purchaseAdd  *sql.Stmt
	rateTake, ratePrune                              *sql.Stmt

	getRead, byReview, mine, mineBefore, summary *sql.Stmt
	similar, settings, purchased, byStatus       *sql.Stmt

	mu     sync.Mutex
	shapes map[string]*sql.Stmt
}

func (s *Store) prepareUGC(ctx context.Context, conn *sql.Conn) error {
	u := &s.ugc
	u.shapes = map[string]*sql.Stmt{}
	writes := []struct {
		dst **sql.Stmt
		q   string
	}{
		{&u.insert, `INSERT INTO ugc_submissions (` + ugcCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		{&u.save, `UPDATE ugc_submissions SET status = ?, listed = ?, rating = ?, verified = ?, photos = ?, flags = ?, queued_at = ?,
			lease_by = ?, lease_until = ?, text_hash = ?, signature = ?,
			b0 = ?, b1 = ?, b2 = ?, b3 = ?, b4 = ?, b5 = ?, b6 = ?, b7 = ?, doc = ?, version = ?
			WHERE tenant = ? AND id = ? AND version = ?`},
		{&u.exists, `SELECT 1 FROM ugc_submissions WHERE tenant = ? AND id = ?`},
		{&u.get, `SELECT ` + ugcCols + ` FROM ugc_submissions WHERE tenant = ? AND id = ?`},
		{&u.byReviewW, `SELECT ` + ugcCols + ` FROM ugc_submissions WHERE tenant = ? AND review_key = ?`},
		{&u.summaryAdd, `INSERT INTO ugc_summaries (tenant, product_id, r1, r2, r3, r4, r5) VALUES (?,?,?,?,?,?,?)
			ON CONFLICT DO UPDATE SET r1 = r1 + excluded.r1, r2 = r2 + excluded.r2, r3 = r3 + excluded.r3, r4 = r4 + excluded.r4, r5 = r5 + excluded.r5`},
		{&u.deleteOne, `DELETE FROM ugc_submissions WHERE tenant = ? AND id = ? RETURNING product_id, rating`},
		{&u.voteGet, `SELECT helpful FROM ugc_votes WHERE tenant = ? AND submission_id = ? AND user_id = ?`},
		{&u.voteSet, `INSERT INTO ugc_votes (tenant, submission_id, user_id, helpful) VALUES (?,?,?,?) ON CONFLICT DO UPDATE SET helpful = excluded.helpful`},
		{&u.helpfulAdd, `UPDATE ugc_submissions SET helpful = helpful + ? WHERE tenant = ? AND id = ? RETURNING helpful`},
		{&u.reportAdd, `INSERT INTO ugc_reports (tenant, submission_id, user_id, reason, at) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`},
		{&u.settingsPut, `INSERT INTO ugc_settings (tenant, doc) VALUES (?, ?) ON CONFLICT DO UPDATE SET doc = excluded.doc`},
		{&u.purchaseAdd, `INSERT INTO ugc_purchases (tenant, user_id, product_id) VALUES (?,?,?) ON CONFLICT DO NOTHING`},
		{&u.rateTake, `INSERT INTO ugc_rate (tenant, user_id, win, n) VALUES (?,?,?,1) ON CONFLICT DO UPDATE SET n = n + 1 WHERE n < ?`},
		{&u.ratePrune, `DELETE FROM ugc_rate WHERE tenant = ? AND user_id = ? AND win < ? AND substr(win, 1, 1) = substr(?, 1, 1)`},
		{&u.reportsAdd, `UPDATE ugc_submissions SET reports = reports + ? WHERE tenant = ? AND id = ? RETURNING reports`},
	}
	for _, p := range writes {
		if err := s.prepareOne(ctx, conn, false, p.dst, p.q); err != nil {
			return err
		}
	}
	reads := []struct {
		dst **sql.Stmt
		q   string
	}{
		{&u.getRead, `SELECT ` + ugcCols + ` FROM ugc_submissions WHERE tenant = ? AND id = ?`},
		{&u.byReview, `SELECT ` + ugcCols + ` FROM ugc_submissions WHERE tenant = ? AND review_key = ?`},
		{&u.mine, `SELECT ` + ugcCols + ` FROM ugc_submissions INDEXED BY ugc_user WHERE tenant = ? AND user_id = ? ORDER BY id DESC LIMIT ?`},
		{&u.mineBefore, `SELECT ` + ugcCols + ` FROM ugc_submissions INDEXED BY ugc_user WHERE tenant = ? AND user_id = ? AND id < ? ORDER BY id DESC LIMIT ?`},
		{&u.summary, `SELECT r1, r2, r3, r4, r5 FROM ugc_summaries WHERE tenant = ? AND product_id = ?`},
		{&u.byStatus, `SELECT status, count(*) FROM ugc_submissions INDEXED BY ugc_status WHERE tenant = ? GROUP BY status`},
		// Nine index lookups (the exact hash and the eight bands), merged;
		// rejected and removed texts may be submitted again.
		{&u.similar, `SELECT ` + ugcCols + ` FROM ugc_submissions WHERE tenant = ?1 AND id IN (
			SELECT id FROM ugc_submissions WHERE tenant = ?1 AND text_hash = ?2
			UNION SELECT id FROM ugc_submissions WHERE tenant = ?1 AND b0 = ?3
			UNION SELECT id FROM ugc_submissions WHERE tenant = ?1 AND b1 = ?4
			UNION SELECT id FROM ugc_submissions WHERE tenant = ?1 AND b2 = ?5
			UNION SELECT id FROM ugc_submissions WHERE tenant = ?1 AND b3 = ?6
			UNION SELECT id FROM ugc_submissions WHERE tenant = ?1 AND b4 = ?7
			UNION SELECT id FROM ugc_submissions WHERE tenant = ?1 AND b5 = ?8
			UNION SELECT id FROM ugc_submissions WHERE tenant = ?1 AND b6 = ?9
			UNION SELECT id FROM ugc_submissions WHERE tenant = ?1 AND b7 = ?10)
			AND id <> ?11 AND (status IN ('pending', 'approved') OR listed = 1) LIMIT ?12`},
		{&u.settings, `SELECT doc FROM ugc_settings WHERE tenant = ?`},
		{&u.purchased, `SELECT 1 FROM ugc_purchases WHERE tenant = ? AND user_id = ? AND product_id = ?`},
	}
	for _, p := range reads {
		if err := s.prepareOne(ctx, conn, true, p.dst, p.q); err != nil {
			return err
		}
	}
	return nil
}

// shape returns the prepared read statement of q, preparing it once.
func (s *Store) shape(ctx context.Context, q string) (*sql.Stmt, error) {
	u := &s.ugc
	u.mu.Lock()
	defer u.mu.Unlock()
	if st, ok := u.shapes[q]; ok {
		return st, nil
	}
	st, err := s.read.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	u.shapes[q] = st
	s.close = append(s.close, st)
	return st, nil
}

// ugcDoc is what the doc column holds: every field without a column.
type ugcDoc struct {
	Tags       []string     `json:"tags,omitempty"`
	Content    ugc.Content  `json:"content"`
	Public     *ugc.Content `json:"public,omitempty"`
	Reason     string       `json:"reason,omitempty"`
	Note       string       `json:"note,omitempty"`
	ApprovedAt *time.Time   `json:"approved_at,omitempty"`
	UpdatedAt  time.Time    `json:"updated_at"`
	Reply      *ugc.Reply   `json:"reply,omitempty"`
	Flags      []string     `json:"flags,omitempty"`
	Paid       []string     `json:"paid,omitempty"`
	Owed       string       `json:"owed,omitempty"`
}

// ugcRow is the column values of sub from status on, as save sets them.
func ugcRow(sub ugc.Submission) ([]any, error) {
	doc, err := json.Marshal(ugcDoc{
		Tags: sub.Tags, Content: sub.Content, Public: sub.Public, Reason: sub.Reason, Note: sub.Note,
		ApprovedAt: sub.ApprovedAt, UpdatedAt: sub.UpdatedAt, Reply: sub.Reply, Flags: sub.Flags, Paid: sub.Paid, Owed: sub.Owed,
	})
	if err != nil {
		return nil, fmt.Errorf("encode submission %s: %w", sub.ID, err)
	}
	bands := [text.BandCount]any{}
	var sig []byte
	if sub.TextHash != "" {
		for i, b := range text.Bands(sub.Signature) {
			bands[i] = b
		}
		sig = encodeSignature(sub.Signature)
	}
	flags := ""
	if len(sub.Flags) > 0 {
		flags = " " + strings.Join(sub.Flags, " ") + " "
	}
	return []any{string(sub.Status), boolInt(sub.Listed()), sub.PublicRating(), boolInt(sub.Verified), boolInt(sub.HasPhotos()),
		flags, sub.QueuedAt.UnixMilli(), sub.LeaseBy, sub.LeaseUntil.UnixMilli(), sub.TextHash, sig,
		bands[0], bands[1], bands[2], bands[3], bands[4], bands[5], bands[6], bands[7], doc, sub.Version}, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func reviewKey(sub ugc.Submission) any {
	if sub.Kind != ugc.Review {
		return nil
	}
	return sub.User + "|" + sub.ProductID
}

func scanSubmission(sc scanner) (ugc.Submission, error) {
	var (
		sub                              ugc.Submission
		reviewKey                        sql.NullString
		status, kind, flags              string
		listed, rating, verified, photos int
		queued, created, leaseUntil      int64
		bands                            [text.BandCount]sql.NullInt64
		doc, sig                         []byte
	)
	err := sc.Scan(&sub.Tenant, &sub.ID, &sub.User, &kind, &sub.ProductID, &reviewKey, &created, &sub.Helpful, &sub.Reports,
		&status, &listed, &rating, &verified, &photos, &flags, &queued, &sub.LeaseBy, &leaseUntil,
		&sub.TextHash, &sig, &bands[0], &bands[1], &bands[2], &bands[3], &bands[4], &bands[5], &bands[6], &bands[7], &doc, &sub.Version)
	if err != nil {
		return ugc.Submission{}, err
	}
	var d ugcDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return ugc.Submission{}, fmt.Errorf("decode submission %s: %w", sub.ID, err)
	}
	sub.Kind, sub.Status, sub.Verified = ugc.Kind(kind), ugc.Status(status), verified == 1
	sub.QueuedAt, sub.CreatedAt, sub.LeaseUntil = time.UnixMilli(queued).UTC(), time.UnixMilli(created).UTC(), time.UnixMilli(leaseUntil).UTC()
	if leaseUntil == 0 {
		sub.LeaseUntil = time.Time{}
	}
	sub.Signature = decodeSignature(sig)
	sub.Tags, sub.Content, sub.Public, sub.Reason, sub.Note = d.Tags, d.Content, d.Public, d.Reason, d.Note
	sub.ApprovedAt, sub.UpdatedAt, sub.Reply, sub.Flags, sub.Paid, sub.Owed = d.ApprovedAt, d.UpdatedAt.UTC(), d.Reply, d.Flags, d.Paid, d.Owed
	return sub, nil
}

// summaryDelta is the (r1..r5) change of moving a product's summary from
// rating from to rating to (0 = no contribution).
func summaryDelta(from, to int) [5]int {
	var d [5]int
	if from > 0 {
		d[from-1]--
	}
	if to > 0 {
		d[to-1]++
	}
	return d
}

func (s *Store) moveSummary(tx *wtx, tenant, product string, from, to int) error {
	if from == to {
		return nil
	}
	d := summaryDelta(from, to)
	_, err := tx.exec(s.ugc.summaryAdd, tenant, product, d[0], d[1], d[2], d[3], d[4])
	return err
}

// CreateSubmission stores sub, or returns the user's review of the same
// product if there is one.
func (s *Store) CreateSubmission(ctx context.Context, sub ugc.Submission) (ugc.Submission, bool, error) {
	row, err := ugcRow(sub)
	if err != nil {
		return ugc.Submission{}, false, fmt.Errorf("sqlite: create submission: %w", err)
	}
	args := append([]any{sub.Tenant, sub.ID, sub.User, string(sub.Kind), sub.ProductID, reviewKey(sub), sub.CreatedAt.UnixMilli(), 0, 0}, row...)
	var out ugc.Submission
	var inserted bool
	err = s.w.do(ctx, func(tx *wtx) error {
		var err error
		out, inserted, err = insertOrExisting(tx, s.ugc.insert, args, sub, func() (ugc.Submission, error) {
			return scanSubmission(tx.queryRow(s.ugc.byReviewW, sub.Tenant, reviewKey(sub)))
		}, "submission "+sub.ID)
		if err != nil || !inserted {
			return err
		}
		return s.moveSummary(tx, sub.Tenant, sub.ProductID, 0, sub.PublicRating())
	})
	if err != nil {
		return ugc.Submission{}, false, fmt.Errorf("sqlite: create submission: %w", err)
	}
	return out, inserted, nil
}

// UserReview returns the user's review of product.
func (s *Store) UserReview(ctx context.Context, tenant, user, product string) (ugc.Submission, error) {
	sub, err := scanSubmission(s.ugc.byReview.QueryRowContext(ctx, tenant, user+"|"+product))
	if err != nil {
		return ugc.Submission{}, notFound(err, "review of", product)
	}
	return sub, nil
}

// GetSubmission returns one submission.
func (s *Store) GetSubmission(ctx context.Context, tenant, id string) (ugc.Submission, error) {
	sub, err := scanSubmission(s.ugc.getRead.QueryRowContext(ctx, tenant, id))
	if err != nil {
		return ugc.Submission{}, notFound(err, "submission", id)
	}
	return sub, nil
}

// SaveSubmission writes next over version next.Version-1 and moves the
// product's summary from prev's rating to next's, in one transaction.
func (s *Store) SaveSubmission(ctx context.Context, prev, next ugc.Submission) error {
	row, err := ugcRow(next)
	if err != nil {
		return fmt.Errorf("sqlite: save submission: %w", err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		if err := updateVersioned(tx, s.ugc.save, s.ugc.exists, row, next.Tenant, next.ID, next.Version, "submission"); err != nil {
			return err
		}
		if err := s.markOwed(tx, next); err != nil {
			return err
		}
		return s.moveSummary(tx, next.Tenant, next.ProductID, prev.PublicRating(), next.PublicRating())
	})
	if err != nil {
		return fmt.Errorf("sqlite: save submission: %w", err)
	}
	return nil
}

// SimilarTexts returns the candidates of a duplicate check.
func (s *Store) SimilarTexts(ctx context.Context, tenant, hash string, bands []int64, exclude string, limit int) ([]ugc.Submission, error) {
	args := []any{tenant, hash}
	for i := range text.BandCount {
		var b any // NULL matches nothing: a text without words has no bands
		if i < len(bands) {
			b = bands[i]
		}
		args = append(args, b)
	}
	out, err := queryAll(ctx, s.ugc.similar, scanSubmission, append(args, exclude, limitOr(limit))...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: similar texts: %w", err)
	}
	return out, nil
}

func limitOr(limit int) int {
	if limit <= 0 {
		return DefaultLimit
	}
	return limit
}

// TakeSlot moves the user's counter of window up unless it is at limit,
// in one write; the user's older windows of the same kind are dropped.
func (s *Store) TakeSlot(ctx context.Context, tenant, user, window string, limit int) (bool, error) {
	var taken bool
	err := s.w.do(ctx, func(tx *wtx) error {
		res, err := tx.exec(s.ugc.rateTake, tenant, user, window, limit)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		taken = n == 1
		_, err = tx.exec(s.ugc.ratePrune, tenant, user, window, window)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: take rate slot: %w", err)
	}
	return taken, nil
}

// markOwed keeps sub's row in ugc_owed while it owes effects.
func (s *Store) markOwed(tx *wtx, sub ugc.Submission) error {
	if _, err := tx.conn.ExecContext(context.Background(), `DELETE FROM ugc_owed WHERE tenant = ? AND id = ?`, sub.Tenant, sub.ID); err != nil {
		return err
	}
	if sub.Owed == "" {
		return nil
	}
	_, err := tx.conn.ExecContext(context.Background(), `INSERT INTO ugc_owed (updated_at, tenant, id) VALUES (?,?,?)`,
		sub.UpdatedAt.UnixMilli(), sub.Tenant, sub.ID)
	return err
}

// Owed returns the oldest submissions owing effects, updated before before.
func (s *Store) Owed(ctx context.Context, before time.Time, limit int) ([]ugc.Submission, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+ugcColsOf("u")+` FROM ugc_owed o JOIN ugc_submissions u ON u.tenant = o.tenant AND u.id = o.id
		WHERE o.updated_at < ? ORDER BY o.updated_at, o.tenant, o.id LIMIT ?`, before.UnixMilli(), limitOr(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: owed submissions: %w", err)
	}
	defer rows.Close()
	var out []ugc.Submission
	for rows.Next() {
		sub, err := scanSubmission(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: owed submissions: %w", err)
		}
		out = append(out, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: owed submissions: %w", err)
	}
	return out, nil
}

// RecountMarks recounts a submission's counters in one write.
func (s *Store) RecountMarks(ctx context.Context, tenant, id string) (int64, int64, error) {
	var helpful, reports int64
	err := s.w.do(ctx, func(tx *wtx) error {
		err := tx.conn.QueryRowContext(context.Background(), `UPDATE ugc_submissions SET
			helpful = (SELECT count(*) FROM ugc_votes WHERE tenant = ?1 AND submission_id = ?2 AND helpful = 1),
			reports = (SELECT count(*) FROM ugc_reports WHERE tenant = ?1 AND submission_id = ?2)
			WHERE tenant = ?1 AND id = ?2 RETURNING helpful, reports`, tenant, id).Scan(&helpful, &reports)
		return notFound(err, "submission", id)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: recount marks: %w", err)
	}
	return helpful, reports, nil
}

// HealFolds has nothing to heal: summaries move in the save's
// transaction.
func (s *Store) HealFolds(context.Context, time.Time, int) (int, error) { return 0, nil }

// ugcColsOf is ugcCols qualified by a table alias.
func ugcColsOf(alias string) string {
	cols := strings.Split(ugcCols, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// UserSubmissions pages the user's submissions newest first.
func (s *Store) UserSubmissions(ctx context.Context, tenant, user, before string, limit int) ([]ugc.Submission, error) {
	var out []ugc.Submission
	var err error
	if before == "" {
		out, err = queryAll(ctx, s.ugc.mine, scanSubmission, tenant, user, limitOr(limit))
	} else {
		out, err = queryAll(ctx, s.ugc.mineBefore, scanSubmission, tenant, user, before, limitOr(limit))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user submissions: %w", err)
	}
	return out, nil
}

// Queue lists pending submissions oldest first.
func (s *Store) Queue(ctx context.Context, tenant string, q ugc.QueueQuery) ([]ugc.Submission, error) {
	where := []string{"tenant = ?", "status = 'pending'", "(lease_until <= ? OR lease_by = ?)"}
	args := []any{tenant, q.Now.UnixMilli(), q.Moderator}
	if q.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, string(q.Kind))
	}
	if q.ProductID != "" {
		where, args = append(where, "product_id = ?"), append(args, q.ProductID)
	}
	if q.Flag != "" {
		where, args = append(where, "instr(flags, ?) > 0"), append(args, " "+q.Flag+" ")
	}
	if !q.Before.IsZero() {
		where, args = append(where, "queued_at < ?"), append(args, q.Before.UnixMilli())
	}
	st, err := s.shape(ctx, `SELECT `+ugcCols+` FROM ugc_submissions INDEXED BY ugc_queue WHERE `+
		strings.Join(where, " AND ")+` ORDER BY queued_at, id LIMIT ?`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: queue: %w", err)
	}
	out, err := queryAll(ctx, st, scanSubmission, append(args, limitOr(q.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: queue: %w", err)
	}
	return out, nil
}

// feedOrder is each sort's index, ORDER BY and keyset comparison on
// (key, id); key is the sort column.
var feedOrder = map[ugc.Sort]struct{ index, key, order, after string }{
	ugc.Newest:     {"ugc_feed_newest", "", "id DESC", "id < ?"},
	ugc.Helpful:    {"ugc_feed_helpful", "helpful", "helpful DESC, id DESC", "(helpful, id) < (?, ?)"},
	ugc.RatingHigh: {"ugc_feed_rating", "rating", "rating DESC, id DESC", "(rating, id) < (?, ?)"},
	ugc.RatingLow:  {"ugc_feed_rating", "rating", "rating, id", "(rating, id) > (?, ?)"},
}

// Feed pages a product's listed submissions.
func (s *Store) Feed(ctx context.Context, tenant, product string, q ugc.FeedQuery) ([]ugc.Submission, error) {
	o, ok := feedOrder[q.Sort]
	if !ok {
		o = feedOrder[ugc.Newest]
	}
	where := []string{"tenant = ?", "product_id = ?", "listed = 1"}
	args := []any{tenant, product}
	if q.Rating > 0 {
		where, args = append(where, "rating = ?"), append(args, q.Rating)
	}
	if q.Verified {
		where = append(where, "verified = 1")
	}
	if q.WithPhotos {
		where = append(where, "photos = 1")
	}
	if q.After != nil {
		where = append(where, o.after)
		if o.key != "" {
			args = append(args, q.After.Key)
		}
		args = append(args, q.After.ID)
	}
	st, err := s.shape(ctx, `SELECT `+ugcCols+` FROM ugc_submissions INDEXED BY `+o.index+` WHERE `+
		strings.Join(where, " AND ")+` ORDER BY `+o.order+` LIMIT ?`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: feed: %w", err)
	}
	out, err := queryAll(ctx, st, scanSubmission, append(args, limitOr(q.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: feed: %w", err)
	}
	return out, nil
}

// Summary returns a product's rating summary.
func (s *Store) Summary(ctx context.Context, tenant, product string) (ugc.Summary, error) {
	var sum ugc.Summary
	d := &sum.Distribution
	err := s.ugc.summary.QueryRowContext(ctx, tenant, product).Scan(&d[0], &d[1], &d[2], &d[3], &d[4])
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return ugc.Summary{}, fmt.Errorf("sqlite: summary: %w", err)
	}
	return sum, nil
}

// RebuildSummary recounts a product's summary from its listed reviews
// and stores it, in one write.
func (s *Store) RebuildSummary(ctx context.Context, tenant, product string) (ugc.Summary, error) {
	var sum ugc.Summary
	d := &sum.Distribution
	err := s.w.do(ctx, func(tx *wtx) error {
		rows, err := tx.conn.QueryContext(context.Background(), `SELECT rating, count(*) FROM ugc_submissions INDEXED BY ugc_feed_rating
			WHERE tenant = ? AND product_id = ? AND listed = 1 AND rating BETWEEN 1 AND 5 GROUP BY rating`, tenant, product)
		if err != nil {
			return err
		}
		defer rows.Close()
		*d = [5]int64{}
		for rows.Next() {
			var r int
			var n int64
			if err := rows.Scan(&r, &n); err != nil {
				return err
			}
			d[r-1] = n
		}
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = tx.conn.ExecContext(context.Background(), `INSERT INTO ugc_summaries (tenant, product_id, r1, r2, r3, r4, r5) VALUES (?,?,?,?,?,?,?)
			ON CONFLICT DO UPDATE SET r1 = excluded.r1, r2 = excluded.r2, r3 = excluded.r3, r4 = excluded.r4, r5 = excluded.r5`,
			tenant, product, d[0], d[1], d[2], d[3], d[4])
		return err
	})
	if err != nil {
		return ugc.Summary{}, fmt.Errorf("sqlite: rebuild summary: %w", err)
	}
	return sum, nil
}

// Vote sets a helpful vote and moves the submission's counter by the
// change, in one transaction.
func (s *Store) Vote(ctx context.Context, tenant, submission, user string, helpful bool) (int64, error) {
	var n int64
	err := s.w.do(ctx, func(tx *wtx) error {
		var was int
		err := tx.queryRow(s.ugc.voteGet, tenant, submission, user).Scan(&was)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.exec(s.ugc.voteSet, tenant, submission, user, boolInt(helpful)); err != nil {
			return err
		}
		err = tx.queryRow(s.ugc.helpfulAdd, boolInt(helpful)-was, tenant, submission).Scan(&n)
		return notFound(err, "submission", submission)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: vote: %w", err)
	}
	return n, nil
}

// Report stores a user's report once and counts it.
func (s *Store) Report(ctx context.Context, tenant, submission, user, reason string) (bool, int64, error) {
	var fresh bool
	var n int64
	err := s.w.do(ctx, func(tx *wtx) error {
		r, err := tx.exec(s.ugc.reportAdd, tenant, submission, user, reason, time.Now().UnixMilli())
		if err != nil {
			return err
		}
		added, err := r.RowsAffected()
		if err != nil {
			return err
		}
		fresh = added == 1
		err = tx.queryRow(s.ugc.reportsAdd, added, tenant, submission).Scan(&n)
		return notFound(err, "submission", submission)
	})
	if err != nil {
		return false, 0, fmt.Errorf("sqlite: report: %w", err)
	}
	return fresh, n, nil
}

// GetSettings returns the tenant's settings.
func (s *Store) GetSettings(ctx context.Context, tenant string) (ugc.Settings, bool, error) {
	var doc []byte
	err := s.ugc.settings.QueryRowContext(ctx, tenant).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return ugc.Settings{}, false, nil
	}
	var st ugc.Settings
	if err == nil {
		err = json.Unmarshal(doc, &st)
	}
	if err != nil {
		return ugc.Settings{}, false, fmt.Errorf("sqlite: ugc settings: %w", err)
	}
	return st, true, nil
}

// PutSettings stores the tenant's settings.
func (s *Store) PutSettings(ctx context.Context, tenant string, st ugc.Settings) error {
	doc, err := json.Marshal(st)
	if err == nil {
		_, err = s.insertIgnore(ctx, s.ugc.settingsPut, tenant, doc)
	}
	if err != nil {
		return fmt.Errorf("sqlite: put ugc settings: %w", err)
	}
	return nil
}

// AddPurchase records a purchase of product by user.
func (s *Store) AddPurchase(ctx context.Context, tenant, user, product string) error {
	if _, err := s.insertIgnore(ctx, s.ugc.purchaseAdd, tenant, user, product); err != nil {
		return fmt.Errorf("sqlite: add purchase: %w", err)
	}
	return nil
}

// Purchased reports whether user bought product.
func (s *Store) Purchased(ctx context.Context, tenant, user, product string) (bool, error) {
	var one int
	err := s.ugc.purchased.QueryRowContext(ctx, tenant, user, product).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: purchased: %w", err)
	}
	return true, nil
}

// deleteSubmission deletes one submission, its votes and reports, and
// takes its rating out of its product's summary, inside a write.
func (s *Store) deleteSubmission(tx *wtx, tenant, id string) error {
	var product string
	var rating int
	if err := tx.queryRow(s.ugc.deleteOne, tenant, id).Scan(&product, &rating); err != nil {
		return notFound(err, "submission", id)
	}
	for _, q := range []string{`DELETE FROM ugc_votes WHERE tenant = ? AND submission_id = ?`, `DELETE FROM ugc_reports WHERE tenant = ? AND submission_id = ?`,
		`DELETE FROM ugc_owed WHERE tenant = ? AND id = ?`} {
		if _, err := tx.conn.ExecContext(context.Background(), q, tenant, id); err != nil {
			return err
		}
	}
	return s.moveSummary(tx, tenant, product, rating, 0)
}

// DeleteSubmission deletes one submission with its votes and reports.
func (s *Store) DeleteSubmission(ctx context.Context, tenant, id string) error {
	if err := s.w.do(ctx, func(tx *wtx) error { return s.deleteSubmission(tx, tenant, id) }); err != nil {
		return fmt.Errorf("sqlite: delete submission: %w", err)
	}
	return nil
}

// EraseUGCUser deletes the user's submissions, votes, reports and
// purchases in one write, moving the summaries and helpful counters they
// were part of.
func (s *Store) EraseUGCUser(ctx context.Context, tenant, user string) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		ids, err := queryWriter(tx, `SELECT id FROM ugc_submissions INDEXED BY ugc_user WHERE tenant = ? AND user_id = ?`, tenant, user)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := s.deleteSubmission(tx, tenant, id); err != nil {
				return err
			}
		}
		for _, q := range []string{
			`UPDATE ugc_submissions SET helpful = helpful - 1 WHERE tenant = ?1 AND id IN
				(SELECT submission_id FROM ugc_votes INDEXED BY ugc_votes_user WHERE tenant = ?1 AND user_id = ?2 AND helpful = 1)`,
			`UPDATE ugc_submissions SET reports = reports - 1 WHERE tenant = ?1 AND id IN
				(SELECT submission_id FROM ugc_reports INDEXED BY ugc_reports_user WHERE tenant = ?1 AND user_id = ?2)`,
			`DELETE FROM ugc_votes WHERE tenant = ?1 AND user_id = ?2`,
			`DELETE FROM ugc_reports WHERE tenant = ?1 AND user_id = ?2`,
			`DELETE FROM ugc_purchases WHERE tenant = ?1 AND user_id = ?2`,
			`DELETE FROM ugc_rate WHERE tenant = ?1 AND user_id = ?2`,
		} {
			if _, err := tx.conn.ExecContext(context.Background(), q, tenant, user); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: erase ugc user: %w", err)
	}
	return nil
}

// queryWriter reads one string column inside a write.
func queryWriter(tx *wtx, q string, args ...any) ([]string, error) {
	rows, err := tx.conn.QueryContext(context.Background(), q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// encodeSignature packs a MinHash signature little-endian, 4 bytes a
// value.
func encodeSignature(sig []uint32) []byte {
	out := make([]byte, 0, 4*len(sig))
	for _, v := range sig {
		out = binary.LittleEndian.AppendUint32(out, v)
	}
	return out
}

func decodeSignature(b []byte) []uint32 {
	if len(b) == 0 {
		return nil
	}
	out := make([]uint32, len(b)/4)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return out
}

// CountByStatus counts the tenant's submissions per status, reading only
// the (tenant, status) index.
func (s *Store) CountByStatus(ctx context.Context, tenant string) (ugc.StatusCounts, error) {
	var c ugc.StatusCounts
	rows, err := s.ugc.byStatus.QueryContext(ctx, tenant)
	if err != nil {
		return c, fmt.Errorf("sqlite: ugc status counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			st string
			n  int64
		)
		if err := rows.Scan(&st, &n); err != nil {
			return c, fmt.Errorf("sqlite: ugc status counts: %w", err)
		}
		c.Add(ugc.Status(st), n)
	}
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("sqlite: ugc status counts: %w", err)
	}
	return c, nil
}
