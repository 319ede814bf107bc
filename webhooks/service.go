package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/bus"
	"github.com/questline/questline/internal/errs"
)

// Config is what a Service needs.
type Config struct {
	Store  Store
	Logger *slog.Logger
	// AllowPrivate says whether a tenant's endpoints may be on private or
	// loopback addresses (and plain http to loopback): an operator's
	// setting, never a tenant manager's, since that is what an SSRF
	// attacker would ask for. nil allows no tenant.
	AllowPrivate func(tenant string) bool
	// Bus drops other nodes' cached endpoints on a change; nil on one node.
	Bus bus.Bus
	// Registerer receives the delivery metrics; nil registers none.
	Registerer prometheus.Registerer
	// Types is the tenants' event catalogue endpoints subscribe from (a
	// brand's own types included); nil admits the built-in types only.
	Types events.TypeChecker
}

// Service manages endpoints, turns events into deliveries and answers the
// delivery log; a Sender sends them.
type Service struct {
	store        Store
	logger       *slog.Logger
	allowPrivate func(string) bool
	bus          bus.Bus
	cache        *bus.Cache[[]Endpoint] // tenant -> its endpoints
	types        events.TypeChecker
	now          func() time.Time
	wake         chan struct{}
	// attempts counts delivery attempts by outcome: delivered, retry
	// (failed, tried again later), gave_up (failed for good).
	attempts *prometheus.CounterVec
}

// endpointsTTL bounds how long another node's change goes unseen if the
// bus lost its message.
const endpointsTTL = 2 * time.Second

// busTopic names the endpoints' invalidations; keys are tenants.
const busTopic = "webhooks"

// retryWindow is how long a delivery is retried after it was made (or
// replayed).
const retryWindow = 24 * time.Hour

// defaultOverlap is how long the previous secret keeps signing after a
// rotation when the caller does not say.
const defaultOverlap = 24 * time.Hour

// maxEndpoints bounds a tenant's endpoints: every event is checked
// against all of them.
const maxEndpoints = 50

// NewService returns a webhook service.
func NewService(cfg Config) *Service {
	s := &Service{store: cfg.Store, logger: cfg.Logger, allowPrivate: cfg.AllowPrivate, bus: cfg.Bus, types: cfg.Types,
		cache: bus.NewCache[[]Endpoint](endpointsTTL, 0), now: time.Now, wake: make(chan struct{}, 1)}
	if s.allowPrivate == nil {
		s.allowPrivate = func(string) bool { return false }
	}
	if s.bus != nil {
		s.bus.Subscribe(busTopic, s.cache.Drop)
	}
	s.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "questline_webhook_attempts_total", Help: "Webhook delivery attempts on this node, by outcome: delivered, retry or gave_up.",
	}, []string{"outcome"})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.attempts)
	}
	return s
}

// Input is what a manager sends to create or edit an endpoint.
type Input struct {
	URL         string   `json:"url" maxLength:"2048" doc:"https URL; http only to a loopback host, and only for a tenant the operator lets reach private addresses (QL_WEBHOOK_PRIVATE_TENANTS)."`
	Description string   `json:"description,omitempty" maxLength:"500"`
	EventTypes  []string `json:"event_types" minItems:"1" maxItems:"64" doc:"Event types to deliver: any type of the catalogue, system events (challenge.completed, badge.unlocked, points.earned, ...) included."`
}

// Patch edits an endpoint; absent fields stay.
type Patch struct {
	URL         *string  `json:"url,omitempty" maxLength:"2048"`
	Description *string  `json:"description,omitempty" maxLength:"500"`
	EventTypes  []string `json:"event_types,omitempty" maxItems:"64"`
	Disabled    *bool    `json:"disabled,omitempty" doc:"true disables the endpoint (reason: disabled by a manager); false enables it again and clears its failures."`
	Version     int64    `json:"version,omitempty" doc:"If set, the edit applies only to this version (409 edit-conflict otherwise)."`
}

// Create registers an endpoint and returns it with its secret, which is
// shown only here and on rotation.
func (s *Service) Create(ctx context.Context, tenant string, in Input) (Endpoint, error) {
	url, err := s.checkURL(tenant, in.URL)
	if err != nil {
		return Endpoint{}, err
	}
	types, err := s.checkTypes(ctx, tenant, in.EventTypes)
	if err != nil {
		return Endpoint{}, err
	}
	eps, err := s.endpoints(ctx, tenant)
	if err != nil {
		return Endpoint{}, err
	}
	if len(eps) >= maxEndpoints {
		return Endpoint{}, errs.New(errs.Conflict, "too-many-endpoints", "a tenant may have at most %d webhook endpoints", maxEndpoints)
	}
	now := s.clock()
	e := Endpoint{Tenant: tenant, ID: uuid.Must(uuid.NewV7()).String(), URL: url, Description: in.Description,
		EventTypes: types, Secret: NewSecret(), CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := s.store.CreateEndpoint(ctx, e); err != nil {
		return Endpoint{}, fmt.Errorf("webhooks: create: %w", err)
	}
	s.changed(ctx, tenant)
	return e, nil
}

func (s *Service) checkURL(tenant, raw string) (string, error) {
	u, err := checkURL(raw, s.allowPrivate(tenant))
	if err != nil {
		return "", errs.New(errs.Unprocessable, "bad-webhook-url", "url: %v", err).OnField("url")
	}
	return u, nil
}

// checkTypes validates (against the tenant's catalogue) and deduplicates
// event types.
func (s *Service) checkTypes(ctx context.Context, tenant string, types []string) ([]string, error) {
	if len(types) == 0 {
		return nil, errs.New(errs.Unprocessable, "no-event-types", "event_types: name at least one event type").OnField("event_types")
	}
	out := slices.Clone(types)
	for i, t := range out {
		if err := events.CheckType(ctx, s.types, tenant, t, fmt.Sprintf("event_types[%d]", i)); err != nil {
			return nil, err
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Get returns one endpoint of the tenant.
func (s *Service) Get(ctx context.Context, tenant, id string) (Endpoint, error) {
	e, err := s.store.GetEndpoint(ctx, tenant, id)
	if errors.Is(err, errs.ErrNotFound) {
		return Endpoint{}, notFound(id)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhooks: get %s: %w", id, err)
	}
	return e, nil
}

// List pages the tenant's endpoints by id.
func (s *Service) List(ctx context.Context, tenant, after string, limit int) ([]Endpoint, error) {
	eps, err := s.store.ListEndpoints(ctx, tenant, after, limit)
	if err != nil {
		return nil, fmt.Errorf("webhooks: list: %w", err)
	}
	return eps, nil
}

// Update applies a manager's edit.
func (s *Service) Update(ctx context.Context, tenant, id string, p Patch) (Endpoint, error) {
	return s.edit(ctx, tenant, id, p.Version, func(e *Endpoint) error {
		if p.URL != nil {
			u, err := s.checkURL(tenant, *p.URL)
			if err != nil {
				return err
			}
			e.URL = u
		}
		if p.Description != nil {
			e.Description = *p.Description
		}
		if p.EventTypes != nil {
			types, err := s.checkTypes(ctx, tenant, p.EventTypes)
			if err != nil {
				return err
			}
			e.EventTypes = types
		}
		if p.Disabled != nil {
			s.setDisabled(e, *p.Disabled)
		}
		return nil
	})
}

// setDisabled disables e by a manager's hand, or enables it afresh.
func (s *Service) setDisabled(e *Endpoint, disabled bool) {
	if disabled == e.Disabled {
		return
	}
	e.Disabled = disabled
	if disabled {
		now := s.clock()
		e.DisabledReason, e.DisabledAt = "disabled by a manager", &now
		return
	}
	e.DisabledReason, e.DisabledAt, e.Failures, e.FailingSince = "", nil, 0, nil
}

// Rotate gives the endpoint a new secret; the old one keeps signing (a
// second signature) for overlap, so receivers can switch without a gap.
// It returns the endpoint and its new secret.
func (s *Service) Rotate(ctx context.Context, tenant, id string, overlap time.Duration) (Endpoint, error) {
	if overlap <= 0 {
		overlap = defaultOverlap
	}
	return s.edit(ctx, tenant, id, 0, func(e *Endpoint) error {
		until := s.clock().Add(overlap)
		e.PreviousSecret, e.PreviousUntil, e.Secret = e.Secret, &until, NewSecret()
		return nil
	})
}

// edit reads an endpoint, applies fn and writes it if nobody changed it
// meanwhile (and, when version > 0, if it was at that version).
func (s *Service) edit(ctx context.Context, tenant, id string, version int64, fn func(*Endpoint) error) (Endpoint, error) {
	e, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Endpoint{}, err
	}
	if version > 0 && version != e.Version {
		return Endpoint{}, editConflict()
	}
	if err := fn(&e); err != nil {
		return Endpoint{}, err
	}
	e.Version++
	e.UpdatedAt = s.clock()
	err = s.store.UpdateEndpoint(ctx, e)
	switch {
	case errors.Is(err, errs.ErrDuplicate):
		return Endpoint{}, editConflict()
	case errors.Is(err, errs.ErrNotFound):
		return Endpoint{}, notFound(id)
	case err != nil:
		return Endpoint{}, fmt.Errorf("webhooks: update %s: %w", id, err)
	}
	s.changed(ctx, tenant)
	return e, nil
}

// Delete removes an endpoint and its delivery log.
func (s *Service) Delete(ctx context.Context, tenant, id string) error {
	err := s.store.DeleteEndpoint(ctx, tenant, id)
	if errors.Is(err, errs.ErrNotFound) {
		return notFound(id)
	}
	if err != nil {
		return fmt.Errorf("webhooks: delete %s: %w", id, err)
	}
	s.changed(ctx, tenant)
	return nil
}

// Deliveries pages an endpoint's deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, tenant, id, before string, limit int) ([]Delivery, error) {
	if _, err := s.Get(ctx, tenant, id); err != nil {
		return nil, err
	}
	ds, err := s.store.ListDeliveries(ctx, tenant, id, before, limit)
	if err != nil {
		return nil, fmt.Errorf("webhooks: deliveries of %s: %w", id, err)
	}
	return ds, nil
}

// Replay sends a delivery again (with the same webhook-id, so a receiver
// that got it already can drop it), retried for another 24 h if it fails.
func (s *Service) Replay(ctx context.Context, tenant, id, delivery string) (Delivery, error) {
	e, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Delivery{}, err
	}
	if e.Disabled {
		return Delivery{}, errs.New(errs.Conflict, "endpoint-disabled", "the endpoint is disabled (%s); enable it first", e.DisabledReason)
	}
	now := s.clock()
	d, err := s.store.ReplayDelivery(ctx, tenant, id, delivery, now, now.Add(retryWindow))
	if errors.Is(err, errs.ErrNotFound) {
		return Delivery{}, errs.New(errs.NotFound, "not-found", "no delivery %s", delivery)
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("webhooks: replay %s: %w", delivery, err)
	}
	s.poke()
	return d, nil
}

// HandleEvent is the outbox: it inserts a delivery of ev for every
// endpoint of its tenant that takes its type. The insert is keyed by
// (endpoint, event), so handling an event again (a retry, the sweeper)
// adds nothing; the event is marked processed only after this returns.
func (s *Service) HandleEvent(ctx context.Context, ev events.Event, _ *events.Result) ([]events.Event, error) {
	eps, err := s.subscribed(ctx, ev)
	if err != nil || len(eps) == 0 {
		return nil, err
	}
	body, err := payload(ev)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	for _, e := range eps {
		d := Delivery{Tenant: ev.Tenant, ID: uuid.Must(uuid.NewV7()).String(), EndpointID: e.ID, EventID: ev.ID,
			EventType: ev.Type, User: ev.User, Payload: body, Status: Pending, NextAt: now,
			GiveUpAt: now.Add(retryWindow), CreatedAt: now}
		if _, err := s.store.InsertDelivery(ctx, d); err != nil {
			return nil, fmt.Errorf("webhooks: queue delivery of %s to %s: %w", ev.ID, e.ID, err)
		}
	}
	s.poke()
	return nil, nil
}

// Preview tells the event service that an event no endpoint takes needs
// nothing from webhooks, so such events keep their one-write fast path.
func (s *Service) Preview(ctx context.Context, ev events.Event, _ *events.Result) (bool, error) {
	eps, err := s.subscribed(ctx, ev)
	return len(eps) == 0, err
}

// subscribed returns the tenant's enabled endpoints that take ev's type.
func (s *Service) subscribed(ctx context.Context, ev events.Event) ([]Endpoint, error) {
	all, err := s.endpoints(ctx, ev.Tenant)
	if err != nil {
		return nil, err
	}
	var out []Endpoint
	for _, e := range all {
		if e.Wants(ev.Type) {
			out = append(out, e)
		}
	}
	return out, nil
}

// endpoints returns every endpoint of the tenant, cached.
func (s *Service) endpoints(ctx context.Context, tenant string) ([]Endpoint, error) {
	return s.cache.Get(ctx, tenant, s.now(), func(ctx context.Context) ([]Endpoint, error) {
		eps, err := s.store.ListEndpoints(ctx, tenant, "", maxEndpoints+1)
		if err != nil {
			return nil, fmt.Errorf("webhooks: endpoints of %s: %w", tenant, err)
		}
		return eps, nil
	})
}

// endpoint returns one endpoint from the tenant's cached list; ok is
// false when it is gone.
func (s *Service) endpoint(ctx context.Context, tenant, id string) (Endpoint, bool, error) {
	eps, err := s.endpoints(ctx, tenant)
	if err != nil {
		return Endpoint{}, false, err
	}
	for _, e := range eps {
		if e.ID == id {
			return e, true, nil
		}
	}
	return Endpoint{}, false, nil
}

// message is the body of every delivery, in the Standard Webhooks shape.
type message struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      messageData `json:"data"`
}

type messageData struct {
	EventID    string         `json:"event_id"`
	UserID     string         `json:"user_id"`
	Props      map[string]any `json:"props,omitempty"`
	OccurredAt time.Time      `json:"occurred_at"`
	Source     string         `json:"source"`
}

// payload is the body delivered for ev. It is made once, when the
// delivery is queued, so every attempt sends the same bytes.
func payload(ev events.Event) ([]byte, error) {
	b, err := json.Marshal(message{Type: ev.Type, Timestamp: ev.OccurredAt.UTC(), Data: messageData{
		EventID: ev.ID, UserID: ev.User, Props: ev.Props, OccurredAt: ev.OccurredAt.UTC(), Source: ev.Source}})
	if err != nil {
		return nil, fmt.Errorf("webhooks: encode event %s: %w", ev.ID, err)
	}
	return b, nil
}

// changed drops the tenant's cached endpoints here and on every node.
func (s *Service) changed(ctx context.Context, tenant string) {
	s.cache.Drop(tenant)
	if s.bus != nil {
		s.bus.Publish(ctx, busTopic, tenant)
	}
}

// poke wakes this node's sender for a delivery due now.
func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func notFound(id string) error {
	return errs.New(errs.NotFound, "not-found", "no webhook endpoint %s", id)
}

func editConflict() error {
	return errs.New(errs.Conflict, "edit-conflict", "the endpoint changed meanwhile; read it again and retry")
}
