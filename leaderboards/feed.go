package leaderboards

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/questline/questline/internal/errs"
)

// The board feed keeps the engine (Redis) off the critical path of intake.
// The durable record (a board score and the member's total it was folded
// into, for a ledger entry or an event) is written before any board is
// touched, and a refresh re-derives the entry from that total, so it can
// run late, twice or on any node; a points total lowered by a reversal
// meanwhile is settled (see settle). The request path
// still tries each refresh at once, for freshness; when the engine fails,
// it records the refresh as Pending in the store instead and answers. A
// feeder on every node claims pending refreshes under a lease, runs them
// once the engine answers, and drops them.
//
// Nothing is lost between the durable write and the pending record: the
// caller's event is marked processed only after both, so a crash in
// between leaves the event to the sweeper, which runs the refresh again.

// Pending is one board entry whose refresh the engine did not take.
// (Tenant, Board, Period, User) is its key: however many writes fall
// behind for one entry, one refresh catches them all up.
type Pending struct {
	Tenant, Board, Period, User string
	// At is a moment inside Period: what the refresh derives the period from.
	At time.Time
	// Since is when the entry first fell behind; a re-queue keeps it.
	Since time.Time
	// Token is new on every queueing, so finishing a refresh never drops a
	// newer write's pending record.
	Token string
}

// FeedStore keeps pending refreshes. It is part of Store.
type FeedStore interface {
	// QueueRefresh records p, or, if its key is pending already, replaces
	// its At and Token (keeping Since) and makes it claimable at once.
	QueueRefresh(ctx context.Context, p Pending) error
	// ClaimRefreshes leases up to limit pending refreshes of any tenant
	// whose lease has run out (the unclaimed first, then by Since) until
	// now+lease; two claims never hold the same refresh at once.
	ClaimRefreshes(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Pending, error)
	// FinishRefresh deletes p unless it was queued again (its Token changed).
	FinishRefresh(ctx context.Context, p Pending) error
	// RefreshBacklog counts pending refreshes and gives the oldest Since
	// (zero when there are none).
	RefreshBacklog(ctx context.Context) (n int64, oldest time.Time, err error)
}

// Feed settings.
const (
	// feedLease is how long a claimed refresh is a node's: then another
	// node (or the same one) may retry it.
	feedLease = 5 * time.Second
	// feedBatch is how many refreshes one claim takes.
	feedBatch = 200
	// engineBackoff is how long the request path skips the engine after it
	// failed, so an unreachable Redis costs intake one timeout, not one
	// per board per event.
	engineBackoff = 2 * time.Second
)

// feedState is a node's view of the feed, for metrics and the backoff.
type feedState struct {
	downUntil atomic.Int64 // Unix ns until which the request path skips the engine
	pending   atomic.Int64
	oldest    atomic.Int64 // Unix ns of the oldest pending refresh, 0 = none
	// warn spaces out the outage warnings: while the engine is down every
	// write fails, and one line per write would flood the logs.
	warn rate.Sometimes
}

// tryRefresh refreshes user's entry in period p of b, or, when the engine
// fails (or failed a moment ago), records the refresh as pending. It fails
// only when neither is possible, which leaves the caller's event to the
// sweeper.
func (s *Service) tryRefresh(ctx context.Context, b Board, p Period, user string, at time.Time, known *TotalRow) error {
	now := s.Now()
	if now.UnixNano() >= s.feed.downUntil.Load() {
		err := s.refreshWith(ctx, b, p, user, known)
		if err == nil {
			return nil
		}
		s.refreshFailed(now, err)
	}
	pend := Pending{Tenant: b.Tenant, Board: b.ID, Period: p.Name, User: user,
		At: at.UTC(), Since: now.UTC(), Token: newToken()}
	if err := s.Store.QueueRefresh(ctx, pend); err != nil {
		return fmt.Errorf("leaderboards: queue refresh of %s on %s: %w", user, b.ID, err)
	}
	s.feed.pending.Add(1) // an estimate until the feeder counts again
	s.feed.oldest.CompareAndSwap(0, now.UnixNano())
	return nil
}

// refreshFailed starts the request path's backoff when the engine is down
// and logs, at most every ten seconds, that boards are falling behind.
func (s *Service) refreshFailed(now time.Time, err error) {
	if errs.KindOf(err) == errs.Unavailable {
		s.feed.downUntil.Store(now.Add(engineBackoff).UnixNano())
	}
	s.feed.warn.Do(func() {
		s.Logger.Warn("leaderboards: board refresh failed; the feeder catches up", "err", err)
	})
}

// RunFeeder runs pending refreshes every interval until ctx ends.
func (s *Service) RunFeeder(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Feed(ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.refreshFailed(s.Now(), err)
			}
		}
	}
}

// Feed claims and runs pending refreshes until none are due or the engine
// fails, and updates the backlog figures. It returns how many it ran.
func (s *Service) Feed(ctx context.Context) (int, error) {
	done := 0
	defer s.countBacklog(ctx)
	for {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, full, err := s.feedBatch(cctx)
		cancel()
		done += n
		if err != nil || !full {
			return done, err
		}
	}
}

// feedBatch runs one claim's refreshes; full says the claim was full, so
// more may be due.
func (s *Service) feedBatch(ctx context.Context) (int, bool, error) {
	ps, err := s.Store.ClaimRefreshes(ctx, s.Now().UTC(), feedLease, feedBatch)
	if err != nil {
		return 0, false, fmt.Errorf("leaderboards: claim refreshes: %w", err)
	}
	for i, p := range ps {
		if err := s.feedOne(ctx, p); err != nil {
			// The rest keep their lease and come back when it runs out.
			return i, false, err
		}
		if err := s.Store.FinishRefresh(ctx, p); err != nil {
			return i, false, fmt.Errorf("leaderboards: finish refresh: %w", err)
		}
	}
	if len(ps) > 0 {
		s.feed.downUntil.Store(0) // the engine answers again
	}
	return len(ps), len(ps) == feedBatch, nil
}

// feedOne runs one pending refresh; a board deleted, an exclusion or a
// period expired since make it moot.
func (s *Service) feedOne(ctx context.Context, p Pending) error {
	tb, err := s.boards(ctx, p.Tenant)
	if err != nil {
		return err
	}
	for _, b := range tb.boards {
		if b.ID != p.Board {
			continue
		}
		if tb.excluded[b.ID][p.User] {
			return nil
		}
		return s.refreshAt(ctx, b, p.User, p.At)
	}
	return nil
}

// countBacklog reads the backlog figures the metrics report.
func (s *Service) countBacklog(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	n, oldest, err := s.Store.RefreshBacklog(ctx)
	if err != nil {
		s.Logger.Warn("leaderboards: count pending refreshes", "err", err)
		return
	}
	s.feed.pending.Store(n)
	if oldest.IsZero() {
		s.feed.oldest.Store(0)
	} else {
		s.feed.oldest.Store(oldest.UnixNano())
	}
}

// FeedBacklog reports how many board refreshes wait for the engine and how
// far behind the oldest is, as last counted by this node's feeder.
func (s *Service) FeedBacklog() (pending int64, lag time.Duration) {
	pending = s.feed.pending.Load()
	if o := s.feed.oldest.Load(); o != 0 {
		lag = max(0, s.Now().Sub(time.Unix(0, o)))
	}
	return pending, lag
}

func newToken() string { return rand.Text() }
