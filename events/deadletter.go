package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/questline/questline/internal/errs"
)

// DeadEvents pages the tenant's dead events newest first, starting after
// the id before ("" = from the newest); limit+1 may be asked for to learn
// whether there is a next page.
func (s *Service) DeadEvents(ctx context.Context, tenant, before string, limit int) ([]Event, error) {
	evs, err := s.store.DeadEvents(ctx, tenant, before, limit)
	if err != nil {
		return nil, fmt.Errorf("events: dead events: %w", err)
	}
	return evs, nil
}

// Retry takes a dead event out of the dead letters and processes it at
// once. If it fails again it is the sweeper's once more, with a fresh
// count of attempts; the returned event says which happened.
func (s *Service) Retry(ctx context.Context, tenant, id string) (Event, error) {
	ev, err := s.store.Revive(ctx, tenant, id)
	if errors.Is(err, errs.ErrNotFound) {
		return Event{}, errs.New(errs.NotFound, "dead-event-not-found", "no dead event %q", id)
	}
	if err != nil {
		return Event{}, fmt.Errorf("events: retry %s: %w", id, err)
	}
	r, err := s.Process(ctx, ev)
	if err != nil {
		if rerr := s.failed(ctx, ev, err); rerr != nil {
			return Event{}, rerr
		}
		ev.Attempts = 1
		next := s.now().UTC().Truncate(time.Millisecond).Add(backoff(1))
		ev.NextAttemptAt = &next
		return ev, nil
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	ev.Processed, ev.ProcessedAt, ev.Result = true, &now, &r
	return ev, nil
}
