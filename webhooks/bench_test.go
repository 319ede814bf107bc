package webhooks_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/webhooks"
)

// BenchmarkThroughput queues b.N deliveries (to 4 endpoints of one
// loopback receiver) and measures how fast one node's sender gets them
// all delivered and recorded, on the embedded SQLite store:
//
//	go test ./webhooks -run '^$' -bench Throughput -benchtime 20000x
func BenchmarkThroughput(b *testing.B) {
	e := newEnv(b)
	rc := newReceiver(b)
	var eps []webhooks.Endpoint
	for range 4 {
		eps = append(eps, e.endpoint("acme", rc.srv.URL, "share"))
	}
	perEndpoint := max(b.N/len(eps), 1)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < perEndpoint; i += 8 {
				e.event("acme", "alice", "share")
			}
		})
	}
	wg.Wait()
	want := perEndpoint * len(eps)
	b.ResetTimer()
	start := time.Now()
	e.run(webhooks.SenderConfig{})
	waitFor(b, "every delivery", func() bool { got, _ := rc.count(); return got == want })
	waitFor(b, "every outcome recorded", func() bool {
		for _, ep := range eps {
			ds, err := e.store.ListDeliveries(context.Background(), "acme", ep.ID, "", 1)
			if err != nil || len(ds) == 0 || ds[0].Status != webhooks.Delivered {
				return false
			}
		}
		return true
	})
	b.ReportMetric(float64(want)/time.Since(start).Seconds(), "deliveries/s")
}
