package events

import (
	"context"
	"fmt"
)

// UserData is what a user's export and erasure need of the event store.
type UserData interface {
	// UserEvents pages a user's events in id order, starting after the
	// event id `after` ("" = from the first).
	UserEvents(ctx context.Context, tenant, user, after string, limit int) ([]Event, error)
	// DeleteUserEvents deletes every event of the user, processed or not,
	// so the sweeper never runs one again.
	DeleteUserEvents(ctx context.Context, tenant, user string) error
}

// exportPage is how many events one read of an export takes.
const exportPage = 500

// Export returns every event the user sent or was sent for, oldest first.
func (s *Service) Export(ctx context.Context, tenant, user string) (string, any, error) {
	out := []Event{}
	for after := ""; ; {
		page, err := s.store.UserEvents(ctx, tenant, user, after, exportPage)
		if err != nil {
			return "", nil, fmt.Errorf("events: export %s: %w", user, err)
		}
		out = append(out, page...)
		if len(page) < exportPage {
			return "events", out, nil
		}
		after = page[len(page)-1].ID
	}
}

// Erase deletes the user's raw events. Their effects are erased by the
// domains that hold them.
func (s *Service) Erase(ctx context.Context, tenant, user string) error {
	if err := s.store.DeleteUserEvents(ctx, tenant, user); err != nil {
		return fmt.Errorf("events: erase %s: %w", user, err)
	}
	return nil
}
