package leaderboards

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Progress reports how far a rebuild is: source rows read of total.
type Progress func(done, total int64)

// Rebuild recomputes every board of tenant ("" = every tenant) from the
// members' totals folded in the store, and swaps each board period in
// atomically; a points board not built yet is filled from the ledger
// first. It is how derived state comes back after Redis is flushed or
// lost, and how the in-process engine is filled at start. Writes keep
// flowing while it runs (see rebuildBoards).
func (s *Service) Rebuild(ctx context.Context, tenant string, progress Progress) error {
	tenants := []string{tenant}
	if tenant == "" {
		var err error
		if tenants, err = s.Store.Tenants(ctx); err != nil {
			return fmt.Errorf("leaderboards: rebuild: tenants: %w", err)
		}
	}
	for _, t := range tenants {
		bs, err := s.List(ctx, t)
		if err != nil {
			return err
		}
		if err := s.rebuildBoards(ctx, t, bs, progress); err != nil {
			return err
		}
	}
	return nil
}

// RebuildBoard recomputes one board.
func (s *Service) RebuildBoard(ctx context.Context, tenant, id string, progress Progress) error {
	b, err := s.Get(ctx, tenant, id)
	if err != nil {
		return err
	}
	return s.rebuildBoards(ctx, tenant, []Board{b}, progress)
}

// trackTTL bounds how long a crashed rebuild leaves journaling on.
const trackTTL = time.Hour

// lateReach is how far back an event's occurred_at may lie (the intake's
// bound, plus a margin): the periods a write can land in during a rebuild.
const lateReach = 31 * 24 * time.Hour

// rebuildBoards recomputes bs from their folded totals (see scanFolded).
// A points board not built yet (its Build not Ready: new, or a build that
// stopped half-way) is first filled from the ledger (see fill), one scan
// of the tenant's ledger for all of them.
//
// Writes that race the rebuild are not lost: every period a write can land
// in is tracked before the totals are read, so a write that reaches the old
// board after the read (and would be overwritten by the swap) is journaled,
// and its member is re-derived from the store once the swap is done.
// Writes after the swap land on the new board, which is exact already.
func (s *Service) rebuildBoards(ctx context.Context, tenant string, bs []Board, progress Progress) (err error) {
	if len(bs) == 0 {
		return nil
	}
	tb, err := s.boards(ctx, tenant)
	if err != nil {
		return err
	}
	f := newFold(s.Now(), tb.excluded, progress)
	unbuilt := unbuiltPoints(bs)
	if progress != nil {
		if err := s.count(ctx, tenant, bs, unbuilt, f); err != nil {
			return err
		}
	}
	if len(unbuilt) > 0 {
		if err := s.fill(ctx, tenant, unbuilt, f); err != nil {
			return err
		}
	}
	tracked, err := s.track(ctx, bs)
	defer func() {
		for key := range tracked {
			if uerr := s.Engine.Untrack(context.WithoutCancel(ctx), key); uerr != nil {
				err = errors.Join(err, fmt.Errorf("leaderboards: rebuild: untrack %s: %w", key, uerr))
			}
		}
	}()
	if err != nil {
		return err
	}
	for key, tp := range tracked {
		f.periods[key], f.meta[key] = map[string]*acc{}, tp
	}
	for _, b := range bs {
		if err := s.scanFolded(ctx, tenant, b, f, !slices.ContainsFunc(unbuilt, sameBoard(b))); err != nil {
			return err
		}
	}
	for key, m := range f.periods {
		if err := s.swap(ctx, f.meta[key], key, m); err != nil {
			return err
		}
	}
	for key, tp := range tracked {
		if err := s.drain(ctx, tp.board, tp.period, key, tb.excluded[tp.board.ID]); err != nil {
			return err
		}
	}
	f.report(true)
	return nil
}

// unbuiltPoints lists the points boards of bs whose first fill from the
// ledger has not finished.
func unbuiltPoints(bs []Board) []Board {
	var out []Board
	for _, b := range bs {
		if b.Source == FromPoints && (b.Build == nil || b.Build.State != Ready) {
			out = append(out, b)
		}
	}
	return out
}

func sameBoard(b Board) func(Board) bool {
	return func(o Board) bool { return o.ID == b.ID }
}

type trackedPeriod struct {
	board  Board
	period Period
}

// track journals every period of bs that a write could land in now.
func (s *Service) track(ctx context.Context, bs []Board) (map[string]trackedPeriod, error) {
	out := map[string]trackedPeriod{}
	now := s.Now()
	for _, b := range bs {
		for _, p := range b.writablePeriods(now) {
			key := engineKey(b.Tenant, b.ID, p.Name)
			if err := s.Engine.Track(ctx, key, trackTTL); err != nil {
				return out, fmt.Errorf("leaderboards: rebuild: track %s: %w", key, err)
			}
			out[key] = trackedPeriod{b, p}
		}
	}
	return out, nil
}

// writablePeriods lists the periods of b that a write arriving at now can
// land in: those within the intake's reach into the past, up to tomorrow.
func (b Board) writablePeriods(now time.Time) []Period {
	switch b.Window {
	case AllTime, Custom:
		return []Period{b.currentPeriod(now)}
	}
	var out []Period
	for t := now.Add(-lateReach); ; {
		p, _ := b.periodAt(t)
		out = append(out, p)
		if p.End.After(now.Add(24 * time.Hour)) {
			return out
		}
		t = p.End
	}
}

// scanFolded reads a board into f from its folded totals, which a
// retention prune never deletes, and only where they are not exact from
// its scores (which such a board keeps). A total is its member's whole
// entry in its period, so folding it once gives the entry back. counted
// says whether the rows read are the rebuild's progress (a filled board's
// progress is the ledger's entries).
func (s *Service) scanFolded(ctx context.Context, tenant string, b Board, f *fold, counted bool) error {
	step := func() {
		if counted {
			f.step()
		}
	}
	ok, err := s.Store.ScanTotals(ctx, tenant, b.ID, func(t TotalRow) error {
		f.add(b, t.User, t.Value, t.At)
		step()
		return nil
	})
	if err != nil {
		return fmt.Errorf("leaderboards: rebuild %s: scan totals: %w", b.ID, err)
	}
	if ok {
		return nil
	}
	err = s.Store.ScanScores(ctx, tenant, b.ID, func(sc Score) error {
		f.add(b, sc.User, sc.Value, sc.At)
		step()
		return nil
	})
	if err != nil {
		return fmt.Errorf("leaderboards: rebuild %s: scan scores: %w", b.ID, err)
	}
	return nil
}

// count totals the source rows a rebuild will read, for its progress bar;
// only a rebuild that shows progress pays for it. A board being filled
// counts the tenant's ledger (once for all of them), any other its totals.
func (s *Service) count(ctx context.Context, tenant string, bs, unbuilt []Board, f *fold) error {
	if len(unbuilt) > 0 {
		n, err := s.Ledger.CountEntries(ctx, tenant)
		if err != nil {
			return fmt.Errorf("leaderboards: rebuild %s: count ledger: %w", tenant, err)
		}
		f.total += n
	}
	for _, b := range bs {
		if slices.ContainsFunc(unbuilt, sameBoard(b)) {
			continue
		}
		n, ok, err := s.Store.CountTotals(ctx, tenant, b.ID)
		if err == nil && !ok {
			n, err = s.Store.CountScores(ctx, tenant, b.ID)
		}
		if err != nil {
			return fmt.Errorf("leaderboards: rebuild %s: count: %w", b.ID, err)
		}
		f.total += n
	}
	return nil
}

// swap replaces a board period with the folded entries and restores its
// expiry, which Replace drops.
func (s *Service) swap(ctx context.Context, tp trackedPeriod, key string, m map[string]*acc) error {
	entries := make([]Entry, 0, len(m))
	for user, a := range m {
		entries = append(entries, Entry{Member: user, Score: a.score, At: a.at})
	}
	if err := s.Engine.Replace(ctx, key, entries); err != nil {
		return fmt.Errorf("leaderboards: rebuild %s: %w", key, err)
	}
	if exp := tp.board.expiresAt(tp.period); !exp.IsZero() && len(entries) > 0 {
		if err := s.Engine.Expire(ctx, key, exp.Sub(s.Now())); err != nil {
			return fmt.Errorf("leaderboards: rebuild %s: expire: %w", key, err)
		}
	}
	s.live.touch(tp.board)
	return nil
}

// drain re-derives the members written to a tracked period while the
// rebuild ran.
func (s *Service) drain(ctx context.Context, b Board, p Period, key string, excluded map[string]bool) error {
	users, err := s.Engine.Tracked(ctx, key)
	if err != nil {
		return fmt.Errorf("leaderboards: rebuild: journal of %s: %w", key, err)
	}
	for _, u := range users {
		if excluded[u] {
			err = s.Engine.Remove(ctx, key, u)
		} else {
			err = s.refresh(ctx, b, p, u)
		}
		if err != nil {
			return fmt.Errorf("leaderboards: rebuild: replay %s on %s: %w", u, key, err)
		}
	}
	return nil
}

// fold accumulates entries per board period during a rebuild.
type fold struct {
	now      time.Time
	excluded map[string]map[string]bool
	periods  map[string]map[string]*acc // key -> user -> entry
	meta     map[string]trackedPeriod   // key -> its board and period
	progress Progress
	done     int64
	total    int64
	last     time.Time
}

func newFold(now time.Time, excluded map[string]map[string]bool, progress Progress) *fold {
	return &fold{
		now: now, excluded: excluded, progress: progress,
		periods: map[string]map[string]*acc{}, meta: map[string]trackedPeriod{},
	}
}

// add folds one value of user at time at into its period of b.
func (f *fold) add(b Board, user string, v int64, at time.Time) {
	if f.excluded[b.ID][user] {
		return
	}
	if b.Source == FromEvents && (b.Aggregation == Sum && v < 0 || at.Before(b.CreatedAt)) {
		return
	}
	p, ok := b.periodAt(at)
	if !ok || b.expired(p, f.now) {
		return
	}
	key := engineKey(b.Tenant, b.ID, p.Name)
	m := f.periods[key]
	if m == nil {
		m = map[string]*acc{}
		f.periods[key], f.meta[key] = m, trackedPeriod{b, p}
	}
	if a := m[user]; a != nil {
		a.join(b.Aggregation, v, at)
	} else {
		m[user] = &acc{score: v, at: at}
	}
}

func (f *fold) step() {
	f.done++
	f.report(false)
}

func (f *fold) report(final bool) {
	if f.progress == nil {
		return
	}
	if final {
		f.progress(f.total, f.total)
	} else if time.Since(f.last) > 100*time.Millisecond {
		f.progress(f.done, f.total)
		f.last = time.Now()
	}
}

// acc is one member's entry being folded, with the same semantics as the
// store's AggregateScores and the engines' joins.
type acc struct {
	score int64
	at    time.Time
}

func (a *acc) join(agg Aggregation, v int64, at time.Time) {
	switch agg {
	case Sum:
		a.score += v
		if at.After(a.at) {
			a.at = at
		}
	case Best:
		if v > a.score || v == a.score && at.Before(a.at) {
			a.score, a.at = v, at
		}
	case Latest:
		if at.After(a.at) || at.Equal(a.at) && v > a.score {
			a.score, a.at = v, at
		}
	}
}
