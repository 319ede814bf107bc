package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/internal/norm"
)

// The wallets' collections. A change is decided by its insert into
// points_changes under the unique (tenant, user, version): of concurrent
// changes planned against one version exactly one is stored, on MongoDB
// and FerretDB alike, and the others plan again against the winner. The
// change holds the balance after it, so the latest change of a user is
// the wallet. Its lots are then written to points_lots ("rolled
// forward"), each guarded by the version that wrote it, and any later
// writer first rolls forward the latest change, so a writer stopped in
// between never leaves lots behind their balance.
const (
	colPointsChanges   = "points_changes"
	colPointsLots      = "points_lots"
	colPointsReversals = "points_reversals"
	colPointsPolicies  = "points_policies"
)

// neverExpires stands for "never" in points_lots.expires_at, so spending
// order (soonest expiry first) sorts such lots last.
var neverExpires = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

type walletCols struct {
	changes, lots, reversals, policies *mdb.Collection
	days, months                       *mdb.Collection // pointsdays.go
}

// openWallets binds the wallets' collections and creates their indexes.
func (s *Store) openWallets(ctx context.Context) error {
	s.wallets = walletCols{
		changes: s.db.Collection(colPointsChanges), lots: s.db.Collection(colPointsLots),
		reversals: s.db.Collection(colPointsReversals), policies: s.db.Collection(colPointsPolicies),
		days: s.db.Collection(colPointsDays), months: s.db.Collection(colPointsMonths),
	}
	t := bson.E{Key: "tenant", Value: 1}
	plan := []struct {
		col *mdb.Collection
		ix  index
	}{
		{s.wallets.changes, index{name: "points_changes_key", keys: bson.D{t, {Key: "key", Value: 1}}, unique: true}},
		{s.wallets.changes, index{name: "points_changes_version", keys: bson.D{t, {Key: "user", Value: 1}, {Key: "version", Value: 1}}, unique: true}},
		// Across tenants, for the sweep of owed events; partial, so it
		// holds only the few changes owing one.
		{s.wallets.changes, index{name: "points_changes_owed", keys: bson.D{{Key: "owed_at", Value: 1}, t, {Key: "key", Value: 1}},
			partial: bson.D{{Key: "owed_at", Value: bson.D{{Key: "$exists", Value: true}}}}}},
		{s.wallets.lots, index{name: "points_lots_id", keys: bson.D{t, {Key: "user", Value: 1}, {Key: "id", Value: 1}}, unique: true}},
		{s.wallets.lots, index{name: "points_lots_spend", keys: bson.D{t, {Key: "user", Value: 1},
			{Key: "expires_at", Value: 1}, {Key: "earned_at", Value: 1}, {Key: "id", Value: 1}}}},
		{s.wallets.lots, index{name: "points_lots_due", keys: bson.D{t, {Key: "expires_at", Value: 1}, {Key: "user", Value: 1}, {Key: "id", Value: 1}}}},
		{s.wallets.reversals, index{name: "points_reversals_key", keys: bson.D{t, {Key: "key", Value: 1}}, unique: true}},
		{s.wallets.policies, index{name: "points_policies_tenant", keys: bson.D{t}, unique: true}},
		{s.wallets.reversals, index{name: "points_reversals_user", keys: bson.D{t, {Key: "user", Value: 1}, {Key: "earned_at", Value: 1}}}},
		{s.wallets.days, index{name: "points_days_user", keys: bson.D{t, {Key: "user", Value: 1}, {Key: "day", Value: 1}}}},
		{s.wallets.months, index{name: "points_months_user", keys: bson.D{t, {Key: "user", Value: 1}, {Key: "day", Value: 1}}}},
	}
	for _, p := range plan {
		if err := createIndex(ctx, p.col, p.ix); err != nil {
			return err
		}
	}
	return nil
}

// changeDoc is one stored change; the balance and the change are kept as
// JSON, read whole and never queried into.
type changeDoc struct {
	Tenant  string `bson:"tenant"`
	Key     string `bson:"key"`
	User    string `bson:"user"`
	Version int64  `bson:"version"`
	Balance string `bson:"balance"`
	Body    string `bson:"body"`
	Rolled  bool   `bson:"rolled"` // its lots are written
	// Owes and OwedAt (the change's time) are set, in the change's own
	// insert, while it owes its event (points.Change.Owes).
	Owes   string     `bson:"owes,omitempty"`
	OwedAt *time.Time `bson:"owed_at,omitempty"`
}

func (d changeDoc) change() (points.Change, error) {
	var c points.Change
	err := json.Unmarshal([]byte(d.Body), &c)
	c.User, c.Owes = d.User, d.Owes
	return c, err
}

// lotDoc is a lot as stored; version is the change that last wrote it.
type lotDoc struct {
	Tenant      string    `bson:"tenant"`
	User        string    `bson:"user"`
	ID          string    `bson:"id"`
	Key         string    `bson:"key"`
	Amount      int64     `bson:"amount"`
	Remaining   int64     `bson:"remaining"`
	EarnedAt    time.Time `bson:"earned_at"`
	AvailableAt time.Time `bson:"available_at"`
	ExpiresAt   time.Time `bson:"expires_at"`
	Version     int64     `bson:"version"`
}

func (d lotDoc) lot() (points.Lot, error) {
	l := points.Lot{
		ID: d.ID, User: d.User, Key: d.Key, Amount: d.Amount, Remaining: d.Remaining,
		EarnedAt: norm.Trunc(d.EarnedAt), AvailableAt: norm.Trunc(d.AvailableAt),
	}
	if !d.ExpiresAt.Equal(neverExpires) {
		l.ExpiresAt = norm.Trunc(d.ExpiresAt)
	}
	return l, nil
}

// ApplyChange stores the change plan computes from the user's wallet,
// once per key. It plans against the latest change, rolled forward, and
// inserts the next version; losing that insert to a concurrent change
// means planning again.
func (s *Store) ApplyChange(ctx context.Context, tenant, user, key string, plan points.Planner) (points.Change, bool, error) {
	for attempt := 0; ; attempt++ {
		c, applied, retry, err := s.tryChange(ctx, tenant, user, key, plan)
		switch {
		case retry:
		case err != nil:
			return points.Change{}, false, fmt.Errorf("mongo: apply wallet change %s: %w", key, err)
		default:
			return c, applied, nil
		}
		// Spread the losers of a race so they do not collide again at once.
		wait := time.Duration(rand.Int64N(int64(min(attempt+1, 20)) * int64(time.Millisecond)))
		select {
		case <-ctx.Done():
			return points.Change{}, false, fmt.Errorf("mongo: apply wallet change %s: %w", key, ctx.Err())
		case <-time.After(wait):
		}
	}
}

func (s *Store) tryChange(ctx context.Context, tenant, user, key string, plan points.Planner) (c points.Change, applied, retry bool, err error) {
	var prior changeDoc
	err = s.wallets.changes.FindOne(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "key", Value: key}}).Decode(&prior)
	if err == nil {
		c, err = prior.change()
		return c, false, false, err
	}
	if !errors.Is(err, mdb.ErrNoDocuments) {
		return c, false, false, err
	}
	latest, found, err := s.latestChange(ctx, tenant, user)
	if err != nil {
		return c, false, false, err
	}
	var b points.Balance
	if found {
		if err := s.rollForward(ctx, latest); err != nil {
			return c, false, false, err
		}
		if err := json.Unmarshal([]byte(latest.Balance), &b); err != nil {
			return c, false, false, err
		}
	}
	c, err = plan(ctx, &mongoWallet{s: s, tenant: tenant, user: user, balance: b})
	if err != nil {
		// The lots read may be those of a change stored since the balance
		// was: a refusal then says nothing, and planning again will tell.
		cur, _, lerr := s.latestChange(ctx, tenant, user)
		if lerr != nil {
			return c, false, false, lerr
		}
		return c, false, cur.Version != b.Version, &planError{err}
	}
	c.Key, c.User, c.At = key, user, norm.Trunc(c.At)
	c.Balance.Version = b.Version + 1
	doc, err := newChangeDoc(tenant, c)
	if err != nil {
		return c, false, false, err
	}
	won, err := insertIgnore(ctx, s.wallets.changes, doc)
	if err != nil || !won {
		return c, false, !won, err
	}
	return c, true, false, s.rollForward(ctx, doc)
}

func newChangeDoc(tenant string, c points.Change) (changeDoc, error) {
	if c.Ledger != nil {
		// The user is kept beside the body only, so erasure can move it.
		e := *c.Ledger
		e.User = ""
		c.Ledger = &e
	}
	balance, err := json.Marshal(c.Balance)
	if err != nil {
		return changeDoc{}, err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return changeDoc{}, err
	}
	d := changeDoc{Tenant: tenant, Key: c.Key, User: c.User, Version: c.Balance.Version, Balance: string(balance), Body: string(body)}
	if c.Owes != "" {
		at := norm.Trunc(c.At)
		d.Owes, d.OwedAt = c.Owes, &at
	}
	return d, nil
}

// latestChange reads the user's latest change without its body, which
// may be large: rollForward reads it when it needs it.
func (s *Store) latestChange(ctx context.Context, tenant, user string) (changeDoc, bool, error) {
	var d changeDoc
	err := s.wallets.changes.FindOne(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}},
		options.FindOne().SetSort(bson.D{{Key: "version", Value: -1}}).SetProjection(bson.D{{Key: "body", Value: 0}})).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return changeDoc{}, false, nil
	}
	return d, err == nil, err
}

// rollForward writes the lots of change d unless that was done. Each lot
// write only replaces a lot last written by an earlier version; a lot
// written by this version or a later one makes the upsert try an insert
// that the unique index refuses, which is the no-op wanted.
func (s *Store) rollForward(ctx context.Context, d changeDoc) error {
	if d.Rolled {
		return nil
	}
	byKey := bson.D{{Key: "tenant", Value: d.Tenant}, {Key: "key", Value: d.Key}}
	if d.Body == "" {
		if err := s.wallets.changes.FindOne(ctx, byKey).Decode(&d); err != nil {
			return err
		}
	}
	c, err := d.change()
	if err != nil {
		return err
	}
	for _, l := range c.Lots {
		exp := neverExpires
		if !l.ExpiresAt.IsZero() {
			exp = l.ExpiresAt
		}
		doc := lotDoc{
			Tenant: d.Tenant, User: d.User, ID: l.ID, Key: l.Key, Amount: l.Amount, Remaining: l.Remaining,
			EarnedAt: l.EarnedAt, AvailableAt: l.AvailableAt, ExpiresAt: exp, Version: d.Version,
		}
		filter := bson.D{{Key: "tenant", Value: d.Tenant}, {Key: "user", Value: d.User}, {Key: "id", Value: l.ID},
			{Key: "version", Value: bson.D{{Key: "$lt", Value: d.Version}}}}
		_, err := s.wallets.lots.ReplaceOne(ctx, filter, doc, options.Replace().SetUpsert(true))
		if err != nil && !mdb.IsDuplicateKeyError(err) {
			return fmt.Errorf("roll forward lot %s: %w", l.ID, err)
		}
	}
	if e := c.Ledger; e != nil {
		e.Tenant, e.User = d.Tenant, d.User
		if _, _, err := s.InsertEntry(ctx, *e); err != nil {
			return fmt.Errorf("roll forward ledger line %s: %w", e.Key, err)
		}
	}
	_, err = s.wallets.changes.UpdateOne(ctx, byKey, bson.D{{Key: "$set", Value: bson.D{{Key: "rolled", Value: true}}}})
	return err
}

// ApplyChanges applies ops one after the other: each is decided by its
// own insert.
func (s *Store) ApplyChanges(ctx context.Context, tenant string, ops []points.ChangeOp) ([]points.ChangeResult, error) {
	out := make([]points.ChangeResult, len(ops))
	for i, op := range ops {
		c, applied, err := s.ApplyChange(ctx, tenant, op.User, op.Key, op.Plan)
		var pe *planError
		switch {
		case errors.As(err, &pe):
			out[i].Err = pe.err
		case err != nil:
			return nil, err
		default:
			out[i] = points.ChangeResult{Change: c, Applied: applied}
		}
	}
	return out, nil
}

// planError marks a plan's refusal as such, apart from the store's own
// failures.
type planError struct{ err error }

func (e *planError) Error() string { return e.err.Error() }
func (e *planError) Unwrap() error { return e.err }

// mongoWallet is the view of one wallet a change is planned against.
type mongoWallet struct {
	s            *Store
	tenant, user string
	balance      points.Balance
}

func (w *mongoWallet) Balance() points.Balance { return w.balance }

func (w *mongoWallet) Lot(ctx context.Context, id string) (points.Lot, bool, error) {
	var d lotDoc
	err := w.s.wallets.lots.FindOne(ctx, bson.D{{Key: "tenant", Value: w.tenant}, {Key: "user", Value: w.user}, {Key: "id", Value: id}}).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return points.Lot{}, false, nil
	}
	if err != nil {
		return points.Lot{}, false, err
	}
	l, _ := d.lot()
	return l, true, nil
}

func (w *mongoWallet) Spendable(ctx context.Context, now time.Time, fn func(points.Lot) bool) error {
	now = norm.Trunc(now)
	filter := bson.D{
		{Key: "tenant", Value: w.tenant}, {Key: "user", Value: w.user},
		{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now}}},
		{Key: "remaining", Value: bson.D{{Key: "$gt", Value: 0}}},
		{Key: "available_at", Value: bson.D{{Key: "$lte", Value: now}}},
	}
	cur, err := w.s.wallets.lots.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "expires_at", Value: 1}, {Key: "earned_at", Value: 1}, {Key: "id", Value: 1}}).SetBatchSize(100))
	if err != nil {
		return err
	}
	defer cur.Close(context.Background())
	for cur.Next(ctx) {
		var d lotDoc
		if err := cur.Decode(&d); err != nil {
			return err
		}
		l, _ := d.lot()
		if !fn(l) {
			return nil
		}
	}
	return cur.Err()
}

func (w *mongoWallet) ExpiringBy(ctx context.Context, at time.Time) ([]points.Lot, error) {
	filter := bson.D{{Key: "tenant", Value: w.tenant}, {Key: "user", Value: w.user},
		{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: norm.Trunc(at)}}}, {Key: "remaining", Value: bson.D{{Key: "$gt", Value: 0}}}}
	sort := bson.D{{Key: "expires_at", Value: 1}, {Key: "earned_at", Value: 1}, {Key: "id", Value: 1}}
	return findAll(ctx, w.s.wallets.lots, filter, options.Find().SetSort(sort), lotDoc.lot)
}

// ChangeByKey returns the change stored under key.
func (s *Store) ChangeByKey(ctx context.Context, tenant, key string) (points.Change, error) {
	var d changeDoc
	err := s.wallets.changes.FindOne(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "key", Value: key}}).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return points.Change{}, fmt.Errorf("mongo: wallet change %s: %w", key, errs.ErrNotFound)
	}
	if err != nil {
		return points.Change{}, fmt.Errorf("mongo: wallet change %s: %w", key, err)
	}
	return d.change()
}

// OwedChanges lists the changes of every tenant owing their event,
// made before before, oldest first.
func (s *Store) OwedChanges(ctx context.Context, before time.Time, limit int) ([]points.OwedChange, error) {
	out, err := findAll(ctx, s.wallets.changes, bson.D{{Key: "owed_at", Value: bson.D{{Key: "$lt", Value: norm.Trunc(before)}}}},
		options.Find().SetSort(bson.D{{Key: "owed_at", Value: 1}, {Key: "tenant", Value: 1}, {Key: "key", Value: 1}}).
			SetLimit(int64(norm.Limit(limit, DefaultLimit))),
		func(d changeDoc) (points.OwedChange, error) {
			c, err := d.change()
			return points.OwedChange{Tenant: d.Tenant, Change: c}, err
		})
	if err != nil {
		return nil, fmt.Errorf("mongo: owed wallet changes: %w", err)
	}
	return out, nil
}

// ClearOwed marks the tenant's changes under keys as owing nothing, in
// one update.
func (s *Store) ClearOwed(ctx context.Context, tenant string, keys []string) error {
	_, err := s.wallets.changes.UpdateMany(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "key", Value: bson.D{{Key: "$in", Value: keys}}},
		{Key: "owed_at", Value: bson.D{{Key: "$exists", Value: true}}}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "owes", Value: ""}, {Key: "owed_at", Value: ""}}}})
	if err != nil {
		return fmt.Errorf("mongo: clear owed wallet changes: %w", err)
	}
	return nil
}

// UserBalance returns the balance of the user's latest change.
func (s *Store) UserBalance(ctx context.Context, tenant, user string) (points.Balance, error) {
	d, found, err := s.latestChange(ctx, tenant, user)
	if err != nil || !found {
		return points.Balance{}, err
	}
	var b points.Balance
	if err := json.Unmarshal([]byte(d.Balance), &b); err != nil {
		return points.Balance{}, fmt.Errorf("mongo: wallet balance: %w", err)
	}
	return b, nil
}

// UserLots pages a user's lots by id.
func (s *Store) UserLots(ctx context.Context, tenant, user, after string, limit int) ([]points.Lot, error) {
	filter := bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}, {Key: "id", Value: bson.D{{Key: "$gt", Value: after}}}}
	out, err := findAll(ctx, s.wallets.lots, filter,
		options.Find().SetSort(bson.D{{Key: "id", Value: 1}}).SetLimit(int64(norm.Limit(limit, DefaultLimit))), lotDoc.lot)
	if err != nil {
		return nil, fmt.Errorf("mongo: user lots: %w", err)
	}
	return out, nil
}

// EntryByKey returns the ledger entry with key.
func (s *Store) EntryByKey(ctx context.Context, tenant, key string) (points.Entry, error) {
	var d entryDoc
	err := s.ledger.FindOne(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "key", Value: key}}).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return points.Entry{}, fmt.Errorf("mongo: ledger entry %s: %w", key, errs.ErrNotFound)
	}
	if err != nil {
		return points.Entry{}, fmt.Errorf("mongo: ledger entry %s: %w", key, err)
	}
	return d.entry()
}

// reversalDoc records a reversed credit, for EarnedBetween.
type reversalDoc struct {
	Tenant     string    `bson:"tenant"`
	Key        string    `bson:"key"`
	User       string    `bson:"user"`
	Amount     int64     `bson:"amount"`
	EarnedAt   time.Time `bson:"earned_at"`
	ReversedAt time.Time `bson:"reversed_at"`
}

// InsertReversal records the reversal of credit e, once per key, then
// takes e off its day sum (on every call: see dayDoc).
func (s *Store) InsertReversal(ctx context.Context, e points.Entry, at time.Time) error {
	_, err := insertIgnore(ctx, s.wallets.reversals, reversalDoc{
		Tenant: e.Tenant, Key: e.Key, User: e.User, Amount: e.Amount, EarnedAt: norm.Trunc(e.CreatedAt), ReversedAt: norm.Trunc(at),
	})
	if err == nil {
		err = s.foldReversal(ctx, e)
	}
	if err != nil {
		return fmt.Errorf("mongo: insert reversal %s: %w", e.Key, err)
	}
	return nil
}

// reversedBetween sums the reversed credits EarnedBetween would count.
func (s *Store) reversedBetween(ctx context.Context, tenant, user, keyPrefix string, from, to time.Time) (int64, error) {
	f := bson.D{
		{Key: "tenant", Value: tenant}, {Key: "user", Value: user},
		{Key: "earned_at", Value: bson.D{{Key: "$gte", Value: norm.Trunc(from)}, {Key: "$lt", Value: norm.Trunc(to)}}},
	}
	if keyPrefix != "" {
		f = append(f, bson.E{Key: "key", Value: prefixRange(keyPrefix)})
	}
	return sum(ctx, s.wallets.reversals, f, "$amount")
}

// AnonymiseWallet moves the user's changes, lots and reversals to
// pseudonym. A user id back after an erasure has changes whose versions
// the first life's took under the pseudonym: those are dropped (the
// pseudonym's wallet is never read; the ledger keeps every key).
func (s *Store) AnonymiseWallet(ctx context.Context, tenant, user, pseudonym string) error {
	if err := moveEach(ctx, s.wallets.changes, tenant, user, pseudonym, "version"); err != nil {
		return fmt.Errorf("mongo: erase %s: %w", colPointsChanges, err)
	}
	if err := moveEach(ctx, s.wallets.lots, tenant, user, pseudonym, "id"); err != nil {
		return fmt.Errorf("mongo: erase %s: %w", colPointsLots, err)
	}
	if _, err := s.wallets.reversals.UpdateMany(ctx, userKey(tenant, user), setFields(bson.E{Key: "user", Value: pseudonym})); err != nil {
		return fmt.Errorf("mongo: erase %s: %w", colPointsReversals, err)
	}
	return nil
}

// moveEach moves the user's documents of col to pseudonym one by one,
// dropping those whose unique key (tenant, user, field) the pseudonym
// holds already. It looks before it moves: FerretDB reports such a
// collision as an internal error, not a duplicate key.
func moveEach(ctx context.Context, col *mdb.Collection, tenant, user, pseudonym, field string) error {
	cur, err := col.Find(ctx, userKey(tenant, user), options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: field, Value: 1}}))
	if err != nil {
		return err
	}
	var docs []bson.M
	if err := cur.All(ctx, &docs); err != nil {
		return err
	}
	for _, d := range docs {
		// Both writes are of the document still under the user, and only
		// another document is a collision: erasures may run concurrently.
		byID := append(userKey(tenant, user), bson.E{Key: "_id", Value: d["_id"]})
		taken, err := exists(ctx, col, append(userKey(tenant, pseudonym), bson.E{Key: field, Value: d[field]},
			bson.E{Key: "_id", Value: bson.D{{Key: "$ne", Value: d["_id"]}}}))
		switch {
		case err != nil:
		case taken:
			_, err = col.DeleteOne(ctx, byID)
		default:
			_, err = col.UpdateOne(ctx, byID, setFields(bson.E{Key: "user", Value: pseudonym}))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// policyDoc is a tenant's lot policy as stored.
type policyDoc struct {
	Tenant string `bson:"tenant"`
	Body   string `bson:"body"` // the policy as JSON
}

// PutPolicy stores the tenant's lot policy.
func (s *Store) PutPolicy(ctx context.Context, tenant string, p points.Policy) error {
	body, err := json.Marshal(p)
	if err == nil {
		err = upsert(ctx, s.wallets.policies, bson.D{{Key: "tenant", Value: tenant}}, policyDoc{Tenant: tenant, Body: string(body)})
	}
	if err != nil {
		return fmt.Errorf("mongo: put points policy: %w", err)
	}
	return nil
}

// Policy returns the tenant's lot policy, if it set one.
func (s *Store) Policy(ctx context.Context, tenant string) (points.Policy, bool, error) {
	var d policyDoc
	err := s.wallets.policies.FindOne(ctx, bson.D{{Key: "tenant", Value: tenant}}).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return points.Policy{}, false, nil
	}
	var p points.Policy
	if err == nil {
		err = json.Unmarshal([]byte(d.Body), &p)
	}
	if err != nil {
		return points.Policy{}, false, fmt.Errorf("mongo: points policy: %w", err)
	}
	return p, true, nil
}

// PolicyTenants lists the tenants with a lot policy.
func (s *Store) PolicyTenants(ctx context.Context) ([]string, error) {
	out, err := findAll(ctx, s.wallets.policies, bson.D{}, options.Find().SetSort(bson.D{{Key: "tenant", Value: 1}}),
		func(d policyDoc) (string, error) { return d.Tenant, nil })
	if err != nil {
		return nil, fmt.Errorf("mongo: points policy tenants: %w", err)
	}
	return out, nil
}

// expiringFilter matches the tenant's lots with points left expiring in
// [from, to).
func expiringFilter(tenant string, from, to time.Time) bson.D {
	return bson.D{
		{Key: "tenant", Value: tenant},
		{Key: "expires_at", Value: bson.D{{Key: "$gte", Value: norm.Trunc(from)}, {Key: "$lt", Value: norm.Trunc(to)}}},
		{Key: "remaining", Value: bson.D{{Key: "$gt", Value: 0}}},
	}
}

// ExpiringLots pages the tenant's lots with points left expiring in
// [from, to), by (expires_at, user, id), after the lot after.
func (s *Store) ExpiringLots(ctx context.Context, tenant string, from, to time.Time, after *points.Lot, limit int) ([]points.Lot, error) {
	filter := expiringFilter(tenant, from, to)
	if after != nil {
		exp := neverExpires
		if !after.ExpiresAt.IsZero() {
			exp = after.ExpiresAt
		}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: exp}}}},
			bson.D{{Key: "expires_at", Value: exp}, {Key: "user", Value: bson.D{{Key: "$gt", Value: after.User}}}},
			bson.D{{Key: "expires_at", Value: exp}, {Key: "user", Value: after.User}, {Key: "id", Value: bson.D{{Key: "$gt", Value: after.ID}}}},
		}})
	}
	out, err := findAll(ctx, s.wallets.lots, filter, options.Find().
		SetSort(bson.D{{Key: "expires_at", Value: 1}, {Key: "user", Value: 1}, {Key: "id", Value: 1}}).
		SetLimit(int64(norm.Limit(limit, DefaultLimit))), lotDoc.lot)
	if err != nil {
		return nil, fmt.Errorf("mongo: expiring lots: %w", err)
	}
	return out, nil
}

// CountExpiringLots counts what ExpiringLots pages.
func (s *Store) CountExpiringLots(ctx context.Context, tenant string, from, to time.Time) (int64, error) {
	n, err := s.wallets.lots.CountDocuments(ctx, expiringFilter(tenant, from, to))
	if err != nil {
		return 0, fmt.Errorf("mongo: count expiring lots: %w", err)
	}
	return n, nil
}
