package audit

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/httpx"
)

// Log appends to and reads the audit log.
type Log struct{ store Store }

// NewLog returns an audit log over store.
func NewLog(store Store) *Log { return &Log{store: store} }

// Append records e.
func (l *Log) Append(ctx context.Context, e Entry) error {
	if err := l.store.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("audit: append %s: %w", e.Action, err)
	}
	return nil
}

// Routes registers the audit API: managers read their tenant's log.
func Routes(api huma.API, l *Log) {
	auth.Register(api, huma.Operation{
		OperationID: "list-audit", Method: http.MethodGet, Path: "/v1/audit",
		Summary: "Audit log, newest first (manager)", Tags: []string{"audit"},
		Description: "Every change staff make through the API (each successful call, other than a read, of a manager or admin route: " +
			"action is the operation id, subject the objects its path names), and sensitive actions with their own entries: " +
			"leaderboard.exclude with its reason, user.read, user.export, user.erase (under the erased user's pseudonym), event.retry.",
	}, auth.Managers, func(ctx context.Context, in *logQuery) (*logPage, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		es, err := l.store.ListAudit(ctx, p.Tenant, in.Cursor, in.Limit+1)
		if err != nil {
			return nil, fmt.Errorf("audit: list: %w", err)
		}
		out := &logPage{}
		out.Body.Entries, out.Body.NextCursor = httpx.Page(es, in.Limit, func(e Entry) string { return e.ID })
		return out, nil
	})
}

type logQuery struct {
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"50"`
}

type logPage struct {
	Body struct {
		Entries    []Entry `json:"entries"`
		NextCursor string  `json:"next_cursor,omitempty"`
	}
}
