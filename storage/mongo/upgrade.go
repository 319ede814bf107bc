package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
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
