package bus

import (
	"context"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisChannel is the one pub/sub channel of every invalidation: they are
// rare (a manager's edit), so one channel and one connection per node do.
const redisChannel = "ql:bus"

// Redis spreads invalidations over Redis pub/sub. Pub/sub keeps nothing:
// a node whose connection dropped may have missed messages, so when
// go-redis has resubscribed it, every handler drops everything.
type Redis struct {
	client redis.UniversalClient
	logger *slog.Logger
	h      handlers
}

// NewRedis returns a bus on client; the client stays the caller's. Run
// delivers the messages.
func NewRedis(client redis.UniversalClient, logger *slog.Logger) *Redis {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Redis{client: client, logger: logger}
}

// Publish implements Bus.
func (r *Redis) Publish(ctx context.Context, topic, key string) {
	if err := r.client.Publish(ctx, redisChannel, topic+"\n"+key).Err(); err != nil {
		r.logger.Warn("bus: publish failed; other nodes see the change when their cache expires",
			"topic", topic, "key", key, "err", err)
	}
}

// Subscribe implements Bus.
func (r *Redis) Subscribe(topic string, fn func(string)) { r.h.add(topic, fn) }

// Run delivers invalidations to the handlers until ctx ends.
func (r *Redis) Run(ctx context.Context) error {
	ps := r.client.Subscribe(ctx, redisChannel)
	defer ps.Close()
	feed := ps.ChannelWithSubscriptions()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case v, ok := <-feed:
			if !ok {
				return nil
			}
			switch v := v.(type) {
			case *redis.Subscription:
				if v.Kind == "subscribe" {
					// First time, or after a reconnect: anything may
					// have been missed meanwhile.
					r.h.call("", "")
				}
			case *redis.Message:
				topic, key, ok := strings.Cut(v.Payload, "\n")
				if ok {
					r.h.call(topic, key)
				}
			}
		}
	}
}
