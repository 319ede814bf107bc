package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/leaderboards"
)

// floorEvent is what one step of an event's writes needs to know.
type floorEvent struct {
	id, user string
	at       time.Time
}

// floorStep is one of an event's writes, as the store makes it inside a
// writer op, with the store's own statements.
type floorStep func(s *Store, tx *wtx, e floorEvent) error

func floorInsertEvent(typ string) floorStep {
	return func(s *Store, tx *wtx, e floorEvent) error {
		ms := e.at.UnixMilli()
		_, err := tx.exec(s.wq.insertEvent, "acme", e.id, e.id, e.user, typ, `{"channel":"instagram","steps":1234}`,
			ms, ms, "player", e.id, false, nil, nil, 0, 0, nil, "")
		return err
	}
}

// floorAnalytics is the analytics fold of one event: its marker, the
// tenant's hourly counter, the user's day row (RecordFact).
func floorAnalytics(s *Store, tx *wtx, e floorEvent) error {
	if _, err := markNew(tx, s.aq.mark, "acme", "ev:"+e.id); err != nil {
		return err
	}
	if _, err := tx.exec(s.aq.bump, "acme", "events", bucketOf(e.at), 1); err != nil {
		return err
	}
	_, err := tx.exec(s.aq.activity, "acme", e.at.UTC().Format(time.DateOnly), e.user, 1, 0)
	return err
}

// floorContribution is AddContribution: the row and its two tallies.
func floorContribution(s *Store, tx *wtx, e floorEvent) error {
	if _, err := tx.exec(s.wq.insertContribution, "acme", "c1", e.user, "all", "g1", e.id, 1, "", e.at.UnixMilli()); err != nil {
		return err
	}
	return floorTallies(s, tx, e)
}

// floorScore is FoldScore on a best board's all-time period.
func floorScore(s *Store, tx *wtx, e floorEvent) error {
	sc, fold, err := s.prepareScore(leaderboards.Score{Tenant: "acme", Board: "b1", User: e.user, EventID: e.id,
		Value: e.at.UnixNano() % 1_000_000, At: e.at, Period: "all", Aggregation: leaderboards.Best})
	if err == nil {
		_, err = s.foldIn(tx, sc, fold)
	}
	return err
}

func floorMark(s *Store, tx *wtx, e floorEvent) error {
	_, err := tx.exec(s.wq.markProcessed, e.at.UnixMilli(), `{"event_id":"`+e.id+`","progress":[]}`, "acme", e.id)
	return err
}

// floorTallies is the least a counted share could write besides its event:
// the two tallies progress is read from, made idempotent by the event's
// own insert in the same op. (The "least" shape leaves its event
// unprocessed, so in the due index: a little more than that design would
// write.)
func floorTallies(s *Store, tx *wtx, e floorEvent) error {
	if _, err := tx.exec(s.wq.addTally, "acme", "c1", e.user, "all", "g1", challenges.TallyBucket(e.at).UnixMilli(), 1); err != nil {
		return err
	}
	_, err := tx.exec(s.wq.addDayTally, "acme", "c1", e.user, "all", "g1", challenges.DayBucket(e.at).UnixMilli(), 1)
	return err
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
	share := []floorStep{floorInsertEvent("share"), floorAnalytics, floorContribution, floorMark}
	checkin := []floorStep{floorInsertEvent("checkin"), floorAnalytics, floorScore, floorMark}
	least := []floorStep{floorInsertEvent("share"), floorTallies}
	for _, c := range []struct {
		name   string
		steps  []floorStep
		folded bool
	}{
		{"share/ops", share, false},
		{"share/folded", share, true},
		{"checkin/ops", checkin, false},
		{"checkin/folded", checkin, true},
		{"least/folded", least, true},
	} {
		for _, sync := range []string{"FULL", "NORMAL"} {
			b.Run(c.name+"/sync="+sync, func(b *testing.B) { runFloor(b, c.steps, c.folded, sync) })
		}
	}
}

func runFloor(b *testing.B, steps []floorStep, folded bool, sync string) {
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
			n := seq.Add(1)
			e := floorEvent{id: uuid.Must(uuid.NewV7()).String(), user: fmt.Sprint("u", n*7919%10_000), at: time.Now()}
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
