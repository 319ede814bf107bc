package webhooks

import (
	"context"
	"fmt"
)

// exportPage is how many deliveries one read of an export takes.
const exportPage = 500

// redacted replaces the body of an erased user's deliveries: a queued one
// then sends only this, never the user's data.
var redacted = []byte(`{"redacted":true}`)

// Export returns the deliveries that carried the user's events (their
// bodies hold the user id and the event's props).
func (s *Service) Export(ctx context.Context, tenant, user string) (string, any, error) {
	out := []Delivery{}
	for after := ""; ; {
		page, err := s.store.UserDeliveries(ctx, tenant, user, after, exportPage)
		if err != nil {
			return "", nil, fmt.Errorf("webhooks: export %s: %w", user, err)
		}
		out = append(out, page...)
		if len(page) < exportPage {
			return "webhook_deliveries", out, nil
		}
		after = page[len(page)-1].ID
	}
}

// Erase redacts the bodies of the user's deliveries and forgets whose they
// were; the log keeps their status for the endpoint's owner.
func (s *Service) Erase(ctx context.Context, tenant, user string) error {
	if err := s.store.RedactUserDeliveries(ctx, tenant, user, redacted); err != nil {
		return fmt.Errorf("webhooks: erase %s: %w", user, err)
	}
	return nil
}
