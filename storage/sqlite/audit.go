package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/storage/internal/norm"
)

// AppendAudit stores e. An empty ID gets a UUIDv7 and a zero At becomes
// now; an ID the tenant has used already is an errs.ErrDuplicate, since
// entries are never replaced.
func (s *Store) AppendAudit(ctx context.Context, e audit.Entry) error {
	if e.ID == "" {
		e.ID = uuid.Must(uuid.NewV7()).String()
	}
	e.At = norm.NowIfZero(e.At)
	var detail any
	if len(e.Detail) > 0 {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return fmt.Errorf("sqlite: append audit: encode detail: %w", err)
		}
		detail = string(b)
	}
	err := s.w.do(ctx, func(tx *wtx) error {
		return insertNew(tx, s.wq.insertAudit, []any{e.Tenant, e.ID, e.Actor, e.Action, e.Subject, detail, norm.Millis(e.At)}, "audit entry "+e.ID)
	})
	if err != nil {
		return fmt.Errorf("sqlite: append audit: %w", err)
	}
	return nil
}

// ListAudit pages a tenant's entries newest first (by id, which is UUIDv7
// and so by time), starting after the entry id before ("" = the newest).
func (s *Store) ListAudit(ctx context.Context, tenant, before string, limit int) ([]audit.Entry, error) {
	limit = norm.Limit(limit, DefaultLimit)
	var (
		rows *sql.Rows
		err  error
	)
	if before == "" {
		rows, err = s.rq.audit.QueryContext(ctx, tenant, limit)
	} else {
		rows, err = s.rq.auditBefore.QueryContext(ctx, tenant, before, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	out, err := collect(rows, scanAudit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	return out, nil
}

func scanAudit(sc scanner) (audit.Entry, error) {
	var (
		e      audit.Entry
		detail sql.NullString
		at     int64
	)
	if err := sc.Scan(&e.Tenant, &e.ID, &e.Actor, &e.Action, &e.Subject, &detail, &at); err != nil {
		return audit.Entry{}, err
	}
	e.At = norm.Time(at)
	if detail.Valid {
		if err := json.Unmarshal([]byte(detail.String), &e.Detail); err != nil {
			return audit.Entry{}, fmt.Errorf("decode detail of audit entry %s: %w", e.ID, err)
		}
		e.Detail = norm.StringMap(e.Detail)
	}
	return e, nil
}
