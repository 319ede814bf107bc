package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/internal/norm"
)

// The rewards' collections. Stock and per-user limits are slots: a slot
// is held by inserting (tenant, scope, slot) under a unique index, so of
// concurrent claimers of the last slot exactly one wins, on MongoDB and
// FerretDB alike.
const (
	colPointsRewards     = "points_rewards"
	colPointsSlots       = "points_slots"
	colPointsRedemptions = "points_redemptions"
)

type rewardCols struct {
	rewards, slots, redemptions *mdb.Collection
}

// openRewards binds the rewards' collections and creates their indexes.
func (s *Store) openRewards(ctx context.Context) error {
	s.rewards = rewardCols{
		rewards: s.db.Collection(colPointsRewards), slots: s.db.Collection(colPointsSlots),
		redemptions: s.db.Collection(colPointsRedemptions),
	}
	t := bson.E{Key: "tenant", Value: 1}
	for _, p := range []struct {
		col *mdb.Collection
		ix  index
	}{
		{s.rewards.rewards, index{name: "points_rewards_id", keys: bson.D{t, {Key: "id", Value: 1}}, unique: true}},
		{s.rewards.slots, index{name: "points_slots_slot", keys: bson.D{t, {Key: "scope", Value: 1}, {Key: "slot", Value: 1}}, unique: true}},
		{s.rewards.slots, index{name: "points_slots_owner", keys: bson.D{t, {Key: "scope", Value: 1}, {Key: "owner", Value: 1}}, unique: true}},
		{s.rewards.slots, index{name: "points_slots_user", keys: bson.D{t, {Key: "user", Value: 1}}}},
		{s.rewards.redemptions, index{name: "points_redemptions_id", keys: bson.D{t, {Key: "id", Value: 1}}, unique: true}},
		{s.rewards.redemptions, index{name: "points_redemptions_idem", keys: bson.D{t, {Key: "user", Value: 1}, {Key: "idem", Value: 1}}, unique: true}},
	} {
		if err := createIndex(ctx, p.col, p.ix); err != nil {
			return err
		}
	}
	return nil
}

type bodyDoc struct {
	Tenant string `bson:"tenant"`
	ID     string `bson:"id"`
	User   string `bson:"user,omitempty"`
	Idem   string `bson:"idem,omitempty"`
	Body   string `bson:"body"`
}

type rewardBody struct {
	points.Reward
	Codes []string `json:"codes,omitempty"`
}

type redemptionBody struct {
	points.Redemption
	Idem   string `json:"idem"`
	Period string `json:"period"`
}

func (d bodyDoc) reward() (points.Reward, error) {
	var b rewardBody
	err := json.Unmarshal([]byte(d.Body), &b)
	r := b.Reward
	r.Tenant, r.Codes = d.Tenant, b.Codes
	return r, err
}

func (d bodyDoc) redemption() (points.Redemption, error) {
	var b redemptionBody
	err := json.Unmarshal([]byte(d.Body), &b)
	r := b.Redemption
	r.Tenant, r.IdempotencyKey, r.Period = d.Tenant, b.Idem, b.Period
	return r, err
}

func redemptionDoc(r points.Redemption) (bodyDoc, error) {
	body, err := json.Marshal(redemptionBody{Redemption: r, Idem: r.IdempotencyKey, Period: r.Period})
	return bodyDoc{Tenant: r.Tenant, ID: r.ID, User: r.User, Idem: r.IdempotencyKey, Body: string(body)}, err
}

// PutReward creates or replaces a reward.
func (s *Store) PutReward(ctx context.Context, r points.Reward) error {
	body, err := json.Marshal(rewardBody{Reward: r, Codes: r.Codes})
	if err == nil {
		err = upsert(ctx, s.rewards.rewards, tenantID(r.Tenant, r.ID), bodyDoc{Tenant: r.Tenant, ID: r.ID, Body: string(body)})
	}
	if err != nil {
		return fmt.Errorf("mongo: put reward %s: %w", r.ID, err)
	}
	return nil
}

// GetReward returns a reward.
func (s *Store) GetReward(ctx context.Context, tenant, id string) (points.Reward, error) {
	var d bodyDoc
	err := s.rewards.rewards.FindOne(ctx, tenantID(tenant, id)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return points.Reward{}, fmt.Errorf("mongo: reward %s: %w", id, errs.ErrNotFound)
	}
	if err != nil {
		return points.Reward{}, fmt.Errorf("mongo: reward %s: %w", id, err)
	}
	return d.reward()
}

// ListRewards lists the tenant's rewards by id.
func (s *Store) ListRewards(ctx context.Context, tenant string) ([]points.Reward, error) {
	out, err := findAll(ctx, s.rewards.rewards, bson.D{{Key: "tenant", Value: tenant}},
		options.Find().SetSort(bson.D{{Key: "id", Value: 1}}), bodyDoc.reward)
	if err != nil {
		return nil, fmt.Errorf("mongo: rewards: %w", err)
	}
	return out, nil
}

type slotDoc struct {
	Tenant string `bson:"tenant"`
	Scope  string `bson:"scope"`
	Owner  string `bson:"owner"`
	User   string `bson:"user"`
	Slot   int64  `bson:"slot"`
}

// ClaimSlot gives owner a free slot of scope below n: it tries the slots
// from the count held (then from 0, for slots freed below it), and the
// unique (tenant, scope, slot) decides each.
func (s *Store) ClaimSlot(ctx context.Context, tenant, scope, user, owner string, n int64) (int64, bool, error) {
	held, found, err := s.heldSlot(ctx, tenant, scope, owner)
	if err != nil || found {
		return held, found, wrapSlot(scope, err)
	}
	from, err := s.rewards.slots.CountDocuments(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "scope", Value: scope}})
	if err != nil {
		return 0, false, wrapSlot(scope, err)
	}
	for i := range n {
		k := (from + i) % n
		won, err := insertIgnore(ctx, s.rewards.slots, slotDoc{Tenant: tenant, Scope: scope, Owner: owner, User: user, Slot: k})
		if err != nil {
			return 0, false, wrapSlot(scope, err)
		}
		if won {
			return k, true, nil
		}
		// Taken by another, or by this owner in a concurrent call.
		if held, found, err = s.heldSlot(ctx, tenant, scope, owner); err != nil || found {
			return held, found, wrapSlot(scope, err)
		}
	}
	return 0, false, nil
}

func wrapSlot(scope string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("mongo: claim slot of %s: %w", scope, err)
}

func (s *Store) heldSlot(ctx context.Context, tenant, scope, owner string) (int64, bool, error) {
	var d slotDoc
	err := s.rewards.slots.FindOne(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "scope", Value: scope}, {Key: "owner", Value: owner}}).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return 0, false, nil
	}
	return d.Slot, err == nil, err
}

// ReleaseSlot frees owner's slot of scope.
func (s *Store) ReleaseSlot(ctx context.Context, tenant, scope, owner string) error {
	_, err := s.rewards.slots.DeleteOne(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "scope", Value: scope}, {Key: "owner", Value: owner}})
	if err != nil {
		return fmt.Errorf("mongo: release slot of %s: %w", scope, err)
	}
	return nil
}

// CountSlots counts the held slots of scope.
func (s *Store) CountSlots(ctx context.Context, tenant, scope string) (int64, error) {
	n, err := s.rewards.slots.CountDocuments(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "scope", Value: scope}})
	if err != nil {
		return 0, fmt.Errorf("mongo: count slots of %s: %w", scope, err)
	}
	return n, nil
}

// InsertRedemption stores r unless its user has one with its key.
func (s *Store) InsertRedemption(ctx context.Context, r points.Redemption) (points.Redemption, bool, error) {
	d, err := redemptionDoc(r)
	if err != nil {
		return points.Redemption{}, false, err
	}
	key := bson.D{{Key: "tenant", Value: r.Tenant}, {Key: "user", Value: r.User}, {Key: "idem", Value: r.IdempotencyKey}}
	out, inserted, err := insertOrExisting(ctx, s.rewards.redemptions, d, key, r, bodyDoc.redemption)
	if err != nil {
		return points.Redemption{}, false, fmt.Errorf("mongo: insert redemption: %w", err)
	}
	return out, inserted, nil
}

// SaveRedemption replaces a stored redemption.
func (s *Store) SaveRedemption(ctx context.Context, r points.Redemption) error {
	d, err := redemptionDoc(r)
	if err == nil {
		_, err = s.rewards.redemptions.ReplaceOne(ctx, tenantID(r.Tenant, r.ID), d)
	}
	if err != nil {
		return fmt.Errorf("mongo: save redemption %s: %w", r.ID, err)
	}
	return nil
}

// GetRedemption returns a redemption.
func (s *Store) GetRedemption(ctx context.Context, tenant, id string) (points.Redemption, error) {
	var d bodyDoc
	err := s.rewards.redemptions.FindOne(ctx, tenantID(tenant, id)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return points.Redemption{}, fmt.Errorf("mongo: redemption %s: %w", id, errs.ErrNotFound)
	}
	if err != nil {
		return points.Redemption{}, fmt.Errorf("mongo: redemption %s: %w", id, err)
	}
	return d.redemption()
}

// UserRedemptions lists a user's redemptions, newest first.
func (s *Store) UserRedemptions(ctx context.Context, tenant, user string) ([]points.Redemption, error) {
	out, err := findAll(ctx, s.rewards.redemptions, userKey(tenant, user),
		options.Find().SetSort(bson.D{{Key: "id", Value: -1}}).SetLimit(int64(norm.Limit(0, DefaultLimit))), bodyDoc.redemption)
	if err != nil {
		return nil, fmt.Errorf("mongo: user redemptions: %w", err)
	}
	return out, nil
}

// EraseRewardUser deletes the user's redemptions and slots.
func (s *Store) EraseRewardUser(ctx context.Context, tenant, user string) error {
	for _, col := range []*mdb.Collection{s.rewards.redemptions, s.rewards.slots} {
		if _, err := col.DeleteMany(ctx, userKey(tenant, user)); err != nil {
			return fmt.Errorf("mongo: erase %s: %w", col.Name(), err)
		}
	}
	return nil
}
