package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// checkpointer copies committed WAL frames back into the database file on
// its own connection. SQLite's automatic checkpoint would run inside the
// writer's COMMIT, stalling every caller of that batch (it was ~15% of the
// writer's time under load); a PASSIVE checkpoint on another connection
// runs beside the writer instead, never blocking it or any reader.
type checkpointer struct {
	db       *sql.DB
	interval time.Duration
	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

func newCheckpointer(db *sql.DB, interval time.Duration) *checkpointer {
	c := &checkpointer{
		db:       db,
		interval: interval,
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go c.run()
	return c
}

// notify tells the checkpointer that a commit added frames; it never
// blocks the writer.
func (c *checkpointer) notify() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		// A failed checkpoint (e.g. busy) is retried after the next
		// commit; the writer's own auto-checkpoint is the safety net.
		c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		// At most one checkpoint per interval: each copies every page
		// changed since the last one once, however often it changed.
		select {
		case <-c.stop:
			return
		case <-time.After(c.interval):
		}
	}
}

func (c *checkpointer) close() {
	close(c.stop)
	<-c.done
	c.db.Close()
}
