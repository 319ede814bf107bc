package audit

import (
	"context"
	"fmt"

	"github.com/questline/questline/auth"
)

// UserData is what a user's export and erasure need of the audit store.
// An entry is about a user when its subject is user:{id} or ends in
// /user:{id}, or when the user is its actor.
type UserData interface {
	// AuditAbout lists the entries about the user, newest first.
	AuditAbout(ctx context.Context, tenant, user string) ([]Entry, error)
	// AnonymiseAudit replaces the user's id by pseudonym in the entries
	// about them: the only change ever made to an entry, so the log still
	// says who did what and when, without naming an erased user.
	AnonymiseAudit(ctx context.Context, tenant, user, pseudonym string) error
}

// UserExport is the audit section of a user's data export.
type UserExport struct {
	Entries []Entry `json:"entries" doc:"Audit entries about the user, or by them, newest first."`
}

// Export returns the audit entries about the user.
func (l *Log) Export(ctx context.Context, tenant, user string) (string, any, error) {
	es, err := l.store.AuditAbout(ctx, tenant, user)
	if err != nil {
		return "", nil, fmt.Errorf("audit: export %s: %w", user, err)
	}
	return "audit", UserExport{Entries: append([]Entry{}, es...)}, nil
}

// Erase replaces the user's id by their pseudonym in the audit log.
func (l *Log) Erase(ctx context.Context, tenant, user string) error {
	if err := l.store.AnonymiseAudit(ctx, tenant, user, auth.Pseudonym(tenant, user)); err != nil {
		return fmt.Errorf("audit: erase %s: %w", user, err)
	}
	return nil
}
