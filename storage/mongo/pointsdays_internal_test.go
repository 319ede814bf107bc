package mongo

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/questline/questline/storage/storagetest"
)

// TestPointsDaysFolded runs the day sums' exactness case with the folds
// on (FerretDB keeps none: see atomicUpdates).
func TestPointsDaysFolded(t *testing.T) {
	s, _ := openFolding(t)
	storagetest.PointsDays(t, s)
}

// TestPointsDaysBackfill: a database from before day sums (no marker)
// gets them folded from the ledger and reversals, the same as the write
// path folded them; a second run, as after a crash before the marker,
// counts nothing twice.
func TestPointsDaysBackfill(t *testing.T) {
	ctx := context.Background()
	s, _ := openFolding(t)
	tn, days := storagetest.SeedDays(t, s)
	for _, col := range []*mdb.Collection{s.wallets.days, s.wallets.months} {
		if _, err := col.DeleteMany(ctx, bson.D{}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := s.db.Collection(colPointsUpgrades).DeleteOne(ctx, pointsDaysFolded); err != nil {
			t.Fatal(err)
		}
		if err := s.backfillPointsDays(ctx); err != nil {
			t.Fatal(err)
		}
		storagetest.CheckDays(t, s, tn, days)
	}
}
