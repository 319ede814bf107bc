package realtime

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// memoryQueue is how many deliveries wait for Run before Publish stops
// queueing them: Publish never blocks. What does not fit stays in the
// history, and Run reads it back from there once it has drained the queue.
const memoryQueue = 4096

// sweepEvery is how often Publish drops the state of idle channels.
const sweepEvery = time.Minute

// MemoryBroker is the one-node Broker: channels live in this process.
// Publish never blocks on delivery: messages of subscribed channels go to
// Run through a buffered queue.
type MemoryBroker struct {
	opts BrokerOptions
	tr   *tracker

	mu         sync.Mutex
	channels   map[string]*memChannel
	subscribed map[string]bool
	lagging    map[string]bool                     // subscribed channels whose deliveries did not fit in out
	presence   map[string]map[string]presenceEntry // channel -> node -> entry
	closed     bool
	lastSweep  time.Time

	// out carries deliveries to Run in publish order: Publish enqueues
	// while holding mu, so the order of seqs is the order of delivery.
	out  chan Message
	kick chan struct{} // a channel turned lagging
	done chan struct{}
}

type memChannel struct {
	epoch   string // created with the channel: a forgotten channel starts a new one
	seq     uint64
	hist    []Message // oldest first, at most HistorySize
	touched time.Time // last publish
}

// NewMemoryBroker returns an in-process broker.
func NewMemoryBroker(opts BrokerOptions) *MemoryBroker {
	return &MemoryBroker{
		opts: opts.withDefaults(), tr: newTracker(),
		channels: map[string]*memChannel{}, subscribed: map[string]bool{}, lagging: map[string]bool{},
		presence:  map[string]map[string]presenceEntry{},
		lastSweep: time.Now(),
		out:       make(chan Message, memoryQueue), kick: make(chan struct{}, 1), done: make(chan struct{}),
	}
}

// Publish implements Broker.
func (b *MemoryBroker) Publish(_ context.Context, channel, typ string, data []byte) (Message, error) {
	if err := checkPublish(channel, typ); err != nil {
		return Message{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return Message{}, fmt.Errorf("realtime: publish %s: %w", channel, ErrClosed)
	}
	now := time.Now()
	b.sweep(now)
	c := b.channels[channel]
	if c == nil {
		c = &memChannel{epoch: newEpoch()}
		b.channels[channel] = c
	} else if now.Sub(c.touched) > b.opts.HistoryTTL {
		c.hist = nil // idle too long: the history expired, the seq goes on
	}
	c.touched = now
	c.seq++
	m := Message{Channel: channel, Epoch: c.epoch, Seq: c.seq, Type: typ, Data: append([]byte(nil), data...)}
	c.hist = append(c.hist, m)
	if n := len(c.hist) - b.opts.HistorySize; n > 0 {
		// Copy rather than reslice, so the dropped messages can be freed.
		c.hist = append(make([]Message, 0, b.opts.HistorySize), c.hist[n:]...)
	}
	if b.subscribed[channel] {
		select {
		case b.out <- m:
		default: // Run is behind: it reads this one back from the history
			b.lagging[channel] = true
			select {
			case b.kick <- struct{}{}:
			default:
			}
		}
	}
	return m, nil
}

// sweep drops expired histories and forgets channels idle past seqTTL, so
// a long-running node does not keep every channel it ever saw.
func (b *MemoryBroker) sweep(now time.Time) {
	if now.Sub(b.lastSweep) < sweepEvery {
		return
	}
	b.lastSweep = now
	for name, c := range b.channels {
		idle := now.Sub(c.touched)
		switch {
		case idle > seqTTL && !b.subscribed[name]:
			delete(b.channels, name)
		case idle > b.opts.HistoryTTL:
			c.hist = nil
		}
	}
}

// History implements Broker.
func (b *MemoryBroker) History(_ context.Context, channel string, since Position) ([]Message, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, false, fmt.Errorf("realtime: history %s: %w", channel, ErrClosed)
	}
	var hist []Message
	if c := b.channels[channel]; c != nil && time.Since(c.touched) <= b.opts.HistoryTTL {
		hist = c.hist
	}
	msgs, complete := historyFrom(hist, since, b.head(channel))
	return append([]Message(nil), msgs...), complete, nil
}

// DropHistory implements Broker.
func (b *MemoryBroker) DropHistory(_ context.Context, channel string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("realtime: drop history %s: %w", channel, ErrClosed)
	}
	if c := b.channels[channel]; c != nil {
		c.hist = nil
	}
	return nil
}

// Head returns the channel's epoch and newest seq (the zero Position
// before its first message).
func (b *MemoryBroker) Head(_ context.Context, channel string) (Position, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return Position{}, fmt.Errorf("realtime: head %s: %w", channel, ErrClosed)
	}
	return b.head(channel), nil
}

// head is Head with b.mu held.
func (b *MemoryBroker) head(channel string) Position {
	if c := b.channels[channel]; c != nil {
		return Position{Epoch: c.epoch, Seq: c.seq}
	}
	return Position{}
}

// Subscribe implements Broker.
func (b *MemoryBroker) Subscribe(_ context.Context, channel string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("realtime: subscribe %s: %w", channel, ErrClosed)
	}
	if !b.subscribed[channel] {
		// Under mu, so no publish slips between the base and the flag.
		b.tr.start(channel, b.head(channel))
		b.subscribed[channel] = true
	}
	return nil
}

// Unsubscribe implements Broker.
func (b *MemoryBroker) Unsubscribe(_ context.Context, channel string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subscribed, channel)
	delete(b.lagging, channel)
	b.tr.stop(channel)
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
			b.tr.deliver(ctx, m, b.History, h)
		case <-b.kick:
			b.catchUp(ctx, h)
		}
	}
}

// catchUp delivers what did not fit in the queue: first everything queued,
// then, from the history, what lagging channels published after it.
func (b *MemoryBroker) catchUp(ctx context.Context, h func(Message)) {
	for drained := false; !drained; {
		select {
		case m := <-b.out:
			b.tr.deliver(ctx, m, b.History, h)
		default:
			drained = true
		}
	}
	b.mu.Lock()
	lagging := make([]string, 0, len(b.lagging))
	for ch := range b.lagging {
		lagging = append(lagging, ch)
	}
	clear(b.lagging)
	b.mu.Unlock()
	for _, ch := range lagging {
		b.tr.catchUp(ctx, ch, b.History, h)
	}
}

type presenceEntry struct {
	n       int
	expires time.Time
}

// SetPresence implements Broker.
func (b *MemoryBroker) SetPresence(_ context.Context, node string, counts map[string]int, ttl time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("realtime: set presence: %w", ErrClosed)
	}
	exp := time.Now().Add(ttl)
	for ch, n := range counts {
		nodes := b.presence[ch]
		if n <= 0 {
			delete(nodes, node)
			if len(nodes) == 0 {
				delete(b.presence, ch)
			}
			continue
		}
		if nodes == nil {
			nodes = map[string]presenceEntry{}
			b.presence[ch] = nodes
		}
		nodes[node] = presenceEntry{n: n, expires: exp}
	}
	return nil
}

// Presence implements Broker.
func (b *MemoryBroker) Presence(_ context.Context, channel string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, fmt.Errorf("realtime: presence %s: %w", channel, ErrClosed)
	}
	now, total := time.Now(), 0
	for node, e := range b.presence[channel] {
		if now.After(e.expires) {
			delete(b.presence[channel], node)
			continue
		}
		total += e.n
	}
	return total, nil
}

// Ping implements Broker.
func (b *MemoryBroker) Ping(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("realtime: ping: %w", ErrClosed)
	}
	return nil
}

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
