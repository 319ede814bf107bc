package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/leaderboards"
)

// v1ContributionIndexes are the contributions indexes of the first
// release: contributions_once, unique without goal, would refuse a second
// goal's contribution of the same event, and contributions_user served a
// read that is gone.
var v1ContributionIndexes = []string{"contributions_once", "contributions_user"}

// upgradeV1 brings the contributions of the first release to the current
// shape: they lack goal and key, and keep their amount in value. Those
// challenges had one goal, "g1" in the rule they read as (see
// challengeDoc). It runs while contributions_once exists, so on the first
// start of this release only, and its steps are idempotent, so nodes
// starting together may all run them. Challenges and completions of that
// release need no upgrade: they read as they are.
func (s *Store) upgradeV1(ctx context.Context) error {
	specs, err := s.contributions.Indexes().ListSpecifications(ctx)
	if err != nil {
		return fmt.Errorf("mongo: upgrade contributions: %w", err)
	}
	if !slices.ContainsFunc(specs, func(sp mdb.IndexSpecification) bool { return sp.Name == v1ContributionIndexes[0] }) {
		return nil
	}
	_, err = s.contributions.UpdateMany(ctx,
		bson.D{{Key: "goal", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "goal", Value: "g1"}, {Key: "key", Value: ""}}},
			{Key: "$rename", Value: bson.D{{Key: "value", Value: "amount"}}},
		})
	if err != nil {
		return fmt.Errorf("mongo: upgrade contributions: %w", err)
	}
	for _, name := range v1ContributionIndexes {
		err := s.contributions.Indexes().DropOne(ctx, name)
		var ce mdb.CommandError
		if errors.As(err, &ce) && ce.Code == codeIndexNotFound {
			continue // another node dropped it first
		}
		if err != nil {
			return fmt.Errorf("mongo: upgrade contributions: drop index %s: %w", name, err)
		}
	}
	return nil
}

// codeIndexNotFound is the server error code for dropping a missing index.
const codeIndexNotFound = 27

// talliesFolded marks, in the tallies collection, that every contribution
// stored before tallies existed has been folded.
var talliesFolded = bson.D{{Key: "_id", Value: "#folded-from-contributions"}}

// upgradeTallies folds every stored contribution into its tally, once: a
// database from before tallies has contributions and no marker. fold is
// idempotent per event, so nodes starting together, or a start after a
// crash half-way, may run it again and still count each contribution
// once. Nodes still running the previous release do not fold what they
// store meanwhile: upgrade every node together.
func (s *Store) upgradeTallies(ctx context.Context) error {
	if !s.atomicUpdates {
		return nil // no tallies are kept
	}
	n, err := s.tallies.CountDocuments(ctx, talliesFolded)
	if err != nil || n > 0 {
		return wrapUpgrade(err)
	}
	cur, err := s.contributions.Find(ctx, bson.D{})
	if err != nil {
		return wrapUpgrade(err)
	}
	defer cur.Close(context.Background())
	for cur.Next(ctx) {
		var d contributionDoc
		if err := cur.Decode(&d); err != nil {
			return wrapUpgrade(err)
		}
		if err := s.fold(ctx, d); err != nil {
			return wrapUpgrade(err)
		}
	}
	if err := cur.Err(); err != nil {
		return wrapUpgrade(err)
	}
	_, err = insertIgnore(ctx, s.tallies, talliesFolded)
	return wrapUpgrade(err)
}

func wrapUpgrade(err error) error {
	if err != nil {
		return fmt.Errorf("mongo: upgrade challenge tallies: %w", err)
	}
	return nil
}

// totalsSince marks, in the totals collection, that the boards existing
// when totals arrived have been listed stale.
var totalsSince = bson.D{{Key: "_id", Value: "#stale-boards-listed"}}

// staleBoardDoc lists one board whose scores predate totals.
type staleBoardDoc struct {
	ID     bson.D `bson:"_id"`
	Tenant string `bson:"stale_tenant"`
	Board  string `bson:"stale_board"`
}

// upgradeBoardTotals lists, on the first start with totals, every board
// that exists as stale: its scores were never folded, and folding them
// needs the boards' periods, which are the leaderboards package's to
// compute. Total reads stale boards from their scores, as before. Then it
// loads the list, which no later start changes. Listing is idempotent,
// so nodes starting together may all run it; nodes still running the
// previous release do not fold: upgrade every node together.
func (s *Store) upgradeBoardTotals(ctx context.Context) error {
	if !s.atomicUpdates {
		return nil // no totals are kept
	}
	n, err := s.totals.CountDocuments(ctx, totalsSince)
	if err != nil {
		return wrapTotals(err)
	}
	if n == 0 {
		cur, err := s.boards.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "tenant", Value: 1}, {Key: "id", Value: 1}}))
		if err != nil {
			return wrapTotals(err)
		}
		var bs []boardDoc
		if err := cur.All(ctx, &bs); err != nil {
			return wrapTotals(err)
		}
		for _, b := range bs {
			id := bson.D{{Key: "stale_tenant", Value: b.Tenant}, {Key: "stale_board", Value: b.ID}}
			if _, err := insertIgnore(ctx, s.totals, staleBoardDoc{ID: id, Tenant: b.Tenant, Board: b.ID}); err != nil {
				return wrapTotals(err)
			}
		}
		if _, err := insertIgnore(ctx, s.totals, totalsSince); err != nil {
			return wrapTotals(err)
		}
	}
	cur, err := s.totals.Find(ctx, bson.D{{Key: "stale_board", Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil {
		return wrapTotals(err)
	}
	var stale []staleBoardDoc
	if err := cur.All(ctx, &stale); err != nil {
		return wrapTotals(err)
	}
	s.staleBoards = map[[2]string]bool{}
	for _, d := range stale {
		s.staleBoards[[2]string{d.Tenant, d.Board}] = true
	}
	return nil
}

func wrapTotals(err error) error {
	if err != nil {
		return fmt.Errorf("mongo: upgrade board totals: %w", err)
	}
	return nil
}

// pointsBoardsFolded marks, in the totals collection, that every points
// board from before points boards folded the ledger has had its build
// started again.
var pointsBoardsFolded = bson.D{{Key: "_id", Value: "#points-boards-folded"}}

// upgradePointsBoards starts the build of every points board again, once,
// so that it folds the ledger into its scores and totals: before, points
// boards read the ledger and folded nothing, and boards from before builds
// existed have no build. Reads say "building" meanwhile. A document
// without a source is a points board (see norm.Board). Nodes starting
// together may all run it (the builds' leases keep one builder per
// board); a crash before the mark runs it again, which only builds again.
func (s *Store) upgradePointsBoards(ctx context.Context) error {
	n, err := s.totals.CountDocuments(ctx, pointsBoardsFolded)
	if err != nil || n > 0 {
		return wrapPointsBoards(err)
	}
	points := bson.D{{Key: "source", Value: bson.D{{Key: "$in", Value: bson.A{nil, "", string(leaderboards.FromPoints)}}}}}
	build := buildDoc{State: string(leaderboards.Building), LeaseUntil: time.UnixMilli(0).UTC()}
	if _, err := s.boards.UpdateMany(ctx, points, bson.D{{Key: "$set", Value: bson.D{{Key: "build", Value: build}}}}); err != nil {
		return wrapPointsBoards(err)
	}
	_, err = insertIgnore(ctx, s.totals, pointsBoardsFolded)
	return wrapPointsBoards(err)
}

func wrapPointsBoards(err error) error {
	if err != nil {
		return fmt.Errorf("mongo: upgrade points boards: %w", err)
	}
	return nil
}
