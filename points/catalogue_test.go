package points_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/questline/questline/internal/bus"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/sqlite"
)

// TestCatalogueAcrossNodes: a reward created on one node is the next
// reward in a wallet read on another at once (the bus drops the other
// node's cached catalogue), not after the cache's TTL.
func TestCatalogueAcrossNodes(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := bus.NewMemory()
	a, other := points.NewService(s, nil), points.NewService(s, nil)
	a.SetBus(b)
	other.SetBus(b)
	if _, _, err := a.Credit(ctx, points.Credit{Tenant: "acme", User: "ann", Amount: 30, Key: "k1"}); err != nil {
		t.Fatal(err)
	}
	if w, err := other.Programme(ctx, "acme", "ann"); err != nil || w.NextReward != nil {
		t.Fatalf("empty catalogue: %+v, %v", w.NextReward, err)
	}
	if _, err := a.CreateReward(ctx, "acme", points.Reward{Name: "Mug", Kind: points.KindGenerated, Cost: 50, Active: true}); err != nil {
		t.Fatal(err)
	}
	w, err := other.Programme(ctx, "acme", "ann")
	if err != nil || w.NextReward == nil || w.NextReward.Name != "Mug" || w.NextReward.Short != 20 {
		t.Fatalf("next reward on the other node: %+v, %v", w.NextReward, err)
	}
}
