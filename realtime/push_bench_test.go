package realtime

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/questline/questline/internal/redistest"
)

// BenchmarkPersonalPushesAcrossNodes: 1,000 players on node B, personal
// pushes published on node A at 5,000/s through one Redis; it reports
// publish -> frame read p50/p99. This is the realtime path alone, without
// event intake (cmd/loadgen -scenario ws-push measures the whole way).
//
//	go test ./realtime -run '^$' -bench PersonalPushes -benchtime 15000x
func BenchmarkPersonalPushesAcrossNodes(b *testing.B) {
	opts, err := redis.ParseURL(redistest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	opts.PoolSize = 256 // as cmd/server sets it
	client := redis.NewClient(opts)
	defer client.Close()
	na := startNode(b, NewRedisBroker(client, BrokerOptions{}), HubOptions{})
	nb := startNode(b, NewRedisBroker(client, BrokerOptions{}), HubOptions{})
	const users, rate = 1000, 5000
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for i := range users {
		c, _, err := fws.DefaultDialer.Dial(nb.url+"?token="+url.QueryEscape(fmt.Sprintf("acme/u%d", i)), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		wg.Go(func() {
			for {
				var f struct {
					Type string
					Data struct{ At int64 }
				}
				if err := c.ReadJSON(&f); err != nil {
					return
				}
				if f.Type == "n" {
					d := time.Since(time.Unix(0, f.Data.At))
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			}
		})
	}
	b.ResetTimer()
	tick := time.NewTicker(time.Second / (rate / 50))
	for i := 0; i < b.N; {
		<-tick.C
		for j := 0; j < 50 && i < b.N; j, i = j+1, i+1 {
			go func(i int) {
				_ = na.hub.PublishUser(context.Background(), "acme", fmt.Sprintf("u%d", i%users), "n", map[string]int64{"at": time.Now().UnixNano()})
			}(i)
		}
	}
	tick.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(lat)
		mu.Unlock()
		if n >= b.N || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	if len(lat) == 0 {
		b.Fatal("no pushes arrived")
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(lat)), "received")
}
