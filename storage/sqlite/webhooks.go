package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/storage/internal/norm"
	"github.com/questline/questline/webhooks"
)

// webhooksSchema holds endpoints and the delivery outbox. A delivery is
// unique per (tenant, endpoint, event), which makes the outbox insert
// idempotent. webhook_deliveries_due is the senders' cross-tenant scan
// (like events_due): a claim moves next_at to the lease's end, so one
// index answers both "due" and "lease expired".
var webhooksSchema = []string{
	`CREATE TABLE IF NOT EXISTS webhook_endpoints (
		tenant          TEXT NOT NULL,
		id              TEXT NOT NULL,
		url             TEXT NOT NULL,
		description     TEXT NOT NULL,
		event_types     TEXT NOT NULL,
		disabled        INTEGER NOT NULL,
		disabled_reason TEXT NOT NULL,
		disabled_at     INTEGER,
		secret          TEXT NOT NULL,
		previous_secret TEXT NOT NULL,
		previous_until  INTEGER,
		failures        INTEGER NOT NULL,
		failing_since   INTEGER,
		created_at      INTEGER NOT NULL,
		updated_at      INTEGER NOT NULL,
		version         INTEGER NOT NULL,
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS webhook_deliveries (
		tenant          TEXT NOT NULL,
		id              TEXT NOT NULL,
		endpoint_id     TEXT NOT NULL,
		event_id        TEXT NOT NULL,
		event_type      TEXT NOT NULL,
		user_id         TEXT NOT NULL,
		payload         TEXT NOT NULL,
		status          TEXT NOT NULL,
		attempts        INTEGER NOT NULL,
		next_at         INTEGER NOT NULL,
		give_up_at      INTEGER NOT NULL,
		last_attempt_at INTEGER,
		last_status     INTEGER NOT NULL,
		last_error      TEXT NOT NULL,
		created_at      INTEGER NOT NULL,
		delivered_at    INTEGER,
		owner           TEXT NOT NULL,
		gen             INTEGER NOT NULL,
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX IF NOT EXISTS webhook_deliveries_event ON webhook_deliveries (tenant, endpoint_id, event_id)`,
	`CREATE INDEX IF NOT EXISTS webhook_deliveries_log ON webhook_deliveries (tenant, endpoint_id, id)`,
	`CREATE INDEX IF NOT EXISTS webhook_deliveries_user ON webhook_deliveries (tenant, user_id, id)`,
	`CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_at, endpoint_id) WHERE status = 'pending'`,
}

const (
	endpointCols = `tenant, id, url, description, event_types, disabled, disabled_reason, disabled_at, secret,
		previous_secret, previous_until, failures, failing_since, created_at, updated_at, version`
	deliveryCols = `tenant, id, endpoint_id, event_id, event_type, user_id, payload, status, attempts, next_at,
		give_up_at, last_attempt_at, last_status, last_error, created_at, delivered_at, owner, gen`
)

// webhookStmts are the webhook store's prepared statements: writes on the
// writer's connection, reads on the read pool.
type webhookStmts struct {
	insertEndpoint, updateEndpoint, endpointExists, deleteEndpoint *sql.Stmt
	deleteEndpointDeliveries, recordFailure, recordSuccess         *sql.Stmt
	disableEndpoint, insertDelivery, claimDeliveries, finish       *sql.Stmt
	replay, redact                                                 *sql.Stmt

	getEndpoint, listEndpoints, getDelivery *sql.Stmt
	deliveries, deliveriesBefore, userLog   *sql.Stmt
}

func (s *Store) prepareWebhooks(ctx context.Context, conn *sql.Conn) error {
	q := &s.wh
	stmts := []struct {
		dst  **sql.Stmt
		read bool
		q    string
	}{
		{&q.insertEndpoint, false, `INSERT INTO webhook_endpoints (` + endpointCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		{&q.updateEndpoint, false, `UPDATE webhook_endpoints SET url = ?, description = ?, event_types = ?, disabled = ?, disabled_reason = ?,
			disabled_at = ?, secret = ?, previous_secret = ?, previous_until = ?, failures = ?, failing_since = ?, updated_at = ?, version = ?
			WHERE tenant = ? AND id = ? AND version = ?`},
		{&q.endpointExists, false, `SELECT 1 FROM webhook_endpoints WHERE tenant = ? AND id = ?`},
		{&q.deleteEndpoint, false, `DELETE FROM webhook_endpoints WHERE tenant = ? AND id = ?`},
		{&q.deleteEndpointDeliveries, false, `DELETE FROM webhook_deliveries WHERE tenant = ? AND endpoint_id = ?`},
		{&q.recordFailure, false, `UPDATE webhook_endpoints SET failures = failures + 1, failing_since = coalesce(failing_since, ?)
			WHERE tenant = ? AND id = ? RETURNING ` + endpointCols},
		{&q.recordSuccess, false, `UPDATE webhook_endpoints SET failures = 0, failing_since = NULL WHERE tenant = ? AND id = ? AND failures > 0`},
		{&q.disableEndpoint, false, `UPDATE webhook_endpoints SET disabled = 1, disabled_reason = ?, disabled_at = ?, version = version + 1
			WHERE tenant = ? AND id = ? AND disabled = 0`},
		{&q.insertDelivery, false, `INSERT INTO webhook_deliveries (` + deliveryCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`},
		// Scan the oldest due deliveries (a bounded window of the due
		// index, skipping endpoints at their share), keep perEndpoint of
		// each endpoint, and lease them: next_at moves to the lease's end.
		{&q.claimDeliveries, false, `UPDATE webhook_deliveries SET owner = ?, next_at = ?, gen = gen + 1 WHERE (tenant, id) IN (
			SELECT tenant, id FROM (
				SELECT tenant, id, next_at, row_number() OVER (PARTITION BY tenant, endpoint_id ORDER BY next_at, id) AS rn FROM (
					SELECT tenant, id, endpoint_id, next_at FROM webhook_deliveries INDEXED BY webhook_deliveries_due
					WHERE status = 'pending' AND next_at <= ? AND endpoint_id NOT IN (SELECT value FROM json_each(?))
					ORDER BY next_at LIMIT ?))
			WHERE rn <= ? ORDER BY next_at LIMIT ?)
			RETURNING ` + deliveryCols},
		{&q.finish, false, `UPDATE webhook_deliveries SET status = ?, attempts = ?, next_at = ?, last_attempt_at = ?, last_status = ?,
			last_error = ?, delivered_at = ?, owner = '' WHERE tenant = ? AND id = ? AND owner = ? AND gen = ?`},
		{&q.replay, false, `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_at = ?, give_up_at = ?, delivered_at = NULL,
			owner = '', gen = gen + 1 WHERE tenant = ? AND endpoint_id = ? AND id = ? RETURNING ` + deliveryCols},
		{&q.redact, false, `UPDATE webhook_deliveries SET payload = ?, user_id = '' WHERE tenant = ? AND user_id = ?`},

		{&q.getEndpoint, true, `SELECT ` + endpointCols + ` FROM webhook_endpoints WHERE tenant = ? AND id = ?`},
		{&q.listEndpoints, true, `SELECT ` + endpointCols + ` FROM webhook_endpoints WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?`},
		{&q.getDelivery, true, `SELECT ` + deliveryCols + ` FROM webhook_deliveries WHERE tenant = ? AND id = ?`},
		{&q.deliveries, true, `SELECT ` + deliveryCols + ` FROM webhook_deliveries INDEXED BY webhook_deliveries_log
			WHERE tenant = ? AND endpoint_id = ? ORDER BY id DESC LIMIT ?`},
		{&q.deliveriesBefore, true, `SELECT ` + deliveryCols + ` FROM webhook_deliveries INDEXED BY webhook_deliveries_log
			WHERE tenant = ? AND endpoint_id = ? AND id < ? ORDER BY id DESC LIMIT ?`},
		{&q.userLog, true, `SELECT ` + deliveryCols + ` FROM webhook_deliveries INDEXED BY webhook_deliveries_user
			WHERE tenant = ? AND user_id = ? AND id > ? ORDER BY id LIMIT ?`},
	}
	for _, p := range stmts {
		if err := s.prepareOne(ctx, conn, p.read, p.dst, p.q); err != nil {
			s.closeStmts()
			return err
		}
	}
	return nil
}

func endpointArgs(e webhooks.Endpoint) (string, error) {
	types, err := json.Marshal(e.EventTypes)
	return string(types), err
}

// CreateEndpoint stores a new endpoint.
func (s *Store) CreateEndpoint(ctx context.Context, e webhooks.Endpoint) error {
	types, err := endpointArgs(e)
	if err != nil {
		return fmt.Errorf("sqlite: create endpoint: %w", err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		return insertNew(tx, s.wh.insertEndpoint, []any{e.Tenant, e.ID, e.URL, e.Description, types, e.Disabled,
			e.DisabledReason, nullTime(e.DisabledAt), e.Secret, e.PreviousSecret, nullTime(e.PreviousUntil), e.Failures,
			nullTime(e.FailingSince), norm.Millis(e.CreatedAt), norm.Millis(e.UpdatedAt), e.Version}, "endpoint "+e.ID)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create endpoint: %w", err)
	}
	return nil
}

// UpdateEndpoint replaces an endpoint's definition, compare-and-set on
// its version.
func (s *Store) UpdateEndpoint(ctx context.Context, e webhooks.Endpoint) error {
	types, err := endpointArgs(e)
	if err != nil {
		return fmt.Errorf("sqlite: update endpoint: %w", err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		return updateVersioned(tx, s.wh.updateEndpoint, s.wh.endpointExists, []any{e.URL, e.Description, types, e.Disabled,
			e.DisabledReason, nullTime(e.DisabledAt), e.Secret, e.PreviousSecret, nullTime(e.PreviousUntil), e.Failures,
			nullTime(e.FailingSince), norm.Millis(e.UpdatedAt), e.Version}, e.Tenant, e.ID, e.Version, "endpoint")
	})
	if err != nil {
		return fmt.Errorf("sqlite: update endpoint: %w", err)
	}
	return nil
}

// GetEndpoint returns one endpoint of the tenant.
func (s *Store) GetEndpoint(ctx context.Context, tenant, id string) (webhooks.Endpoint, error) {
	e, err := scanEndpoint(s.wh.getEndpoint.QueryRowContext(ctx, tenant, id))
	if err != nil {
		return webhooks.Endpoint{}, fmt.Errorf("sqlite: get endpoint: %w", notFound(err, "endpoint", id))
	}
	return e, nil
}

// ListEndpoints pages a tenant's endpoints by id.
func (s *Store) ListEndpoints(ctx context.Context, tenant, after string, limit int) ([]webhooks.Endpoint, error) {
	out, err := queryAll(ctx, s.wh.listEndpoints, scanEndpoint, tenant, after, norm.Limit(limit, DefaultLimit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list endpoints: %w", err)
	}
	return out, nil
}

// DeleteEndpoint deletes an endpoint and its deliveries in one write.
func (s *Store) DeleteEndpoint(ctx context.Context, tenant, id string) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		r, err := tx.exec(s.wh.deleteEndpoint, tenant, id)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("endpoint %s: %w", id, errs.ErrNotFound)
		}
		_, err = tx.exec(s.wh.deleteEndpointDeliveries, tenant, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete endpoint: %w", err)
	}
	return nil
}

// RecordFailure counts a failed attempt at the endpoint.
func (s *Store) RecordFailure(ctx context.Context, tenant, id string, at time.Time) (webhooks.Endpoint, error) {
	var e webhooks.Endpoint
	err := s.w.do(ctx, func(tx *wtx) (err error) {
		e, err = scanEndpoint(tx.queryRow(s.wh.recordFailure, norm.Millis(at), tenant, id))
		return notFound(err, "endpoint", id)
	})
	if err != nil {
		return webhooks.Endpoint{}, fmt.Errorf("sqlite: record endpoint failure: %w", err)
	}
	return e, nil
}

// RecordSuccess clears the endpoint's failures.
func (s *Store) RecordSuccess(ctx context.Context, tenant, id string) error {
	if err := s.exec1(ctx, s.wh.recordSuccess, tenant, id); err != nil {
		return fmt.Errorf("sqlite: record endpoint success: %w", err)
	}
	return nil
}

// DisableEndpoint disables an enabled endpoint.
func (s *Store) DisableEndpoint(ctx context.Context, tenant, id, reason string, at time.Time) error {
	if err := s.exec1(ctx, s.wh.disableEndpoint, reason, norm.Millis(at), tenant, id); err != nil {
		return fmt.Errorf("sqlite: disable endpoint: %w", err)
	}
	return nil
}

// exec1 runs one write statement as one write op.
func (s *Store) exec1(ctx context.Context, st *sql.Stmt, args ...any) error {
	return s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.exec(st, args...)
		return err
	})
}

// InsertDelivery stores d once per (tenant, endpoint, event).
func (s *Store) InsertDelivery(ctx context.Context, d webhooks.Delivery) (bool, error) {
	inserted, err := s.insertIgnore(ctx, s.wh.insertDelivery, d.Tenant, d.ID, d.EndpointID, d.EventID, d.EventType, d.User,
		string(d.Payload), string(d.Status), d.Attempts, norm.Millis(d.NextAt), norm.Millis(d.GiveUpAt),
		nullTime(d.LastAttemptAt), d.LastStatus, d.LastError, norm.Millis(norm.NowIfZero(d.CreatedAt)), nullTime(d.DeliveredAt), "", 0)
	if err != nil {
		return false, fmt.Errorf("sqlite: insert delivery: %w", err)
	}
	return inserted, nil
}

// claimScan is how many due rows one claim looks at per delivery it may
// take, so that endpoints past their share do not hide the others.
const claimScan = 4

// ClaimDeliveries leases due deliveries to owner.
func (s *Store) ClaimDeliveries(ctx context.Context, owner string, now, until time.Time, limit, perEndpoint int, skip []string) ([]webhooks.Delivery, error) {
	limit = norm.Limit(limit, DefaultLimit)
	if skip == nil {
		skip = []string{}
	}
	skipJSON, err := json.Marshal(skip)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim deliveries: %w", err)
	}
	var out []webhooks.Delivery
	err = s.w.do(ctx, func(tx *wtx) error {
		rows, err := tx.query(s.wh.claimDeliveries, owner, norm.Millis(until), norm.Millis(now), string(skipJSON),
			limit*claimScan, max(perEndpoint, 1), limit)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanDelivery)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim deliveries: %w", err)
	}
	return out, nil
}

// FinishAttempt records an attempt's outcome under its lease.
func (s *Store) FinishAttempt(ctx context.Context, o webhooks.Outcome) (bool, error) {
	var delivered any
	if o.Status == webhooks.Delivered {
		delivered = norm.Millis(o.At)
	}
	var last any
	if !o.At.IsZero() {
		last = norm.Millis(o.At)
	}
	var ok bool
	err := s.w.do(ctx, func(tx *wtx) error {
		r, err := tx.exec(s.wh.finish, string(o.Status), o.Attempts, norm.Millis(o.NextAt), last, o.HTTPStatus, o.Error,
			delivered, o.Tenant, o.ID, o.Owner, o.Gen)
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		ok = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: finish delivery attempt: %w", err)
	}
	return ok, nil
}

// GetDelivery returns one delivery of the tenant.
func (s *Store) GetDelivery(ctx context.Context, tenant, id string) (webhooks.Delivery, error) {
	d, err := scanDelivery(s.wh.getDelivery.QueryRowContext(ctx, tenant, id))
	if err != nil {
		return webhooks.Delivery{}, fmt.Errorf("sqlite: get delivery: %w", notFound(err, "delivery", id))
	}
	return d, nil
}

// ListDeliveries pages an endpoint's deliveries newest first.
func (s *Store) ListDeliveries(ctx context.Context, tenant, endpoint, before string, limit int) ([]webhooks.Delivery, error) {
	limit = norm.Limit(limit, DefaultLimit)
	var (
		out []webhooks.Delivery
		err error
	)
	if before == "" {
		out, err = queryAll(ctx, s.wh.deliveries, scanDelivery, tenant, endpoint, limit)
	} else {
		out, err = queryAll(ctx, s.wh.deliveriesBefore, scanDelivery, tenant, endpoint, before, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list deliveries: %w", err)
	}
	return out, nil
}

// ReplayDelivery makes a delivery pending and due again.
func (s *Store) ReplayDelivery(ctx context.Context, tenant, endpoint, id string, now, giveUp time.Time) (webhooks.Delivery, error) {
	var d webhooks.Delivery
	err := s.w.do(ctx, func(tx *wtx) (err error) {
		d, err = scanDelivery(tx.queryRow(s.wh.replay, norm.Millis(now), norm.Millis(giveUp), tenant, endpoint, id))
		return notFound(err, "delivery", id)
	})
	if err != nil {
		return webhooks.Delivery{}, fmt.Errorf("sqlite: replay delivery: %w", err)
	}
	return d, nil
}

// UserDeliveries pages a user's deliveries by id.
func (s *Store) UserDeliveries(ctx context.Context, tenant, user, after string, limit int) ([]webhooks.Delivery, error) {
	out, err := queryAll(ctx, s.wh.userLog, scanDelivery, tenant, user, after, norm.Limit(limit, DefaultLimit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: user deliveries: %w", err)
	}
	return out, nil
}

// RedactUserDeliveries replaces the payloads of the user's deliveries.
func (s *Store) RedactUserDeliveries(ctx context.Context, tenant, user string, payload []byte) error {
	if err := s.exec1(ctx, s.wh.redact, string(payload), tenant, user); err != nil {
		return fmt.Errorf("sqlite: erase webhook deliveries: %w", err)
	}
	return nil
}

func scanEndpoint(sc scanner) (webhooks.Endpoint, error) {
	var (
		e                              webhooks.Endpoint
		types                          string
		disabledAt, prevUntil, failing sql.NullInt64
		created, updated               int64
	)
	if err := sc.Scan(&e.Tenant, &e.ID, &e.URL, &e.Description, &types, &e.Disabled, &e.DisabledReason, &disabledAt,
		&e.Secret, &e.PreviousSecret, &prevUntil, &e.Failures, &failing, &created, &updated, &e.Version); err != nil {
		return webhooks.Endpoint{}, err
	}
	if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
		return webhooks.Endpoint{}, fmt.Errorf("decode event types of endpoint %s: %w", e.ID, err)
	}
	e.DisabledAt, e.PreviousUntil, e.FailingSince = timePtr(disabledAt), timePtr(prevUntil), timePtr(failing)
	e.CreatedAt, e.UpdatedAt = norm.Time(created), norm.Time(updated)
	return e, nil
}

func scanDelivery(sc scanner) (webhooks.Delivery, error) {
	var (
		d                     webhooks.Delivery
		payload, status       string
		next, giveUp, created int64
		lastAt, deliveredAt   sql.NullInt64
	)
	if err := sc.Scan(&d.Tenant, &d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.User, &payload, &status, &d.Attempts,
		&next, &giveUp, &lastAt, &d.LastStatus, &d.LastError, &created, &deliveredAt, &d.Owner, &d.Gen); err != nil {
		return webhooks.Delivery{}, err
	}
	d.Payload, d.Status = json.RawMessage(payload), webhooks.Status(status)
	d.NextAt, d.GiveUpAt, d.CreatedAt = norm.Time(next), norm.Time(giveUp), norm.Time(created)
	d.LastAttemptAt, d.DeliveredAt = timePtr(lastAt), timePtr(deliveredAt)
	return d, nil
}
