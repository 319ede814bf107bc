package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/internal/norm"
)

// colPointsUpgrades holds the markers of finished wallet upgrades.
const colPointsUpgrades = "points_upgrades"

// walletsBackfilled marks that every user the ledger paid before wallets
// existed has a wallet.
var walletsBackfilled = bson.D{{Key: "_id", Value: "#wallets-backfilled"}}

// errHasWallet refuses a legacy wallet to a user who already has one.
var errHasWallet = errors.New("the user has a wallet")

// legacySeed is what the ledger holds for one user.
type legacySeed struct {
	Tenant, User string
	First        string // the id of the user's first line
	At           time.Time
	Held, Earned int64
}

// backfillWallets gives, on the first start with wallets, every user the
// ledger already pays a wallet holding the ledger's balance in one lot
// that never expires (as SQLite does), so points earned before wallets
// stay spendable. Each wallet is the user's first change, keyed by their
// first ledger line: nodes starting together, or a start after a crash
// half-way, store each once, and a user who has a wallet keeps it as it
// is. Nodes still running the previous release pay without wallets:
// upgrade every node together.
func (s *Store) backfillWallets(ctx context.Context) error {
	marks := s.db.Collection(colPointsUpgrades)
	n, err := marks.CountDocuments(ctx, walletsBackfilled)
	if err != nil || n > 0 {
		return wrapBackfill(err)
	}
	// The ledger in user order, folded here: FerretDB lacks $group's
	// $min and $max.
	cur, err := s.ledger.Find(ctx, bson.D{}, options.Find().
		SetSort(bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1}, {Key: "id", Value: 1}}).
		SetProjection(bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1}, {Key: "id", Value: 1},
			{Key: "amount", Value: 1}, {Key: "created_at", Value: 1}}).SetAllowDiskUse(true))
	if err != nil {
		return wrapBackfill(err)
	}
	defer cur.Close(context.Background())
	var seed legacySeed
	for cur.Next(ctx) {
		var e entryDoc
		if err := cur.Decode(&e); err != nil {
			return wrapBackfill(err)
		}
		if e.Tenant != seed.Tenant || e.User != seed.User {
			if err := s.legacyWallet(ctx, seed); err != nil {
				return wrapBackfill(err)
			}
			seed = legacySeed{Tenant: e.Tenant, User: e.User, First: e.ID}
		}
		seed.Held += e.Amount
		seed.Earned += max(e.Amount, 0)
		if e.CreatedAt.After(seed.At) {
			seed.At = e.CreatedAt
		}
	}
	if err := cur.Err(); err != nil {
		return wrapBackfill(err)
	}
	if err := s.legacyWallet(ctx, seed); err != nil {
		return wrapBackfill(err)
	}
	_, err = insertIgnore(ctx, marks, walletsBackfilled)
	return wrapBackfill(err)
}

// legacyWallet stores seed's wallet unless the user has one (or seed is
// the empty one before the first line).
func (s *Store) legacyWallet(ctx context.Context, seed legacySeed) error {
	if seed.First == "" {
		return nil
	}
	key := "legacy:" + seed.First
	at := norm.Trunc(seed.At)
	held := max(seed.Held, 0)
	_, _, err := s.ApplyChange(ctx, seed.Tenant, seed.User, key, func(_ context.Context, w points.WalletView) (points.Change, error) {
		if w.Balance().Version > 0 {
			return points.Change{}, errHasWallet
		}
		c := points.Change{Kind: points.KindCredit, Amount: held, At: at,
			Balance: points.Balance{Held: held, Earned: seed.Earned}}
		if held > 0 {
			c.Lots = []points.Lot{{ID: "legacy-" + seed.First, User: seed.User, Key: key, Amount: held, Remaining: held, EarnedAt: at, AvailableAt: at}}
		}
		return c, nil
	})
	if errors.Is(err, errHasWallet) {
		return nil
	}
	return err
}

func wrapBackfill(err error) error {
	if err != nil {
		return fmt.Errorf("mongo: backfill wallets: %w", err)
	}
	return nil
}
