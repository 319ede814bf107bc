package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/storage/internal/norm"
)

// boardSpec is the JSON stored in boards.spec: every definition field
// without a column of its own. Empty fields are left out; norm.Board fills
// the defaults on read, which is also how version 1 rows ('{}') read.
type boardSpec struct {
	Source        string     `json:"source,omitempty"`
	EventType     string     `json:"event_type,omitempty"`
	Prop          string     `json:"prop,omitempty"`
	Aggregation   string     `json:"aggregation,omitempty"`
	TimeZone      string     `json:"time_zone,omitempty"`
	StartsAt      *int64     `json:"starts_at,omitempty"` // Unix milliseconds
	EndsAt        *int64     `json:"ends_at,omitempty"`
	Scope         *scopeSpec `json:"scope,omitempty"`
	RetentionDays int        `json:"retention_days,omitempty"`
	MaxPerEvent   int64      `json:"max_per_event,omitempty"`
}

// scopeSpec keeps the stored form independent of leaderboards.Scope's
// API tags.
type scopeSpec struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

func specOf(b leaderboards.Board) boardSpec {
	sp := boardSpec{
		Source: string(b.Source), EventType: b.EventType, Prop: b.Prop,
		Aggregation: string(b.Aggregation), TimeZone: b.TimeZone,
		StartsAt: millisPtr(b.StartsAt), EndsAt: millisPtr(b.EndsAt),
		RetentionDays: b.RetentionDays, MaxPerEvent: b.MaxPerEvent,
	}
	if b.Scope != nil {
		sp.Scope = &scopeSpec{Type: b.Scope.Type, ID: b.Scope.ID}
	}
	return sp
}

// apply copies the spec's fields into b.
func (sp boardSpec) apply(b *leaderboards.Board) {
	b.Source, b.EventType, b.Prop = leaderboards.Source(sp.Source), sp.EventType, sp.Prop
	b.Aggregation, b.TimeZone = leaderboards.Aggregation(sp.Aggregation), sp.TimeZone
	b.StartsAt, b.EndsAt = timeFromPtr(sp.StartsAt), timeFromPtr(sp.EndsAt)
	b.RetentionDays, b.MaxPerEvent = sp.RetentionDays, sp.MaxPerEvent
	if sp.Scope != nil {
		b.Scope = &leaderboards.Scope{Type: sp.Scope.Type, ID: sp.Scope.ID}
	}
}

func millisPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	ms := norm.Millis(*t)
	return &ms
}

func timeFromPtr(ms *int64) *time.Time {
	if ms == nil {
		return nil
	}
	t := norm.Time(*ms)
	return &t
}

// CreateBoard stores a board definition; an existing (tenant, id) is an
// errs.ErrDuplicate. A zero CreatedAt becomes now.
func (s *Store) CreateBoard(ctx context.Context, b leaderboards.Board) error {
	if b.ID == "" {
		return errors.New("sqlite: create board: empty id")
	}
	spec, err := json.Marshal(specOf(b))
	if err != nil {
		return fmt.Errorf("sqlite: create board: encode spec: %w", err)
	}
	b.CreatedAt = norm.NowIfZero(b.CreatedAt)
	err = s.w.do(ctx, func(tx *wtx) error {
		if err := insertNew(tx, s.wq.insertBoard, []any{b.Tenant, b.ID, b.Name, string(b.Window), string(spec), norm.Millis(b.CreatedAt)}, "board "+b.ID); err != nil || b.Build == nil {
			return err
		}
		g := b.Build
		_, err := tx.exec(s.wq.insertBuild, b.Tenant, b.ID, string(g.State), g.Done, g.Total, g.Error, g.Owner, norm.Millis(g.LeaseUntil))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create board: %w", err)
	}
	return nil
}

// ExtendBoard moves a board's EndsAt (in its spec) to endsAt.
func (s *Store) ExtendBoard(ctx context.Context, tenant, id string, endsAt time.Time) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		r, err := tx.exec(s.wq.extendBoard, norm.Millis(endsAt), tenant, id)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, fmt.Errorf("board %s: %w", id, errs.ErrNotFound))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: extend board: %w", err)
	}
	return nil
}

// GetBoard returns one board of tenant.
func (s *Store) GetBoard(ctx context.Context, tenant, id string) (leaderboards.Board, error) {
	b, err := scanBoard(s.rq.getBoard.QueryRowContext(ctx, tenant, id))
	if err != nil {
		return leaderboards.Board{}, fmt.Errorf("sqlite: get board: %w", notFound(err, "board", id))
	}
	return b, nil
}

// ListBoards returns a tenant's boards in id order.
func (s *Store) ListBoards(ctx context.Context, tenant string) ([]leaderboards.Board, error) {
	rows, err := s.rq.listBoards.QueryContext(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list boards: %w", err)
	}
	out, err := collect(rows, scanBoard)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list boards: %w", err)
	}
	return out, nil
}

// Tenants lists, sorted, every tenant that has a board.
func (s *Store) Tenants(ctx context.Context) ([]string, error) {
	rows, err := s.rq.tenants.QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: board tenants: %w", err)
	}
	out, err := collect(rows, func(sc scanner) (string, error) {
		var t string
		err := sc.Scan(&t)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: board tenants: %w", err)
	}
	return out, nil
}

// ClaimBuild makes owner the builder of the board if its build is not
// ready and its lease ended by now.
func (s *Store) ClaimBuild(ctx context.Context, tenant, id, owner string, now, until time.Time) (bool, error) {
	// insertIgnore reports whether the statement changed its one row,
	// which for these conditional updates is whether the lease was had.
	claimed, err := s.insertIgnore(ctx, s.wq.claimBuild, owner, norm.Millis(until), tenant, id, norm.Millis(now))
	if err != nil {
		return false, fmt.Errorf("sqlite: claim build of %s: %w", id, err)
	}
	return claimed, nil
}

// SaveBuild stores g as the board's build if owner holds it.
func (s *Store) SaveBuild(ctx context.Context, tenant, id, owner string, g leaderboards.Build) (bool, error) {
	held, err := s.insertIgnore(ctx, s.wq.saveBuild, string(g.State), g.Done, g.Total, g.Error, g.Owner, norm.Millis(g.LeaseUntil), tenant, id, owner)
	if err != nil {
		return false, fmt.Errorf("sqlite: save build of %s: %w", id, err)
	}
	return held, nil
}

func scanBoard(sc scanner) (leaderboards.Board, error) {
	var (
		b                  leaderboards.Board
		win, spec          string
		at                 int64
		state, gErr, owner sql.NullString
		done, total, lease sql.NullInt64
	)
	if err := sc.Scan(&b.Tenant, &b.ID, &b.Name, &win, &spec, &at, &state, &done, &total, &gErr, &owner, &lease); err != nil {
		return leaderboards.Board{}, err
	}
	if state.Valid {
		b.Build = &leaderboards.Build{
			State: leaderboards.BuildState(state.String), Done: done.Int64, Total: total.Int64,
			Error: gErr.String, Owner: owner.String, LeaseUntil: norm.Time(lease.Int64),
		}
	}
	var sp boardSpec
	if err := json.Unmarshal([]byte(spec), &sp); err != nil {
		return leaderboards.Board{}, fmt.Errorf("decode spec of board %s: %w", b.ID, err)
	}
	sp.apply(&b)
	b.Window, b.CreatedAt = leaderboards.Window(win), norm.Time(at)
	return norm.Board(b), nil
}

// AddScore stores sc unless the board has a score for sc.EventID already,
// and folds a new score into its member's total for sc.Period in the same
// transaction. A zero At becomes now.
func (s *Store) AddScore(ctx context.Context, sc leaderboards.Score) (bool, error) {
	f, err := s.FoldScore(ctx, sc)
	return f.Inserted, err
}

// FoldScore is AddScore returning the member's total as the fold left it,
// from the fold's own RETURNING (the Best and Latest folds always update,
// to themselves when the score does not beat the total, so they return).
func (s *Store) FoldScore(ctx context.Context, sc leaderboards.Score) (leaderboards.Folded, error) {
	sc, fold, err := s.prepareScore(sc)
	if err != nil {
		return leaderboards.Folded{}, err
	}
	var f leaderboards.Folded
	err = s.w.do(ctx, func(tx *wtx) error {
		f, err = s.foldIn(tx, sc, fold) // a retried op starts afresh
		return err
	})
	if err != nil {
		return leaderboards.Folded{}, fmt.Errorf("sqlite: add score: %w", err)
	}
	f.Known = f.Known && !s.stale[[2]string{sc.Tenant, sc.Board}]
	return f, nil
}

// FoldScores is AddScore for every score of scs in one writer op, so one
// transaction, and in few statements: each chunk of foldRows scores is one
// multi-row insert, whose RETURNING lists the rows that were new (a key
// stored already, or given earlier in the chunk, is not), and one
// multi-row upsert per aggregation folding those into their totals, summed
// per member first. A build thus folds a batch of ledger entries for the
// price of a few statements and one commit.
func (s *Store) FoldScores(ctx context.Context, scs []leaderboards.Score) (int, error) {
	prepared := make([]leaderboards.Score, len(scs))
	for i, sc := range scs {
		var err error
		if prepared[i], _, err = s.prepareScore(sc); err != nil {
			return 0, err
		}
	}
	// In key order the inserts walk the index instead of jumping about
	// it; stable, so of a key given twice the first still comes first.
	slices.SortStableFunc(prepared, func(a, b leaderboards.Score) int {
		return cmp.Or(strings.Compare(a.Tenant, b.Tenant), strings.Compare(a.Board, b.Board), strings.Compare(a.EventID, b.EventID))
	})
	var inserted int
	err := s.w.do(ctx, func(tx *wtx) error {
		inserted = 0 // a retried op starts afresh
		for chunk := range slices.Chunk(prepared, foldRows) {
			added, err := insertNewScores(tx, chunk)
			if err != nil {
				return err
			}
			if err := foldTotals(tx, added); err != nil {
				return err
			}
			inserted += len(added)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: add scores: %w", err)
	}
	return inserted, nil
}

// foldRows is how many rows one statement of FoldScores writes: 6
// parameters each, far under SQLite's limit of 32,766.
const foldRows = 500

// insertNewScores inserts scs in one statement and returns the ones that
// were new. Rows go in in order, so of a key given twice the first is
// stored, and that is the one returned.
func insertNewScores(tx *wtx, scs []leaderboards.Score) ([]leaderboards.Score, error) {
	args := make([]any, 0, 6*len(scs))
	for _, sc := range scs {
		args = append(args, sc.Tenant, sc.Board, sc.EventID, sc.User, sc.Value, norm.Millis(sc.At))
	}
	rows, err := tx.conn.QueryContext(context.Background(),
		insertScores+rowsOf(len(scs))+` ON CONFLICT DO NOTHING RETURNING tenant, board_id, event_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type key struct{ tenant, board, event string }
	isNew := map[key]bool{}
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.tenant, &k.board, &k.event); err != nil {
			return nil, err
		}
		isNew[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var added []leaderboards.Score
	for _, sc := range scs {
		if k := (key{sc.Tenant, sc.Board, sc.EventID}); isNew[k] {
			added = append(added, sc)
			delete(isNew, k) // a later copy of the key was not stored
		}
	}
	return added, nil
}

// foldTotals folds the new scores scs into their members' totals: per
// aggregation, one upsert of each member's scores folded together first
// (the folds are associative, so this is the fold of each in turn).
func foldTotals(tx *wtx, scs []leaderboards.Score) error {
	type key struct {
		tenant, board, period, user string
		agg                         leaderboards.Aggregation
	}
	folded := map[key]leaderboards.Score{}
	var order []key
	for _, sc := range scs {
		if sc.Period == "" {
			continue
		}
		k := key{sc.Tenant, sc.Board, sc.Period, sc.User, sc.Aggregation}
		if t, ok := folded[k]; ok {
			folded[k] = foldInto(t, sc)
			continue
		}
		folded[k] = sc
		order = append(order, k)
	}
	for _, agg := range []leaderboards.Aggregation{leaderboards.Sum, leaderboards.Best, leaderboards.Latest} {
		var args []any
		for _, k := range order {
			if t := folded[k]; k.agg == agg {
				args = append(args, t.Tenant, t.Board, t.Period, t.User, t.Value, norm.Millis(t.At))
			}
		}
		if len(args) == 0 {
			continue
		}
		q := insertTotals + rowsOf(len(args)/6) + map[leaderboards.Aggregation]string{
			leaderboards.Sum: onSum, leaderboards.Best: onBest, leaderboards.Latest: onLatest}[agg]
		if _, err := tx.conn.ExecContext(context.Background(), q, args...); err != nil {
			return err
		}
	}
	return nil
}

// foldInto is t with sc folded in by t's aggregation, as the statements
// onSum, onBest and onLatest fold (at millisecond precision).
func foldInto(t, sc leaderboards.Score) leaderboards.Score {
	a, b := norm.Millis(t.At), norm.Millis(sc.At)
	switch t.Aggregation {
	case leaderboards.Sum:
		t.Value += sc.Value
		if b > a {
			t.At = sc.At
		}
		return t
	case leaderboards.Best:
		if sc.Value > t.Value || sc.Value == t.Value && b < a {
			return sc
		}
	case leaderboards.Latest:
		if b > a || b == a && sc.Value > t.Value {
			return sc
		}
	}
	return t
}

// rowsOf is n rows of 6 placeholders, for a multi-row VALUES.
func rowsOf(n int) string {
	return strings.TrimSuffix(strings.Repeat(oneScoreRow+",", n), ",")
}

// prepareScore checks sc, gives a zero At now, and returns the statement
// folding it into its total (see foldScore).
func (s *Store) prepareScore(sc leaderboards.Score) (leaderboards.Score, *sql.Stmt, error) {
	if sc.Board == "" || sc.EventID == "" {
		return sc, nil, errors.New("sqlite: add score: empty board or event id")
	}
	sc.At = norm.NowIfZero(sc.At)
	fold, err := s.foldScore(sc)
	if err != nil {
		return sc, nil, fmt.Errorf("sqlite: add score: %w", err)
	}
	return sc, fold, nil
}

// foldIn stores sc unless its event is stored already and, when it is
// new, folds it into its total with fold (nil: no period), in tx.
func (s *Store) foldIn(tx *wtx, sc leaderboards.Score, fold *sql.Stmt) (leaderboards.Folded, error) {
	var f leaderboards.Folded
	r, err := tx.exec(s.wq.insertScore, sc.Tenant, sc.Board, sc.EventID, sc.User, sc.Value, norm.Millis(sc.At))
	if err != nil {
		return f, err
	}
	n, err := r.RowsAffected()
	if f.Inserted = n == 1; err != nil || !f.Inserted || fold == nil {
		return f, err
	}
	var value, at int64
	err = tx.queryRow(fold, sc.Tenant, sc.Board, sc.Period, sc.User, sc.Value, norm.Millis(sc.At)).Scan(&value, &at)
	f.Known = err == nil
	f.Total = leaderboards.TotalRow{Period: sc.Period, User: sc.User, Value: value, At: norm.Time(at)}
	return f, err
}

// foldScore returns the statement folding sc into its total, nil when sc
// names no period.
func (s *Store) foldScore(sc leaderboards.Score) (*sql.Stmt, error) {
	if sc.Period == "" {
		return nil, nil
	}
	switch sc.Aggregation {
	case leaderboards.Sum:
		return s.wq.foldSum, nil
	case leaderboards.Best:
		return s.wq.foldBest, nil
	case leaderboards.Latest:
		return s.wq.foldLatest, nil
	}
	return nil, fmt.Errorf("unknown aggregation %q", sc.Aggregation)
}

// Total returns a member's folded entry in one board period; a stale
// board (see upgradeBoardTotals) is read with AggregateScores.
func (s *Store) Total(ctx context.Context, tenant, board, period, user string, agg leaderboards.Aggregation, from, to time.Time) (int64, time.Time, bool, error) {
	if s.stale[[2]string{tenant, board}] {
		return s.AggregateScores(ctx, tenant, board, user, agg, from, to)
	}
	var value, at int64
	err := s.rq.total.QueryRowContext(ctx, tenant, board, period, user).Scan(&value, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, false, nil
	}
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("sqlite: board total: %w", err)
	}
	return value, norm.Time(at), true, nil
}

// AggregateScores folds a user's scores on a board with At in [from, to),
// compared at millisecond precision; see leaderboards.Store for the folds.
func (s *Store) AggregateScores(ctx context.Context, tenant, board, user string, agg leaderboards.Aggregation, from, to time.Time) (int64, time.Time, bool, error) {
	args := []any{tenant, board, user, norm.Millis(from), norm.Millis(to)}
	var (
		value, at sql.NullInt64
		err       error
	)
	switch agg {
	case leaderboards.Sum:
		err = s.rq.sumScores.QueryRowContext(ctx, args...).Scan(&value, &at)
	case leaderboards.Best:
		err = s.rq.bestScore.QueryRowContext(ctx, args...).Scan(&value, &at)
	case leaderboards.Latest:
		err = s.rq.latestScore.QueryRowContext(ctx, args...).Scan(&value, &at)
	default:
		return 0, time.Time{}, false, fmt.Errorf("sqlite: aggregate scores: unknown aggregation %q", agg)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, false, fmt.Errorf("sqlite: aggregate scores: %w", err)
	}
	// No rows: Best and Latest find none, Sum folds to NULLs.
	if !at.Valid {
		return 0, time.Time{}, false, nil
	}
	return value.Int64, norm.Time(at.Int64), true, nil
}

// ScanScores calls fn for every score of a board in event id order, a page
// at a time like ScanEntries. It stops at, and returns, the first error of
// fn.
func (s *Store) ScanScores(ctx context.Context, tenant, board string, fn func(leaderboards.Score) error) error {
	last := ""
	for {
		rows, err := s.rq.scanScores.QueryContext(ctx, tenant, board, last, scanPage)
		if err != nil {
			return fmt.Errorf("sqlite: scan scores: %w", err)
		}
		page, err := collect(rows, scanScore)
		if err != nil {
			return fmt.Errorf("sqlite: scan scores: %w", err)
		}
		for _, sc := range page {
			if err := fn(sc); err != nil {
				return err
			}
		}
		if len(page) < scanPage {
			return nil
		}
		last = page[len(page)-1].EventID
	}
}

// CountScores counts a board's scores.
func (s *Store) CountScores(ctx context.Context, tenant, board string) (int64, error) {
	var n int64
	if err := s.rq.countScores.QueryRowContext(ctx, tenant, board).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count scores: %w", err)
	}
	return n, nil
}

func scanScore(sc scanner) (leaderboards.Score, error) {
	var (
		s  leaderboards.Score
		at int64
	)
	if err := sc.Scan(&s.Tenant, &s.Board, &s.EventID, &s.User, &s.Value, &at); err != nil {
		return leaderboards.Score{}, err
	}
	s.At = norm.Time(at)
	return s, nil
}

// Exclude stores e, replacing an earlier exclusion of the same user from
// the same board. A zero At becomes now.
func (s *Store) Exclude(ctx context.Context, e leaderboards.Exclusion) error {
	if e.Board == "" || e.User == "" {
		return errors.New("sqlite: exclude: empty board or user")
	}
	e.At = norm.NowIfZero(e.At)
	err := s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.exec(s.wq.upsertExclusion, e.Tenant, e.Board, e.User, e.By, e.Reason, norm.Millis(e.At))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: exclude: %w", err)
	}
	return nil
}

// Reinstate deletes the exclusion of user from board; errs.ErrNotFound
// when there is none.
func (s *Store) Reinstate(ctx context.Context, tenant, board, user string) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		r, err := tx.exec(s.wq.deleteExclusion, tenant, board, user)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("exclusion of %s from board %s: %w", user, board, errs.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: reinstate: %w", err)
	}
	return nil
}

// Exclusions lists a board's exclusions in user order; with board "" the
// tenant's every board's, in (board, user) order.
func (s *Store) Exclusions(ctx context.Context, tenant, board string) ([]leaderboards.Exclusion, error) {
	var rows *sql.Rows
	var err error
	if board == "" {
		rows, err = s.rq.allExclusions.QueryContext(ctx, tenant)
	} else {
		rows, err = s.rq.exclusions.QueryContext(ctx, tenant, board)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list exclusions: %w", err)
	}
	out, err := collect(rows, scanExclusion)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list exclusions: %w", err)
	}
	return out, nil
}

func scanExclusion(sc scanner) (leaderboards.Exclusion, error) {
	var (
		e  leaderboards.Exclusion
		at int64
	)
	if err := sc.Scan(&e.Tenant, &e.Board, &e.User, &e.By, &e.Reason, &at); err != nil {
		return leaderboards.Exclusion{}, err
	}
	e.At = norm.Time(at)
	return e, nil
}
