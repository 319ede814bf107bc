package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/questline/questline/internal/errs"
)

// op is one write operation queued for the writer goroutine.
type op struct {
	// ctx is checked before the op runs: a caller that gave up while
	// queued must not have its write applied behind its back.
	ctx context.Context
	fn  func(tx *wtx) error
	// done is buffered (1) so the writer never blocks on a caller that
	// stopped waiting.
	done chan error
	// state settles a race between the writer starting the op and its
	// caller giving up: whichever moves it from opQueued first wins. A
	// caller that lost waits for the batch, so fn never writes what it
	// captured after do has returned.
	state atomic.Int32
}

// The states of an op.
const (
	opQueued int32 = iota
	opStarted
	opAbandoned
)

// wtx is what an op may use: the writer connection, inside the batch
// transaction and the op's savepoint. Statements run with a background
// context: cancelling one half-way would interrupt the shared connection,
// and the op is short anyway.
type wtx struct {
	conn *sql.Conn
}

func (t *wtx) exec(st *sql.Stmt, args ...any) (sql.Result, error) {
	return st.ExecContext(context.Background(), args...)
}

func (t *wtx) query(st *sql.Stmt, args ...any) (*sql.Rows, error) {
	return st.QueryContext(context.Background(), args...)
}

func (t *wtx) queryRow(st *sql.Stmt, args ...any) *sql.Row {
	return st.QueryRowContext(context.Background(), args...)
}

// writer is the group-commit writer: the only goroutine that writes.
type writer struct {
	conn     *sql.Conn
	ops      chan *op
	maxBatch int

	// mu guards closed and makes Close wait for submitters that are
	// already sending, so the ops channel is never sent on after close.
	mu      sync.RWMutex
	closed  bool
	stopped chan struct{}

	begin, commit, rollback        *sql.Stmt
	savepoint, release, rollbackTo *sql.Stmt
	tx                             wtx
	// committed is called after every successful commit (to wake the
	// checkpointer); it must not block.
	committed func()

	// Counters for WriterStats: how well group commit is batching.
	nBatches, nOps atomic.Int64
}

func newWriter(ctx context.Context, conn *sql.Conn, maxBatch, queue int, committed func()) (*writer, error) {
	w := &writer{
		committed: committed,
		conn:      conn,
		ops:       make(chan *op, queue),
		maxBatch:  maxBatch,
		stopped:   make(chan struct{}),
		tx:        wtx{conn: conn},
	}
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&w.begin, "BEGIN IMMEDIATE"},
		{&w.commit, "COMMIT"},
		{&w.rollback, "ROLLBACK"},
		{&w.savepoint, "SAVEPOINT op"},
		{&w.release, "RELEASE op"},
		{&w.rollbackTo, "ROLLBACK TO op"},
	} {
		st, err := conn.PrepareContext(ctx, p.q)
		if err != nil {
			w.closeStmts()
			return nil, fmt.Errorf("sqlite: prepare %q: %w", p.q, err)
		}
		*p.dst = st
	}
	go w.run()
	return w, nil
}

func (w *writer) closeStmts() {
	for _, st := range []*sql.Stmt{w.begin, w.commit, w.rollback, w.savepoint, w.release, w.rollbackTo} {
		if st != nil {
			st.Close()
		}
	}
}

func (w *writer) isClosed() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.closed
}

// stop closes the queue, lets the writer finish what is queued and waits
// for it. It reports false if the writer was already stopped.
func (w *writer) stop() bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	w.closed = true
	close(w.ops)
	w.mu.Unlock()
	<-w.stopped
	w.closeStmts()
	return true
}

// do queues fn and waits until the batch holding it is committed (or
// rolled back). A nil return means fn's writes are durable. If ctx ends
// while fn is still queued, do returns ctx.Err() and fn never runs; once
// the writer has started fn, do waits for its batch and returns its
// result, so fn's writes to the caller's variables are over by then.
func (w *writer) do(ctx context.Context, fn func(tx *wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{ctx: ctx, fn: fn, done: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return errClosed
	}
	select {
	case w.ops <- o:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opAbandoned) {
			return ctx.Err()
		}
		return <-o.done
	}
}

func (w *writer) run() {
	defer close(w.stopped)
	batch := make([]*op, 0, w.maxBatch)
	res := make([]error, 0, w.maxBatch)
	for {
		o, ok := <-w.ops
		if !ok {
			return
		}
		batch, res = w.runBatch(append(batch[:0], o), res[:0])
		w.nBatches.Add(1)
		w.nOps.Add(int64(len(batch)))
		for i, o := range batch {
			o.done <- res[i]
			batch[i] = nil // let the op and what it captured be collected
		}
	}
}

// next takes another queued op without waiting, if the batch has room.
func (w *writer) next(batch []*op) ([]*op, bool) {
	if len(batch) >= w.maxBatch {
		return batch, false
	}
	select {
	case o, ok := <-w.ops:
		if !ok {
			return batch, false // closed: run() sees it on its next receive
		}
		return append(batch, o), true
	default:
		return batch, false
	}
}

// runBatch runs ops in one transaction, each inside its own savepoint, and
// commits once. It keeps taking ops that were queued meanwhile until the
// queue is empty or the batch is full, so the transaction absorbs
// everything that arrived while it ran instead of leaving it for another
// commit. It returns the batch and one result per op.
func (w *writer) runBatch(batch []*op, res []error) ([]*op, []error) {
	ctx := context.Background()
	if _, err := w.begin.ExecContext(ctx); err != nil {
		err = fmt.Errorf("sqlite: begin batch: %w", err)
		for range batch {
			res = append(res, err)
		}
		return batch, res
	}
	var fatal error
	for i, more := 0, true; more; batch, more = w.next(batch) {
		for ; i < len(batch); i++ {
			res = append(res, w.runOp(ctx, batch[i], &fatal))
		}
	}
	if fatal == nil {
		if _, err := w.commit.ExecContext(ctx); err != nil {
			fatal = fmt.Errorf("sqlite: commit batch: %w", err)
		} else if w.committed != nil {
			w.committed()
		}
	}
	if fatal != nil {
		w.rollback.ExecContext(ctx) // may fail if SQLite rolled back already
		for i := range res {
			if res[i] == nil {
				res[i] = fatal
			}
		}
	}
	return batch, res
}

// runOp runs one op inside its own savepoint. A failure of the savepoint
// machinery itself is stored in *fatal: the transaction is then in an
// unknown state and the whole batch must be rolled back.
func (w *writer) runOp(ctx context.Context, o *op, fatal *error) error {
	if *fatal != nil {
		return *fatal
	}
	if !o.state.CompareAndSwap(opQueued, opStarted) {
		return context.Canceled // its caller gave up and reads nothing
	}
	if err := o.ctx.Err(); err != nil {
		return err
	}
	if _, err := w.savepoint.ExecContext(ctx); err != nil {
		*fatal = fmt.Errorf("sqlite: savepoint: %w", err)
		return *fatal
	}
	err := w.call(o.fn)
	if err != nil {
		// Undo only this op. If SQLite already rolled the whole
		// transaction back (it does on e.g. SQLITE_FULL), ROLLBACK TO
		// fails and the batch is lost: every op reports it.
		if _, rerr := w.rollbackTo.ExecContext(ctx); rerr != nil {
			*fatal = fmt.Errorf("sqlite: rollback op: %w (after %v)", rerr, err)
			return err
		}
	}
	if _, rerr := w.release.ExecContext(ctx); rerr != nil {
		*fatal = fmt.Errorf("sqlite: release op: %w", rerr)
	}
	return err
}

// call runs fn, turning a panic into an error so one bad op cannot kill the
// writer and with it every future write.
func (w *writer) call(fn func(*wtx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlite: write op panicked: %v", p)
		}
	}()
	return fn(&w.tx)
}

// insertOrExisting stores a row that is unique on some key, inside a write
// op: insert is an INSERT ... ON CONFLICT DO NOTHING returning nothing; when
// it inserts no row, existing reads the row that holds the key. A row that
// conflicted on another constraint (its id) is reported as
// errs.ErrDuplicate under what.
func insertOrExisting[T any](tx *wtx, insert *sql.Stmt, args []any, fresh T, existing func() (T, error), what string) (T, bool, error) {
	var zero T
	r, err := tx.exec(insert, args...)
	if err != nil {
		return zero, false, err
	}
	if n, err := r.RowsAffected(); err != nil {
		return zero, false, err
	} else if n == 1 {
		return fresh, true, nil
	}
	stored, err := existing()
	if errors.Is(err, sql.ErrNoRows) {
		return zero, false, fmt.Errorf("%s: %w", what, errs.ErrDuplicate)
	}
	return stored, false, err
}

// insertNew runs insert, an INSERT ... ON CONFLICT DO NOTHING, inside a
// write op and reports a row it did not insert as errs.ErrDuplicate under
// what: for Create methods, where a taken key is the caller's mistake.
func insertNew(tx *wtx, insert *sql.Stmt, args []any, what string) error {
	r, err := tx.exec(insert, args...)
	if err != nil {
		return err
	}
	if n, err := r.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("%s: %w", what, errs.ErrDuplicate)
	}
	return nil
}

// updateVersioned runs update, a compare-and-set whose last three
// parameters are tenant, id and the expected stored version (version-1),
// inside a write op. When it changes no row, exists (taking tenant and id)
// tells a version conflict, errs.ErrDuplicate, from a missing row,
// errs.ErrNotFound.
func updateVersioned(tx *wtx, update, exists *sql.Stmt, set []any, tenant, id string, version int64, what string) error {
	r, err := tx.exec(update, append(set, tenant, id, version-1)...)
	if err != nil {
		return err
	}
	if n, err := r.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var one int
	err = tx.queryRow(exists, tenant, id).Scan(&one)
	if err == nil {
		return fmt.Errorf("%s %s version %d: %w", what, id, version, errs.ErrDuplicate)
	}
	return notFound(err, what, id)
}

// insertIgnore runs insert, an INSERT ... ON CONFLICT DO NOTHING, as one
// write op and reports whether it stored the row: false means its key was
// taken, which for idempotent writes is a repeat, not an error.
func (s *Store) insertIgnore(ctx context.Context, insert *sql.Stmt, args ...any) (bool, error) {
	var inserted bool
	err := s.w.do(ctx, func(tx *wtx) error {
		r, err := tx.exec(insert, args...)
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		inserted = n == 1
		return err
	})
	return inserted, err
}
