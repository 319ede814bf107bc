package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/storage/internal/norm"
)

// CreateAPIKey stores a hashed API key. An existing (tenant, id) or hash is
// an errs.ErrDuplicate. A zero CreatedAt becomes now.
func (s *Store) CreateAPIKey(ctx context.Context, k auth.APIKey) error {
	if k.ID == "" {
		return errors.New("sqlite: create api key: empty id")
	}
	k.CreatedAt = norm.NowIfZero(k.CreatedAt)
	k.RevokedAt = norm.TruncPtr(k.RevokedAt)
	var scopes any
	if len(k.Scopes) > 0 {
		b, err := json.Marshal(k.Scopes)
		if err != nil {
			return fmt.Errorf("sqlite: create api key: encode scopes: %w", err)
		}
		scopes = string(b)
	}
	err := s.w.do(ctx, func(tx *wtx) error {
		return insertNew(tx, s.wq.insertAPIKey, []any{k.Tenant, k.ID, k.Name, k.Prefix, k.Hash, scopes,
			norm.Millis(k.CreatedAt), nullTime(k.RevokedAt)}, "api key "+k.ID)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create api key: %w", err)
	}
	return nil
}

// APIKeyByHash finds a key of any tenant by its hash; revoked keys are
// returned too (with RevokedAt set) so the caller can tell "revoked" from
// "unknown".
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (auth.APIKey, error) {
	k, err := scanAPIKey(s.rq.apiKeyByHash.QueryRowContext(ctx, hash))
	if err != nil {
		return auth.APIKey{}, fmt.Errorf("sqlite: api key by hash: %w", notFound(err, "api key", "(by hash)"))
	}
	return k, nil
}

// ListAPIKeys lists a tenant's keys, revoked ones included, in id order.
func (s *Store) ListAPIKeys(ctx context.Context, tenant string) ([]auth.APIKey, error) {
	rows, err := s.rq.listAPIKeys.QueryContext(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list api keys: %w", err)
	}
	out, err := collect(rows, scanAPIKey)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list api keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey marks a key revoked. Revoking twice keeps the first time, so
// the audit trail shows when the key really stopped working.
func (s *Store) RevokeAPIKey(ctx context.Context, tenant, id string, at time.Time) error {
	at = norm.Trunc(at)
	err := s.w.do(ctx, func(tx *wtx) error {
		r, err := tx.exec(s.wq.revokeAPIKey, norm.Millis(at), tenant, id)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		return notFound(tx.queryRow(s.wq.apiKeyExists, tenant, id).Scan(&one), "api key", id)
	})
	if err != nil {
		return fmt.Errorf("sqlite: revoke api key: %w", err)
	}
	return nil
}

func scanAPIKey(sc scanner) (auth.APIKey, error) {
	var (
		k       auth.APIKey
		scopes  sql.NullString
		created int64
		revoked sql.NullInt64
	)
	if err := sc.Scan(&k.Tenant, &k.ID, &k.Name, &k.Prefix, &k.Hash, &scopes, &created, &revoked); err != nil {
		return auth.APIKey{}, err
	}
	k.CreatedAt, k.RevokedAt = norm.Time(created), timePtr(revoked)
	if scopes.Valid && scopes.String != "" {
		if err := json.Unmarshal([]byte(scopes.String), &k.Scopes); err != nil {
			return auth.APIKey{}, fmt.Errorf("decode scopes of api key %s: %w", k.ID, err)
		}
		k.Scopes = norm.Strings(k.Scopes)
	}
	return k, nil
}
