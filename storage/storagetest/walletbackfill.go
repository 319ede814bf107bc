package storagetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/points"
)

// NodeStore is a store a node opens and closes.
type NodeStore interface {
	points.Store
	Close() error
}

// RunWalletBackfill: a database whose ledger predates wallets opens (on
// nodes stores at once) with a wallet per paid user holding the ledger's
// balance, spendable, in every tenant; opening again changes nothing.
// open opens the test's one database; forget makes it as before wallets
// (no changes, lots, balances nor upgrade marker) and closes s.
func RunWalletBackfill(t *testing.T, open func(t *testing.T) NodeStore, forget func(t *testing.T, s NodeStore), nodes int) {
	ctx := context.Background()
	at := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	s := open(t)
	if s == nil {
		t.FailNow() // open reported why
	}
	for i, e := range []points.Entry{
		{Tenant: "acme", User: "ann", Amount: 30}, {Tenant: "acme", User: "ann", Amount: 12},
		{Tenant: "acme", User: "bob", Amount: 5}, {Tenant: "acme", User: "bob", Amount: -5},
		{Tenant: "globex", User: "ann", Amount: 7},
	} {
		e.Key, e.Reason, e.CreatedAt = "legacy-test:"+string(rune('a'+i)), "test", at.Add(time.Duration(i)*time.Second)
		if _, _, err := s.InsertEntry(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	forget(t, s)
	stores := make([]NodeStore, nodes)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i] = open(t) })
	}
	wg.Wait()
	for _, st := range stores {
		if st == nil {
			t.FailNow() // open reported why
		}
	}
	want := []struct {
		tenant, user   string
		balance, earnd int64
	}{{"acme", "ann", 42, 42}, {"acme", "bob", 0, 5}, {"globex", "ann", 7, 7}}
	for i, w := range want {
		got, err := points.NewService(stores[i%nodes], nil).Wallet(ctx, w.tenant, w.user)
		if err != nil || got.Balance != w.balance || got.Earned != w.earnd {
			t.Fatalf("%s/%s backfilled wallet %+v, %v; want balance %d earned %d", w.tenant, w.user, got, err, w.balance, w.earnd)
		}
	}
	c, err := points.NewService(stores[0], nil).Spend(ctx, points.Spend{Tenant: "acme", User: "ann", Amount: 40, Key: "spend:1"})
	if err != nil || c.Balance.Held != 2 || c.Balance.Version != 2 || len(c.Takes) != 1 || c.Takes[0].Amount != 40 {
		t.Fatalf("spend of backfilled points: %+v, %v", c, err)
	}
	for _, st := range stores {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s = open(t)
	defer s.Close()
	got, err := points.NewService(s, nil).Wallet(ctx, "acme", "ann")
	if err != nil || got.Balance != 2 || got.Spent != 40 {
		t.Fatalf("wallet after a reopen: %+v, %v", got, err)
	}
}
