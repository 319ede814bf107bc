package webhooks_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/questline/questline/events"
	"github.com/questline/questline/webhooks"
)

// failingStore fails the first InsertDelivery, as a process killed after
// the event was stored but before its delivery was would.
type failingStore struct {
	webhooks.Store
	failed atomic.Bool
}

func (f *failingStore) InsertDelivery(ctx context.Context, d webhooks.Delivery) (bool, error) {
	if f.failed.CompareAndSwap(false, true) {
		return false, errors.New("injected crash")
	}
	return f.Store.InsertDelivery(ctx, d)
}

// TestOutboxAfterCrash: an event whose delivery was not written stays
// unprocessed; the event service's sweeper runs the webhook handler
// again, and the delivery appears exactly once however often it runs.
func TestOutboxAfterCrash(t *testing.T) {
	e := newEnv(t)
	fs := &failingStore{Store: e.store}
	svc := webhooks.NewService(webhooks.Config{Store: fs, Logger: slog.New(slog.DiscardHandler),
		AllowPrivate: func(string) bool { return true }})
	ep, err := svc.Create(context.Background(), "acme", webhooks.Input{URL: "https://hooks.example.com/q", EventTypes: []string{"share"}})
	if err != nil {
		t.Fatal(err)
	}
	evs := events.NewService(e.store, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), svc)
	defer evs.Close()
	if _, err := evs.Ingest(context.Background(), events.Event{Tenant: "acme", User: "alice", Type: "share", IdempotencyKey: "k1"}); err == nil {
		t.Fatal("ingest succeeded through the injected crash")
	}
	if n := len(e.deliveries("acme", ep.ID)); n != 0 {
		t.Fatalf("%d deliveries before the sweep", n)
	}
	for range 2 {
		if _, err := evs.Sweep(context.Background(), 0, 100); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := evs.Ingest(context.Background(), events.Event{Tenant: "acme", User: "alice", Type: "share", IdempotencyKey: "k1"}); err != nil {
		t.Fatal(err)
	}
	ds := e.deliveries("acme", ep.ID)
	if len(ds) != 1 || ds[0].User != "alice" {
		t.Fatalf("deliveries after the sweep: %+v", ds)
	}
}
