package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/storage/internal/norm"
)

// eventDoc is an event as stored. Props and Result are kept raw so they
// can be read back with JSON semantics (see rawToMap).
type eventDoc struct {
	Tenant      string     `bson:"tenant"`
	ID          string     `bson:"id"`
	Key         string     `bson:"idempotency_key"`
	User        string     `bson:"user"`
	Type        string     `bson:"type"`
	Props       bson.Raw   `bson:"props,omitempty"`
	OccurredAt  time.Time  `bson:"occurred_at"`
	ReceivedAt  time.Time  `bson:"received_at"`
	Source      string     `bson:"source"`
	Fingerprint string     `bson:"fingerprint"`
	Processed   bool       `bson:"processed"`
	ProcessedAt *time.Time `bson:"processed_at"`
	Result      bson.Raw   `bson:"result,omitempty"`
	// Retries: absent on events stored before them, which reads as none.
	Attempts   int        `bson:"attempts,omitempty"`
	NextAt     *time.Time `bson:"next_at,omitempty"`
	DeadAt     *time.Time `bson:"dead_at,omitempty"`
	DeadReason string     `bson:"dead_reason,omitempty"`
}

func (d eventDoc) event() (events.Event, error) {
	e := events.Event{
		ID: d.ID, Tenant: d.Tenant, User: d.User, Type: d.Type,
		OccurredAt: norm.Trunc(d.OccurredAt), ReceivedAt: norm.Trunc(d.ReceivedAt),
		IdempotencyKey: d.Key, Source: d.Source, Fingerprint: d.Fingerprint,
		Processed: d.Processed, ProcessedAt: tptr(d.ProcessedAt),
		Attempts: d.Attempts, NextAttemptAt: tptr(d.NextAt), DeadAt: tptr(d.DeadAt), DeadReason: d.DeadReason,
	}
	var err error
	if e.Props, err = rawToMap(d.Props); err != nil {
		return events.Event{}, fmt.Errorf("decode props of event %s: %w", d.ID, err)
	}
	if len(d.Result) > 0 {
		e.Result = new(events.Result)
		if err := rawToJSON(d.Result, e.Result); err != nil {
			return events.Event{}, fmt.Errorf("decode result of event %s: %w", d.ID, err)
		}
	}
	return e, nil
}

// InsertEvent stores e, or returns the tenant's event with the same
// idempotency key and inserted=false. An empty ID gets a UUIDv7, an empty
// idempotency key becomes the ID, and a zero ReceivedAt becomes now. An ID
// already used by an event with another key is an errs.ErrDuplicate.
func (s *Store) InsertEvent(ctx context.Context, e events.Event) (events.Event, bool, error) {
	e, _, resJSON, err := norm.Event(e)
	if err != nil {
		return events.Event{}, false, fmt.Errorf("mongo: insert event: %w", err)
	}
	d := eventDoc{
		Tenant: e.Tenant, ID: e.ID, Key: e.IdempotencyKey, User: e.User, Type: e.Type,
		OccurredAt: e.OccurredAt, ReceivedAt: e.ReceivedAt, Source: e.Source,
		Fingerprint: e.Fingerprint, Processed: e.Processed, ProcessedAt: e.ProcessedAt,
		Attempts: e.Attempts, NextAt: e.NextAttemptAt, DeadAt: e.DeadAt, DeadReason: e.DeadReason,
	}
	if d.Props, err = mapToRaw(e.Props); err != nil {
		return events.Event{}, false, fmt.Errorf("mongo: insert event: encode props: %w", err)
	}
	if d.Result, err = jsonToRaw(resJSON); err != nil {
		return events.Event{}, false, fmt.Errorf("mongo: insert event: encode result: %w", err)
	}
	key := bson.D{{Key: "tenant", Value: e.Tenant}, {Key: "idempotency_key", Value: e.IdempotencyKey}}
	stored, inserted, err := insertOrExisting(ctx, s.events, d, key, e, eventDoc.event)
	if err != nil {
		return events.Event{}, false, fmt.Errorf("mongo: insert event %s: %w", e.ID, err)
	}
	return stored, inserted, nil
}

// MarkProcessed records the event's result. Only the first call counts: a
// second processing (a sweeper racing a slow request) keeps the first
// result, which is the one the caller of the key was already given.
func (s *Store) MarkProcessed(ctx context.Context, tenant, id string, r events.Result, at time.Time) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("mongo: mark processed: encode result: %w", err)
	}
	raw, err := jsonToRaw(b)
	if err != nil {
		return fmt.Errorf("mongo: mark processed: encode result: %w", err)
	}
	res, err := s.events.UpdateOne(ctx,
		bson.D{{Key: "tenant", Value: tenant}, {Key: "id", Value: id}, {Key: "processed", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "processed", Value: true},
			{Key: "processed_at", Value: norm.Trunc(at)},
			{Key: "result", Value: raw},
		}}})
	if err != nil {
		return fmt.Errorf("mongo: mark processed: %w", err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	ok, err := exists(ctx, s.events, bson.D{{Key: "tenant", Value: tenant}, {Key: "id", Value: id}})
	if err != nil {
		return fmt.Errorf("mongo: mark processed: %w", err)
	}
	if !ok {
		return fmt.Errorf("mongo: mark processed: event %s: %w", id, errs.ErrNotFound)
	}
	return nil
}

// Unprocessed lists unprocessed events of every tenant received before the
// given time, oldest first (ties by tenant and id, so pages are stable).
// The filter repeats processed=false so the partial index applies.
func (s *Store) Unprocessed(ctx context.Context, receivedBefore time.Time, limit int) ([]events.Event, error) {
	before := norm.Trunc(receivedBefore)
	out, err := findAll(ctx, s.events,
		bson.D{{Key: "processed", Value: false}, {Key: "received_at", Value: bson.D{{Key: "$lt", Value: before}}},
			// Absent (never failed) or come; a dead event is never due.
			{Key: "next_at", Value: bson.D{{Key: "$not", Value: bson.D{{Key: "$gt", Value: before}}}}},
			{Key: "dead_at", Value: nil}},
		options.Find().
			SetSort(bson.D{{Key: "processed", Value: 1}, {Key: "received_at", Value: 1}, {Key: "tenant", Value: 1}, {Key: "id", Value: 1}}).
			SetLimit(int64(norm.Limit(limit, DefaultLimit))),
		eventDoc.event)
	if err != nil {
		return nil, fmt.Errorf("mongo: unprocessed events: %w", err)
	}
	return out, nil
}

// RecordAttempt stores a failed try at an unprocessed event. Counts and
// times only grow ($max) and a dead event stays dead, so two sweepers
// recording the same failure agree.
func (s *Store) RecordAttempt(ctx context.Context, tenant, id string, a events.Attempt) error {
	live := bson.D{{Key: "tenant", Value: tenant}, {Key: "id", Value: id}, {Key: "processed", Value: false}}
	_, err := s.events.UpdateOne(ctx, live, bson.D{{Key: "$max", Value: bson.D{
		{Key: "attempts", Value: a.Attempts}, {Key: "next_at", Value: norm.Trunc(a.NextAt)},
	}}})
	if err == nil && a.DeadAt != nil {
		_, err = s.events.UpdateOne(ctx, append(live, bson.E{Key: "dead_at", Value: nil}),
			bson.D{{Key: "$set", Value: bson.D{{Key: "dead_at", Value: norm.Trunc(*a.DeadAt)}, {Key: "dead_reason", Value: a.DeadReason}}}})
	}
	if err != nil {
		return fmt.Errorf("mongo: record attempt: %w", err)
	}
	return nil
}

// deadAny selects dead, unprocessed events; it repeats $exists so that
// the partial index events_dead applies.
var deadAny = bson.D{{Key: "dead_at", Value: bson.D{{Key: "$exists", Value: true}, {Key: "$ne", Value: nil}}}, {Key: "processed", Value: false}}

// deadFilter selects a tenant's dead, unprocessed events.
func deadFilter(tenant string) bson.D {
	return append(bson.D{{Key: "tenant", Value: tenant}}, deadAny...)
}

// DeadEvents pages a tenant's dead, unprocessed events newest first.
func (s *Store) DeadEvents(ctx context.Context, tenant, before string, limit int) ([]events.Event, error) {
	f := deadFilter(tenant)
	if before != "" {
		f = append(f, bson.E{Key: "id", Value: bson.D{{Key: "$lt", Value: before}}})
	}
	out, err := findAll(ctx, s.events, f,
		options.Find().SetSort(bson.D{{Key: "id", Value: -1}}).SetLimit(int64(norm.Limit(limit, DefaultLimit))),
		eventDoc.event)
	if err != nil {
		return nil, fmt.Errorf("mongo: dead events: %w", err)
	}
	return out, nil
}

// Revive takes a dead event out of the dead letters.
func (s *Store) Revive(ctx context.Context, tenant, id string) (events.Event, error) {
	var d eventDoc
	err := s.events.FindOneAndUpdate(ctx, append(deadFilter(tenant), bson.E{Key: "id", Value: id}),
		bson.D{{Key: "$unset", Value: bson.D{{Key: "attempts", Value: ""}, {Key: "next_at", Value: ""},
			{Key: "dead_at", Value: ""}, {Key: "dead_reason", Value: ""}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return events.Event{}, fmt.Errorf("mongo: revive event: dead event %s: %w", id, errs.ErrNotFound)
	}
	if err != nil {
		return events.Event{}, fmt.Errorf("mongo: revive event: %w", err)
	}
	e, err := d.event()
	if err != nil {
		return events.Event{}, fmt.Errorf("mongo: revive event: %w", err)
	}
	return e, nil
}

// CountDead counts the dead, unprocessed events of every tenant.
func (s *Store) CountDead(ctx context.Context) (int64, error) {
	n, err := s.events.CountDocuments(ctx, deadAny)
	if err != nil {
		return 0, fmt.Errorf("mongo: count dead events: %w", err)
	}
	return n, nil
}
