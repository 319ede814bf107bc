package ratelimit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/questline/questline/internal/redistest"
)

// BenchmarkAllow compares the shared Redis limiter with Front over it, on
// a real redis-server, with parallel callers as a server has them:
// "within" keys stay under budget (every call must reach Redis either
// way), "over" is one key far over its budget (a flood), which Front
// denies locally. Run with
//
//	go test -run '^$' -bench BenchmarkAllow -benchtime 3s ./internal/ratelimit/
func BenchmarkAllow(b *testing.B) {
	limiters := []struct {
		name string
		new  func(b *testing.B) Limiter
	}{
		{"redis", func(b *testing.B) Limiter { return NewRedis(redistest.Client(b)) }},
		{"front+redis", func(b *testing.B) Limiter { return NewFront(NewRedis(redistest.Client(b))) }},
	}
	loads := []struct {
		name  string
		limit Limit
		key   func(i int64) string
	}{
		{"within", PerSecond(1_000_000, 1_000_000), func(i int64) string { return "u" + strconv.FormatInt(i%1000, 10) }},
		{"over", PerMinute(1, 1), func(int64) string { return "flood" }},
	}
	for _, lim := range limiters {
		for _, load := range loads {
			b.Run(lim.name+"/"+load.name, func(b *testing.B) {
				l := lim.new(b)
				var n atomic.Int64
				ctx := context.Background()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := l.Allow(ctx, load.key(n.Add(1)), load.limit); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
