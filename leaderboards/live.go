package leaderboards

import (
	"context"
	"sync"
	"time"
)

// Live snapshots: a board's "leaderboard:{id}" channel gets its current
// top as a "leaderboard.top" frame at most once per snapshotEvery, however
// many writes arrive. Writes only mark the board dirty; one loop per node
// publishes dirty boards whose last snapshot is old enough. With several
// nodes each throttles its own writes, so a board gets at most a few
// snapshots per second in all.
const (
	snapshotEvery = 500 * time.Millisecond
	snapshotTop   = 10
	snapshotType  = "leaderboard.top"
)

// Channel is the realtime channel carrying a board's live snapshots.
func Channel(boardID string) string { return "leaderboard:" + boardID }

type live struct {
	s *Service

	mu    sync.Mutex
	dirty map[string]Board     // tenant|board -> board
	sent  map[string]time.Time // tenant|board -> last snapshot
}

func newLive(s *Service) *live {
	return &live{s: s, dirty: map[string]Board{}, sent: map[string]time.Time{}}
}

// touch marks b changed; cheap enough for every write.
func (l *live) touch(b Board) {
	if l.s.Publisher == nil {
		return
	}
	l.mu.Lock()
	l.dirty[b.Tenant+"|"+b.ID] = b
	l.mu.Unlock()
}

// RunLive publishes live snapshots until ctx ends.
func (s *Service) RunLive(ctx context.Context) {
	if s.Publisher == nil {
		return
	}
	t := time.NewTicker(snapshotEvery / 5)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.live.flush(ctx)
		}
	}
}

// flush publishes every dirty board whose last snapshot is at least
// snapshotEvery old; the others stay dirty for a later tick.
func (l *live) flush(ctx context.Context) {
	now := time.Now()
	var due []Board
	l.mu.Lock()
	for k, b := range l.dirty {
		if now.Sub(l.sent[k]) >= snapshotEvery {
			due = append(due, b)
			l.sent[k] = now
			delete(l.dirty, k)
		}
	}
	for k, at := range l.sent { // forget quiet boards
		if now.Sub(at) > time.Minute {
			delete(l.sent, k)
		}
	}
	l.mu.Unlock()
	for _, b := range due {
		l.publish(ctx, b)
	}
}

func (l *live) publish(ctx context.Context, b Board) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	pg, err := l.s.Top(ctx, b.Tenant, b.ID, currentPeriod, 0, snapshotTop)
	if err == nil {
		err = l.s.Publisher.Publish(ctx, b.Tenant, Channel(b.ID), snapshotType, pg)
	}
	if err != nil {
		l.s.Logger.Warn("leaderboards: live snapshot", "tenant", b.Tenant, "board", b.ID, "err", err)
	}
}
