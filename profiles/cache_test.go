package profiles_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/questline/questline/internal/bus"
	"github.com/questline/questline/profiles"
	"github.com/questline/questline/storage/sqlite"
)

// countingStore is a real SQLite store that counts profile reads.
type countingStore struct {
	*sqlite.Store
	mu    sync.Mutex
	reads int
}

func (s *countingStore) Profiles(ctx context.Context, tenant string, users []string) ([]profiles.Profile, error) {
	s.mu.Lock()
	s.reads++
	s.mu.Unlock()
	return s.Store.Profiles(ctx, tenant, users)
}

func (s *countingStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// TestProfileCache: a node reads a user's profile, or learns there is
// none, once; a change through any node on the bus drops it everywhere.
func TestProfileCache(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	b := bus.NewMemory()
	var stores []*countingStore
	var nodes []*profiles.Service
	for range 2 { // two services on one bus: two nodes
		st := &countingStore{Store: db}
		svc := profiles.NewService(st)
		svc.SetBus(b)
		stores, nodes = append(stores, st), append(nodes, svc)
	}
	names := func(ps []profiles.Profile) map[string]string {
		out := map[string]string{}
		for _, p := range ps {
			out[p.User] = p.Name
		}
		return out
	}
	if _, err := nodes[0].Put(ctx, "acme", "ann", profiles.Input{Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	users := []string{"ann", "bob", "auth0|cid"}
	for range 3 {
		ps, err := nodes[1].Profiles(ctx, "acme", users)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(ps); len(got) != 1 || got["ann"] != "Ann" {
			t.Fatalf("profiles = %v", got)
		}
	}
	if n := stores[1].count(); n != 1 {
		t.Fatalf("%d store reads for three page reads, want 1", n)
	}
	if ps, _ := nodes[1].Profiles(ctx, "other", []string{"ann"}); len(ps) != 0 {
		t.Fatalf("another tenant's ann = %+v", ps)
	}

	if _, err := nodes[0].Put(ctx, "acme", "auth0|cid", profiles.Input{Name: "Cid"}); err != nil {
		t.Fatal(err)
	}
	before := stores[1].count()
	ps, err := nodes[1].Profiles(ctx, "acme", users)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(ps); len(got) != 2 || got["auth0|cid"] != "Cid" || got["ann"] != "Ann" {
		t.Fatalf("after cid set a name on the other node: %v", got)
	}
	if n := stores[1].count() - before; n != 1 {
		t.Fatalf("%d store reads after one user changed, want 1", n)
	}
}
