package ugc

import (
	"context"
	"fmt"
	"slices"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
)

// listed returns a submission the public may see, or the 404 of a
// missing one: pending, rejected and removed content does not exist for
// readers.
func (s *Service) listed(ctx context.Context, tenant, id string) (Submission, error) {
	sub, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Submission{}, err
	}
	if !sub.Listed() {
		return Submission{}, notFound(id)
	}
	return sub, nil
}

// Vote sets the user's helpful vote on a listed submission; voting again
// changes the vote, never adds one. It returns the helpful count after.
func (s *Service) Vote(ctx context.Context, tenant, user, id string, helpful bool) (int64, error) {
	sub, err := s.listed(ctx, tenant, id)
	if err != nil {
		return 0, err
	}
	if sub.User == user {
		return 0, errs.New(errs.Conflict, "own-submission", "authors cannot vote on their own content")
	}
	n, err := s.Store.Vote(ctx, tenant, id, user, helpful)
	if err != nil {
		return 0, fmt.Errorf("ugc: vote on %s: %w", id, err)
	}
	return n, nil
}

// Report records the user's abuse report of a listed submission, once
// per user. At the tenant's threshold the content leaves the feed and
// goes back to the queue, flagged reported.
func (s *Service) Report(ctx context.Context, tenant, user, id, reason string) (bool, error) {
	sub, err := s.listed(ctx, tenant, id)
	if err != nil {
		return false, err
	}
	fresh, n, err := s.Store.Report(ctx, tenant, id, user, reason)
	if err != nil {
		return false, fmt.Errorf("ugc: report %s: %w", id, err)
	}
	st, err := s.Settings(ctx, tenant)
	if err != nil {
		return false, err
	}
	if n < int64(st.ReportThreshold) {
		return fresh, nil
	}
	// Each report at or over the threshold tries, so a crash after the
	// count does not leave reported content up.
	for range 3 {
		next := sub
		if sub.Status != Pending {
			// The reported version is what is judged, not an edit
			// rejected earlier; a pending edit is judged with it.
			next.Content = *sub.Public
			fingerprint(&next)
		}
		next.Public, next.Status, next.QueuedAt, next.UpdatedAt = nil, Pending, s.clock(), s.clock()
		next.Flags = append(slices.Clone(sub.Flags), FlagReported)
		_, err = s.save(ctx, sub, next)
		if errs.KindOf(err) != errs.Conflict {
			break
		}
		if sub, err = s.Get(ctx, tenant, id); err != nil || !sub.Listed() {
			return fresh, nil // erased, or already unlisted by someone else
		}
	}
	if err != nil {
		return false, err
	}
	return fresh, nil
}

// ReplyTo sets (or, with an empty body, clears) the brand's public reply
// to a listed submission.
func (s *Service) ReplyTo(ctx context.Context, tenant, id, body string) (Submission, error) {
	sub, err := s.listed(ctx, tenant, id)
	if err != nil {
		return Submission{}, err
	}
	next := sub
	next.Reply, next.UpdatedAt = nil, s.clock()
	if body != "" {
		next.Reply = &Reply{Body: body, At: s.clock()}
	}
	return s.save(ctx, sub, next)
}

// HandleEvent records purchases with a product_id, which verify the
// buyer's reviews of that product. Purchases come only from trusted back
// ends (events.TrustedOnly).
func (s *Service) HandleEvent(ctx context.Context, ev events.Event, _ *events.Result) ([]events.Event, error) {
	product, ok := purchased(ev)
	if !ok {
		return nil, nil
	}
	if err := s.Store.AddPurchase(ctx, ev.Tenant, ev.User, product); err != nil {
		return nil, fmt.Errorf("ugc: record purchase %s: %w", ev.ID, err)
	}
	return nil, nil
}

// Preview says every event but a purchase of a product changes nothing
// here, so UGC never slows the one-write path of other events.
func (s *Service) Preview(_ context.Context, ev events.Event, _ *events.Result) (bool, error) {
	_, ok := purchased(ev)
	return !ok, nil
}

func purchased(ev events.Event) (string, bool) {
	if ev.Type != "purchase" {
		return "", false
	}
	p, ok := ev.Props["product_id"].(string)
	return p, ok && idPattern.MatchString(p)
}
