// Package audit keeps an append-only record of sensitive actions taken by
// managers and moderators: who did what to whom, when and why.
package audit

import (
	"context"
	"time"
)

// Entry is one recorded action.
type Entry struct {
	ID      string            `json:"id"`
	Tenant  string            `json:"-"`
	Actor   string            `json:"actor" doc:"Who acted (a user id, or key:{id} for an API key)."`
	Action  string            `json:"action" doc:"What was done, e.g. leaderboard.exclude."`
	Subject string            `json:"subject" doc:"What it was done to, e.g. leaderboard:{id}/user:{id}."`
	Detail  map[string]string `json:"detail,omitempty"`
	At      time.Time         `json:"at"`
}

// Store keeps the audit log. Entries are never deleted, nor changed but
// by an erasure (see UserData).
type Store interface {
	UserData // export and erasure: privacy.go
	// AppendAudit stores e.
	AppendAudit(ctx context.Context, e Entry) error
	// ListAudit pages a tenant's entries newest first, starting after the
	// entry id `before` ("" = from the newest).
	ListAudit(ctx context.Context, tenant, before string, limit int) ([]Entry, error)
}
