package ugc

import (
	"context"
	"fmt"
	"time"

	"github.com/questline/questline/audit"
)

// UserData is what erasure needs of the store.
type UserData interface {
	// DeleteSubmission deletes one submission with its votes and reports,
	// moving its product's summary by its PublicRating; errs.ErrNotFound
	// if absent.
	DeleteSubmission(ctx context.Context, tenant, id string) error
	// EraseUGCUser deletes every submission of the user (as
	// DeleteSubmission does), the user's votes (moving the counters of
	// the submissions voted on), reports and purchases. Repeating it
	// changes nothing.
	EraseUGCUser(ctx context.Context, tenant, user string) error
}

// UserExport is the ugc section of a user's export.
type UserExport struct {
	Submissions []Submission `json:"submissions"`
}

// exportPage is how many submissions one read of an export takes.
const exportPage = 500

// Export returns every submission of the user, as the user sees them.
func (s *Service) Export(ctx context.Context, tenant, user string) (string, any, error) {
	out := UserExport{Submissions: []Submission{}}
	before := ""
	for {
		page, err := s.Store.UserSubmissions(ctx, tenant, user, before, exportPage)
		if err != nil {
			return "", nil, fmt.Errorf("ugc: export %s: %w", user, err)
		}
		out.Submissions = append(out.Submissions, page...)
		if len(page) < exportPage {
			return "ugc", out, nil
		}
		before = page[len(page)-1].ID
	}
}

// Erase reverses what the user's approved content earned, then deletes
// their submissions, votes, reports and purchases, and moves the
// summaries and counters they were part of. It runs before the ledger is
// anonymised (see cmd/server), so the reversals are the user's own.
func (s *Service) Erase(ctx context.Context, tenant, user string) error {
	_, data, err := s.Export(ctx, tenant, user)
	if err != nil {
		return err
	}
	for _, sub := range data.(UserExport).Submissions {
		if err := s.reverse(ctx, sub, "erased"); err != nil {
			return fmt.Errorf("ugc: erase %s: %w", user, err)
		}
	}
	if err := s.Store.EraseUGCUser(ctx, tenant, user); err != nil {
		return fmt.Errorf("ugc: erase %s: %w", user, err)
	}
	return nil
}

// DeleteOwn erases one of the author's submissions, with its media links,
// votes and reports, and records it in the audit log without its content.
func (s *Service) DeleteOwn(ctx context.Context, tenant, user, id string) error {
	sub, err := s.Get(ctx, tenant, id)
	if err != nil {
		return err
	}
	if sub.User != user {
		return notFound(id)
	}
	// Points first: a failure leaves the content, and a retry reverses
	// nothing twice.
	if err := s.reverse(ctx, sub, "erased"); err != nil {
		return err
	}
	if err := s.Store.DeleteSubmission(ctx, tenant, id); err != nil {
		return fmt.Errorf("ugc: delete %s: %w", id, err)
	}
	if s.Auditor != nil {
		e := audit.Entry{
			Tenant: tenant, Actor: user, Action: "ugc.erased", Subject: "submission:" + id + "/user:" + user,
			Detail: map[string]string{"kind": string(sub.Kind), "status": string(sub.Status)},
			At:     s.clock(),
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.Auditor.Append(actx, e); err != nil {
			s.Logger.Error("ugc: an erasure was made but not recorded", "submission", id, "err", err)
		}
	}
	return nil
}
