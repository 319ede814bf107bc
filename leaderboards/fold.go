package leaderboards

import (
	"context"
	"fmt"
	"sync"

	"github.com/questline/questline/points"
)

// Points boards fold the ledger as event boards fold events: each ledger
// credit counted on a board period is a Score of the board keyed by the
// credit's ledger key, and the reversal of a credit a Score keyed by
// points.ReversalKey of it, worth the credit negated. The store folds a
// score into its member's total only when the score is new, so the live
// path, a board's build, the feeder and every replay of them (a retried
// credit, the sweeper after a crash, a build started again on another
// node) count each ledger entry once, and a write reads one total, not the
// member's history.
//
// A reversal scores at its credit's time, so it lands in the credit's
// period and leaves the total's At (which ties are broken by) where the
// ledger has it: a reversed credit still counts for that time.

// fillWorkers is how many folds a build keeps in flight: the SQLite writer
// commits concurrent folds as one group, and MongoDB serves them in
// parallel, so a build folds the ledger many times faster than one by one.
const fillWorkers = 16

// ledgerScore is ledger entry e's score on period p of points board b, e
// as ScanEarnings gives it: a credit, or a reversal as its credit with the
// amount negated.
func (b Board) ledgerScore(p Period, e points.Entry) Score {
	key := e.Key
	if e.Amount < 0 {
		key = points.ReversalKey(e.Key)
	}
	return Score{Tenant: e.Tenant, Board: b.ID, User: e.User, EventID: key, Value: e.Amount, At: e.CreatedAt,
		Period: p.Name, Aggregation: Sum}
}

// Earned folds the ledger credit e into every points board period it
// counts in and moves the user there to the folded total. A board the
// engine cannot take now is left to the feeder (see feed.go).
func (s *Service) Earned(ctx context.Context, e points.Entry) error {
	return s.foldEntry(ctx, e)
}

// Reversed folds the reversal of credit e (its amount negated, under its
// reversal's key) into every points board period the credit counted in,
// and lowers the user there to the folded total.
func (s *Service) Reversed(ctx context.Context, e points.Entry) error {
	e.Amount = -e.Amount
	return s.foldEntry(ctx, e)
}

// foldEntry folds e (a credit, or a reversal as ScanEarnings gives it)
// into the boards it counts on. An excluded user's entries are folded but
// not ranked, so reinstating them ranks what the ledger paid. A credit's
// new total comes from the fold itself; a repeat, a store that cannot tell
// and a reversal (which lowers the entry, see settle) read it back.
func (s *Service) foldEntry(ctx context.Context, e points.Entry) error {
	return s.countedIn(ctx, e, func(b Board, p Period, excluded bool) error {
		f, err := s.Store.FoldScore(ctx, b.ledgerScore(p, e))
		if err != nil {
			return fmt.Errorf("leaderboards: fold %s on %s: %w", e.Key, b.ID, err)
		}
		if excluded {
			return nil
		}
		var known *TotalRow
		if f.Known && e.Amount > 0 {
			known = &f.Total
		}
		return s.tryRefresh(ctx, b, p, e.User, e.CreatedAt, known)
	})
}

// countedIn calls fn for every points board period, still kept, that the
// ledger entry e counts in, saying whether e's user is excluded from it.
func (s *Service) countedIn(ctx context.Context, e points.Entry, fn func(b Board, p Period, excluded bool) error) error {
	tb, err := s.boards(ctx, e.Tenant)
	if err != nil {
		return err
	}
	for _, b := range tb.boards {
		if !b.paidBy(e) {
			continue
		}
		p, ok := b.periodAt(e.CreatedAt)
		if !ok || b.expired(p, s.Now()) {
			continue
		}
		if err := fn(b, p, tb.excluded[b.ID][e.User]); err != nil {
			return err
		}
	}
	return nil
}

// fill folds every ledger entry of tenant that counts on one of the points
// boards bs into it, with the live path's keys, so a fill racing live
// credits, resumed after a crash or run twice counts each entry once. One
// scan of the ledger serves every board; f counts the entries read.
func (s *Service) fill(parent context.Context, tenant string, bs []Board, f *fold) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	work := make(chan Score, 4*fillWorkers)
	var wg sync.WaitGroup
	for range fillWorkers {
		wg.Go(func() {
			for sc := range work {
				if _, err := s.Store.FoldScore(ctx, sc); err != nil {
					cancel(fmt.Errorf("leaderboards: fill %s: fold %s: %w", sc.Board, sc.EventID, err))
				}
			}
		})
	}
	err := s.Ledger.ScanEarnings(ctx, tenant, func(e points.Entry) error {
		for _, b := range bs {
			p, ok := b.periodAt(e.CreatedAt)
			if !b.paidBy(e) || !ok || b.expired(p, f.now) {
				continue
			}
			select {
			case work <- b.ledgerScore(p, e):
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		f.step()
		return nil
	})
	close(work)
	wg.Wait()
	if err == nil {
		err = context.Cause(ctx) // a fold failed after the scan ended
	}
	if err != nil {
		return fmt.Errorf("leaderboards: fill %s: %w", tenant, err)
	}
	return nil
}
