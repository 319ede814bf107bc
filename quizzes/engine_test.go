package quizzes

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/internal/redistest"
	"github.com/questline/questline/quizzes/scoring"
)

func TestMemoryEngine(t *testing.T) {
	runEngineTable(t, func(*testing.T) Engine { return NewMemoryEngine() })
}

func TestRedisEngine(t *testing.T) {
	client := redistest.Client(t)
	runEngineTable(t, func(t *testing.T) Engine {
		if err := client.FlushDB(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		return NewRedisEngine(client)
	})
}

// runEngineTable is the one test table both engines pass.
func runEngineTable(t *testing.T, open func(*testing.T) Engine) {
	cases := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, e Engine)
	}{
		{"session and code", engineSession},
		{"swap once per version", engineSwap},
		{"join keeps the first", engineJoin},
		{"answer once", engineAnswer},
		{"score once", engineScore},
		{"tenants apart", engineTenants},
		{"deadlines due", engineDue},
		{"player export and erasure", enginePlayerErasure},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c.fn(t, ctx, open(t))
		})
	}
}

func liveSession(tenant, id, code string) Session {
	return Session{ID: id, Tenant: tenant, QuizID: "q", Code: code, Host: "h", Questions: []string{"a", "b"},
		Phase: Lobby, Index: -1, CreatedAt: time.UnixMilli(1_700_000_000_000).UTC(), Version: 1}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func engineSession(t *testing.T, ctx context.Context, e Engine) {
	ok(t, e.CreateSession(ctx, liveSession("t1", "s1", "ABC123")))
	if err := e.CreateSession(ctx, liveSession("t1", "s2", "ABC123")); !errors.Is(err, errs.ErrDuplicate) {
		t.Fatalf("taken code: %v, want ErrDuplicate", err)
	}
	id, err := e.SessionByCode(ctx, "t1", "ABC123")
	ok(t, err)
	if id != "s1" {
		t.Fatalf("code names %s, want s1", id)
	}
	if _, err := e.SessionByCode(ctx, "t1", "NOPE00"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("unknown code: %v", err)
	}
	s, err := e.GetSession(ctx, "t1", "s1")
	ok(t, err)
	if s.Tenant != "t1" || s.Code != "ABC123" || s.Index != -1 || len(s.Questions) != 2 {
		t.Fatalf("session %+v", s)
	}
	if _, err := e.GetSession(ctx, "t1", "s9"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("missing session: %v", err)
	}
	if _, err := e.SwapSession(ctx, liveSession("t1", "s9", "X")); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("swap missing: %v", err)
	}
}

func engineSwap(t *testing.T, ctx context.Context, e Engine) {
	ok(t, e.CreateSession(ctx, liveSession("t1", "s1", "C1")))
	var wg sync.WaitGroup
	wins := make([]bool, 8)
	for i := range wins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := liveSession("t1", "s1", "C1")
			s.Version, s.Index, s.Phase = 2, i, Asking
			var err error
			wins[i], err = e.SwapSession(ctx, s)
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	winner := -1
	for i, w := range wins {
		if w {
			if winner >= 0 {
				t.Fatalf("two swaps to version 2 won: %v", wins)
			}
			winner = i
		}
	}
	s, err := e.GetSession(ctx, "t1", "s1")
	ok(t, err)
	if winner < 0 || s.Index != winner || s.Version != 2 || s.Phase != Asking {
		t.Fatalf("after the race %+v, winner %d", s, winner)
	}
}

func engineJoin(t *testing.T, ctx context.Context, e Engine) {
	ok(t, e.CreateSession(ctx, liveSession("t1", "s1", "C1")))
	at := time.UnixMilli(1_700_000_001_000).UTC()
	p, fresh, err := e.Join(ctx, "t1", "s1", "ann", at)
	ok(t, err)
	if !fresh || p.User != "ann" || p.Score != 0 {
		t.Fatalf("join %+v %v", p, fresh)
	}
	_, err = e.Score(ctx, "t1", "s1", 0, []Player{{User: "ann", Score: 900, Streak: 1, JoinedAt: at}})
	ok(t, err)
	p, fresh, err = e.Join(ctx, "t1", "s1", "ann", at.Add(time.Minute))
	ok(t, err)
	if fresh || p.Score != 900 || p.Streak != 1 || !p.JoinedAt.Equal(at) {
		t.Fatalf("rejoin %+v %v, want the score and streak kept", p, fresh)
	}
	if _, found, err := e.Player(ctx, "t1", "s1", "bob"); err != nil || found {
		t.Fatalf("bob never joined: %v %v", found, err)
	}
	if _, _, err := e.Join(ctx, "t1", "s9", "ann", at); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("join a missing session: %v", err)
	}
}

func engineAnswer(t *testing.T, ctx context.Context, e Engine) {
	ok(t, e.CreateSession(ctx, liveSession("t1", "s1", "C1")))
	const users = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for i := range users * 2 { // every user answers twice, concurrently
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := LiveAnswer{User: fmt.Sprint("u", i%users), Answer: scoring.Answer{Choices: []string{fmt.Sprint(i / users)}}, At: time.Now().UTC()}
			fresh, err := e.Answer(ctx, "t1", "s1", 0, a)
			if err != nil {
				t.Error(err)
			}
			if fresh {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	as, err := e.Answers(ctx, "t1", "s1", 0)
	ok(t, err)
	if accepted != users || len(as) != users {
		t.Fatalf("%d accepted, %d stored, want %d each", accepted, len(as), users)
	}
	for _, c := range []struct {
		q    int
		user string
		want bool
	}{{0, "u3", true}, {0, "nobody", false}, {1, "u3", false}} {
		if got, err := e.Answered(ctx, "t1", "s1", c.q, c.user); err != nil || got != c.want {
			t.Errorf("Answered(%d, %s) = %v %v, want %v", c.q, c.user, got, err, c.want)
		}
	}
	other, err := e.Answers(ctx, "t1", "s1", 1)
	ok(t, err)
	if len(other) != 0 {
		t.Fatalf("question 1 has %d answers", len(other))
	}
}

func engineScore(t *testing.T, ctx context.Context, e Engine) {
	ok(t, e.CreateSession(ctx, liveSession("t1", "s1", "C1")))
	for _, u := range []string{"a", "b"} {
		_, _, err := e.Join(ctx, "t1", "s1", u, time.Now())
		ok(t, err)
	}
	first, err := e.Score(ctx, "t1", "s1", 0, []Player{{User: "a", Score: 10}, {User: "b", Score: 5}})
	ok(t, err)
	again, err := e.Score(ctx, "t1", "s1", 0, []Player{{User: "a", Score: 99}})
	ok(t, err)
	if !first || again {
		t.Fatalf("score q0 twice: %v %v, want true then false", first, again)
	}
	ps, err := e.Players(ctx, "t1", "s1")
	ok(t, err)
	scores := map[string]int64{}
	for _, p := range ps {
		scores[p.User] = p.Score
	}
	if len(ps) != 2 || scores["a"] != 10 || scores["b"] != 5 {
		t.Fatalf("players %+v", ps)
	}
	if n, err := e.PlayerCount(ctx, "t1", "s1"); err != nil || n != 2 {
		t.Fatalf("player count %d %v, want 2", n, err)
	}
	next, err := e.Score(ctx, "t1", "s1", 1, []Player{{User: "a", Score: 20}})
	ok(t, err)
	if !next {
		t.Fatal("q1 not scored")
	}
}

func engineTenants(t *testing.T, ctx context.Context, e Engine) {
	ok(t, e.CreateSession(ctx, liveSession("t1", "s1", "SAME")))
	ok(t, e.CreateSession(ctx, liveSession("t2", "s1", "SAME")))
	_, _, err := e.Join(ctx, "t1", "s1", "ann", time.Now())
	ok(t, err)
	if _, found, err := e.Player(ctx, "t2", "s1", "ann"); err != nil || found {
		t.Fatalf("t2 sees t1's player: %v %v", found, err)
	}
	if _, err := e.SessionByCode(ctx, "t3", "SAME"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("t3 resolves another tenant's code: %v", err)
	}
}

// TestRedisClusterEngine runs the table on a three-node Cluster: a
// show's keys share one hash tag, so its scripts never go CROSSSLOT.
func TestRedisClusterEngine(t *testing.T) {
	client := redistest.Cluster(t)
	runEngineTable(t, func(t *testing.T) Engine {
		err := client.ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
			return c.FlushDB(ctx).Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		return NewRedisEngine(client)
	})
}

// engineDue: deadlines are due once passed, earliest first; a newer
// deadline replaces the older and survives the older's unschedule.
func engineDue(t *testing.T, ctx context.Context, e Engine) {
	base := time.UnixMilli(1_700_000_000_000).UTC()
	ok(t, e.Schedule(ctx, "t1", "s1", base.Add(2*time.Second)))
	ok(t, e.Schedule(ctx, "t2", "s1", base.Add(time.Second)))
	ok(t, e.Schedule(ctx, "t1", "s2", base.Add(time.Hour)))
	due, err := e.Due(ctx, base.Add(2*time.Second), 10)
	ok(t, err)
	if got := fmt.Sprint(due); got != fmt.Sprint([]Deadline{{"t2", "s1", base.Add(time.Second)}, {"t1", "s1", base.Add(2 * time.Second)}}) {
		t.Fatalf("due: %v", got)
	}
	if one, _ := e.Due(ctx, base.Add(2*time.Second), 1); len(one) != 1 || one[0].Tenant != "t2" {
		t.Fatalf("due, limit 1: %v", one)
	}
	ok(t, e.Schedule(ctx, "t1", "s1", base.Add(3*time.Hour))) // the next question opened meanwhile
	ok(t, e.Unschedule(ctx, due[1]))                          // the sweep of the old deadline
	ok(t, e.Unschedule(ctx, due[0]))
	if left, _ := e.Due(ctx, base.Add(4*time.Hour), 10); len(left) != 2 || !left[1].At.Equal(base.Add(3*time.Hour)) {
		t.Fatalf("after unscheduling: %v, want s2 and s1's newer deadline", left)
	}
}

// enginePlayerErasure: a user's shows, standing and answers are found
// for their export and gone after their erasure; others' stay.
func enginePlayerErasure(t *testing.T, ctx context.Context, e Engine) {
	at := time.UnixMilli(1_700_000_001_000).UTC()
	for _, id := range []string{"s1", "s2"} {
		ok(t, e.CreateSession(ctx, liveSession("t1", id, "C"+id)))
		for _, u := range []string{"ann", "bob"} {
			_, _, err := e.Join(ctx, "t1", id, u, at)
			ok(t, err)
			_, err = e.Answer(ctx, "t1", id, 1, LiveAnswer{User: u, Answer: scoring.Answer{Choices: []string{"x"}}, At: at})
			ok(t, err)
		}
	}
	ids, err := e.UserSessions(ctx, "t1", "ann")
	ok(t, err)
	if fmt.Sprint(ids) != "[s1 s2]" {
		t.Fatalf("ann's shows: %v", ids)
	}
	as, err := e.PlayerAnswers(ctx, "t1", "s1", "ann", 2)
	ok(t, err)
	if len(as) != 1 || as[1].User != "ann" {
		t.Fatalf("ann's answers: %v", as)
	}
	for range 2 { // a retried erasure is harmless
		for _, id := range ids {
			ok(t, e.ErasePlayer(ctx, "t1", id, "ann", 2))
		}
	}
	if ids, _ := e.UserSessions(ctx, "t1", "ann"); len(ids) != 0 {
		t.Fatalf("ann's shows after erasure: %v", ids)
	}
	for _, id := range []string{"s1", "s2"} {
		if _, found, _ := e.Player(ctx, "t1", id, "ann"); found {
			t.Fatalf("ann still plays %s", id)
		}
		if as, _ := e.PlayerAnswers(ctx, "t1", id, "ann", 2); len(as) != 0 {
			t.Fatalf("ann's answers in %s after erasure: %v", id, as)
		}
		if n, _ := e.PlayerCount(ctx, "t1", id); n != 1 {
			t.Fatalf("%s: %d players, want bob only", id, n)
		}
		if as, _ := e.Answers(ctx, "t1", id, 1); len(as) != 1 || as[0].User != "bob" {
			t.Fatalf("%s answers: %v, want bob's", id, as)
		}
	}
}
