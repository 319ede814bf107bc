package leaderboards

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Builds: a new points board is filled from the whole ledger in the
// background, not inside the request that creates it, which on a large
// tenant would outlast the request's timeout. The board's Build records
// the job in the store, so it survives the node: a lease names the node
// building it and lapses unless renewed, and every node looks for builds
// with a lapsed lease when it starts and every buildCheckEvery, so a build
// whose node crashed is taken over and started again (a rebuild is
// idempotent, and the swap makes a restart safe). The lease keeps two
// nodes from building one board at once.
const (
	buildLease      = 15 * time.Second
	buildHeartbeat  = time.Second // progress saved and lease renewed
	buildCheckEvery = 10 * time.Second
	buildRetry      = time.Minute // a failed build is tried again after
)

// errLeaseLost ends a build another node took over.
var errLeaseLost = errors.New("leaderboards: build: lease lost to another node")

// RunBuilds runs board builds until ctx ends: those this node's Create
// starts, and any left unfinished by a node that stopped.
func (s *Service) RunBuilds(ctx context.Context) {
	t := time.NewTicker(buildCheckEvery)
	defer t.Stop()
	s.resumeBuilds(ctx)
	for {
		select {
		case <-ctx.Done():
			s.builds.Wait()
			return
		case b := <-s.kick:
			s.startBuild(ctx, b)
		case <-t.C:
			s.resumeBuilds(ctx)
		}
	}
}

// resumeBuilds starts every unfinished build whose lease has lapsed.
func (s *Service) resumeBuilds(ctx context.Context) {
	tenants, err := s.Store.Tenants(ctx)
	if err != nil {
		s.Logger.Warn("leaderboards: look for unfinished builds", "err", err)
		return
	}
	now := s.Now()
	for _, t := range tenants {
		bs, err := s.List(ctx, t)
		if err != nil {
			s.Logger.Warn("leaderboards: look for unfinished builds", "tenant", t, "err", err)
			continue
		}
		for _, b := range bs {
			if b.Build != nil && b.Build.State != Ready && !now.Before(b.Build.LeaseUntil) {
				s.startBuild(ctx, b)
			}
		}
	}
}

// startBuild runs b's build in the background unless this node runs it
// already.
func (s *Service) startBuild(ctx context.Context, b Board) {
	key := b.Tenant + "|" + b.ID
	s.mu.Lock()
	busy := s.building[key]
	s.building[key] = true
	s.mu.Unlock()
	if busy {
		return
	}
	s.builds.Go(func() {
		defer func() {
			s.mu.Lock()
			delete(s.building, key)
			s.mu.Unlock()
		}()
		if err := s.build(ctx, b); err != nil && ctx.Err() == nil {
			s.Logger.Error("leaderboards: build", "tenant", b.Tenant, "board", b.ID, "err", err)
		}
	})
}

// build claims b's build and fills the board from its source, saving
// progress and renewing the lease as it goes.
func (s *Service) build(parent context.Context, b Board) error {
	ctx := parent
	now := s.Now()
	claimed, err := s.Store.ClaimBuild(ctx, b.Tenant, b.ID, s.node, now, now.Add(buildLease))
	if err != nil || !claimed {
		return err
	}
	start := time.Now()
	var done, total atomic.Int64
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		s.heartbeat(ctx, cancel, b, &done, &total)
	}()
	err = s.awaitBoardSeen(ctx, b)
	if err == nil {
		err = s.rebuildBoards(ctx, b.Tenant, []Board{b}, func(d, t int64) { done.Store(d); total.Store(t) })
	}
	cancel(nil)
	<-beat
	if cause := context.Cause(ctx); errors.Is(cause, errLeaseLost) {
		return cause
	}
	final := Build{State: Ready, Done: done.Load(), Total: total.Load()}
	if err != nil {
		if parent.Err() != nil {
			return nil // stopping: the lease lapses and a node resumes it
		}
		// The cause stays in the log: a build's state is public to
		// every player who reads the board.
		final = Build{State: Failed, Done: done.Load(), Total: total.Load(),
			Error: "filling the board from the ledger failed; it is tried again shortly", LeaseUntil: s.Now().Add(buildRetry)}
	}
	wctx := context.WithoutCancel(ctx)
	if _, serr := s.Store.SaveBuild(wctx, b.Tenant, b.ID, s.node, final); serr != nil {
		err = errors.Join(err, fmt.Errorf("leaderboards: build %s: save state: %w", b.ID, serr))
	}
	s.forget(wctx, b.Tenant)
	if err == nil {
		s.Logger.Info("leaderboards: board built", "tenant", b.Tenant, "board", b.ID, "entries", final.Total, "took_ms", time.Since(start).Milliseconds())
	}
	return err
}

// heartbeat saves the build's progress and renews its lease every
// buildHeartbeat until ctx ends; it cancels the build with errLeaseLost
// if another node has taken it over.
func (s *Service) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, b Board, done, total *atomic.Int64) {
	t := time.NewTicker(buildHeartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := Build{State: Building, Done: done.Load(), Total: total.Load(), Owner: s.node, LeaseUntil: s.Now().Add(buildLease)}
		held, err := s.Store.SaveBuild(ctx, b.Tenant, b.ID, s.node, st)
		if err == nil && !held {
			cancel(errLeaseLost)
			return
		}
		if err != nil && ctx.Err() == nil {
			s.Logger.Warn("leaderboards: build: save progress", "board", b.ID, "err", err)
		}
	}
}

// awaitBoardSeen waits, on a deployment of several nodes, until every node
// knows the new board b (its cached boards are at most boardCacheTTL old),
// so every credit from then on is folded into it live. A credit the fill's
// ledger scan misses was written after the scan started, by then, and so
// by a node that knew the board: none falls between the two.
func (s *Service) awaitBoardSeen(ctx context.Context, b Board) error {
	wait := b.CreatedAt.Add(boardCacheTTL).Sub(s.Now())
	if s.Bus == nil || wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
