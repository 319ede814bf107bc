package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/storage/internal/norm"
	"github.com/questline/questline/webhooks"
)

// webhookCols are the webhook store's collections: endpoints, the
// delivery outbox, and the claim documents that make a delivery's lease
// exclusive on every server (as board_feed_claims do for refreshes).
type webhookCols struct {
	endpoints, deliveries, claims *mdb.Collection
}

// openWebhooks names the webhook collections and creates their indexes.
// webhook_deliveries_due is the senders' cross-tenant scan: a claim moves
// next_at to the lease's end, so one index answers "due" and "lease
// expired".
func (s *Store) openWebhooks(ctx context.Context) error {
	s.wh = webhookCols{
		endpoints:  s.db.Collection("webhook_endpoints"),
		deliveries: s.db.Collection("webhook_deliveries"),
		claims:     s.db.Collection("webhook_claims"),
	}
	tid := bson.D{{Key: "tenant", Value: 1}, {Key: "id", Value: 1}}
	for _, p := range []struct {
		col *mdb.Collection
		ix  index
	}{
		{s.wh.endpoints, index{name: "webhook_endpoints_id", keys: tid, unique: true}},
		{s.wh.deliveries, index{name: "webhook_deliveries_id", keys: tid, unique: true}},
		{s.wh.deliveries, index{name: "webhook_deliveries_event", unique: true,
			keys: bson.D{{Key: "tenant", Value: 1}, {Key: "endpoint_id", Value: 1}, {Key: "event_id", Value: 1}}}},
		{s.wh.deliveries, index{name: "webhook_deliveries_log",
			keys: bson.D{{Key: "tenant", Value: 1}, {Key: "endpoint_id", Value: 1}, {Key: "id", Value: 1}}}},
		{s.wh.deliveries, index{name: "webhook_deliveries_user",
			keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1}, {Key: "id", Value: 1}}}},
		{s.wh.deliveries, index{name: "webhook_deliveries_due", partial: bson.D{{Key: "status", Value: "pending"}},
			keys: bson.D{{Key: "next_at", Value: 1}, {Key: "endpoint_id", Value: 1}}}},
	} {
		if err := createIndex(ctx, p.col, p.ix); err != nil {
			return err
		}
	}
	return nil
}

// endpointDef is what UpdateEndpoint replaces.
type endpointDef struct {
	URL            string     `bson:"url"`
	Description    string     `bson:"description"`
	EventTypes     []string   `bson:"event_types"`
	Disabled       bool       `bson:"disabled"`
	DisabledReason string     `bson:"disabled_reason"`
	DisabledAt     *time.Time `bson:"disabled_at"`
	Secret         string     `bson:"secret"`
	PreviousSecret string     `bson:"previous_secret"`
	PreviousUntil  *time.Time `bson:"previous_until"`
	Failures       int        `bson:"failures"`
	FailingSince   *time.Time `bson:"failing_since"`
	UpdatedAt      time.Time  `bson:"updated_at"`
	Version        int64      `bson:"version"`
}

type endpointDoc struct {
	Tenant    string      `bson:"tenant"`
	ID        string      `bson:"id"`
	CreatedAt time.Time   `bson:"created_at"`
	Def       endpointDef `bson:",inline"`
}

func toEndpointDef(e webhooks.Endpoint) endpointDef {
	return endpointDef{URL: e.URL, Description: e.Description, EventTypes: e.EventTypes, Disabled: e.Disabled,
		DisabledReason: e.DisabledReason, DisabledAt: norm.TruncPtr(e.DisabledAt), Secret: e.Secret,
		PreviousSecret: e.PreviousSecret, PreviousUntil: norm.TruncPtr(e.PreviousUntil), Failures: e.Failures,
		FailingSince: norm.TruncPtr(e.FailingSince), UpdatedAt: norm.Trunc(e.UpdatedAt), Version: e.Version}
}

func (d endpointDoc) endpoint() (webhooks.Endpoint, error) {
	f := d.Def
	return webhooks.Endpoint{Tenant: d.Tenant, ID: d.ID, URL: f.URL, Description: f.Description, EventTypes: f.EventTypes,
		Disabled: f.Disabled, DisabledReason: f.DisabledReason, DisabledAt: norm.TruncPtr(f.DisabledAt), Secret: f.Secret,
		PreviousSecret: f.PreviousSecret, PreviousUntil: norm.TruncPtr(f.PreviousUntil), Failures: f.Failures,
		FailingSince: norm.TruncPtr(f.FailingSince), CreatedAt: norm.Trunc(d.CreatedAt), UpdatedAt: norm.Trunc(f.UpdatedAt),
		Version: f.Version}, nil
}

// CreateEndpoint stores a new endpoint.
func (s *Store) CreateEndpoint(ctx context.Context, e webhooks.Endpoint) error {
	doc := endpointDoc{Tenant: e.Tenant, ID: e.ID, CreatedAt: norm.Trunc(e.CreatedAt), Def: toEndpointDef(e)}
	if err := insertNew(ctx, s.wh.endpoints, doc, "endpoint "+e.ID); err != nil {
		return fmt.Errorf("mongo: create endpoint: %w", err)
	}
	return nil
}

// UpdateEndpoint replaces an endpoint's definition, compare-and-set on
// its version.
func (s *Store) UpdateEndpoint(ctx context.Context, e webhooks.Endpoint) error {
	update := bson.D{{Key: "$set", Value: toEndpointDef(e)}}
	if err := updateVersioned(ctx, s.revisions, s.wh.endpoints, e.Tenant, e.ID, e.Version, update, "endpoint"); err != nil {
		return fmt.Errorf("mongo: update endpoint: %w", err)
	}
	return nil
}

// GetEndpoint returns one endpoint of the tenant.
func (s *Store) GetEndpoint(ctx context.Context, tenant, id string) (webhooks.Endpoint, error) {
	e, err := s.findEndpoint(ctx, tenant, id)
	if err != nil {
		return webhooks.Endpoint{}, fmt.Errorf("mongo: get endpoint: %w", err)
	}
	return e, nil
}

func (s *Store) findEndpoint(ctx context.Context, tenant, id string) (webhooks.Endpoint, error) {
	var d endpointDoc
	err := s.wh.endpoints.FindOne(ctx, tenantID(tenant, id)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return webhooks.Endpoint{}, fmt.Errorf("endpoint %s: %w", id, errs.ErrNotFound)
	}
	if err != nil {
		return webhooks.Endpoint{}, err
	}
	return d.endpoint()
}

// ListEndpoints pages a tenant's endpoints by id.
func (s *Store) ListEndpoints(ctx context.Context, tenant, after string, limit int) ([]webhooks.Endpoint, error) {
	out, err := findAll(ctx, s.wh.endpoints, bson.D{{Key: "tenant", Value: tenant}, {Key: "id", Value: bson.D{{Key: "$gt", Value: after}}}},
		options.Find().SetSort(bson.D{{Key: "id", Value: 1}}).SetLimit(int64(norm.Limit(limit, DefaultLimit))), endpointDoc.endpoint)
	if err != nil {
		return nil, fmt.Errorf("mongo: list endpoints: %w", err)
	}
	return out, nil
}

// DeleteEndpoint deletes an endpoint, then its deliveries (a crash in
// between leaves deliveries the sender fails as "endpoint deleted").
func (s *Store) DeleteEndpoint(ctx context.Context, tenant, id string) error {
	res, err := s.wh.endpoints.DeleteOne(ctx, tenantID(tenant, id))
	if err != nil {
		return fmt.Errorf("mongo: delete endpoint: %w", err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("mongo: delete endpoint %s: %w", id, errs.ErrNotFound)
	}
	if _, err := s.wh.deliveries.DeleteMany(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "endpoint_id", Value: id}}); err != nil {
		return fmt.Errorf("mongo: delete endpoint deliveries: %w", err)
	}
	return nil
}

// RecordFailure counts a failed attempt at the endpoint: an increment,
// then failing_since set if it was unset.
func (s *Store) RecordFailure(ctx context.Context, tenant, id string, at time.Time) (webhooks.Endpoint, error) {
	res, err := s.wh.endpoints.UpdateOne(ctx, tenantID(tenant, id), bson.D{{Key: "$inc", Value: bson.D{{Key: "failures", Value: 1}}}})
	if err != nil {
		return webhooks.Endpoint{}, fmt.Errorf("mongo: record endpoint failure: %w", err)
	}
	if res.MatchedCount == 0 {
		return webhooks.Endpoint{}, fmt.Errorf("mongo: record endpoint failure: endpoint %s: %w", id, errs.ErrNotFound)
	}
	if _, err := s.wh.endpoints.UpdateOne(ctx, append(tenantID(tenant, id), bson.E{Key: "failing_since", Value: nil}),
		bson.D{{Key: "$set", Value: bson.D{{Key: "failing_since", Value: norm.Trunc(at)}}}}); err != nil {
		return webhooks.Endpoint{}, fmt.Errorf("mongo: record endpoint failure: %w", err)
	}
	e, err := s.findEndpoint(ctx, tenant, id)
	if err != nil {
		return webhooks.Endpoint{}, fmt.Errorf("mongo: record endpoint failure: %w", err)
	}
	return e, nil
}

// RecordSuccess clears the endpoint's failures.
func (s *Store) RecordSuccess(ctx context.Context, tenant, id string) error {
	_, err := s.wh.endpoints.UpdateOne(ctx, append(tenantID(tenant, id), bson.E{Key: "failures", Value: bson.D{{Key: "$gt", Value: 0}}}),
		bson.D{{Key: "$set", Value: bson.D{{Key: "failures", Value: 0}, {Key: "failing_since", Value: nil}}}})
	if err != nil {
		return fmt.Errorf("mongo: record endpoint success: %w", err)
	}
	return nil
}

// DisableEndpoint disables an enabled endpoint.
func (s *Store) DisableEndpoint(ctx context.Context, tenant, id, reason string, at time.Time) error {
	_, err := s.wh.endpoints.UpdateOne(ctx, append(tenantID(tenant, id), bson.E{Key: "disabled", Value: false}), bson.D{
		{Key: "$set", Value: bson.D{{Key: "disabled", Value: true}, {Key: "disabled_reason", Value: reason}, {Key: "disabled_at", Value: norm.Trunc(at)}}},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
	})
	if err != nil {
		return fmt.Errorf("mongo: disable endpoint: %w", err)
	}
	return nil
}

type deliveryDoc struct {
	Tenant        string     `bson:"tenant"`
	ID            string     `bson:"id"`
	EndpointID    string     `bson:"endpoint_id"`
	EventID       string     `bson:"event_id"`
	EventType     string     `bson:"event_type"`
	User          string     `bson:"user"`
	Payload       string     `bson:"payload"` // the exact bytes sent
	Status        string     `bson:"status"`
	Attempts      int        `bson:"attempts"`
	NextAt        time.Time  `bson:"next_at"`
	GiveUpAt      time.Time  `bson:"give_up_at"`
	LastAttemptAt *time.Time `bson:"last_attempt_at"`
	LastStatus    int        `bson:"last_status"`
	LastError     string     `bson:"last_error"`
	CreatedAt     time.Time  `bson:"created_at"`
	DeliveredAt   *time.Time `bson:"delivered_at"`
	Owner         string     `bson:"owner"`
	Gen           int64      `bson:"gen"`
}

func (d deliveryDoc) delivery() (webhooks.Delivery, error) {
	return webhooks.Delivery{Tenant: d.Tenant, ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType,
		User: d.User, Payload: []byte(d.Payload), Status: webhooks.Status(d.Status), Attempts: d.Attempts,
		NextAt: norm.Trunc(d.NextAt), GiveUpAt: norm.Trunc(d.GiveUpAt), LastAttemptAt: norm.TruncPtr(d.LastAttemptAt),
		LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: norm.Trunc(d.CreatedAt),
		DeliveredAt: norm.TruncPtr(d.DeliveredAt), Owner: d.Owner, Gen: d.Gen}, nil
}

// InsertDelivery stores d once per (tenant, endpoint, event).
func (s *Store) InsertDelivery(ctx context.Context, d webhooks.Delivery) (bool, error) {
	doc := deliveryDoc{Tenant: d.Tenant, ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType,
		User: d.User, Payload: string(d.Payload), Status: string(d.Status), Attempts: d.Attempts, NextAt: norm.Trunc(d.NextAt),
		GiveUpAt: norm.Trunc(d.GiveUpAt), LastAttemptAt: norm.TruncPtr(d.LastAttemptAt), LastStatus: d.LastStatus,
		LastError: d.LastError, CreatedAt: norm.NowIfZero(d.CreatedAt), DeliveredAt: norm.TruncPtr(d.DeliveredAt)}
	inserted, err := insertIgnore(ctx, s.wh.deliveries, doc)
	if err != nil {
		return false, fmt.Errorf("mongo: insert delivery: %w", err)
	}
	return inserted, nil
}

// claimScan is how many due documents one claim reads per delivery it
// may take.
const claimScan = 4

// ClaimDeliveries finds due deliveries, keeps perEndpoint of each
// endpoint, and claims each through the unique _id of a claim document
// naming the generation it read, as ClaimRefreshes does: of two nodes
// claiming one delivery only one inserts it (a conditional findAndModify
// would do on MongoDB, but FerretDB does not make it atomic).
func (s *Store) ClaimDeliveries(ctx context.Context, owner string, now, until time.Time, limit, perEndpoint int, skip []string) ([]webhooks.Delivery, error) {
	limit = norm.Limit(limit, DefaultLimit)
	filter := bson.D{{Key: "status", Value: string(webhooks.Pending)}, {Key: "next_at", Value: bson.D{{Key: "$lte", Value: norm.Trunc(now)}}}}
	if len(skip) > 0 {
		filter = append(filter, bson.E{Key: "endpoint_id", Value: bson.D{{Key: "$nin", Value: skip}}})
	}
	found, err := findAll(ctx, s.wh.deliveries, filter,
		options.Find().SetSort(bson.D{{Key: "next_at", Value: 1}}).SetLimit(int64(limit*claimScan)), deliveryDoc.delivery)
	if err != nil {
		return nil, fmt.Errorf("mongo: claim deliveries: %w", err)
	}
	taken := map[[2]string]int{}
	var out []webhooks.Delivery
	for _, d := range found {
		key := [2]string{d.Tenant, d.EndpointID}
		if len(out) == limit || taken[key] >= max(perEndpoint, 1) {
			continue
		}
		won, err := s.claimDelivery(ctx, d, owner, until)
		if err != nil {
			return nil, fmt.Errorf("mongo: claim deliveries: %w", err)
		}
		if won {
			taken[key]++
			d.Owner, d.Gen, d.NextAt = owner, d.Gen+1, norm.Trunc(until)
			out = append(out, d)
		}
	}
	return out, nil
}

func (s *Store) claimDelivery(ctx context.Context, d webhooks.Delivery, owner string, until time.Time) (bool, error) {
	claim := bson.D{{Key: "_id", Value: bson.D{{Key: "tenant", Value: d.Tenant}, {Key: "id", Value: d.ID}, {Key: "gen", Value: d.Gen}}}}
	won, err := insertIgnore(ctx, s.wh.claims, claim)
	if err != nil || !won {
		return false, err
	}
	res, err := s.wh.deliveries.UpdateOne(ctx, append(tenantID(d.Tenant, d.ID), bson.E{Key: "gen", Value: d.Gen}), bson.D{
		{Key: "$set", Value: bson.D{{Key: "owner", Value: owner}, {Key: "next_at", Value: norm.Trunc(until)}}},
		{Key: "$inc", Value: bson.D{{Key: "gen", Value: 1}}},
	})
	if err != nil {
		return false, err
	}
	// The generation moved on, so a late claimer of the old one finds
	// no delivery of it: the claim document can go.
	if _, err := s.wh.claims.DeleteOne(ctx, claim); err != nil {
		return false, err
	}
	return res.MatchedCount == 1, nil
}

// FinishAttempt records an attempt's outcome under its lease.
func (s *Store) FinishAttempt(ctx context.Context, o webhooks.Outcome) (bool, error) {
	set := bson.D{{Key: "status", Value: string(o.Status)}, {Key: "attempts", Value: o.Attempts},
		{Key: "next_at", Value: norm.Trunc(o.NextAt)}, {Key: "last_status", Value: o.HTTPStatus},
		{Key: "last_error", Value: o.Error}, {Key: "owner", Value: ""}}
	if !o.At.IsZero() {
		set = append(set, bson.E{Key: "last_attempt_at", Value: norm.Trunc(o.At)})
	} else {
		set = append(set, bson.E{Key: "last_attempt_at", Value: nil})
	}
	if o.Status == webhooks.Delivered {
		set = append(set, bson.E{Key: "delivered_at", Value: norm.Trunc(o.At)})
	}
	res, err := s.wh.deliveries.UpdateOne(ctx, append(tenantID(o.Tenant, o.ID),
		bson.E{Key: "owner", Value: o.Owner}, bson.E{Key: "gen", Value: o.Gen}), bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return false, fmt.Errorf("mongo: finish delivery attempt: %w", err)
	}
	return res.MatchedCount == 1, nil
}

// GetDelivery returns one delivery of the tenant.
func (s *Store) GetDelivery(ctx context.Context, tenant, id string) (webhooks.Delivery, error) {
	var d deliveryDoc
	err := s.wh.deliveries.FindOne(ctx, tenantID(tenant, id)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return webhooks.Delivery{}, fmt.Errorf("mongo: get delivery %s: %w", id, errs.ErrNotFound)
	}
	if err != nil {
		return webhooks.Delivery{}, fmt.Errorf("mongo: get delivery: %w", err)
	}
	return d.delivery()
}

// ListDeliveries pages an endpoint's deliveries newest first.
func (s *Store) ListDeliveries(ctx context.Context, tenant, endpoint, before string, limit int) ([]webhooks.Delivery, error) {
	filter := bson.D{{Key: "tenant", Value: tenant}, {Key: "endpoint_id", Value: endpoint}}
	if before != "" {
		filter = append(filter, bson.E{Key: "id", Value: bson.D{{Key: "$lt", Value: before}}})
	}
	out, err := findAll(ctx, s.wh.deliveries, filter,
		options.Find().SetSort(bson.D{{Key: "id", Value: -1}}).SetLimit(int64(norm.Limit(limit, DefaultLimit))), deliveryDoc.delivery)
	if err != nil {
		return nil, fmt.Errorf("mongo: list deliveries: %w", err)
	}
	return out, nil
}

// ReplayDelivery makes a delivery pending and due again; moving its
// generation on takes the lease from any node holding it.
func (s *Store) ReplayDelivery(ctx context.Context, tenant, endpoint, id string, now, giveUp time.Time) (webhooks.Delivery, error) {
	var d deliveryDoc
	err := s.wh.deliveries.FindOneAndUpdate(ctx, append(tenantID(tenant, id), bson.E{Key: "endpoint_id", Value: endpoint}), bson.D{
		{Key: "$set", Value: bson.D{{Key: "status", Value: string(webhooks.Pending)}, {Key: "attempts", Value: 0},
			{Key: "next_at", Value: norm.Trunc(now)}, {Key: "give_up_at", Value: norm.Trunc(giveUp)},
			{Key: "delivered_at", Value: nil}, {Key: "owner", Value: ""}}},
		{Key: "$inc", Value: bson.D{{Key: "gen", Value: 1}}},
	}, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return webhooks.Delivery{}, fmt.Errorf("mongo: replay delivery %s: %w", id, errs.ErrNotFound)
	}
	if err != nil {
		return webhooks.Delivery{}, fmt.Errorf("mongo: replay delivery: %w", err)
	}
	return d.delivery()
}

// UserDeliveries pages a user's deliveries by id.
func (s *Store) UserDeliveries(ctx context.Context, tenant, user, after string, limit int) ([]webhooks.Delivery, error) {
	out, err := findAll(ctx, s.wh.deliveries, bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user},
		{Key: "id", Value: bson.D{{Key: "$gt", Value: after}}}},
		options.Find().SetSort(bson.D{{Key: "id", Value: 1}}).SetLimit(int64(norm.Limit(limit, DefaultLimit))), deliveryDoc.delivery)
	if err != nil {
		return nil, fmt.Errorf("mongo: user deliveries: %w", err)
	}
	return out, nil
}

// RedactUserDeliveries replaces the payloads of the user's deliveries.
func (s *Store) RedactUserDeliveries(ctx context.Context, tenant, user string, payload []byte) error {
	_, err := s.wh.deliveries.UpdateMany(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "payload", Value: string(payload)}, {Key: "user", Value: ""}}}})
	if err != nil {
		return fmt.Errorf("mongo: erase webhook deliveries: %w", err)
	}
	return nil
}
