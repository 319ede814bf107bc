package realtime

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errClosed is returned by a broker used after Close.
var errClosed = errors.New("realtime: broker closed")

// MemoryBroker is the one-node broker: channels live in this process.
type MemoryBroker struct {
	opts BrokerOptions

	mu         sync.Mutex
	channels   map[string]*memChannel
	subscribed map[string]bool
	closed     bool
	// out carries deliveries to Run in publish order: Publish enqueues
	// while holding mu, so the order of seqs is the order of delivery.
	out  chan Message
	done chan struct{}
}

type memChannel struct {
	seq     uint64
	hist    []Message // ring, oldest first
	touched time.Time
}

// NewMemoryBroker returns an in-process broker.
func NewMemoryBroker(opts BrokerOptions) *MemoryBroker {
	return &MemoryBroker{
		opts: opts.withDefaults(), channels: map[string]*memChannel{}, subscribed: map[string]bool{},
		out: make(chan Message, 4096), done: make(chan struct{}),
	}
}

// Publish implements Broker.
func (b *MemoryBroker) Publish(ctx context.Context, channel, typ string, data []byte) (Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return Message{}, errClosed
	}
	c := b.channel(channel)
	c.seq++
	m := Message{Channel: channel, Seq: c.seq, Type: typ, Data: append([]byte(nil), data...)}
	c.hist = append(c.hist, m)
	if len(c.hist) > b.opts.HistorySize {
		c.hist = c.hist[len(c.hist)-b.opts.HistorySize:]
	}
	if b.subscribed[channel] {
		select {
		case b.out <- m:
		case <-ctx.Done():
			return m, ctx.Err()
		}
	}
	return m, nil
}

// channel returns the channel's state, dropping a history idle past its TTL
// (the sequence number stays, so resumes across the gap are reported).
func (b *MemoryBroker) channel(name string) *memChannel {
	now := time.Now()
	c := b.channels[name]
	if c == nil {
		c = &memChannel{}
		b.channels[name] = c
	} else if now.Sub(c.touched) > b.opts.HistoryTTL {
		c.hist = nil
	}
	c.touched = now
	return c
}

// History implements Broker.
func (b *MemoryBroker) History(_ context.Context, channel string, since uint64) ([]Message, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.channels[channel]
	if c == nil {
		return nil, since == 0, nil
	}
	if time.Since(c.touched) > b.opts.HistoryTTL {
		c.hist = nil
	}
	msgs, complete := historyFrom(c.hist, since, c.seq)
	return append([]Message(nil), msgs...), complete, nil
}

// Subscribe implements Broker.
func (b *MemoryBroker) Subscribe(_ context.Context, channel string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subscribed[channel] = true
	return nil
}

// Unsubscribe implements Broker.
func (b *MemoryBroker) Unsubscribe(_ context.Context, channel string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subscribed, channel)
	return nil
}

// Run implements Broker.
func (b *MemoryBroker) Run(ctx context.Context, h func(Message)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.done:
			return nil
		case m := <-b.out:
			h(m)
		}
	}
}

// Ping implements Broker.
func (b *MemoryBroker) Ping(context.Context) error { return nil }

// Close implements Broker.
func (b *MemoryBroker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.done)
	}
	return nil
}
