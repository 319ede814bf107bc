package mongo_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/storage/mongo"
	"github.com/questline/questline/storage/storagetest"
)

// openSame returns an open of one database of the test's own, dropped
// at the end: each call is a node's (or a restarted process's) store.
func openSame(t *testing.T) func(t *testing.T) storagetest.NodeStore {
	u := uri(t)
	name := "ql_test_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	open := func(t *testing.T) storagetest.NodeStore {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		s, err := mongo.Open(ctx, u, name)
		if err != nil {
			t.Error(err)
			return nil
		}
		return s
	}
	t.Cleanup(func() {
		if s := open(t); s != nil {
			if err := s.(*mongo.Store).Database().Drop(context.Background()); err != nil {
				t.Error(err)
			}
			s.Close()
		}
	})
	return open
}

// TestWalletBackfill runs the stores' shared backfill case with three
// nodes opening the legacy database at once.
func TestWalletBackfill(t *testing.T) {
	open := openSame(t)
	storagetest.RunWalletBackfill(t, open, func(t *testing.T, s storagetest.NodeStore) {
		db := s.(*mongo.Store).Database()
		for _, col := range []string{"points_changes", "points_lots", "points_upgrades"} {
			if err := db.Collection(col).Drop(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}, 3)
}

// TestExpiryCrash runs the stores' shared case of an expiry run dying
// between its changes and their events, the restart opening the same
// database.
func TestExpiryCrash(t *testing.T) {
	storagetest.RunExpiryCrash(t, openSame(t))
}
