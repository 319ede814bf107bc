package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
)

// SenderConfig tunes a Sender; a zero field takes its default.
type SenderConfig struct {
	// Workers bounds the deliveries the node has claimed and not yet
	// finished (default 1024).
	Workers int
	// PerEndpoint bounds one endpoint's requests in flight (default 8),
	// and it may have claimed prefetch times as many: so a slow receiver
	// holds at most 64 of the node's claims and never delays the others
	// (unless 16 are slow at once).
	PerEndpoint int
	// Timeout bounds one attempt (default 10s); Lease is how long a
	// claimed delivery stays this node's (default 5m), well above the
	// worst wait for an endpoint's turn (prefetch timeouts) plus an
	// attempt.
	Timeout, Lease time.Duration
	// Poll is how often the store is asked for due deliveries when
	// nothing woke the sender (default 1s): retries, and deliveries
	// queued on other nodes.
	Poll time.Duration
	// An endpoint is disabled once its attempts have failed
	// DisableFailures times in a row (default 10) over at least
	// DisableAfter (default 24h).
	DisableFailures int
	DisableAfter    time.Duration
}

func (c SenderConfig) withDefaults() SenderConfig {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Workers, 1024)
	def(&c.PerEndpoint, 8)
	def(&c.DisableFailures, 10)
	defD(&c.Timeout, 10*time.Second)
	defD(&c.Lease, 5*time.Minute)
	defD(&c.Poll, time.Second)
	defD(&c.DisableAfter, 24*time.Hour)
	// Room for several endpoints' full claims, so a slow one never holds
	// the whole node.
	c.Workers = max(c.Workers, 4*prefetch*c.PerEndpoint)
	return c
}

// Sender sends due deliveries: every node runs one, and the store's lease
// makes sure only one of them sends each delivery.
type Sender struct {
	svc    *Service
	cfg    SenderConfig
	owner  string
	strict *http.Client // refuses non-public addresses at dial time
	loose  *http.Client // for tenants allowed private addresses

	mu    sync.Mutex
	held  map[string]int           // endpoint id -> deliveries claimed, not finished
	slots map[string]chan struct{} // endpoint id -> its in-flight tokens
	total int
	freed chan struct{}
}

// NewSender returns a sender of s's deliveries.
func (s *Service) NewSender(cfg SenderConfig) *Sender {
	cfg = cfg.withDefaults()
	return &Sender{svc: s, cfg: cfg, owner: uuid.Must(uuid.NewV7()).String(),
		strict: newClient(false, cfg.Timeout, idlePerHost), loose: newClient(true, cfg.Timeout, idlePerHost),
		held: map[string]int{}, slots: map[string]chan struct{}{}, freed: make(chan struct{}, 1)}
}

// idlePerHost is how many idle connections to one host are kept: several
// endpoints often share a host, and a pool smaller than their requests in
// flight would open a connection per request.
const idlePerHost = 64

// minGap is the least time between two claims, so a stream of wake-ups
// (every queued event, every finished attempt) batches into one claim.
const minGap = 5 * time.Millisecond

// Run sends deliveries until ctx ends, then waits for the attempts in
// flight (each aborted, its lease released).
func (x *Sender) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	poll := time.NewTicker(x.cfg.Poll)
	defer poll.Stop()
	for {
		if err := x.round(ctx, &wg); err != nil && ctx.Err() == nil {
			x.svc.logger.Error("webhooks: claim deliveries", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-x.svc.wake:
		case <-x.freed:
		case <-poll.C:
		}
		time.Sleep(minGap)
	}
}

// prefetch is how many times its in-flight share an endpoint may have
// claimed: the deliveries beyond the share wait for a slot, so the
// writes of claims and outcomes (a commit each, an fsync on SQLite)
// overlap with sending instead of coming between two requests.
const prefetch = 8

// round claims as many due deliveries as there are free workers, skipping
// endpoints that have claimed prefetch times their share, and starts
// them.
func (x *Sender) round(ctx context.Context, wg *sync.WaitGroup) error {
	x.mu.Lock()
	free := x.cfg.Workers - x.total
	var skip []string
	for id, n := range x.held {
		if n >= prefetch*x.cfg.PerEndpoint {
			skip = append(skip, id)
		}
	}
	x.mu.Unlock()
	if free <= 0 {
		return nil
	}
	now := x.svc.clock()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ds, err := x.svc.store.ClaimDeliveries(cctx, x.owner, now, now.Add(x.cfg.Lease), free, prefetch*x.cfg.PerEndpoint, skip)
	if err != nil {
		return err
	}
	for _, d := range ds {
		slot := x.take(d.EndpointID)
		wg.Go(func() {
			defer x.release(d.EndpointID)
			select {
			case slot <- struct{}{}:
			case <-ctx.Done():
				x.abandon(d)
				return
			}
			x.attempt(ctx, d, func() { <-slot })
		})
	}
	return nil
}

// take counts a claimed delivery of the endpoint and returns its slots.
func (x *Sender) take(endpoint string) chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.held[endpoint]++
	x.total++
	slot, ok := x.slots[endpoint]
	if !ok {
		slot = make(chan struct{}, x.cfg.PerEndpoint)
		x.slots[endpoint] = slot
	}
	return slot
}

func (x *Sender) release(endpoint string) {
	x.mu.Lock()
	x.total--
	if x.held[endpoint]--; x.held[endpoint] <= 0 {
		// Nothing of the endpoint's is claimed, so no goroutine holds
		// its slots: they go too, and the maps stay as small as the
		// endpoints with work.
		delete(x.held, endpoint)
		delete(x.slots, endpoint)
	}
	x.mu.Unlock()
	select {
	case x.freed <- struct{}{}:
	default:
	}
}

// attempt sends d once and records the outcome. It calls sent once it
// no longer talks to the receiver, so the endpoint's next delivery goes
// out while this outcome is written.
func (x *Sender) attempt(ctx context.Context, d Delivery, sent func()) {
	e, ok, err := x.svc.endpoint(ctx, d.Tenant, d.EndpointID)
	if err != nil || !ok || e.Disabled {
		sent()
	}
	switch {
	case err != nil:
		x.svc.logger.Warn("webhooks: read endpoint; retrying", "delivery", d.ID, "err", err)
		x.abandon(d)
		return
	case !ok:
		x.finish(d, Outcome{Status: Failed, Attempts: d.Attempts, At: x.svc.clock(), Error: "endpoint deleted"})
		return
	case e.Disabled:
		x.finish(d, Outcome{Status: Failed, Attempts: d.Attempts, At: x.svc.clock(), Error: "endpoint disabled: " + e.DisabledReason})
		return
	}
	status, err := x.post(ctx, e, d)
	sent()
	if ctx.Err() != nil {
		x.abandon(d) // shutting down: not the receiver's failure
		return
	}
	at := x.svc.clock()
	if err == nil {
		x.finish(d, Outcome{Status: Delivered, Attempts: d.Attempts + 1, At: at, HTTPStatus: status})
		if e.Failures > 0 || d.Attempts > 0 {
			x.succeeded(ctx, e)
		}
		return
	}
	o := Outcome{Status: Pending, Attempts: d.Attempts + 1, At: at, HTTPStatus: status, Error: truncate(err.Error(), 500)}
	o.NextAt = at.Add(backoff(o.Attempts, rand.Float64()))
	switch {
	case !at.Before(d.GiveUpAt):
		o.Status = Failed
	case o.NextAt.After(d.GiveUpAt):
		o.NextAt = d.GiveUpAt // one last try at the deadline
	}
	x.svc.logger.Info("webhooks: delivery failed", "tenant", d.Tenant, "endpoint", e.ID, "delivery", d.ID,
		"attempts", o.Attempts, "status", status, "err", o.Error, "gave_up", o.Status == Failed)
	x.finish(d, o)
	x.failed(ctx, e, at, o.Error)
}

// post sends d to e; a non-2xx answer is an error, with its status.
func (x *Sender) post(ctx context.Context, e Endpoint, d Delivery) (int, error) {
	at := x.svc.now()
	sigs, err := signatures(e, d.ID, at, d.Payload)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Questline-Webhooks/1")
	req.Header.Set(HeaderID, d.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(HeaderSignature, sigs)
	client := x.strict
	if x.svc.allowPrivate(e.Tenant) {
		client = x.loose
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// Drain a little, so the connection can be reused; a receiver's
	// answer is not read further.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// finish records an outcome under d's lease; if the lease was lost (it
// ran out and another node took the delivery), that node's record wins.
func (x *Sender) finish(d Delivery, o Outcome) {
	o.Tenant, o.ID, o.Owner, o.Gen = d.Tenant, d.ID, d.Owner, d.Gen
	x.count(d, o)
	if o.NextAt.IsZero() {
		o.NextAt = x.svc.clock() // a delivery that is done: "next" is moot
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ok, err := x.svc.store.FinishAttempt(ctx, o)
	if err != nil {
		x.svc.logger.Error("webhooks: record attempt; the lease will expire and the delivery be retried", "delivery", d.ID, "err", err)
	} else if !ok {
		x.svc.logger.Warn("webhooks: lease lost before the attempt was recorded", "delivery", d.ID)
	}
}

// count adds an attempt's outcome to the metrics; an abandoned attempt
// (shutdown, an unreadable endpoint) is none.
func (x *Sender) count(d Delivery, o Outcome) {
	switch {
	case o.Status == Delivered:
		x.svc.attempts.WithLabelValues("delivered").Inc()
	case o.Status == Failed:
		x.svc.attempts.WithLabelValues("gave_up").Inc()
	case o.Attempts > d.Attempts:
		x.svc.attempts.WithLabelValues("retry").Inc()
	}
}

// abandon releases d's lease without counting an attempt, due at once;
// the last attempt's record stays as it was.
func (x *Sender) abandon(d Delivery) {
	x.finish(d, Outcome{Status: Pending, Attempts: d.Attempts, NextAt: x.svc.clock(),
		At: derefOr(d.LastAttemptAt, time.Time{}), HTTPStatus: d.LastStatus, Error: d.LastError})
}

func (x *Sender) succeeded(ctx context.Context, e Endpoint) {
	if err := x.svc.store.RecordSuccess(ctx, e.Tenant, e.ID); err != nil {
		x.svc.logger.Warn("webhooks: clear endpoint failures", "endpoint", e.ID, "err", err)
		return
	}
	x.svc.changed(ctx, e.Tenant)
}

// failed counts a failure against the endpoint and disables it once it
// has failed DisableFailures times in a row over DisableAfter.
func (x *Sender) failed(ctx context.Context, e Endpoint, at time.Time, why string) {
	after, err := x.svc.store.RecordFailure(ctx, e.Tenant, e.ID, at)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			x.svc.logger.Warn("webhooks: count endpoint failure", "endpoint", e.ID, "err", err)
		}
		return
	}
	if after.Disabled || after.Failures < x.cfg.DisableFailures || after.FailingSince == nil ||
		at.Sub(*after.FailingSince) < x.cfg.DisableAfter {
		return
	}
	reason := fmt.Sprintf("failing since %s: %d attempts in a row failed, the last with %s",
		after.FailingSince.Format(time.RFC3339), after.Failures, why)
	if err := x.svc.store.DisableEndpoint(ctx, e.Tenant, e.ID, reason, at); err != nil {
		x.svc.logger.Warn("webhooks: disable endpoint", "endpoint", e.ID, "err", err)
		return
	}
	x.svc.logger.Warn("webhooks: endpoint disabled", "tenant", e.Tenant, "endpoint", e.ID, "reason", reason)
	x.svc.changed(ctx, e.Tenant)
}

// Retry schedule: the n-th failed attempt waits backoffBase·2^(n-1),
// capped at backoffMax, with jitter drawing the wait from its upper half
// (so receivers recovering from an outage are not hit by every sender at
// once). About 20 attempts fit in the 24 h retry window.
const (
	backoffBase = 5 * time.Second
	backoffMax  = 2 * time.Hour
)

// backoff is the wait after the attempts-th failure; r in [0, 1) is the
// jitter.
func backoff(attempts int, r float64) time.Duration {
	d := min(backoffBase<<min(attempts-1, 20), backoffMax)
	return d/2 + time.Duration(r*float64(d/2))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func derefOr(t *time.Time, def time.Time) time.Time {
	if t == nil {
		return def
	}
	return *t
}
