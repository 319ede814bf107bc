// Package realtime pushes what happens to players' phones over WebSocket:
// a node-local Hub of connections, fed by a Broker that moves messages
// between nodes and keeps a short per-channel history so a reconnecting
// client can resume from its last sequence number without gaps.
//
// Like centrifugal/centrifuge, the Broker seam has two implementations side
// by side: memory (one node) and Redis pub/sub (many nodes), sharing one
// conformance suite (broker_test.go).
package realtime

import (
	"context"
	"encoding/json"
	"time"
)

// Message is one published frame on a tenant-scoped channel.
type Message struct {
	Channel string          `json:"channel"` // broker channel: tenant + "|" + client channel
	Seq     uint64          `json:"seq"`     // per channel, from 1, no gaps
	Type    string          `json:"type"`
	Data    json.RawMessage `json:"data"`
}

// Broker moves messages between nodes and keeps a short history per channel.
type Broker interface {
	// Publish assigns the channel's next seq, appends the message to the
	// channel's bounded history and delivers it to every node subscribed to
	// the channel, this one included.
	Publish(ctx context.Context, channel, typ string, data []byte) (Message, error)
	// History returns the messages with Seq > since, oldest first. complete
	// is false when the history no longer reaches back to since+1: the
	// client missed something and must refetch state.
	History(ctx context.Context, channel string, since uint64) (msgs []Message, complete bool, err error)
	// Subscribe and Unsubscribe this node to a channel; deliveries go to
	// the handler given to Run.
	Subscribe(ctx context.Context, channel string) error
	Unsubscribe(ctx context.Context, channel string) error
	// Run delivers messages of subscribed channels to h, in publish order
	// per channel, until ctx is done or the broker is closed.
	Run(ctx context.Context, h func(Message)) error
	// Ping checks the broker's backend.
	Ping(ctx context.Context) error
	// Close releases the broker.
	Close() error
}

// BrokerOptions bound a channel's history.
type BrokerOptions struct {
	HistorySize int           // messages kept per channel; default 100
	HistoryTTL  time.Duration // history of an idle channel is dropped after this; default 10m
}

func (o BrokerOptions) withDefaults() BrokerOptions {
	if o.HistorySize <= 0 {
		o.HistorySize = 100
	}
	if o.HistoryTTL <= 0 {
		o.HistoryTTL = 10 * time.Minute
	}
	return o
}

// historyFrom picks the messages after since from hist (oldest first) and
// says whether nothing between since and the newest seq is missing.
func historyFrom(hist []Message, since, last uint64) ([]Message, bool) {
	if since >= last {
		return nil, since == last
	}
	var out []Message
	for _, m := range hist {
		if m.Seq > since {
			out = append(out, m)
		}
	}
	complete := len(out) > 0 && out[0].Seq == since+1
	return out, complete
}
