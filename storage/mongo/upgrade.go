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
