package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/storage/internal/norm"
)

// pendingDoc is a board refresh the engine did not take.
type pendingDoc struct {
	Tenant     string    `bson:"tenant"`
	Board      string    `bson:"board"`
	Period     string    `bson:"period"`
	User       string    `bson:"user"`
	At         time.Time `bson:"at"`
	Since      time.Time `bson:"since"`
	Token      string    `bson:"token"`
	LeaseUntil time.Time `bson:"lease_until"`
	// Gen counts queueings and claims; a claim is won by the one claimer
	// that inserts the claim document of the generation it read.
	Gen int64 `bson:"gen"`
}

func (d pendingDoc) pending() (leaderboards.Pending, error) {
	return leaderboards.Pending{Tenant: d.Tenant, Board: d.Board, Period: d.Period, User: d.User,
		At: norm.Trunc(d.At), Since: norm.Trunc(d.Since), Token: d.Token}, nil
}

func pendingKey(p leaderboards.Pending) bson.D {
	return bson.D{{Key: "tenant", Value: p.Tenant}, {Key: "board", Value: p.Board},
		{Key: "period", Value: p.Period}, {Key: "user", Value: p.User}}
}

// QueueRefresh records a board refresh the engine did not take; see
// leaderboards.FeedStore. A concurrent first queueing of the same key
// fails the loser's upsert on the unique index; once more updates it.
func (s *Store) QueueRefresh(ctx context.Context, p leaderboards.Pending) error {
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "at", Value: norm.Trunc(p.At)}, {Key: "token", Value: p.Token},
			{Key: "lease_until", Value: time.UnixMilli(0).UTC()}}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "since", Value: norm.NowIfZero(p.Since)}}},
		{Key: "$inc", Value: bson.D{{Key: "gen", Value: 1}}},
	}
	opts := options.UpdateOne().SetUpsert(true)
	_, err := s.feed.UpdateOne(ctx, pendingKey(p), update, opts)
	if mdb.IsDuplicateKeyError(err) {
		_, err = s.feed.UpdateOne(ctx, pendingKey(p), update, opts)
	}
	if err != nil {
		return fmt.Errorf("mongo: queue refresh: %w", err)
	}
	return nil
}

// ClaimRefreshes finds due refreshes, then claims each through the unique
// _id of a claim document naming the generation it read: of two nodes
// claiming the same refresh only one inserts it. (A conditional
// findAndModify would do on MongoDB, but its stand-in FerretDB does not
// make it atomic; a unique index holds on both.) The winner then leases
// the refresh, moving its generation on, and drops the claim document.
func (s *Store) ClaimRefreshes(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]leaderboards.Pending, error) {
	now = norm.Trunc(now)
	found, err := findAll(ctx, s.feed, bson.D{{Key: "lease_until", Value: bson.D{{Key: "$lte", Value: now}}}},
		options.Find().SetSort(bson.D{{Key: "lease_until", Value: 1}, {Key: "since", Value: 1}}).
			SetLimit(int64(norm.Limit(limit, DefaultLimit))),
		func(d pendingDoc) (pendingDoc, error) { return d, nil })
	if err != nil {
		return nil, fmt.Errorf("mongo: claim refreshes: %w", err)
	}
	var out []leaderboards.Pending
	for _, d := range found {
		p, _ := d.pending()
		won, err := s.claimRefresh(ctx, p, d.Gen, now.Add(lease))
		if err != nil {
			return nil, fmt.Errorf("mongo: claim refreshes: %w", err)
		}
		if won {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *Store) claimRefresh(ctx context.Context, p leaderboards.Pending, gen int64, until time.Time) (bool, error) {
	claim := bson.D{{Key: "_id", Value: append(pendingKey(p), bson.E{Key: "gen", Value: gen})}}
	won, err := insertIgnore(ctx, s.feedClaims, claim)
	if err != nil || !won {
		return false, err
	}
	res, err := s.feed.UpdateOne(ctx, append(pendingKey(p), bson.E{Key: "gen", Value: gen}),
		bson.D{{Key: "$set", Value: bson.D{{Key: "lease_until", Value: until}}}, {Key: "$inc", Value: bson.D{{Key: "gen", Value: 1}}}})
	if err != nil {
		return false, err
	}
	// The generation has moved on, so the claim document can go: a late
	// claimer of the old one finds no refresh of that generation.
	if _, err := s.feedClaims.DeleteOne(ctx, claim); err != nil {
		return false, err
	}
	return res.MatchedCount == 1, nil
}

// FinishRefresh deletes a refresh unless it was queued again.
func (s *Store) FinishRefresh(ctx context.Context, p leaderboards.Pending) error {
	if _, err := s.feed.DeleteOne(ctx, append(pendingKey(p), bson.E{Key: "token", Value: p.Token})); err != nil {
		return fmt.Errorf("mongo: finish refresh: %w", err)
	}
	return nil
}

// RefreshBacklog counts pending refreshes and gives the oldest.
func (s *Store) RefreshBacklog(ctx context.Context) (int64, time.Time, error) {
	n, err := s.feed.CountDocuments(ctx, bson.D{})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("mongo: refresh backlog: %w", err)
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	var d pendingDoc
	err = s.feed.FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "since", Value: 1}})).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("mongo: refresh backlog: %w", err)
	}
	return n, norm.Trunc(d.Since), nil
}
