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

// A build folds the ledger in batches of fillBatch scores (one FoldScores:
// one SQLite transaction, one MongoDB bulk write each), fillWorkers of them
// in flight, so the scan of the ledger goes on while batches are written,
// MongoDB serves them in parallel and the SQLite writer commits them
// together.
const (
	fillBatch   = 500
	fillWorkers = 4
)

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
	work := make(chan []Score, fillWorkers)
	var wg sync.WaitGroup
	for range fillWorkers {
		wg.Go(func() {
			for batch := range work {
				if _, err := s.Store.FoldScores(ctx, batch); err != nil {
					cancel(fmt.Errorf("leaderboards: fill: fold %d scores, from %s on %s: %w", len(batch), batch[0].EventID, batch[0].Board, err))
				}
			}
		})
	}
	batch := make([]Score, 0, fillBatch)
	send := func() error {
		select {
		case work <- batch:
			batch = make([]Score, 0, fillBatch)
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	err := s.Ledger.ScanEarnings(ctx, tenant, func(e points.Entry) error {
		for _, b := range bs {
			if p, ok := b.periodAt(e.CreatedAt); b.paidBy(e) && ok && !b.expired(p, f.now) {
				batch = append(batch, b.ledgerScore(p, e))
			}
		}
		f.step()
		if len(batch) >= fillBatch {
			return send()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = send()
	}
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
