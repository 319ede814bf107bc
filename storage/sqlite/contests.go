package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/questline/questline/contests"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/storage/internal/norm"
)

// contestSchema holds contests and their entries. A contest is one row:
// its definition and state as JSON, which nothing queries inside, beside
// the status lists filter on and the seed, kept out of the JSON clients
// see. A ticket is unique per (contest, entrant, n), which caps a user's
// tickets, and per (contest, source), which makes earning idempotent; the
// primary key is the entry list's canonical order.
var contestSchema = []string{
	`CREATE TABLE IF NOT EXISTS contests (
		tenant  TEXT NOT NULL,
		id      TEXT NOT NULL,
		status  TEXT NOT NULL,
		doc     TEXT NOT NULL,
		seed    BLOB,
		version INTEGER NOT NULL,
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS contests_status ON contests (tenant, status, id)`,
	`CREATE TABLE IF NOT EXISTS contest_entries (
		tenant     TEXT NOT NULL,
		contest_id TEXT NOT NULL,
		entrant    TEXT NOT NULL,
		n          INTEGER NOT NULL,
		user_id    TEXT NOT NULL,
		source     TEXT NOT NULL,
		at         INTEGER NOT NULL,
		PRIMARY KEY (tenant, contest_id, entrant, n)
	) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX IF NOT EXISTS contest_entries_source ON contest_entries (tenant, contest_id, source)`,
	`CREATE INDEX IF NOT EXISTS contest_entries_user ON contest_entries (tenant, user_id, contest_id, n)`,
}

// contestStmts are the contest store's prepared statements.
type contestStmts struct {
	insert, update, exists, get, list, listBy                *sql.Stmt
	insertEntry, entrySource, userEntries, count, scan, mine *sql.Stmt
	erase, hasSource, open, counts                           *sql.Stmt
}

const (
	contestCols      = `tenant, id, status, doc, seed, version`
	contestEntryCols = `tenant, contest_id, entrant, n, user_id, source, at`
)

// prepareContests prepares the contest statements: writes on the writer's
// connection, reads on the readers'.
func (s *Store) prepareContests(ctx context.Context, conn *sql.Conn) error {
	q := &s.cq
	for _, p := range []struct {
		dst  **sql.Stmt
		q    string
		read bool
	}{
		{&q.insert, `INSERT INTO contests (` + contestCols + `) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING`, false},
		{&q.update, `UPDATE contests SET status = ?, doc = ?, version = ? WHERE tenant = ? AND id = ? AND version = ?`, false},
		{&q.exists, `SELECT 1 FROM contests WHERE tenant = ? AND id = ?`, false},
		{&q.insertEntry, `INSERT INTO contest_entries (` + contestEntryCols + `) VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`, false},
		{&q.entrySource, `SELECT 1 FROM contest_entries WHERE tenant = ? AND contest_id = ? AND source = ?`, false},
		{&q.erase, `UPDATE contest_entries SET user_id = ? WHERE tenant = ? AND user_id = ?`, false},
		{&q.hasSource, `SELECT count(*) FROM contest_entries WHERE tenant = ? AND contest_id = ? AND source = ?`, true},
		{&q.get, `SELECT ` + contestCols + ` FROM contests WHERE tenant = ? AND id = ?`, true},
		{&q.list, `SELECT ` + contestCols + ` FROM contests WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?`, true},
		// The close job's scan across tenants: open contests are few.
		{&q.open, `SELECT ` + contestCols + ` FROM contests WHERE status = 'open'`, true},
		{&q.listBy, `SELECT ` + contestCols + ` FROM contests INDEXED BY contests_status WHERE tenant = ? AND status = ? AND id > ? ORDER BY id LIMIT ?`, true},
		// Two index seeks, whatever the user holds: tickets are numbered
		// densely from 1, so the highest number is the count.
		{&q.userEntries, `SELECT
			coalesce((SELECT max(n) FROM contest_entries INDEXED BY contest_entries_user WHERE tenant = ?1 AND user_id = ?2 AND contest_id = ?3), 0),
			coalesce((SELECT min(n) = 0 FROM contest_entries INDEXED BY contest_entries_user WHERE tenant = ?1 AND user_id = ?2 AND contest_id = ?3), 0)`, true},
		{&q.count, `SELECT count(*) FROM contest_entries WHERE tenant = ? AND contest_id = ? AND n > 0`, true},
		// The primary key covers the first three; bought tickets are a
		// range of the source index.
		{&q.counts, `SELECT coalesce(sum(n > 0), 0), coalesce(sum(n = 1), 0), coalesce(sum(n = 0), 0),
			(SELECT count(*) FROM contest_entries INDEXED BY contest_entries_source WHERE tenant = ?1 AND contest_id = ?2 AND source >= ?3 AND source < ?4)
			FROM contest_entries WHERE tenant = ?1 AND contest_id = ?2`, true},
		{&q.scan, `SELECT entrant, n, user_id FROM contest_entries WHERE tenant = ? AND contest_id = ? AND n > 0 ORDER BY entrant, n`, true},
		{&q.mine, `SELECT ` + contestEntryCols + ` FROM contest_entries INDEXED BY contest_entries_user WHERE tenant = ? AND user_id = ? ORDER BY contest_id, n`, true},
	} {
		if err := s.prepareOne(ctx, conn, p.read, p.dst, p.q); err != nil {
			return err
		}
	}
	return nil
}

// CreateContest stores a new contest; an existing (tenant, id) is an
// errs.ErrDuplicate.
func (s *Store) CreateContest(ctx context.Context, c contests.Contest) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("sqlite: create contest: %w", err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		return insertNew(tx, s.cq.insert, []any{c.Tenant, c.ID, string(c.Status), string(doc), c.Seed, c.Version}, "contest "+c.ID)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create contest: %w", err)
	}
	return nil
}

// UpdateContest replaces a contest at version c.Version-1, keeping its seed.
func (s *Store) UpdateContest(ctx context.Context, c contests.Contest) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("sqlite: update contest: %w", err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		return updateVersioned(tx, s.cq.update, s.cq.exists, []any{string(c.Status), string(doc), c.Version}, c.Tenant, c.ID, c.Version, "contest")
	})
	if err != nil {
		return fmt.Errorf("sqlite: update contest: %w", err)
	}
	return nil
}

// GetContest returns one contest of tenant.
func (s *Store) GetContest(ctx context.Context, tenant, id string) (contests.Contest, error) {
	c, err := scanContest(s.cq.get.QueryRowContext(ctx, tenant, id))
	if err != nil {
		return contests.Contest{}, fmt.Errorf("sqlite: get contest: %w", notFound(err, "contest", id))
	}
	return c, nil
}

// ListContests pages a tenant's contests by id; status "" is all.
func (s *Store) ListContests(ctx context.Context, tenant string, status contests.Status, after string, limit int) ([]contests.Contest, error) {
	limit = norm.Limit(limit, DefaultLimit)
	var (
		out []contests.Contest
		err error
	)
	if status == "" {
		out, err = queryAll(ctx, s.cq.list, scanContest, tenant, after, limit)
	} else {
		out, err = queryAll(ctx, s.cq.listBy, scanContest, tenant, string(status), after, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list contests: %w", err)
	}
	return out, nil
}

// OpenContests lists every tenant's open contests, for the close job.
func (s *Store) OpenContests(ctx context.Context) ([]contests.Contest, error) {
	out, err := queryAll(ctx, s.cq.open, scanContest)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open contests: %w", err)
	}
	return out, nil
}

func scanContest(sc scanner) (contests.Contest, error) {
	var (
		c       contests.Contest
		tenant  string
		id      string
		status  string
		doc     string
		seed    []byte
		version int64
	)
	if err := sc.Scan(&tenant, &id, &status, &doc, &seed, &version); err != nil {
		return contests.Contest{}, err
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return contests.Contest{}, fmt.Errorf("decode contest %s: %w", id, err)
	}
	c.Tenant, c.ID, c.Status, c.Seed, c.Version = tenant, id, contests.Status(status), seed, version
	return c, nil
}

// AddContestEntry stores e once per (contest, source); a (contest,
// entrant, n) another source holds is an errs.ErrDuplicate.
func (s *Store) AddContestEntry(ctx context.Context, e contests.Entry) (bool, error) {
	var inserted bool
	err := s.w.do(ctx, func(tx *wtx) error {
		r, err := tx.exec(s.cq.insertEntry, e.Tenant, e.Contest, e.Entrant, e.N, e.User, e.Source, norm.Millis(norm.NowIfZero(e.At)))
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 1 {
			inserted = n == 1
			return err
		}
		var one int
		err = tx.queryRow(s.cq.entrySource, e.Tenant, e.Contest, e.Source).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("ticket %d of %s: %w", e.N, e.Entrant, errs.ErrDuplicate)
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: add contest entry: %w", err)
	}
	return inserted, nil
}

// HasContestEntry reports whether a contest holds an entry of source.
func (s *Store) HasContestEntry(ctx context.Context, tenant, contest, source string) (bool, error) {
	var n int
	if err := s.cq.hasSource.QueryRowContext(ctx, tenant, contest, source).Scan(&n); err != nil {
		return false, fmt.Errorf("sqlite: has contest entry: %w", err)
	}
	return n > 0, nil
}

// ContestUserEntries counts a user's tickets and opt-in in a contest.
func (s *Store) ContestUserEntries(ctx context.Context, tenant, contest, user string) (int64, bool, error) {
	var n, in int64
	if err := s.cq.userEntries.QueryRowContext(ctx, tenant, user, contest).Scan(&n, &in); err != nil {
		return 0, false, fmt.Errorf("sqlite: contest user entries: %w", err)
	}
	return n, in == 1, nil
}

// CountContestEntries counts a contest's tickets.
func (s *Store) CountContestEntries(ctx context.Context, tenant, contest string) (int64, error) {
	var n int64
	if err := s.cq.count.QueryRowContext(ctx, tenant, contest).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count contest entries: %w", err)
	}
	return n, nil
}

// ContestEntryCounts counts a contest's tickets, entrants, opt-ins and
// bought tickets over its indexes.
func (s *Store) ContestEntryCounts(ctx context.Context, tenant, contest string) (contests.EntryCounts, error) {
	var c contests.EntryCounts
	to, _ := norm.PrefixEnd(contests.BoughtPrefix) // "buy;": the prefix is ASCII, so the end exists
	if err := s.cq.counts.QueryRowContext(ctx, tenant, contest, contests.BoughtPrefix, to).Scan(&c.Tickets, &c.Entrants, &c.OptIns, &c.Bought); err != nil {
		return contests.EntryCounts{}, fmt.Errorf("sqlite: contest entry counts: %w", err)
	}
	return c, nil
}

// ScanContestEntries streams a contest's tickets in canonical order.
func (s *Store) ScanContestEntries(ctx context.Context, tenant, contest string, fn func(contests.Entry) error) error {
	rows, err := s.cq.scan.QueryContext(ctx, tenant, contest)
	if err != nil {
		return fmt.Errorf("sqlite: scan contest entries: %w", err)
	}
	defer rows.Close()
	// A draw reads a million of these: only what the entry list needs,
	// and each entrant's strings once for all their tickets.
	var entrant, user sql.RawBytes
	e := contests.Entry{Tenant: tenant, Contest: contest}
	for rows.Next() {
		if err := rows.Scan(&entrant, &e.N, &user); err != nil {
			return fmt.Errorf("sqlite: scan contest entries: %w", err)
		}
		if string(entrant) != e.Entrant {
			e.Entrant, e.User = string(entrant), string(user)
		} else if string(user) != e.User {
			e.User = string(user)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: scan contest entries: %w", err)
	}
	return nil
}

func scanContestEntry(sc scanner) (contests.Entry, error) {
	var (
		e  contests.Entry
		at int64
	)
	err := sc.Scan(&e.Tenant, &e.Contest, &e.Entrant, &e.N, &e.User, &e.Source, &at)
	e.At = norm.Time(at)
	return e, err
}

// UserContestEntries lists a user's entries in every contest.
func (s *Store) UserContestEntries(ctx context.Context, tenant, user string) ([]contests.Entry, error) {
	out, err := queryAll(ctx, s.cq.mine, scanContestEntry, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user contest entries: %w", err)
	}
	return out, nil
}

// EraseContestUser moves the user's entries to pseudonym.
func (s *Store) EraseContestUser(ctx context.Context, tenant, user, pseudonym string) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.exec(s.cq.erase, pseudonym, tenant, user)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: erase contest user: %w", err)
	}
	return nil
}
