package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/questline/questline/internal/errs"
)

// Handler is a rule engine over the event stream (challenges, badges...).
// It must be idempotent per event id: the same event may be handled again
// after a crash or concurrently with a duplicate request, and must then
// change nothing and add the same things to r. It returns system events to
// feed back into the stream.
type Handler interface {
	HandleEvent(ctx context.Context, ev Event, r *Result) ([]Event, error)
}

// Previewer is a Handler that can tell, without writing anything, that
// an event changes nothing it keeps (no matching rule, or only rules the
// user already finished), filling r with what it would report. When every
// handler says so, the event is stored already processed, in one write.
type Previewer interface {
	Preview(ctx context.Context, ev Event, r *Result) (quiet bool, err error)
}

// Service accepts events and runs them through the handlers.
type Service struct {
	store    Store
	handlers []Handler
	types    TypeChecker // nil: the built-in catalogue only
	logger   *slog.Logger
	now      func() time.Time

	processed prometheus.Counter
	failures  prometheus.Counter
	dead      prometheus.Gauge

	// marks tracks MarkProcessed writes still in flight; Close waits.
	marks sync.WaitGroup
}

// NewService returns an event service. reg receives its metrics.
func NewService(store Store, logger *slog.Logger, reg prometheus.Registerer, handlers ...Handler) *Service {
	s := &Service{
		store: store, handlers: handlers, logger: logger, now: time.Now,
		processed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "questline_events_processed_total", Help: "Events whose effects are all written.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "questline_events_failed_total", Help: "Event processing attempts that failed and await the sweeper.",
		}),
		dead: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "questline_events_dead", Help: "Events given up on (dead-lettered), all tenants, as last counted by this node's sweeper.",
		}),
	}
	reg.MustRegister(s.processed, s.failures, s.dead)
	return s
}

// SetTypes makes intake check events against each tenant's own catalogue.
// Call it while wiring, before serving.
func (s *Service) SetTypes(tc TypeChecker) { s.types = tc }

// catalog returns the tenant's effective catalogue.
func (s *Service) catalog(ctx context.Context, tenant string) (*Catalog, error) {
	if s.types == nil {
		return builtinCatalog, nil
	}
	return s.types.Catalog(ctx, tenant)
}

// Ingest stores a validated event once per idempotency key and processes
// it. A repeat of the key returns the first result and changes nothing; a
// repeat with a different payload is a conflict.
func (s *Service) Ingest(ctx context.Context, ev Event) (Result, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	ev.ID = uuid.Must(uuid.NewV7()).String()
	ev.ReceivedAt = now
	ev.OccurredAt = ev.OccurredAt.UTC().Truncate(time.Millisecond)
	// The fingerprint covers what the sender sent: a retry without
	// occurred_at must match its first copy, whatever the clock says now.
	ev.Fingerprint = fingerprint(ev)
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = now
	}
	// An event sent without a key is its own key: the store makes the id
	// its idempotency key.
	if r, quiet, err := s.preview(ctx, ev); err != nil {
		return Result{}, err
	} else if quiet {
		ev.Processed, ev.ProcessedAt, ev.Result = true, &now, &r
	}
	stored, inserted, err := s.store.InsertEvent(ctx, ev)
	if err != nil {
		return Result{}, fmt.Errorf("events: ingest: %w", err)
	}
	if !inserted {
		if stored.Fingerprint != ev.Fingerprint {
			// The stored key carries the sender's scope; the caller knows
			// the key it sent, so the message does not repeat it.
			return Result{}, errs.New(errs.Conflict, "idempotency-key-reused",
				"this idempotency key was already used for a different event")
		}
		if stored.Processed && stored.Result != nil {
			r := *stored.Result
			r.Replayed = true
			return r, nil
		}
		// The first copy is still in flight (or crashed). Processing is
		// idempotent, so finishing it here is safe and answers the same.
	}
	if inserted && stored.Processed {
		s.processed.Inc()
		return *stored.Result, nil
	}
	r, err := s.Process(ctx, stored)
	if err != nil {
		return Result{}, err
	}
	r.Replayed = !inserted
	return r, nil
}

// preview asks every handler whether ev changes nothing; it is quiet only
// if all of them can tell so.
func (s *Service) preview(ctx context.Context, ev Event) (Result, bool, error) {
	r := newResult(ev)
	for _, h := range s.handlers {
		p, ok := h.(Previewer)
		if !ok {
			return Result{}, false, nil
		}
		quiet, err := p.Preview(ctx, ev, &r)
		if err != nil {
			return Result{}, false, fmt.Errorf("events: preview %s: %w", ev.ID, err)
		}
		if !quiet {
			return Result{}, false, nil
		}
	}
	return r, true, nil
}

func newResult(ev Event) Result {
	return Result{EventID: ev.ID, Progress: []Progress{}, Completions: []Completion{}, Points: []Points{}}
}

// maxSystemDepth stops a rule loop (a system event whose handling emits
// another, and so on) from running forever.
const maxSystemDepth = 8

// Process runs every handler on ev, feeds the system events they emit back
// in, and marks ev processed once all of it is written.
func (s *Service) Process(ctx context.Context, ev Event) (Result, error) {
	r, err := s.process(ctx, ev, 0)
	if err != nil {
		s.failures.Inc()
		return Result{}, err
	}
	return r, nil
}

func (s *Service) process(ctx context.Context, ev Event, depth int) (Result, error) {
	r := newResult(ev)
	var emitted []Event
	for _, h := range s.handlers {
		sys, err := h.HandleEvent(ctx, ev, &r)
		if err != nil {
			return Result{}, fmt.Errorf("events: process %s: %w", ev.ID, err)
		}
		emitted = append(emitted, sys...)
	}
	for _, sys := range emitted {
		if depth >= maxSystemDepth {
			// A rule loop: keep the event for ops rather than drop it.
			if err := s.emitDead(ctx, sys, ReasonDepth); err != nil {
				return Result{}, err
			}
			continue
		}
		if err := s.emit(ctx, sys, depth+1); err != nil {
			return Result{}, err
		}
	}
	s.markProcessed(ev, r)
	return r, nil
}

// markProcessed records, off the request path, that every effect of ev is
// written. Nothing waits for it: the flag only spares the sweeper work and
// lets a retry answer from the stored result. If it is lost (a crash, a
// failed write), the sweeper or a retry runs the event again, and the
// effects, being keyed, do not repeat.
func (s *Service) markProcessed(ev Event, r Result) {
	s.marks.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.store.MarkProcessed(ctx, ev.Tenant, ev.ID, r, s.now().UTC()); err != nil {
			s.logger.Warn("events: mark processed failed; the sweeper will finish it", "event_id", ev.ID, "err", err)
			return
		}
		s.processed.Inc()
	})
}

// Close waits for pending bookkeeping writes; call it before closing the store.
func (s *Service) Close() { s.marks.Wait() }

// Emit stores and processes a system event outside of any handler, for
// effects that start from a request rather than an event (such as a
// challenge reward claimed by the player). Its IdempotencyKey must derive
// from what caused it, so a retried request emits it once.
func (s *Service) Emit(ctx context.Context, ev Event) error {
	return s.emit(ctx, ev, 1)
}

// emit stores a system event (keyed, so a replay emits it once) and
// processes it unless it already was, or is dead.
func (s *Service) emit(ctx context.Context, ev Event, depth int) error {
	stored, err := s.insertSystem(ctx, ev)
	if err != nil {
		return err
	}
	if stored.Processed || stored.DeadAt != nil {
		return nil
	}
	_, err = s.process(ctx, stored, depth)
	return err
}

// emitDead stores a system event dead-lettered for reason, unprocessed.
func (s *Service) emitDead(ctx context.Context, ev Event, reason string) error {
	now := s.now().UTC().Truncate(time.Millisecond)
	ev.DeadAt, ev.DeadReason = &now, reason
	stored, err := s.insertSystem(ctx, ev)
	if err != nil {
		return err
	}
	if stored.DeadAt != nil && !stored.Processed {
		s.logger.Warn("events: system event dead-lettered", "event_id", stored.ID, "tenant", stored.Tenant,
			"type", stored.Type, "reason", reason)
	}
	return nil
}

func (s *Service) insertSystem(ctx context.Context, ev Event) (Event, error) {
	ev.ID = uuid.Must(uuid.NewV7()).String()
	ev.Source = "system"
	ev.ReceivedAt = s.now().UTC().Truncate(time.Millisecond)
	ev.Fingerprint = fingerprint(ev)
	stored, _, err := s.store.InsertEvent(ctx, ev)
	if err != nil {
		return Event{}, fmt.Errorf("events: emit %s: %w", ev.Type, err)
	}
	return stored, nil
}

// Why an event is dead-lettered.
const (
	ReasonAttempts = "too-many-attempts"
	ReasonDepth    = "system-event-depth"
)

// Retry policy of the sweeper: an event that fails is tried again after
// retryBase, doubling up to retryMax, and given up on (dead-lettered)
// after maxAttempts failed tries, some 17 minutes in all. A failing
// event so leaves the due set at once, and never blocks newer ones.
const (
	maxAttempts = 10
	retryBase   = 2 * time.Second
	retryMax    = 15 * time.Minute
)

// backoff is the wait after the attempts-th failed try.
func backoff(attempts int) time.Duration {
	d := retryBase << min(attempts-1, 20)
	return min(d, retryMax)
}

// Sweep processes due events that a crash or a failed backend left
// unprocessed, received before grace ago (younger ones may still be in
// flight). A failure counts an attempt and schedules the next, or
// dead-letters the event. It returns how many it finished.
func (s *Service) Sweep(ctx context.Context, grace time.Duration, batch int) (int, error) {
	_, done, err := s.sweep(ctx, grace, batch)
	return done, err
}

// sweep is Sweep that also says how many events it took up, finished or not.
func (s *Service) sweep(ctx context.Context, grace time.Duration, batch int) (seen, done int, err error) {
	evs, err := s.store.Unprocessed(ctx, s.now().Add(-grace), batch)
	if err != nil {
		return 0, 0, fmt.Errorf("events: sweep: %w", err)
	}
	for _, ev := range evs {
		if _, err := s.Process(ctx, ev); err != nil {
			if rerr := s.failed(ctx, ev, err); rerr != nil {
				return len(evs), done, rerr
			}
			continue
		}
		done++
	}
	if done > 0 {
		s.logger.Info("sweep: finished unprocessed events", "count", done)
	}
	return len(evs), done, nil
}

// failed records a failed try at ev.
func (s *Service) failed(ctx context.Context, ev Event, cause error) error {
	now := s.now().UTC().Truncate(time.Millisecond)
	a := Attempt{Attempts: ev.Attempts + 1}
	a.NextAt = now.Add(backoff(a.Attempts))
	if a.Attempts >= maxAttempts {
		a.DeadAt, a.DeadReason = &now, ReasonAttempts
	}
	if err := s.store.RecordAttempt(ctx, ev.Tenant, ev.ID, a); err != nil {
		return fmt.Errorf("events: sweep: record attempt of %s: %w", ev.ID, err)
	}
	level := slog.LevelWarn
	if a.DeadAt != nil {
		level = slog.LevelError
	}
	s.logger.Log(ctx, level, "sweep: event failed", "event_id", ev.ID, "tenant", ev.Tenant,
		"attempts", a.Attempts, "dead", a.DeadAt != nil, "err", cause)
	return nil
}

// RunSweeper sweeps every interval until ctx ends, and counts the dead
// events for the metric.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sweepAll(ctx, interval)
		}
	}
}

// sweepAll sweeps batches until one comes back short.
func (s *Service) sweepAll(ctx context.Context, grace time.Duration) {
	const batch = 200
	for {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		seen, _, err := s.sweep(sctx, grace, batch)
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			s.logger.Error("sweep failed", "err", err)
		}
		if err != nil || seen < batch {
			break
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if n, err := s.store.CountDead(cctx); err == nil {
		s.dead.Set(float64(n))
	}
}

func fingerprint(ev Event) string {
	b, _ := json.Marshal(struct {
		User, Type string
		Props      map[string]any
		At         time.Time
	}{ev.User, ev.Type, ev.Props, ev.OccurredAt})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
