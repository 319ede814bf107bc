package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/sqlite"
	"github.com/questline/questline/storage/storagetest"
	"github.com/questline/questline/webhooks"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Store {
		s := open(t, filepath.Join(t.TempDir(), "q.db"))
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}

func TestOpenCreatesDirectoryAndIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "q.db")
	s := open(t, path)
	// A second store on the same file runs the schema again, concurrently
	// with the first being open.
	s2 := open(t, path)
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
	if _, _, err := s.InsertEvent(context.Background(), events.Event{Tenant: "a"}); err == nil {
		t.Fatal("write after Close succeeded")
	}
}

func TestOpenRejectsBadSynchronous(t *testing.T) {
	_, err := sqlite.OpenWith(context.Background(), filepath.Join(t.TempDir(), "q.db"), sqlite.Options{Synchronous: "SOMETIMES"})
	if err == nil {
		t.Fatal("bad synchronous accepted")
	}
}

func TestSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	s := open(t, path)
	e := events.Event{ID: uuid.Must(uuid.NewV7()).String(), Tenant: "acme", User: "u1", Type: "share",
		Props: map[string]any{"n": 1}, IdempotencyKey: "k", OccurredAt: time.Now(), ReceivedAt: time.Now()}
	first, _, err := s.InsertEvent(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkProcessed(ctx, "acme", e.ID, events.Result{EventID: e.ID}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.InsertEntry(ctx, points.Entry{Tenant: "acme", User: "u1", Amount: 7, Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	defer s.Close()
	got, inserted, err := s.InsertEvent(ctx, events.Event{Tenant: "acme", IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if inserted || got.ID != first.ID || !got.Processed || got.Result == nil || got.Props["n"] != float64(1) {
		t.Fatalf("after reopen: inserted=%v %+v", inserted, got)
	}
	tot, err := s.Totals(ctx, "acme", "u1")
	if err != nil {
		t.Fatal(err)
	}
	if tot.Balance != 7 {
		t.Fatalf("balance after reopen = %d, want 7", tot.Balance)
	}
}

// TestGroupCommitConcurrency hammers the writer from many goroutines with a
// mix of fresh inserts, duplicates and failing operations, and checks that
// every acknowledged write is there, nothing else is, and one op's failure
// never undoes its batch neighbours.
func TestGroupCommitConcurrency(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.OpenWith(ctx, filepath.Join(t.TempDir(), "q.db"), sqlite.Options{Synchronous: "NORMAL", MaxBatch: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const workers, per = 64, 50
	var (
		wg            sync.WaitGroup
		inserted, dup atomic.Int64
		failed        atomic.Int64
	)
	// One existing entry whose id every "clash" op reuses with a new key:
	// those ops fail with ErrDuplicate inside batches of good ops.
	clash, _, err := s.InsertEntry(ctx, points.Entry{Tenant: "t", User: "u", Amount: 1, Key: "clash"})
	if err != nil {
		t.Fatal(err)
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				key := fmt.Sprintf("k-%d-%d", w, i)
				if i%5 == 0 {
					key = fmt.Sprintf("shared-%d", i) // every worker races on these
				}
				_, ok, err := s.InsertEntry(ctx, points.Entry{Tenant: "t", User: fmt.Sprint("u", w%4), Amount: 1, Key: key})
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					inserted.Add(1)
				} else {
					dup.Add(1)
				}
				if i%10 == 3 {
					_, _, err := s.InsertEntry(ctx, points.Entry{ID: clash.ID, Tenant: "t", User: "u", Amount: 1, Key: key + "-clash"})
					if !errors.Is(err, errs.ErrDuplicate) {
						t.Errorf("clash: %v, want ErrDuplicate", err)
						return
					}
					failed.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	shared := int64(per / 5)
	wantInserted := int64(workers*per) - int64(workers)*shared + shared
	if inserted.Load() != wantInserted {
		t.Fatalf("inserted %d, want %d (dups %d)", inserted.Load(), wantInserted, dup.Load())
	}
	n, err := s.CountEntries(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if n != wantInserted+1 {
		t.Fatalf("stored %d entries, want %d", n, wantInserted+1)
	}
	if failed.Load() == 0 {
		t.Fatal("no failing ops were mixed in")
	}
}

// TestExpiredContext checks that a write with an expired context fails
// with the context's error and never reaches the writer.
func TestExpiredContext(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "q.db"))
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	_, _, err := s.InsertEntry(ctx, points.Entry{Tenant: "t", User: "u", Amount: 1, Key: "k"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}

// BenchmarkInsertEventParallel measures event intake throughput through the
// group-commit writer with synchronous=FULL: every op is durable when it
// returns. Run with e.g. -cpu 2 and a high -benchtime; ops/s is reported.
func BenchmarkInsertEventParallel(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			ctx := context.Background()
			s, err := sqlite.OpenWith(ctx, filepath.Join(b.TempDir(), "q.db"), sqlite.Options{Synchronous: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			props := map[string]any{"channel": "instagram", "post": "p-123", "amount": 42.5}
			// Many requests in flight per core, as behind an HTTP server.
			b.SetParallelism(64)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					now := time.Now()
					id := uuid.Must(uuid.NewV7()).String()
					_, _, err := s.InsertEvent(ctx, events.Event{
						ID: id, Tenant: "acme", User: "u1", Type: "share", Props: props,
						OccurredAt: now, ReceivedAt: now, IdempotencyKey: id, Source: "player", Fingerprint: id,
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
			if batches, ops := s.WriterStats(); batches > 0 {
				b.ReportMetric(float64(ops)/float64(batches), "ops/batch")
			}
		})
	}
}

// BenchmarkEventPathParallel runs the storage work of one typical event as
// the events service does it: insert the event, count it towards a
// challenge (a contribution, then a read of the period's contributions to
// fold progress), pay points, mark it processed. Four durable writes and
// one read per op; events/s is reported. Each user's periods hold ten
// contributions, as for a target of 10, so the read does not grow with
// b.N.
func BenchmarkEventPathParallel(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "q.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	props := map[string]any{"channel": "instagram", "post": "p-123"}
	var users atomic.Int64
	b.SetParallelism(64)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		user := fmt.Sprint("u", users.Add(1))
		for i := 0; pb.Next(); i++ {
			now := time.Now()
			period := fmt.Sprint(i / 10)
			id := uuid.Must(uuid.NewV7()).String()
			e, _, err := s.InsertEvent(ctx, events.Event{
				ID: id, Tenant: "acme", User: user, Type: "share", Props: props,
				OccurredAt: now, ReceivedAt: now, IdempotencyKey: id, Source: "player", Fingerprint: id,
			})
			if err == nil {
				_, err = s.AddContribution(ctx, challenges.Contribution{Tenant: "acme", ChallengeID: "c1", User: user,
					Period: period, Goal: "g1", EventID: id, Amount: 1, At: now})
			}
			if err == nil {
				_, err = s.Contributions(ctx, "acme", "c1", user, period)
			}
			if err == nil {
				_, _, err = s.InsertEntry(ctx, points.Entry{Tenant: "acme", User: user, Amount: 5, Key: "share:" + id, Reason: "share", EventID: id, CreatedAt: now})
			}
			if err == nil {
				err = s.MarkProcessed(ctx, "acme", e.ID, events.Result{EventID: e.ID}, now)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	if batches, ops := s.WriterStats(); batches > 0 {
		b.ReportMetric(float64(ops)/float64(batches), "ops/batch")
	}
}

// execAll runs statements on the file at path outside any Store, to set up
// or inspect a database by hand.
func execAll(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// queryInt runs a query returning one integer on the file at path.
func queryInt(t *testing.T, path, q string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestMigrateFromVersion1 opens a file as version 1 left it: boards had a
// metric column and no definition, the ledger index lacked entry_key.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	created := time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	execAll(t, path,
		`CREATE TABLE boards (
			tenant     TEXT NOT NULL,
			id         TEXT NOT NULL,
			name       TEXT NOT NULL,
			metric     TEXT NOT NULL,
			win        TEXT NOT NULL,
			created_at INTEGER NOT NULL,
			PRIMARY KEY (tenant, id)
		) WITHOUT ROWID`,
		`CREATE TABLE ledger (
			tenant     TEXT NOT NULL,
			id         TEXT NOT NULL,
			user_id    TEXT NOT NULL,
			amount     INTEGER NOT NULL,
			entry_key  TEXT NOT NULL,
			reason     TEXT NOT NULL,
			event_id   TEXT NOT NULL,
			created_at INTEGER NOT NULL,
			PRIMARY KEY (tenant, id)
		) WITHOUT ROWID`,
		`CREATE UNIQUE INDEX ledger_key ON ledger (tenant, entry_key)`,
		`CREATE INDEX ledger_user ON ledger (tenant, user_id, id)`,
		`CREATE INDEX ledger_user_time ON ledger (tenant, user_id, created_at, amount)`,
		fmt.Sprintf(`INSERT INTO boards VALUES ('acme', 'weekly', 'Top of the week', 'points', 'weekly', %d)`, created.UnixMilli()),
		fmt.Sprintf(`INSERT INTO ledger VALUES ('acme', 'l1', 'u1', 40, 'challenge:c1:u1', 'test', 'e1', %d)`, created.UnixMilli()),
		`PRAGMA user_version = 1`,
	)
	old := leaderboards.Board{
		ID: "weekly", Tenant: "acme", Name: "Top of the week", Source: leaderboards.FromPoints,
		Aggregation: leaderboards.Sum, Window: leaderboards.Weekly, TimeZone: "UTC", CreatedAt: created,
	}
	fresh := leaderboards.Board{
		ID: "quiz", Tenant: "acme", Name: "Quiz", Source: leaderboards.FromEvents, EventType: "quiz_finished",
		Prop: "score", Aggregation: leaderboards.Best, Window: leaderboards.Daily, TimeZone: "Europe/Paris",
		Scope: &leaderboards.Scope{Type: "quiz", ID: "q1"}, RetentionDays: 7, CreatedAt: created,
	}

	// Opening twice: the second open must find nothing left to do.
	for i := range 2 {
		s := open(t, path)
		got, err := s.GetBoard(ctx, "acme", "weekly")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, old) {
			t.Fatalf("open %d: version 1 board reads as\n%#v, want\n%#v", i, got, old)
		}
		if i == 0 {
			if err := s.CreateBoard(ctx, fresh); err != nil {
				t.Fatalf("create a board after the upgrade: %v", err)
			}
		}
		got, err = s.GetBoard(ctx, "acme", "quiz")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, fresh) {
			t.Fatalf("open %d: new board reads as\n%#v, want\n%#v", i, got, fresh)
		}
		total, last, err := s.EarnedBetween(ctx, "acme", "u1", "challenge:c1:", created, created.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if total != 40 || !last.Equal(created) {
			t.Fatalf("open %d: earned %d, last %v; want 40 at %v", i, total, last, created)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}

	for _, c := range []struct {
		q    string
		want int
	}{
		{`PRAGMA user_version`, 5},
		{`SELECT count(*) FROM pragma_table_info('boards') WHERE name = 'metric'`, 0},
		{`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'ledger_user_time'`, 0},
		{`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'ledger_user_earned'`, 1},
	} {
		if got := queryInt(t, path, c.q); got != c.want {
			t.Errorf("%s = %d, want %d", c.q, got, c.want)
		}
	}
}

// v1Challenges is the DDL of version 1's challenge tables, from before
// rules (git show 6a41fc2:storage/sqlite/sqlite.go).
var v1Challenges = []string{
	`CREATE TABLE challenges (
		tenant        TEXT NOT NULL,
		id            TEXT NOT NULL,
		name          TEXT NOT NULL,
		description   TEXT NOT NULL,
		status        TEXT NOT NULL,
		event_type    TEXT NOT NULL,
		filter        TEXT,
		target        INTEGER NOT NULL,
		reward_points INTEGER NOT NULL,
		starts_at     INTEGER,
		ends_at       INTEGER,
		created_at    INTEGER NOT NULL,
		updated_at    INTEGER NOT NULL,
		version       INTEGER NOT NULL,
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,
	`CREATE INDEX challenges_status ON challenges (tenant, status, id)`,
	`CREATE TABLE contributions (
		tenant       TEXT NOT NULL,
		challenge_id TEXT NOT NULL,
		user_id      TEXT NOT NULL,
		period       TEXT NOT NULL,
		event_id     TEXT NOT NULL,
		value        INTEGER NOT NULL,
		at           INTEGER NOT NULL,
		PRIMARY KEY (tenant, user_id, challenge_id, period, event_id)
	) WITHOUT ROWID`,
	`CREATE TABLE completions (
		tenant       TEXT NOT NULL,
		id           TEXT NOT NULL,
		challenge_id TEXT NOT NULL,
		user_id      TEXT NOT NULL,
		period       TEXT NOT NULL,
		event_id     TEXT NOT NULL,
		completed_at INTEGER NOT NULL,
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX completions_once ON completions (tenant, challenge_id, user_id, period)`,
	`CREATE INDEX completions_user ON completions (tenant, user_id, completed_at)`,
}

// TestMigrateChallengesFromVersion1 opens a file with version 1's
// challenges, contributions and completions, and reads them back in the
// shape of rules, goals and claims.
func TestMigrateChallengesFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	at := time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	starts, ends := at.Add(-time.Hour), at.Add(7*24*time.Hour)
	ms := func(x time.Time) int64 { return x.UnixMilli() }
	execAll(t, path, append(v1Challenges,
		fmt.Sprintf(`INSERT INTO challenges VALUES ('acme', 'c1', 'Share 3 times', 'Tell your friends', 'published',
			'share', '{"kind":"photo","channel":"instagram"}', 3, 50, %d, %d, %d, %d, 2)`, ms(starts), ms(ends), ms(at), ms(at)),
		fmt.Sprintf(`INSERT INTO challenges VALUES ('acme', 'c2', 'Open the app', '', 'draft',
			'app_open', NULL, 1, 0, NULL, NULL, %d, %d, 1)`, ms(at), ms(at)),
		fmt.Sprintf(`INSERT INTO contributions VALUES ('acme', 'c1', 'u1', '', 'e2', 1, %d)`, ms(at.Add(time.Minute))),
		fmt.Sprintf(`INSERT INTO contributions VALUES ('acme', 'c1', 'u1', '', 'e1', 1, %d)`, ms(at)),
		fmt.Sprintf(`INSERT INTO contributions VALUES ('acme', 'c1', 'u2', '', 'e3', 1, %d)`, ms(at)),
		fmt.Sprintf(`INSERT INTO completions VALUES ('acme', 'done1', 'c1', 'u1', '', 'e2', %d)`, ms(at.Add(time.Minute))),
		`PRAGMA user_version = 1`,
	)...)

	c1 := challenges.Challenge{
		ID: "c1", Tenant: "acme", Name: "Share 3 times", Description: "Tell your friends", Status: challenges.Published,
		Rule: rule.Rule{
			Goals: []rule.Goal{{ID: "g1", Kind: rule.Count, EventType: "share", Target: "3", Filters: []rule.Filter{
				{Prop: "channel", Op: rule.Eq, Value: "instagram"},
				{Prop: "kind", Op: rule.Eq, Value: "photo"},
			}}},
			Window: rule.Window{StartsAt: &starts, EndsAt: &ends, TimeZone: "UTC"},
		},
		Enrolment: challenges.Auto, Reward: challenges.Reward{Points: 50}, Claim: challenges.AutoClaim,
		MaxCompletions: 1, CreatedAt: at, UpdatedAt: at, Version: 2,
	}
	c2 := challenges.Challenge{
		ID: "c2", Tenant: "acme", Name: "Open the app", Status: challenges.Draft,
		Rule: rule.Rule{
			Goals:  []rule.Goal{{ID: "g1", Kind: rule.Count, EventType: "app_open", Target: "1"}},
			Window: rule.Window{TimeZone: "UTC"},
		},
		Enrolment: challenges.Auto, Claim: challenges.AutoClaim, MaxCompletions: 1,
		CreatedAt: at, UpdatedAt: at, Version: 1,
	}
	contrib := func(user, ev string, at time.Time) challenges.Contribution {
		return challenges.Contribution{Tenant: "acme", ChallengeID: "c1", User: user, Goal: "g1", EventID: ev, Amount: 1, At: at}
	}
	// Opening twice: the second open must find nothing left to do.
	for i := range 2 {
		s := open(t, path)
		list, err := s.ListChallenges(ctx, "acme", "", "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(list, []challenges.Challenge{c1, c2}) {
			t.Fatalf("open %d: version 1 challenges read as\n%#v, want\n%#v", i, list, []challenges.Challenge{c1, c2})
		}
		published, err := s.ListChallenges(ctx, "acme", challenges.Published, "", 10)
		if err != nil || len(published) != 1 || published[0].ID != "c1" {
			t.Fatalf("open %d: published challenges %v, %v; want c1", i, published, err)
		}
		got, err := s.Contributions(ctx, "acme", "c1", "u1", "")
		if err != nil {
			t.Fatal(err)
		}
		want := []challenges.Contribution{contrib("u1", "e1", at), contrib("u1", "e2", at.Add(time.Minute))}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("open %d: version 1 contributions read as\n%#v, want\n%#v", i, got, want)
		}
		done, err := s.ChallengeCompletions(ctx, "acme", "c1", "u1")
		if err != nil {
			t.Fatal(err)
		}
		wantDone := []challenges.Completion{{ID: "done1", Tenant: "acme", ChallengeID: "c1", User: "u1", EventID: "e2", CompletedAt: at.Add(time.Minute)}}
		if !reflect.DeepEqual(done, wantDone) {
			t.Fatalf("open %d: version 1 completion reads as\n%#v, want\n%#v", i, done, wantDone)
		}
		stats, err := s.ChallengeStats(ctx, "acme", "c1")
		if err != nil {
			t.Fatal(err)
		}
		if want := (challenges.Stats{Participants: 2, Completions: 1, Completers: 1}); stats != want {
			t.Fatalf("open %d: stats %+v, want %+v", i, stats, want)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// The old key had no goal: the same event may now count towards
	// another goal, but not twice towards g1. The completion, unclaimed,
	// can be claimed.
	s := open(t, path)
	defer s.Close()
	for _, c := range []struct {
		goal string
		want bool
	}{{"g1", false}, {"g2", true}} {
		x := contrib("u1", "e1", at)
		x.Goal = c.goal
		if ok, err := s.AddContribution(ctx, x); err != nil || ok != c.want {
			t.Fatalf("contribution of e1 to %s after the upgrade: inserted=%v, %v; want %v", c.goal, ok, err, c.want)
		}
	}
	if claimed, err := s.ClaimCompletion(ctx, "acme", "done1", at); err != nil || !claimed {
		t.Fatalf("claim of a version 1 completion: %v, %v", claimed, err)
	}
	for _, c := range []struct {
		q    string
		want int
	}{
		{`PRAGMA user_version`, 5},
		{`SELECT count(*) FROM sqlite_master WHERE name IN ('challenges_v1', 'contributions_v1')`, 0},
		{`SELECT count(*) FROM pragma_table_info('challenges') WHERE name = 'event_type'`, 0},
		{`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'challenges' AND name = 'challenges_status'`, 1},
		{`SELECT count(*) FROM contributions`, 4},
	} {
		if got := queryInt(t, path, c.q); got != c.want {
			t.Errorf("%s = %d, want %d", c.q, got, c.want)
		}
	}
}

// TestTalliesFromContributions: a file whose contributions predate
// challenge_tallies gets them folded on open, once, and folding goes on
// from there.
func TestTalliesFromContributions(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	at := time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	contrib := func(user, ev string, amount int64, at time.Time) challenges.Contribution {
		return challenges.Contribution{Tenant: "acme", ChallengeID: "c1", User: user, Goal: "g1", EventID: ev, Amount: amount, At: at}
	}
	s := open(t, path)
	for _, x := range []challenges.Contribution{
		contrib("u1", "e1", 1, at), contrib("u1", "e2", 2, at.Add(time.Minute)),
		contrib("u1", "e3", 4, at.Add(2*time.Hour)), contrib("u2", "e4", 8, at),
	} {
		if _, err := s.AddContribution(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	execAll(t, path, `DROP TABLE challenge_tallies`, `DROP TABLE challenge_day_tallies`) // as a file from before tallies
	h := challenges.TallyBucket(at)
	for i := range 2 {
		s := open(t, path)
		if i == 1 {
			if _, err := s.AddContribution(ctx, contrib("u1", "e5", 16, at)); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			user     string
			from, to time.Time
			want     int64
		}{
			{"u1", h, h.Add(time.Hour), 3 + int64(i)*16},
			{"u1", h, h.Add(3 * time.Hour), 7 + int64(i)*16},
			{"u2", h, h.Add(3 * time.Hour), 8},
			{"u1", h.Add(-48 * time.Hour), h.Add(48 * time.Hour), 7 + int64(i)*16}, // through the day tallies
		} {
			got, err := s.Tally(ctx, "acme", "c1", c.user, "", "g1", c.from, c.to)
			if err != nil || got != c.want {
				t.Errorf("open %d: tally of %s in [%s, %s) = %d, %v; want %d", i, c.user, c.from, c.to, got, err, c.want)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStaleBoardTotals: boards whose scores predate board_totals read
// their scores, as before; boards created after fold.
func TestStaleBoardTotals(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	at := time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	score := func(board, ev string, v int64) leaderboards.Score {
		return leaderboards.Score{Tenant: "acme", Board: board, User: "u1", EventID: ev, Value: v, At: at,
			Period: "all", Aggregation: leaderboards.Sum}
	}
	s := open(t, path)
	if _, err := s.AddScore(ctx, score("old", "e1", 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// As a file from before totals: its scores were never folded.
	execAll(t, path, `DROP TABLE board_totals`, `DROP TABLE board_totals_stale`)
	for i := range 2 {
		s := open(t, path)
		if i == 0 {
			for _, sc := range []leaderboards.Score{score("old", "e2", 7), score("new", "e3", 11)} {
				if _, err := s.AddScore(ctx, sc); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, c := range []struct {
			board string
			want  int64
		}{{"old", 12}, {"new", 11}} {
			v, _, ok, err := s.Total(ctx, "acme", c.board, "all", "u1", leaderboards.Sum, at, at.Add(time.Hour))
			if err != nil || !ok || v != c.want {
				t.Errorf("open %d: total of %s = %d, %v, %v; want %d", i, c.board, v, ok, err, c.want)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := queryInt(t, path, `SELECT count(*) FROM board_totals_stale`); n != 1 {
		t.Errorf("stale boards = %d, want 1", n)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	execAll(t, path, `PRAGMA user_version = 99`)
	_, err := sqlite.Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open of a version 99 file: %v, want a newer-schema error", err)
	}
}

// TestUpgradeEventsForRetries: a file from before the sweeper's retries
// (no attempt or dead-letter columns, the old sweeper index) opens, keeps
// its unprocessed events due, and takes attempts; opening again changes
// nothing.
func TestUpgradeEventsForRetries(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	received := time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	execAll(t, path,
		`CREATE TABLE events (
			tenant TEXT NOT NULL, id TEXT NOT NULL, idem_key TEXT NOT NULL, user_id TEXT NOT NULL,
			type TEXT NOT NULL, props TEXT, occurred_at INTEGER NOT NULL, received_at INTEGER NOT NULL,
			source TEXT NOT NULL, fingerprint TEXT NOT NULL, processed INTEGER NOT NULL,
			processed_at INTEGER, result TEXT,
			PRIMARY KEY (tenant, id)
		) WITHOUT ROWID`,
		`CREATE UNIQUE INDEX events_idem ON events (tenant, idem_key)`,
		`CREATE INDEX events_unprocessed ON events (processed, received_at, tenant, id) WHERE processed = 0`,
		fmt.Sprintf(`INSERT INTO events VALUES ('acme', 'e1', 'k1', 'u1', 'share', NULL, %d, %d, 'player', 'fp', 0, NULL, NULL)`,
			received.UnixMilli(), received.UnixMilli()),
		`PRAGMA user_version = 2`,
	)
	for i := range 2 {
		s := open(t, path)
		evs, err := s.Unprocessed(ctx, received.Add(time.Hour), 10)
		if err != nil || len(evs) != 1 || evs[0].ID != "e1" || evs[0].Attempts != i || evs[0].DeadAt != nil {
			t.Fatalf("open %d: unprocessed %+v, %v", i, evs, err)
		}
		if err := s.RecordAttempt(ctx, "acme", "e1", events.Attempt{Attempts: 1, NextAt: received}); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'events_unprocessed'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("old sweeper index left: %d, %v", n, err)
	}
}

func TestWebhooksConformance(t *testing.T) {
	storagetest.RunWebhooks(t, func(t *testing.T) webhooks.Store {
		s := open(t, filepath.Join(t.TempDir(), "q.db"))
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestUGCConformance(t *testing.T) {
	storagetest.RunUGC(t, func(t *testing.T) storagetest.UGCStore {
		s := open(t, filepath.Join(t.TempDir(), "q.db"))
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}

func TestWallets(t *testing.T) {
	storagetest.RunWallets(t, func(t *testing.T) storagetest.WalletStore {
		s := open(t, filepath.Join(t.TempDir(), "q.db"))
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}

func TestLoyaltyConformance(t *testing.T) {
	storagetest.RunLoyalty(t, func(t *testing.T) storagetest.LoyaltyStore {
		s := open(t, filepath.Join(t.TempDir(), "q.db"))
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}

func TestContestConformance(t *testing.T) {
	storagetest.RunContests(t, func(t *testing.T) storagetest.ContestStore {
		s := open(t, filepath.Join(t.TempDir(), "q.db"))
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestRewards(t *testing.T) {
	storagetest.RunRewards(t, func(t *testing.T) storagetest.WalletStore {
		s := open(t, filepath.Join(t.TempDir(), "q.db"))
		t.Cleanup(func() { s.Close() })
		return s
	})
}
