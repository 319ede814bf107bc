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
	"github.com/questline/questline/storage/internal/norm"
)

// InsertEvent stores e, or returns the tenant's event with the same
// idempotency key and inserted=false. An empty ID gets a UUIDv7, an empty
// idempotency key becomes the ID, and a zero ReceivedAt becomes now. An ID
// already used by an event with another key is an errs.ErrDuplicate.
func (s *Store) InsertEvent(ctx context.Context, e events.Event) (events.Event, bool, error) {
	e, props, res, err := norm.Event(e)
	if err != nil {
		return events.Event{}, false, fmt.Errorf("sqlite: insert event: %w", err)
	}
	var (
		stored   events.Event
		inserted bool
	)
	err = s.w.do(ctx, func(tx *wtx) (err error) {
		stored, inserted, err = s.insertEvent(tx, e, props, res)
		return err
	})
	if err != nil {
		return events.Event{}, false, fmt.Errorf("sqlite: insert event: %w", err)
	}
	return stored, inserted, nil
}

// insertEvent is InsertEvent's write, in tx, of e as norm.Event left it
// with its encoded props and result.
func (s *Store) insertEvent(tx *wtx, e events.Event, props, res []byte) (events.Event, bool, error) {
	return insertOrExisting(tx, s.wq.insertEvent,
		[]any{e.Tenant, e.ID, e.IdempotencyKey, e.User, e.Type, nullBytes(props),
			norm.Millis(e.OccurredAt), norm.Millis(e.ReceivedAt), e.Source, e.Fingerprint,
			e.Processed, nullTime(e.ProcessedAt), nullBytes(res),
			e.Attempts, nextMillis(e.NextAttemptAt), nullTime(e.DeadAt), e.DeadReason}, e,
		func() (events.Event, error) {
			return scanEvent(tx.queryRow(s.wq.eventByKey, e.Tenant, e.IdempotencyKey))
		},
		"event id "+e.ID)
}

// MarkProcessed records the event's result. Only the first call counts: a
// second processing (a sweeper racing a slow request) keeps the first
// result, which is the one the caller of the key was already given.
func (s *Store) MarkProcessed(ctx context.Context, tenant, id string, r events.Result, at time.Time) error {
	res, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("sqlite: mark processed: encode result: %w", err)
	}
	at = norm.Trunc(at)
	err = s.w.do(ctx, func(tx *wtx) error { return s.markProcessed(tx, tenant, id, res, at) })
	if err != nil {
		return fmt.Errorf("sqlite: mark processed: %w", err)
	}
	return nil
}

// markProcessed is MarkProcessed's write, in tx, of the encoded result.
func (s *Store) markProcessed(tx *wtx, tenant, id string, res []byte, at time.Time) error {
	x, err := tx.exec(s.wq.markProcessed, norm.Millis(at), string(res), tenant, id)
	if err != nil {
		return err
	}
	if n, err := x.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var one int
	err = tx.queryRow(s.wq.eventExists, tenant, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("event %s: %w", id, errs.ErrNotFound)
	}
	return err
}

// Unprocessed lists unprocessed events of every tenant received before the
// given time, oldest first (ties by tenant and id, so pages are stable).
func (s *Store) Unprocessed(ctx context.Context, receivedBefore time.Time, limit int) ([]events.Event, error) {
	before := norm.Millis(receivedBefore)
	rows, err := s.rq.unprocessed.QueryContext(ctx, before, before, norm.Limit(limit, DefaultLimit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: unprocessed events: %w", err)
	}
	out, err := collect(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("sqlite: unprocessed events: %w", err)
	}
	return out, nil
}

// RecordAttempt stores a failed try at an unprocessed event. Counts and
// times only grow and a dead event stays dead, so two sweepers recording
// the same failure agree.
func (s *Store) RecordAttempt(ctx context.Context, tenant, id string, a events.Attempt) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.exec(s.wq.recordAttempt, a.Attempts, norm.Millis(a.NextAt), nullTime(norm.TruncPtr(a.DeadAt)), a.DeadReason, tenant, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: record attempt: %w", err)
	}
	return nil
}

// DeadEvents pages a tenant's dead, unprocessed events newest first.
func (s *Store) DeadEvents(ctx context.Context, tenant, before string, limit int) ([]events.Event, error) {
	n := norm.Limit(limit, DefaultLimit)
	var (
		out []events.Event
		err error
	)
	if before == "" {
		out, err = queryAll(ctx, s.rq.deadEvents, scanEvent, tenant, n)
	} else {
		out, err = queryAll(ctx, s.rq.deadEventsBefore, scanEvent, tenant, before, n)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: dead events: %w", err)
	}
	return out, nil
}

// Revive takes a dead event out of the dead letters.
func (s *Store) Revive(ctx context.Context, tenant, id string) (events.Event, error) {
	var e events.Event
	err := s.w.do(ctx, func(tx *wtx) (err error) {
		e, err = scanEvent(tx.queryRow(s.wq.reviveEvent, tenant, id))
		return notFound(err, "dead event", id)
	})
	if err != nil {
		return events.Event{}, fmt.Errorf("sqlite: revive event: %w", err)
	}
	return e, nil
}

// CountDead counts the dead, unprocessed events of every tenant.
func (s *Store) CountDead(ctx context.Context) (int64, error) {
	var n int64
	if err := s.rq.countDead.QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count dead events: %w", err)
	}
	return n, nil
}

// nextMillis stores "try at once" as 0.
func nextMillis(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return norm.Millis(*t)
}

func scanEvent(sc scanner) (events.Event, error) {
	var (
		e                   events.Event
		props, res          sql.NullString
		occ, rec, next      int64
		processedAt, deadAt sql.NullInt64
	)
	if err := sc.Scan(&e.Tenant, &e.ID, &e.IdempotencyKey, &e.User, &e.Type, &props,
		&occ, &rec, &e.Source, &e.Fingerprint, &e.Processed, &processedAt, &res,
		&e.Attempts, &next, &deadAt, &e.DeadReason); err != nil {
		return events.Event{}, err
	}
	e.OccurredAt, e.ReceivedAt = norm.Time(occ), norm.Time(rec)
	e.ProcessedAt, e.DeadAt = timePtr(processedAt), timePtr(deadAt)
	if next != 0 {
		t := norm.Time(next)
		e.NextAttemptAt = &t
	}
	var err error
	if e.Props, err = norm.DecodeMap([]byte(props.String)); err != nil {
		return events.Event{}, fmt.Errorf("decode props of event %s: %w", e.ID, err)
	}
	if res.Valid && res.String != "" {
		e.Result = new(events.Result)
		if err := json.Unmarshal([]byte(res.String), e.Result); err != nil {
			return events.Event{}, fmt.Errorf("decode result of event %s: %w", e.ID, err)
		}
	}
	return e, nil
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// queryAll runs a prepared read and scans every row with scan.
func queryAll[T any](ctx context.Context, st *sql.Stmt, scan func(scanner) (T, error), args ...any) ([]T, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scan)
}

// nullBytes stores absent JSON as NULL rather than an empty string.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// nullTime stores an optional time as NULL or Unix milliseconds.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return norm.Millis(*t)
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := norm.Time(v.Int64)
	return &t
}

// notFound turns sql.ErrNoRows into the domain sentinel, naming what was
// missing; other errors pass through.
func notFound(err error, what, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %s: %w", what, id, errs.ErrNotFound)
	}
	return err
}
