package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/internal/norm"
)

// scanPage is how many ledger rows ScanEntries reads per query. Paging
// (rather than one long cursor) keeps read transactions short, so a long
// rebuild neither pins the WAL nor blocks fn from using the store.
const scanPage = 1000

// InsertEntry stores e, or returns the tenant's entry with the same key and
// inserted=false; a positive e is added to its day sum in the same write.
// An empty ID gets a UUIDv7 and a zero CreatedAt becomes
// now; an ID already used by an entry with another key is an
// errs.ErrDuplicate.
func (s *Store) InsertEntry(ctx context.Context, e points.Entry) (points.Entry, bool, error) {
	if e.ID == "" {
		e.ID = uuid.Must(uuid.NewV7()).String()
	}
	e.CreatedAt = norm.NowIfZero(e.CreatedAt)
	var (
		stored   points.Entry
		inserted bool
	)
	err := s.w.do(ctx, func(tx *wtx) (err error) {
		stored, inserted, err = insertOrExisting(tx, s.wq.insertEntry,
			[]any{e.Tenant, e.ID, e.User, e.Amount, e.Key, e.Reason, e.EventID, norm.Millis(e.CreatedAt)}, e,
			func() (points.Entry, error) { return scanEntry(tx.queryRow(s.wq.entryByKey, e.Tenant, e.Key)) },
			"ledger entry id "+e.ID)
		if err != nil || !inserted || e.Amount <= 0 {
			return err
		}
		return s.foldDay(tx, e.Tenant, e.User, e.CreatedAt, e.Amount)
	})
	if err != nil {
		return points.Entry{}, false, fmt.Errorf("sqlite: insert ledger entry: %w", err)
	}
	return stored, inserted, nil
}

// Totals folds a user's ledger into balance and lifetime earnings.
func (s *Store) Totals(ctx context.Context, tenant, user string) (points.Totals, error) {
	var t points.Totals
	if err := s.rq.totals.QueryRowContext(ctx, tenant, user).Scan(&t.Balance, &t.Earned); err != nil {
		return points.Totals{}, fmt.Errorf("sqlite: ledger totals: %w", err)
	}
	return t, nil
}

// EarnedBetween sums a user's positive entries created in [from, to),
// compared at millisecond precision, whose keys start with keyPrefix, less
// the reversed ones, and returns when the last of them was created (zero
// when there are none; a reversed credit still counts for that time).
func (s *Store) EarnedBetween(ctx context.Context, tenant, user, keyPrefix string, from, to time.Time) (int64, time.Time, error) {
	var (
		n    int64
		last sql.NullInt64
	)
	// SQLite compares TEXT bytewise and valid UTF-8 never holds 0xff, so
	// [prefix, prefix+"\xff") is exactly the keys with the prefix ("" too).
	err := s.rq.earnedBetween.QueryRowContext(ctx, tenant, user, norm.Millis(from), norm.Millis(to),
		keyPrefix, keyPrefix+"\xff").Scan(&n, &last)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("sqlite: earned between: %w", err)
	}
	if !last.Valid {
		return 0, time.Time{}, nil
	}
	reversed, err := s.reversedBetween(ctx, tenant, user, keyPrefix, from, to)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("sqlite: earned between: reversals: %w", err)
	}
	return n - reversed, norm.Time(last.Int64), nil
}

// Entries pages a user's ledger newest first (by id, which is UUIDv7 and so
// by creation), starting after the entry id before ("" = the newest).
func (s *Store) Entries(ctx context.Context, tenant, user, before string, limit int) ([]points.Entry, error) {
	limit = norm.Limit(limit, DefaultLimit)
	var (
		rows *sql.Rows
		err  error
	)
	if before == "" {
		rows, err = s.rq.entries.QueryContext(ctx, tenant, user, limit)
	} else {
		rows, err = s.rq.entriesBefore.QueryContext(ctx, tenant, user, before, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: ledger entries: %w", err)
	}
	out, err := collect(rows, scanEntry)
	if err != nil {
		return nil, fmt.Errorf("sqlite: ledger entries: %w", err)
	}
	return out, nil
}

// ScanEntries calls fn for every entry of tenant in id order; with tenant
// "" it visits every tenant, ordered by (tenant, id) so it can walk the
// primary key. It stops at, and returns, the first error of fn.
func (s *Store) ScanEntries(ctx context.Context, tenant string, fn func(points.Entry) error) error {
	lastTenant, lastID := tenant, ""
	for {
		var (
			rows *sql.Rows
			err  error
		)
		if tenant != "" {
			rows, err = s.rq.scanEntries.QueryContext(ctx, tenant, lastID, scanPage)
		} else {
			rows, err = s.rq.scanAllEntries.QueryContext(ctx, lastTenant, lastID, scanPage)
		}
		if err != nil {
			return fmt.Errorf("sqlite: scan ledger: %w", err)
		}
		page, err := collect(rows, scanEntry)
		if err != nil {
			return fmt.Errorf("sqlite: scan ledger: %w", err)
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < scanPage {
			return nil
		}
		last := page[len(page)-1]
		lastTenant, lastID = last.Tenant, last.ID
	}
}

// CountEntries counts the ledger lines of tenant ("" = every tenant).
func (s *Store) CountEntries(ctx context.Context, tenant string) (int64, error) {
	var (
		n   int64
		err error
	)
	if tenant == "" {
		err = s.rq.countAllEntries.QueryRowContext(ctx).Scan(&n)
	} else {
		err = s.rq.countEntries.QueryRowContext(ctx, tenant).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: count ledger: %w", err)
	}
	return n, nil
}

func scanEntry(sc scanner) (points.Entry, error) {
	var (
		e  points.Entry
		at int64
	)
	if err := sc.Scan(&e.Tenant, &e.ID, &e.User, &e.Amount, &e.Key, &e.Reason, &e.EventID, &at); err != nil {
		return points.Entry{}, err
	}
	e.CreatedAt = norm.Time(at)
	return e, nil
}
