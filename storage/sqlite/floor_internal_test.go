package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/analytics"
	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/storage/internal/norm"
)

// floorEvent is one benchmark event, as the events service hands it to
// the store (norm.Event applied outside the writer, as InsertEvent does).
type floorEvent struct {
	ev    events.Event
	props []byte
}

func newFloorEvent(b *testing.B, typ, user string) floorEvent {
	now := time.Now()
	id := uuid.Must(uuid.NewV7()).String()
	ev, props, _, err := norm.Event(events.Event{ID: id, Tenant: "acme", User: user, Type: typ,
		Props: map[string]any{"channel": "instagram", "steps": 1234.0}, OccurredAt: now, ReceivedAt: now,
		IdempotencyKey: id, Source: "player", Fingerprint: id})
	if err != nil {
		b.Fatal(err)
	}
	return floorEvent{ev: ev, props: props}
}

// floorStep is one of an event's writes, made inside a writer op by the
// store's own code for it.
type floorStep func(s *Store, tx *wtx, e floorEvent) error

func floorInsertEvent(s *Store, tx *wtx, e floorEvent) error {
	_, _, err := s.insertEvent(tx, e.ev, e.props, nil)
	return err
}

// floorAnalytics is the analytics fold of one event past the user's first
// of the day (analytics.Service.fold: its marker, the event counter, the
// user's day row).
func floorAnalytics(s *Store, tx *wtx, e floorEvent) error {
	_, err := s.recordFact(tx, analytics.Fact{Tenant: "acme", Key: analytics.EventMarkPrefix + e.ev.IdempotencyKey, At: e.ev.OccurredAt,
		Counts: map[string]int64{analytics.MetricEvents: 1}, User: e.ev.User, Events: 1})
	return err
}

// floorContribution is AddContribution: the row and its two tallies.
func floorContribution(s *Store, tx *wtx, e floorEvent) error {
	_, err := s.addContribution(tx, floorContributionOf(e))
	return err
}

func floorContributionOf(e floorEvent) challenges.Contribution {
	return challenges.Contribution{Tenant: "acme", ChallengeID: "c1", User: e.ev.User, Period: "all", Goal: "g1",
		EventID: e.ev.ID, Amount: 1, At: e.ev.OccurredAt}
}

// floorScore is FoldScore on a best board's all-time period.
func floorScore(s *Store, tx *wtx, e floorEvent) error {
	sc, fold, err := s.prepareScore(leaderboards.Score{Tenant: "acme", Board: "b1", User: e.ev.User, EventID: e.ev.ID,
		Value: e.ev.OccurredAt.UnixNano() % 1_000_000, At: e.ev.OccurredAt, Period: "all", Aggregation: leaderboards.Best})
	if err == nil {
		_, err = s.foldIn(tx, sc, fold)
	}
	return err
}

func floorMark(s *Store, tx *wtx, e floorEvent) error {
	return s.markProcessed(tx, "acme", e.ev.ID, []byte(`{"event_id":"`+e.ev.ID+`","progress":[]}`), e.ev.OccurredAt)
}

// floorTallies is the least a counted share could write besides its event:
// the two tallies progress is read from, made idempotent by the event's
// own insert in the same op. (The "least" shape leaves its event
// unprocessed, so in the due index: a little more than that design would
// write.)
func floorTallies(s *Store, tx *wtx, e floorEvent) error {
	return s.addTallies(tx, floorContributionOf(e))
}

// BenchmarkEventWritesFloor measures the store alone doing an event's
// writes, with no HTTP, no reads and no rule evaluation, on both cores:
// the ceiling under intake on this machine. Shapes: a counted share
// (event, analytics fold, challenge contribution, processed mark), a
// checkin that moves a best board (event, analytics, board score and
// total, mark), and "least", the fewest writes any design could make for
// a counted share (the event, for durability and idempotency, and the two
// tallies progress is read from). "ops" makes each write its own writer
// op, as the events service does; "folded" makes the event's writes one
// op, the most a cross-domain unit of work could save. 64 writers and
// 10,000 users, as in cmd/loadgen's runs.
//
//	go test ./storage/sqlite -run '^$' -bench EventWritesFloor -benchtime 40000x -cpu 2
func BenchmarkEventWritesFloor(b *testing.B) {
	share := []floorStep{floorInsertEvent, floorAnalytics, floorContribution, floorMark}
	checkin := []floorStep{floorInsertEvent, floorAnalytics, floorScore, floorMark}
	least := []floorStep{floorInsertEvent, floorTallies}
	for _, c := range []struct {
		name, typ string
		steps     []floorStep
		folded    bool
	}{
		{"share/ops", "share", share, false},
		{"share/folded", "share", share, true},
		{"checkin/ops", "checkin", checkin, false},
		{"checkin/folded", "checkin", checkin, true},
		{"least/folded", "share", least, true},
	} {
		for _, sync := range []string{"FULL", "NORMAL"} {
			b.Run(c.name+"/sync="+sync, func(b *testing.B) { runFloor(b, c.typ, c.steps, c.folded, sync) })
		}
	}
}

func runFloor(b *testing.B, typ string, steps []floorStep, folded bool, sync string) {
	ctx := context.Background()
	s, err := OpenWith(ctx, filepath.Join(b.TempDir(), "q.db"), Options{Synchronous: sync})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var seq atomic.Int64
	b.SetParallelism(32) // × GOMAXPROCS 2: 64 in flight
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := newFloorEvent(b, typ, fmt.Sprint("u", seq.Add(1)*7919%10_000))
			var err error
			if folded {
				err = s.w.do(ctx, func(tx *wtx) error {
					for _, step := range steps {
						if err := step(s, tx, e); err != nil {
							return err
						}
					}
					return nil
				})
			} else {
				for _, step := range steps {
					if err = s.w.do(ctx, func(tx *wtx) error { return step(s, tx, e) }); err != nil {
						break
					}
				}
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	if batches, ops := s.WriterStats(); batches > 0 {
		b.ReportMetric(float64(ops)/float64(batches), "ops/commit")
	}
}
