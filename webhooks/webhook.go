// Package webhooks sends a tenant's events to the HTTPS endpoints its
// managers register, the Standard Webhooks way (webhook-id,
// webhook-timestamp and webhook-signature headers, HMAC-SHA256 with a
// whsec_ secret that can be rotated with an overlap).
//
// Deliveries come from a durable outbox: the service is a rule handler of
// the event service, so every stored event (a system event such as
// challenge.completed included) is offered to it, and it inserts one
// delivery per (endpoint, event) under a unique key. The event is marked
// processed only after that insert, and the sweeper re-runs any event a
// crash left unprocessed, so no event is lost and a replay never
// duplicates a delivery. A Sender on every node leases due deliveries in
// the store (only the lease holder sends one), posts them with bounded
// concurrency per endpoint, and retries failures with exponential backoff
// and jitter for up to 24 hours. An endpoint that keeps failing is
// disabled with a reason.
package webhooks

import (
	"context"
	"encoding/json"
	"time"
)

// Endpoint is one URL a tenant's events are posted to.
type Endpoint struct {
	Tenant      string   `json:"-"`
	ID          string   `json:"id"`
	URL         string   `json:"url" doc:"Where deliveries are POSTed."`
	Description string   `json:"description,omitempty"`
	EventTypes  []string `json:"event_types" doc:"The event types delivered (system events such as challenge.completed included)."`
	// Disabled endpoints get no new deliveries and send none; Reason says
	// why (a manager, or failing for too long).
	Disabled       bool       `json:"disabled"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	// Secret signs every delivery; PreviousSecret, until PreviousUntil,
	// signs it too, so a receiver can switch secrets without a gap.
	Secret         string     `json:"-"`
	PreviousSecret string     `json:"-"`
	PreviousUntil  *time.Time `json:"previous_secret_expires_at,omitempty" doc:"Until then deliveries carry a second signature, made with the secret before the last rotation."`
	// Failures counts failed attempts in a row and FailingSince is the
	// first of them; a success clears both.
	Failures     int        `json:"consecutive_failures"`
	FailingSince *time.Time `json:"failing_since,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	Version      int64      `json:"version"`
}

// Wants reports whether the endpoint takes events of type typ now.
func (e Endpoint) Wants(typ string) bool {
	if e.Disabled {
		return false
	}
	for _, t := range e.EventTypes {
		if t == typ {
			return true
		}
	}
	return false
}

// Status is where a delivery stands.
type Status string

// A delivery is pending until an attempt succeeds (delivered) or its
// retries run out or its endpoint is gone or disabled (failed).
const (
	Pending   Status = "pending"
	Delivered Status = "delivered"
	Failed    Status = "failed"
)

// Delivery is one event to be sent to one endpoint: unique per (tenant,
// endpoint, event). Its ID is the webhook-id header, the same on every
// attempt and replay, so receivers can drop duplicates.
type Delivery struct {
	Tenant     string          `json:"-"`
	ID         string          `json:"id" doc:"Sent as webhook-id; the same on every retry and replay."`
	EndpointID string          `json:"endpoint_id"`
	EventID    string          `json:"event_id"`
	EventType  string          `json:"event_type"`
	User       string          `json:"user_id,omitempty"`
	Payload    json.RawMessage `json:"payload" doc:"The body sent."`
	Status     Status          `json:"status" enum:"pending,delivered,failed"`
	Attempts   int             `json:"attempts"`
	// NextAt is when the next attempt is due; GiveUpAt is when retries
	// stop (24 h after the delivery was made or replayed).
	NextAt   time.Time `json:"next_attempt_at" doc:"When the next attempt is due (pending deliveries; for others, when they were last updated)."`
	GiveUpAt time.Time `json:"give_up_at"`
	// The last attempt: when, the receiver's HTTP status (0: no answer)
	// and, on failure, why.
	LastAttemptAt *time.Time `json:"last_attempt_at,omitempty"`
	LastStatus    int        `json:"last_response_status,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty"`
	// Owner and Gen identify the lease a node holds on a due delivery:
	// every claim moves Gen on, and only the claim's holder may record
	// the outcome.
	Owner string `json:"-"`
	Gen   int64  `json:"-"`
}

// Outcome is what one attempt at a delivery did, recorded by the node
// that holds its lease (Owner, Gen).
type Outcome struct {
	Tenant, ID, Owner string
	Gen               int64
	Status            Status
	Attempts          int
	NextAt            time.Time
	At                time.Time
	HTTPStatus        int
	Error             string
}

// Store keeps endpoints and deliveries. Endpoints are unique per (tenant,
// id); deliveries per (tenant, id) and per (tenant, endpoint, event).
type Store interface {
	// CreateEndpoint stores a new endpoint; a taken id is errs.ErrDuplicate.
	CreateEndpoint(ctx context.Context, e Endpoint) error
	// UpdateEndpoint replaces e's definition (url, description, types,
	// disabled, secrets, failures) if the stored version is e.Version-1:
	// errs.ErrDuplicate on a conflict, errs.ErrNotFound when absent.
	UpdateEndpoint(ctx context.Context, e Endpoint) error
	GetEndpoint(ctx context.Context, tenant, id string) (Endpoint, error)
	// ListEndpoints pages a tenant's endpoints by id, after the given id.
	ListEndpoints(ctx context.Context, tenant, after string, limit int) ([]Endpoint, error)
	// DeleteEndpoint deletes an endpoint and its deliveries;
	// errs.ErrNotFound when absent.
	DeleteEndpoint(ctx context.Context, tenant, id string) error
	// RecordFailure counts a failed attempt at the endpoint (failures+1,
	// failing_since kept or set to at) and returns the endpoint after it.
	RecordFailure(ctx context.Context, tenant, id string, at time.Time) (Endpoint, error)
	// RecordSuccess clears the endpoint's failures.
	RecordSuccess(ctx context.Context, tenant, id string) error
	// DisableEndpoint disables an enabled endpoint with a reason, without
	// a version check (the sender's decision), and moves its version on.
	DisableEndpoint(ctx context.Context, tenant, id, reason string, at time.Time) error

	// InsertDelivery stores d unless the endpoint has a delivery of the
	// event already; inserted says which.
	InsertDelivery(ctx context.Context, d Delivery) (inserted bool, err error)
	// ClaimDeliveries leases, to owner until `until`, up to limit pending
	// deliveries of any tenant that are due by now and not leased, oldest
	// due first, at most perEndpoint of one endpoint and none of the
	// endpoints in skip. Each comes back with its new Gen.
	ClaimDeliveries(ctx context.Context, owner string, now, until time.Time, limit, perEndpoint int, skip []string) ([]Delivery, error)
	// FinishAttempt records o if o.Owner still holds the lease of
	// generation o.Gen, and releases the lease; ok is false otherwise.
	FinishAttempt(ctx context.Context, o Outcome) (ok bool, err error)
	GetDelivery(ctx context.Context, tenant, id string) (Delivery, error)
	// ListDeliveries pages an endpoint's deliveries newest first, starting
	// after (older than) the id `before` ("" = from the newest).
	ListDeliveries(ctx context.Context, tenant, endpoint, before string, limit int) ([]Delivery, error)
	// ReplayDelivery makes a delivery pending and due at now again, with
	// no attempts, giving up at giveUp; errs.ErrNotFound when the
	// endpoint has no such delivery.
	ReplayDelivery(ctx context.Context, tenant, endpoint, id string, now, giveUp time.Time) (Delivery, error)

	// UserDeliveries pages a user's deliveries by id, after the given id.
	UserDeliveries(ctx context.Context, tenant, user, after string, limit int) ([]Delivery, error)
	// RedactUserDeliveries replaces the payload of every delivery about
	// the user by a redaction marker and forgets the user id.
	RedactUserDeliveries(ctx context.Context, tenant, user string, payload []byte) error
}
