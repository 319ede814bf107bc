package leaderboards

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/questline/questline/internal/redistest"
)

// lbTTL is the expiry the conformance suite waits out. Redis expires in
// whole milliseconds and actively only ten times a second, but a read of an
// expired key never returns it, so a few hundred milliseconds is plenty.
const lbTTL = 200 * time.Millisecond

func TestMemoryEngine(t *testing.T) {
	runEngineConformance(t, func(t *testing.T) Engine { return NewMemoryEngine() })
}

func TestRedisEngine(t *testing.T) {
	client := redistest.Client(t)
	runEngineConformance(t, func(t *testing.T) Engine {
		if err := client.FlushDB(context.Background()).Err(); err != nil {
			t.Fatalf("flush: %v", err)
		}
		return NewRedisEngine(client)
	})
}

// runEngineConformance is the one suite every Engine must pass. newEngine
// returns an engine with no boards; cases run one after another.
func runEngineConformance(t *testing.T, newEngine func(t *testing.T) Engine) {
	cases := []struct {
		name string
		run  func(t *testing.T, e Engine)
	}{
		{"EmptyBoard", confEmptyBoard},
		{"RaiseKeepsMax", confRaiseKeepsMax},
		{"RaiseConcurrent", confRaiseConcurrent},
		{"Incr", confIncr},
		{"TiesByMember", confTiesByMember},
		{"AroundEdges", confAroundEdges},
		{"Paging", confPaging},
		{"Remove", confRemove},
		{"Replace", confReplace},
		{"ReplaceLarge", confReplaceLarge},
		{"ReplaceAtomic", confReplaceAtomic},
		{"Expire", confExpire},
		{"KeysIndependent", confKeysIndependent},
		{"ScoreRange", confScoreRange},
		{"RandomAgainstModel", func(t *testing.T, e Engine) { confRandomAgainstModel(t, e, 60, 40, 3000) }},
		{"RandomLargeAgainstModel", func(t *testing.T, e Engine) { confRandomAgainstModel(t, e, 3000, 2000, 6000) }},
		{"Ping", func(t *testing.T, e Engine) { lbMust(t, e.Ping(lbCtx)) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newEngine(t)) })
	}
}

var lbCtx = context.Background()

const lbKey = "ql:lb:{acme:b1}:all"

func lbMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func lbRaise(t *testing.T, e Engine, k, m string, s int64) {
	t.Helper()
	lbMust(t, e.Raise(lbCtx, k, m, s))
}

func lbTop(t *testing.T, e Engine, k string, offset, limit int) []Entry {
	t.Helper()
	got, err := e.Top(lbCtx, k, offset, limit)
	lbMust(t, err)
	if got == nil {
		t.Fatalf("Top(%d, %d) = nil, want a non-nil slice", offset, limit)
	}
	return got
}

func lbAround(t *testing.T, e Engine, k, m string, n int) []Entry {
	t.Helper()
	got, err := e.Around(lbCtx, k, m, n)
	lbMust(t, err)
	if got == nil {
		t.Fatalf("Around(%q, %d) = nil, want a non-nil slice", m, n)
	}
	return got
}

func lbCount(t *testing.T, e Engine, k string) int64 {
	t.Helper()
	n, err := e.Count(lbCtx, k)
	lbMust(t, err)
	return n
}

func lbRank(t *testing.T, e Engine, k, m string) (Entry, bool) {
	t.Helper()
	en, ok, err := e.Rank(lbCtx, k, m)
	lbMust(t, err)
	return en, ok
}

func lbWantEntries(t *testing.T, what string, got, want []Entry) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func lbWantScore(t *testing.T, e Engine, k, m string, score int64) {
	t.Helper()
	en, ok := lbRank(t, e, k, m)
	if !ok || en.Score != score {
		t.Fatalf("Rank(%q) = %v, %v; want score %d", m, en, ok, score)
	}
}

// lbBoard fills k with members m00, m01, … scored n, n-1, …, 1, so member
// mXX has rank XX+1.
func lbBoard(t *testing.T, e Engine, k string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		lbRaise(t, e, k, fmt.Sprintf("m%02d", i), int64(n-i))
	}
}

func lbRanked(first, last, n int) []Entry {
	var out []Entry
	for i := first; i <= last; i++ {
		out = append(out, Entry{Member: fmt.Sprintf("m%02d", i), Score: int64(n - i), Rank: int64(i + 1)})
	}
	return out
}

func confEmptyBoard(t *testing.T, e Engine) {
	lbWantEntries(t, "Top", lbTop(t, e, lbKey, 0, 10), nil)
	lbWantEntries(t, "Around", lbAround(t, e, lbKey, "u1", 3), nil)
	if _, ok := lbRank(t, e, lbKey, "u1"); ok {
		t.Fatal("Rank on an empty board: ok")
	}
	if n := lbCount(t, e, lbKey); n != 0 {
		t.Fatalf("Count = %d", n)
	}
	lbMust(t, e.Remove(lbCtx, lbKey, "u1"))
	lbMust(t, e.Expire(lbCtx, lbKey, time.Minute))
	lbMust(t, e.Replace(lbCtx, lbKey, nil))
	if n := lbCount(t, e, lbKey); n != 0 {
		t.Fatalf("Count after no-op writes = %d", n)
	}
}

func confRaiseKeepsMax(t *testing.T, e Engine) {
	steps := []struct {
		score, want int64
	}{
		{10, 10}, {5, 10}, {10, 10}, {20, 20}, {19, 20}, {0, 20}, {-3, 20}, {21, 21},
	}
	for _, s := range steps {
		lbRaise(t, e, lbKey, "a", s.score)
		lbWantScore(t, e, lbKey, "a", s.want)
	}
	lbRaise(t, e, lbKey, "neg", -5) // a new member takes the offered score, even below 0
	lbWantScore(t, e, lbKey, "neg", -5)
	lbRaise(t, e, lbKey, "zero", 0)
	lbWantScore(t, e, lbKey, "zero", 0)
	if n := lbCount(t, e, lbKey); n != 3 {
		t.Fatalf("Count = %d, want 3", n)
	}
	lbWantEntries(t, "Top", lbTop(t, e, lbKey, 0, 10), []Entry{
		{"a", 21, 1}, {"zero", 0, 2}, {"neg", -5, 3},
	})
}

func confRaiseConcurrent(t *testing.T, e Engine) {
	const workers, per = 50, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for _, i := range r.Perm(per) {
				score := int64(i*workers + w) // every score offered once; max is per*workers-1
				if err := e.Raise(lbCtx, lbKey, "shared", score); err != nil {
					errs <- err
					return
				}
				if err := e.Raise(lbCtx, lbKey, fmt.Sprintf("own%02d", w), score); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	lbWantScore(t, e, lbKey, "shared", per*workers-1)
	for w := 0; w < workers; w++ {
		lbWantScore(t, e, lbKey, fmt.Sprintf("own%02d", w), int64((per-1)*workers+w))
	}
	if n := lbCount(t, e, lbKey); n != workers+1 {
		t.Fatalf("Count = %d, want %d", n, workers+1)
	}
}

func confIncr(t *testing.T, e Engine) {
	steps := []struct {
		member      string
		delta, want int64
	}{
		{"a", 5, 5}, {"a", -7, -2}, {"a", 0, -2}, {"b", 0, 0}, {"c", -4, -4}, {"a", 1000, 998},
	}
	for _, s := range steps {
		got, err := e.Incr(lbCtx, lbKey, s.member, s.delta)
		lbMust(t, err)
		if got != s.want {
			t.Fatalf("Incr(%q, %d) = %d, want %d", s.member, s.delta, got, s.want)
		}
		lbWantScore(t, e, lbKey, s.member, s.want)
	}
	lbWantEntries(t, "Top", lbTop(t, e, lbKey, 0, 10), []Entry{{"a", 998, 1}, {"b", 0, 2}, {"c", -4, 3}})
	// Raise and Incr act on the same score.
	lbRaise(t, e, lbKey, "b", 7)
	if got, err := e.Incr(lbCtx, lbKey, "b", 1); err != nil || got != 8 {
		t.Fatalf("Incr after Raise = %d, %v; want 8", got, err)
	}
}

func confTiesByMember(t *testing.T, e Engine) {
	// Bytewise: "B" < "a" < "aa" < "b" < "é" (0xC3…), whatever the insertion order.
	for _, m := range []string{"é", "b", "aa", "B", "a"} {
		lbRaise(t, e, lbKey, m, 10)
	}
	lbRaise(t, e, lbKey, "top", 20)
	lbRaise(t, e, lbKey, "low", 5)
	want := []Entry{
		{"top", 20, 1}, {"B", 10, 2}, {"a", 10, 3}, {"aa", 10, 4}, {"b", 10, 5}, {"é", 10, 6}, {"low", 5, 7},
	}
	for i := 0; i < 3; i++ { // the same order on every read
		lbWantEntries(t, "Top", lbTop(t, e, lbKey, 0, 100), want)
	}
	lbWantEntries(t, "Top page", lbTop(t, e, lbKey, 2, 3), want[2:5])
	for _, w := range want {
		got, ok := lbRank(t, e, lbKey, w.Member)
		if !ok || got != w {
			t.Fatalf("Rank(%q) = %v, %v; want %v", w.Member, got, ok, w)
		}
	}
	lbWantEntries(t, "Around aa", lbAround(t, e, lbKey, "aa", 1), want[2:5])
	lbWantEntries(t, "Around B", lbAround(t, e, lbKey, "B", 2), want[0:4])
	// Raising a tied member to a new tie moves it among its new peers.
	lbRaise(t, e, lbKey, "b", 20)
	lbWantEntries(t, "Top after raise", lbTop(t, e, lbKey, 0, 3), []Entry{{"b", 20, 1}, {"top", 20, 2}, {"B", 10, 3}})
}

func confAroundEdges(t *testing.T, e Engine) {
	const n = 10
	lbBoard(t, e, lbKey, n)
	cases := []struct {
		member string
		n      int
		want   []Entry
	}{
		{"m00", 2, lbRanked(0, 2, n)},   // rank 1: nothing above
		{"m01", 2, lbRanked(0, 3, n)},   // one above
		{"m09", 2, lbRanked(7, 9, n)},   // last rank: nothing below
		{"m05", 2, lbRanked(3, 7, n)},   // middle
		{"m05", 0, lbRanked(5, 5, n)},   // only the member
		{"m05", -3, lbRanked(5, 5, n)},  // negative n counts as 0
		{"m05", 100, lbRanked(0, 9, n)}, // n larger than the board
		{"m00", math.MaxInt, lbRanked(0, 9, n)},
		{"nobody", 3, nil},
	}
	for _, c := range cases {
		lbWantEntries(t, fmt.Sprintf("Around(%s, %d)", c.member, c.n), lbAround(t, e, lbKey, c.member, c.n), c.want)
	}
	// A board of one.
	lbRaise(t, e, "ql:lb:{acme:b1}:one", "solo", 1)
	lbWantEntries(t, "Around solo", lbAround(t, e, "ql:lb:{acme:b1}:one", "solo", 5), []Entry{{"solo", 1, 1}})
}

func confPaging(t *testing.T, e Engine) {
	const n = 25
	lbBoard(t, e, lbKey, n)
	cases := []struct {
		offset, limit int
		want          []Entry
	}{
		{0, 10, lbRanked(0, 9, n)},
		{10, 10, lbRanked(10, 19, n)},
		{20, 10, lbRanked(20, 24, n)},
		{24, 1, lbRanked(24, 24, n)},
		{25, 10, nil},
		{1000, 10, nil},
		{0, 0, nil},
		{0, -1, nil},
		{-5, 3, lbRanked(0, 2, n)},
		{0, math.MaxInt, lbRanked(0, 24, n)},
		{3, math.MaxInt, lbRanked(3, 24, n)},
		{math.MaxInt, math.MaxInt, nil},
	}
	for _, c := range cases {
		lbWantEntries(t, fmt.Sprintf("Top(%d, %d)", c.offset, c.limit), lbTop(t, e, lbKey, c.offset, c.limit), c.want)
	}
	// Pages walk the whole board exactly once.
	var all []Entry
	for off := 0; ; off += 7 {
		p := lbTop(t, e, lbKey, off, 7)
		if len(p) == 0 {
			break
		}
		all = append(all, p...)
	}
	lbWantEntries(t, "all pages", all, lbRanked(0, n-1, n))
}

func confRemove(t *testing.T, e Engine) {
	lbBoard(t, e, lbKey, 5)
	lbMust(t, e.Remove(lbCtx, lbKey, "m02"))
	lbMust(t, e.Remove(lbCtx, lbKey, "nobody"))
	if _, ok := lbRank(t, e, lbKey, "m02"); ok {
		t.Fatal("removed member still ranked")
	}
	lbWantEntries(t, "Top", lbTop(t, e, lbKey, 0, 10), []Entry{{"m00", 5, 1}, {"m01", 4, 2}, {"m03", 2, 3}, {"m04", 1, 4}})
	lbWantEntries(t, "Around", lbAround(t, e, lbKey, "m03", 1), []Entry{{"m01", 4, 2}, {"m03", 2, 3}, {"m04", 1, 4}})
	if n := lbCount(t, e, lbKey); n != 4 {
		t.Fatalf("Count = %d", n)
	}
	// Removing and raising again starts from the new score.
	lbMust(t, e.Remove(lbCtx, lbKey, "m00"))
	lbRaise(t, e, lbKey, "m00", 1)
	lbWantScore(t, e, lbKey, "m00", 1)
	for _, m := range []string{"m00", "m01", "m03", "m04"} {
		lbMust(t, e.Remove(lbCtx, lbKey, m))
	}
	if n := lbCount(t, e, lbKey); n != 0 {
		t.Fatalf("Count after removing all = %d", n)
	}
	// A board that lost every member lost its expiry with it.
	lbRaise(t, e, lbKey, "x", 1)
	lbMust(t, e.Expire(lbCtx, lbKey, lbTTL))
	lbMust(t, e.Remove(lbCtx, lbKey, "x"))
	lbRaise(t, e, lbKey, "y", 1)
	time.Sleep(lbTTL + 100*time.Millisecond)
	if n := lbCount(t, e, lbKey); n != 1 {
		t.Fatalf("Count = %d: expiry outlived the emptied board", n)
	}
}

func confReplace(t *testing.T, e Engine) {
	lbBoard(t, e, lbKey, 3)
	lbMust(t, e.Replace(lbCtx, lbKey, []Entry{
		{Member: "x", Score: 5, Rank: 99}, // Rank is ignored
		{Member: "y", Score: 7},
		{Member: "m00", Score: 1},
		{Member: "z", Score: 100},
		{Member: "z", Score: 6}, // listed twice: the last one wins
	}))
	lbWantEntries(t, "Top", lbTop(t, e, lbKey, 0, 10), []Entry{{"y", 7, 1}, {"z", 6, 2}, {"x", 5, 3}, {"m00", 1, 4}})
	if _, ok := lbRank(t, e, lbKey, "m01"); ok {
		t.Fatal("member of the old board survived Replace")
	}
	// Replace starts a board without expiry.
	lbMust(t, e.Expire(lbCtx, lbKey, lbTTL))
	lbMust(t, e.Replace(lbCtx, lbKey, []Entry{{Member: "w", Score: 1}}))
	time.Sleep(lbTTL + 100*time.Millisecond)
	lbWantEntries(t, "Top after ttl", lbTop(t, e, lbKey, 0, 10), []Entry{{"w", 1, 1}})
	// Replace with nothing empties the board.
	lbMust(t, e.Replace(lbCtx, lbKey, []Entry{}))
	if n := lbCount(t, e, lbKey); n != 0 {
		t.Fatalf("Count after empty Replace = %d", n)
	}
	// And Replace onto a missing board creates it.
	lbMust(t, e.Replace(lbCtx, lbKey, []Entry{{Member: "v", Score: 3}}))
	lbWantScore(t, e, lbKey, "v", 3)
}

// confReplaceLarge crosses the Redis engine's batch and pipeline sizes.
func confReplaceLarge(t *testing.T, e Engine) {
	const n = 25_001
	entries := make([]Entry, n)
	for i := range entries {
		entries[i] = Entry{Member: fmt.Sprintf("u%06d", i), Score: int64(i % 1000)}
	}
	lbRaise(t, e, lbKey, "old", 5000)
	lbMust(t, e.Replace(lbCtx, lbKey, entries))
	if c := lbCount(t, e, lbKey); c != n {
		t.Fatalf("Count = %d, want %d", c, n)
	}
	if _, ok := lbRank(t, e, lbKey, "old"); ok {
		t.Fatal("old member survived")
	}
	// Score 999 is held by u000999, u001999, …, u024999: 25 members.
	lbWantEntries(t, "Top", lbTop(t, e, lbKey, 24, 2), []Entry{{"u024999", 999, 25}, {"u000998", 998, 26}})
	en, ok := lbRank(t, e, lbKey, "u000000")
	if !ok || en.Rank != n-25 {
		t.Fatalf("Rank(u000000) = %v, %v; want rank %d", en, ok, n-25)
	}
}

// confReplaceAtomic runs readers against a board that is replaced again and
// again: every read must see one whole board, never a mix or a gap.
func confReplaceAtomic(t *testing.T, e Engine) {
	const size = 200
	gen := func(prefix string) []Entry {
		out := make([]Entry, size)
		for i := range out {
			out[i] = Entry{Member: fmt.Sprintf("%s%03d", prefix, i), Score: int64(i)}
		}
		return out
	}
	boards := [][]Entry{gen("a"), gen("b")}
	lbMust(t, e.Replace(lbCtx, lbKey, boards[0]))

	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				got, err := e.Top(lbCtx, lbKey, 0, size+10)
				if err != nil {
					errs <- err
					return
				}
				if len(got) != size {
					errs <- fmt.Errorf("read %d entries, want %d", len(got), size)
					return
				}
				for _, en := range got {
					if en.Member[0] != got[0].Member[0] {
						errs <- fmt.Errorf("mixed board: %q next to %q", got[0].Member, en.Member)
						return
					}
				}
			}
		}()
	}
	for i := 1; i <= 30; i++ {
		if err := e.Replace(lbCtx, lbKey, boards[i%2]); err != nil {
			errs <- err
			break
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func confExpire(t *testing.T, e Engine) {
	const (
		gone    = "ql:lb:{acme:b1}:gone"
		kept    = "ql:lb:{acme:b1}:kept"
		now     = "ql:lb:{acme:b1}:now"
		missing = "ql:lb:{acme:b1}:missing"
	)
	lbBoard(t, e, gone, 3)
	lbBoard(t, e, kept, 3)
	lbBoard(t, e, now, 3)
	lbMust(t, e.Expire(lbCtx, gone, lbTTL))
	lbMust(t, e.Expire(lbCtx, kept, lbTTL))
	lbMust(t, e.Expire(lbCtx, kept, 0)) // 0 keeps it forever
	lbMust(t, e.Expire(lbCtx, now, -time.Second))
	lbMust(t, e.Expire(lbCtx, missing, time.Millisecond)) // no board: nothing to expire
	if n := lbCount(t, e, gone); n != 3 {
		t.Fatalf("Count before ttl = %d", n)
	}
	if n := lbCount(t, e, now); n != 0 {
		t.Fatalf("Count after negative ttl = %d", n)
	}
	time.Sleep(lbTTL + 100*time.Millisecond)

	if n := lbCount(t, e, gone); n != 0 {
		t.Fatalf("Count after ttl = %d", n)
	}
	lbWantEntries(t, "Top after ttl", lbTop(t, e, gone, 0, 10), nil)
	lbWantEntries(t, "Around after ttl", lbAround(t, e, gone, "m01", 1), nil)
	if _, ok := lbRank(t, e, gone, "m01"); ok {
		t.Fatal("Rank after ttl: ok")
	}
	if n := lbCount(t, e, kept); n != 3 {
		t.Fatalf("Count of persisted board = %d", n)
	}
	// A write after expiry starts a new board, without expiry and without
	// the old members.
	lbRaise(t, e, gone, "new", 1)
	lbRaise(t, e, missing, "new", 1)
	time.Sleep(lbTTL + 100*time.Millisecond)
	lbWantEntries(t, "Top of the new board", lbTop(t, e, gone, 0, 10), []Entry{{"new", 1, 1}})
	lbWantEntries(t, "Top of the once missing board", lbTop(t, e, missing, 0, 10), []Entry{{"new", 1, 1}})
}

func confKeysIndependent(t *testing.T, e Engine) {
	const (
		k1 = "ql:lb:{acme:b1}:all"
		k2 = "ql:lb:{acme:b1}:2025-W01"
		k3 = "ql:lb:{other:b1}:all"
	)
	lbRaise(t, e, k1, "u", 10)
	lbRaise(t, e, k2, "u", 20)
	if got, _ := e.Incr(lbCtx, k3, "u", 30); got != 30 {
		t.Fatalf("Incr on k3 = %d", got)
	}
	lbWantScore(t, e, k1, "u", 10)
	lbWantScore(t, e, k2, "u", 20)
	lbWantScore(t, e, k3, "u", 30)
	lbMust(t, e.Replace(lbCtx, k1, []Entry{{Member: "v", Score: 1}}))
	lbMust(t, e.Remove(lbCtx, k2, "u"))
	lbMust(t, e.Expire(lbCtx, k3, -1))
	lbWantEntries(t, "k1", lbTop(t, e, k1, 0, 10), []Entry{{"v", 1, 1}})
	lbRaise(t, e, k2, "w", 2)
	lbWantEntries(t, "k2", lbTop(t, e, k2, 0, 10), []Entry{{"w", 2, 1}})
	lbWantEntries(t, "k3", lbTop(t, e, k3, 0, 10), nil)
}

func confScoreRange(t *testing.T, e Engine) {
	lbRaise(t, e, lbKey, "max", MaxScore)
	lbRaise(t, e, lbKey, "min", -MaxScore)
	lbRaise(t, e, lbKey, "odd", MaxScore-1) // exact at the edge of float64's integers
	lbWantEntries(t, "Top", lbTop(t, e, lbKey, 0, 10), []Entry{{"max", MaxScore, 1}, {"odd", MaxScore - 1, 2}, {"min", -MaxScore, 3}})
	for _, s := range []int64{MaxScore + 1, -MaxScore - 1, math.MaxInt64, math.MinInt64} {
		if err := e.Raise(lbCtx, lbKey, "bad", s); !errors.Is(err, ErrScoreRange) {
			t.Fatalf("Raise(%d) = %v, want ErrScoreRange", s, err)
		}
		if _, err := e.Incr(lbCtx, lbKey, "bad", s); !errors.Is(err, ErrScoreRange) {
			t.Fatalf("Incr(%d) = %v, want ErrScoreRange", s, err)
		}
		if err := e.Replace(lbCtx, lbKey, []Entry{{Member: "ok", Score: 1}, {Member: "bad", Score: s}}); !errors.Is(err, ErrScoreRange) {
			t.Fatalf("Replace(%d) = %v, want ErrScoreRange", s, err)
		}
	}
	if n := lbCount(t, e, lbKey); n != 3 {
		t.Fatalf("Count after refused writes = %d, want 3", n)
	}
}

// lbModel is the obviously right board: a map, sorted on every read.
type lbModel map[string]int64

func (m lbModel) sorted() []Entry {
	out := make([]Entry, 0, len(m))
	for k, v := range m {
		out = append(out, Entry{Member: k, Score: v})
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Member, b.Member)
	})
	for i := range out {
		out[i].Rank = int64(i + 1)
	}
	return out
}

func lbWindow(all []Entry, from, to int) []Entry {
	from = max(from, 0)
	to = min(to, len(all))
	if from >= to {
		return nil
	}
	return all[from:to]
}

// confRandomAgainstModel drives the engine and the model with the same few
// thousand random operations over pool members and scores in a range of
// span, so ties, moves in both directions, removals and rebuilds are all
// frequent. A small pool keeps a board in one piece; a large one makes the
// memory engine's tree split and merge.
func confRandomAgainstModel(t *testing.T, e Engine, pool, span, ops int) {
	r := rand.New(rand.NewPCG(42, uint64(pool)))
	keys := []string{"ql:lb:{acme:r}:a", "ql:lb:{acme:r}:b"}
	models := []lbModel{{}, {}}
	member := func() string { return fmt.Sprintf("p%04d", r.IntN(pool)) }
	for i := 0; i < ops; i++ {
		ki := r.IntN(len(keys))
		k, m := keys[ki], models[ki]
		switch op := r.IntN(100); {
		case op < 40:
			mem, s := member(), int64(r.IntN(span)-span/8)
			lbRaise(t, e, k, mem, s)
			if cur, ok := m[mem]; !ok || cur < s {
				m[mem] = s
			}
		case op < 70:
			mem, d := member(), int64(r.IntN(span/2+1)-span/4)
			got, err := e.Incr(lbCtx, k, mem, d)
			lbMust(t, err)
			m[mem] += d
			if got != m[mem] {
				t.Fatalf("op %d: Incr = %d, model %d", i, got, m[mem])
			}
		case op < 85:
			mem := member()
			lbMust(t, e.Remove(lbCtx, k, mem))
			delete(m, mem)
		case op < 86:
			var entries []Entry
			clear(m)
			for j := r.IntN(pool / 2); j > 0; j-- {
				en := Entry{Member: member(), Score: int64(r.IntN(span))}
				entries = append(entries, en)
				m[en.Member] = en.Score
			}
			lbMust(t, e.Replace(lbCtx, k, entries))
		default:
			all := m.sorted()
			mem := member()
			want, ok := m[mem]
			got, gotOK := lbRank(t, e, k, mem)
			if gotOK != ok || (ok && (got.Score != want || got != all[got.Rank-1])) {
				t.Fatalf("op %d: Rank(%q) = %v, %v; model %v", i, mem, got, gotOK, all)
			}
			n := r.IntN(4)
			var wantAround []Entry
			if ok {
				wantAround = lbWindow(all, int(got.Rank)-1-n, int(got.Rank)+n)
			}
			lbWantEntries(t, fmt.Sprintf("op %d: Around(%q, %d)", i, mem, n), lbAround(t, e, k, mem, n), wantAround)
			off, lim := r.IntN(pool+10), r.IntN(15)
			lbWantEntries(t, fmt.Sprintf("op %d: Top(%d, %d)", i, off, lim), lbTop(t, e, k, off, lim), lbWindow(all, off, off+lim))
		}
		if i%(ops/30) == 0 || i == ops-1 {
			for j, k := range keys {
				all := models[j].sorted()
				lbWantEntries(t, fmt.Sprintf("op %d: whole board %s", i, k), lbTop(t, e, k, 0, pool+1), all)
				if n := lbCount(t, e, k); n != int64(len(all)) {
					t.Fatalf("op %d: Count = %d, model %d", i, n, len(all))
				}
			}
		}
	}
}

// Memory engine internals.

// checkTree verifies every invariant the tree's search and rank arithmetic
// rely on: key order, separator bounds, counts, fill, equal leaf depth, the
// leaf chain, and cleared spare slots.
func checkTree(t *testing.T, tr *btree) {
	t.Helper()
	if tr.root == nil {
		if tr.length != 0 {
			t.Fatalf("empty tree with length %d", tr.length)
		}
		return
	}
	type bound struct {
		ok     bool
		score  int64
		member string
	}
	var leaves []*btNode
	leafDepth := -1
	var walk func(n *btNode, depth int, lo, hi bound) int
	walk = func(n *btNode, depth int, lo, hi bound) int {
		if n != tr.root && n.n < btMin {
			t.Fatalf("depth %d: node with %d entries, min %d", depth, n.n, btMin)
		}
		for i := n.n; i < btMax; i++ {
			if n.members[i] != "" {
				t.Fatalf("depth %d: spare slot %d holds %q", depth, i, n.members[i])
			}
		}
		if n.inner == nil {
			if leafDepth == -1 {
				leafDepth = depth
			} else if depth != leafDepth {
				t.Fatalf("leaves at depths %d and %d", leafDepth, depth)
			}
			leaves = append(leaves, n)
			for i := 0; i < n.n; i++ {
				if i > 0 && !btAhead(n.scores[i-1], n.members[i-1], n.scores[i], n.members[i]) {
					t.Fatalf("leaf out of order at %d: %d/%q then %d/%q", i, n.scores[i-1], n.members[i-1], n.scores[i], n.members[i])
				}
				if lo.ok && btAhead(n.scores[i], n.members[i], lo.score, lo.member) {
					t.Fatalf("key %d/%q ranks ahead of its separator %d/%q", n.scores[i], n.members[i], lo.score, lo.member)
				}
				if hi.ok && !btAhead(n.scores[i], n.members[i], hi.score, hi.member) {
					t.Fatalf("key %d/%q does not rank ahead of the next separator %d/%q", n.scores[i], n.members[i], hi.score, hi.member)
				}
			}
			return n.n
		}
		if n.n < 2 {
			t.Fatalf("depth %d: inner node with %d children", depth, n.n)
		}
		for i := n.n; i < btMax; i++ {
			if n.inner.child[i] != nil {
				t.Fatalf("depth %d: spare child slot %d in use", depth, i)
			}
		}
		total := 0
		for i := 0; i < n.n; i++ {
			clo, chi := lo, hi
			if i > 0 {
				clo = bound{true, n.scores[i], n.members[i]}
			}
			if i < n.n-1 {
				chi = bound{true, n.scores[i+1], n.members[i+1]}
			}
			c := walk(n.inner.child[i], depth+1, clo, chi)
			if c != n.inner.count[i] {
				t.Fatalf("depth %d child %d: count %d, holds %d", depth, i, n.inner.count[i], c)
			}
			total += c
		}
		return total
	}
	if size := walk(tr.root, 0, bound{}, bound{}); size != tr.length {
		t.Fatalf("tree holds %d keys, length %d", size, tr.length)
	}
	x := leaves[0]
	for i, l := range leaves {
		if x != l {
			t.Fatalf("leaf chain breaks at leaf %d", i)
		}
		x = x.next
	}
	if x != nil {
		t.Fatal("leaf chain runs past the last leaf")
	}
}

// checkBoard checks a memory board's tree and that its map agrees with it.
func checkBoard(t *testing.T, b *memBoard) {
	t.Helper()
	b.mu.RLock()
	defer b.mu.RUnlock()
	checkTree(t, &b.tree)
	if len(b.scores) != b.tree.length {
		t.Fatalf("map holds %d members, tree %d", len(b.scores), b.tree.length)
	}
	for m, s := range b.scores {
		if b.tree.rank(s, m) == 0 {
			t.Fatalf("member %q with score %d not in the tree", m, s)
		}
	}
}

func TestMemoryTreeInvariants(t *testing.T) {
	e := NewMemoryEngine()
	r := rand.New(rand.NewPCG(1, 2))
	// Grow to a three-level tree, churn, then shrink to nothing, so splits,
	// in-place moves, borrows, merges and root collapses all happen.
	phases := []struct {
		ops, pool, raise, incr int // raise/incr/remove split of 100
	}{
		{60_000, 20_000, 70, 25},
		{30_000, 20_000, 40, 30},
		{60_000, 20_000, 5, 5},
	}
	for pi, ph := range phases {
		for i := 0; i < ph.ops; i++ {
			m := fmt.Sprintf("u%05d", r.IntN(ph.pool))
			switch op := r.IntN(100); {
			case op < ph.raise:
				lbMust(t, e.Raise(lbCtx, lbKey, m, int64(r.IntN(5000))))
			case op < ph.raise+ph.incr:
				_, err := e.Incr(lbCtx, lbKey, m, int64(r.IntN(41)-20))
				lbMust(t, err)
			default:
				lbMust(t, e.Remove(lbCtx, lbKey, m))
			}
			if i%10_000 == 0 {
				if b := e.lookup(lbKey); b != nil {
					checkBoard(t, b)
				}
			}
		}
		b := e.lookup(lbKey)
		checkBoard(t, b)
		t.Logf("phase %d: %d members", pi, b.tree.length)
	}
	// Remove everyone left.
	b := e.lookup(lbKey)
	b.mu.RLock()
	left := make([]string, 0, len(b.scores))
	for m := range b.scores {
		left = append(left, m)
	}
	b.mu.RUnlock()
	for i, m := range left {
		lbMust(t, e.Remove(lbCtx, lbKey, m))
		if i%500 == 0 {
			checkBoard(t, b)
		}
	}
	if n := lbCount(t, e, lbKey); n != 0 {
		t.Fatalf("Count = %d", n)
	}
}

func TestMemoryBuildTree(t *testing.T) {
	for _, n := range []int{0, 1, btMin - 1, btMin, btBuildFill, btBuildFill + 1, btMax, btMax + 1, 1000, 3 * btBuildFill * btBuildFill, 100_000} {
		scores := make(map[string]int64, n)
		for i := 0; i < n; i++ {
			scores[fmt.Sprintf("u%06d", i)] = int64(i % 97)
		}
		b := &memBoard{scores: scores, tree: buildTree(scores)}
		checkBoard(t, b)
		// The built tree takes further writes like a grown one.
		for i := 0; i < 300; i++ {
			m := fmt.Sprintf("u%06d", i*7%(n+1))
			if s, ok := b.scores[m]; ok && i%2 == 0 {
				b.tree.delete(s, m)
				delete(b.scores, m)
			} else if ok {
				b.tree.move(s, s+int64(i), m)
				b.scores[m] = s + int64(i)
			} else {
				b.tree.insert(int64(i), m)
				b.scores[m] = int64(i)
			}
		}
		checkBoard(t, b)
	}
}

func TestMemoryExpiredBoardsAreDropped(t *testing.T) {
	e := NewMemoryEngine()
	for i := 0; i < 10; i++ {
		lbRaise(t, e, fmt.Sprintf("k%d", i), "u", 1)
		lbMust(t, e.Expire(lbCtx, fmt.Sprintf("k%d", i), time.Millisecond))
	}
	time.Sleep(5 * time.Millisecond)
	// A read drops the board it finds expired.
	if n := lbCount(t, e, "k0"); n != 0 {
		t.Fatalf("Count = %d", n)
	}
	if e.lookup("k0") != nil {
		t.Fatal("expired board still held after a read")
	}
	// Creating boards sweeps the rest.
	for i := 0; i < 20; i++ {
		lbRaise(t, e, fmt.Sprintf("new%d", i), "u", 1)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	for k := range e.boards {
		if !strings.HasPrefix(k, "new") {
			t.Fatalf("expired board %q survived the sweep", k)
		}
	}
}

// TestMemoryConcurrentMixed hammers a few boards with every operation at
// once; run with -race it checks the locking, and afterwards the lists must
// still be sound.
func TestMemoryConcurrentMixed(t *testing.T) {
	e := NewMemoryEngine()
	keys := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; i < 2000; i++ {
				k, m := keys[r.IntN(len(keys))], fmt.Sprintf("u%02d", r.IntN(50))
				var err error
				switch r.IntN(9) {
				case 0:
					err = e.Raise(lbCtx, k, m, int64(r.IntN(100)))
				case 1:
					_, err = e.Incr(lbCtx, k, m, int64(r.IntN(11)-5))
				case 2:
					err = e.Remove(lbCtx, k, m)
				case 3:
					_, err = e.Top(lbCtx, k, r.IntN(10), 10)
				case 4:
					_, err = e.Around(lbCtx, k, m, 3)
				case 5:
					_, _, err = e.Rank(lbCtx, k, m)
				case 6:
					_, err = e.Count(lbCtx, k)
				case 7:
					if i%50 == 0 {
						err = e.Replace(lbCtx, k, []Entry{{Member: m, Score: 1}})
					}
				case 8:
					if i%50 == 0 {
						err = e.Expire(lbCtx, k, time.Duration(r.IntN(3))*time.Millisecond)
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, k := range keys {
		if b := e.lookup(k); b != nil {
			checkBoard(t, b)
		}
	}
}

func TestMemoryCanceledContext(t *testing.T) {
	e := NewMemoryEngine()
	c, cancel := context.WithCancel(lbCtx)
	cancel()
	if err := e.Raise(c, lbKey, "u", 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Raise = %v", err)
	}
	if _, err := e.Top(c, lbKey, 0, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("Top = %v", err)
	}
}

// Redis engine specifics.

func TestRedisTempKeySharesSlot(t *testing.T) {
	cases := []struct {
		in, prefix string
		sameSlot   bool
	}{
		{"ql:lb:{acme:b1}:all", "ql:lb:{acme:b1}:all:rebuild:", true},
		{"plain", "{plain}:rebuild:", true},
		// Braces without a valid tag: left alone, documented as unfit for Cluster.
		{"odd}{key", "odd}{key:rebuild:", false},
	}
	for _, c := range cases {
		got := tempKey(c.in)
		if !strings.HasPrefix(got, c.prefix) || len(got) <= len(c.prefix) {
			t.Errorf("tempKey(%q) = %q, want prefix %q and a suffix", c.in, got, c.prefix)
		}
		if c.sameSlot && clusterSlot(got) != clusterSlot(c.in) {
			t.Errorf("tempKey(%q) = %q hashes to slot %d, key to %d", c.in, got, clusterSlot(got), clusterSlot(c.in))
		}
	}
	if a, b := tempKey(lbKey), tempKey(lbKey); a == b {
		t.Error("tempKey is not random")
	}
}

// clusterSlot is Redis Cluster's key slot: CRC16/XMODEM of the hash tag, or of the
// whole key when it has none, modulo 16384.
func clusterSlot(lbKey string) uint16 {
	if i := strings.IndexByte(lbKey, '{'); i >= 0 {
		if j := strings.IndexByte(lbKey[i+1:], '}'); j > 0 {
			lbKey = lbKey[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(lbKey); k++ {
		crc ^= uint16(lbKey[k]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % 16384
}

func TestRedisSlotFunction(t *testing.T) {
	// Reference values from the Redis Cluster specification and CLUSTER KEYSLOT.
	for k, want := range map[string]uint16{"123456789": 0x31C3 % 16384, "foo": 12182, "{user1000}.following": 3443, "{user1000}.followers": 3443} {
		if got := clusterSlot(k); got != want {
			t.Errorf("slot(%q) = %d, want %d", k, got, want)
		}
	}
}

func TestRedisReplaceLeavesNoTempKeys(t *testing.T) {
	client := redistest.Client(t)
	e := NewRedisEngine(client)
	lbRaise(t, e, lbKey, "old", 1)
	lbMust(t, e.Expire(lbCtx, lbKey, time.Hour))
	entries := make([]Entry, 12_345)
	for i := range entries {
		entries[i] = Entry{Member: fmt.Sprintf("u%d", i), Score: int64(i)}
	}
	lbMust(t, e.Replace(lbCtx, lbKey, entries))
	keys, err := client.Keys(lbCtx, "*").Result()
	lbMust(t, err)
	if !slices.Equal(keys, []string{lbKey}) {
		t.Fatalf("keys after Replace = %v, want only %q", keys, lbKey)
	}
	if ttl := client.PTTL(lbCtx, lbKey).Val(); ttl != -1 {
		t.Fatalf("PTTL after Replace = %v, want none (-1)", ttl)
	}
	// Scores are stored negated, so plain ZRANGE is the board order.
	first, err := client.ZRangeWithScores(lbCtx, lbKey, 0, 0).Result()
	lbMust(t, err)
	if len(first) != 1 || first[0].Member != "u12344" || first[0].Score != -12344 {
		t.Fatalf("first stored element = %v", first)
	}

	// A canceled Replace cleans up its temporary key.
	c, cancel := context.WithCancel(lbCtx)
	cancel()
	if err := e.Replace(c, lbKey, entries); err == nil {
		t.Fatal("Replace with a canceled context succeeded")
	}
	keys, err = client.Keys(lbCtx, "*").Result()
	lbMust(t, err)
	if !slices.Equal(keys, []string{lbKey}) {
		t.Fatalf("keys after canceled Replace = %v", keys)
	}
}

func TestRedisErrorsNameOperationAndKey(t *testing.T) {
	// Nothing listens on port 1: every command fails fast.
	client := redis.NewClient(&redis.Options{
		Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond,
		DialerRetries: 1, DialerRetryTimeout: time.Millisecond,
	})
	t.Cleanup(func() { _ = client.Close() })
	e := NewRedisEngine(client)
	_, err := e.Top(lbCtx, lbKey, 0, 10)
	if err == nil || !strings.HasPrefix(err.Error(), "leaderboards: redis top "+lbKey+": ") {
		t.Fatalf("Top error = %v", err)
	}
	if err := e.Ping(lbCtx); err == nil || !strings.HasPrefix(err.Error(), "leaderboards: redis ping: ") {
		t.Fatalf("Ping error = %v", err)
	}
	if _, _, err := e.Rank(lbCtx, lbKey, "u"); err == nil {
		t.Fatal("Rank without a server succeeded")
	}
}
