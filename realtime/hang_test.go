package realtime

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/questline/questline/internal/breaker"
	"github.com/questline/questline/internal/redistest"
)

// TestPublishWhileRedisHangs: a push to a Redis that stopped answering
// costs the request that caused it at most publishTimeout, and the pushes
// after it nothing, until a probe finds Redis answering again.
func TestPublishWhileRedisHangs(t *testing.T) {
	srv := redistest.StartOutage(t)
	// As cmd/server configures it: deadlines honoured, default timeouts
	// (5 s, longer than publishTimeout).
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	b := NewRedisBroker(client, BrokerOptions{})
	t.Cleanup(func() { _ = b.Close() })
	var logs bytes.Buffer // written by this goroutine's publishes only
	h := NewHub(b, HubOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	if err := h.PublishUser(ctx, "acme", "alice", "progress", 1); err != nil {
		t.Fatal(err)
	}

	srv.Pause()
	defer srv.Resume()
	start := time.Now()
	if err := h.PublishUser(ctx, "acme", "alice", "progress", 2); err == nil || time.Since(start) > publishTimeout+time.Second {
		t.Fatalf("first push to a hung Redis: %v after %v, want an error after about %v", err, time.Since(start), publishTimeout)
	}
	start = time.Now()
	if err := h.PublishUser(ctx, "acme", "alice", "progress", 3); !errors.Is(err, breaker.ErrOpen) || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("next push: %v after %v, want it skipped at once", err, time.Since(start))
	}

	if n := strings.Count(logs.String(), "pushes are skipped"); n != 1 {
		t.Fatalf("%d warnings that pushes are skipped, want 1:\n%s", n, logs.String())
	}

	srv.Resume()
	deadline := time.Now().Add(10 * time.Second)
	for h.PublishUser(ctx, "acme", "alice", "progress", 4) != nil {
		if time.Now().After(deadline) {
			t.Fatal("pushes did not resume once Redis answered")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
