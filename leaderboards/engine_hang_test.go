package leaderboards

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/internal/redistest"
)

// TestRedisEngineHang: through the server's autopipelined client, which
// does not abandon a queued command at its context's deadline, a Redis
// that stopped answering costs one call callTimeout and the calls after it
// nothing; each answers Unavailable (a 503 for readers, the feed for
// writers), and calls succeed again once Redis answers.
func TestRedisEngineHang(t *testing.T) {
	srv := redistest.StartOutage(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr}) // default 5 s timeouts and retries
	t.Cleanup(func() { _ = client.Close() })
	ap, err := client.AutoPipeline()
	lbMust(t, err)
	e := NewRedisEngine(ap)
	lbMust(t, e.Raise(lbCtx, lbKey, "alice", 10, time.UnixMilli(1000)))

	srv.Pause()
	defer srv.Resume()
	unavailable := func(what string, err error, within time.Duration, start time.Time) {
		t.Helper()
		if took := time.Since(start); errs.KindOf(err) != errs.Unavailable || took > within {
			t.Fatalf("%s with Redis hung: %v after %v, want Unavailable within %v", what, err, took, within)
		}
	}
	start := time.Now()
	_, err = e.Top(lbCtx, lbKey, 0, 10)
	unavailable("first read", err, callTimeout+time.Second, start)
	start = time.Now()
	err = e.Raise(lbCtx, lbKey, "bob", 5, time.UnixMilli(2000))
	unavailable("next write", err, 100*time.Millisecond, start)

	srv.Resume()
	deadline := time.Now().Add(10 * time.Second)
	for {
		top, err := e.Top(lbCtx, lbKey, 0, 10)
		if err == nil && len(top) == 1 && top[0].Member == "alice" {
			return
		}
		if err != nil && errs.KindOf(err) != errs.Unavailable || time.Now().After(deadline) {
			t.Fatalf("after Redis answered again: %+v, %v", top, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
