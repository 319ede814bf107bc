package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/storagetest"
)

// TestWalletBackfill: a database whose ledger predates wallets opens with
// a wallet per paid user holding the ledger's balance, spendable; a
// second open changes nothing.
func TestWalletBackfill(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	s := open(t, path)
	at := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	for i, amount := range []int64{30, 12} {
		e := points.Entry{Tenant: "acme", User: "ann", Amount: amount, Key: "challenge:c1:" + string(rune('a'+i)), Reason: "test", CreatedAt: at}
		if _, _, err := s.InsertEntry(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// As before wallets: no wallet tables.
	execAll(t, path, `DROP TABLE points_balances`, `DROP TABLE points_changes`, `DROP TABLE points_lots`)
	for range 2 {
		s = open(t, path)
		svc := points.NewService(s, nil)
		w, err := svc.Wallet(ctx, "acme", "ann")
		if err != nil || w.Balance != 42 || w.Earned != 42 {
			t.Fatalf("backfilled wallet %+v, %v", w, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s = open(t, path)
	svc := points.NewService(s, nil)
	c, err := svc.Spend(ctx, points.Spend{Tenant: "acme", User: "ann", Amount: 40, Key: "spend:1"})
	if err != nil || c.Balance.Held != 2 || c.Balance.Version != 2 {
		t.Fatalf("spend of backfilled points: %+v, %v", c, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A database with changes but no balances table gets it filled.
	execAll(t, path, `DROP TABLE points_balances`)
	s = open(t, path)
	defer s.Close()
	w, err := points.NewService(s, nil).Wallet(ctx, "acme", "ann")
	if err != nil || w.Balance != 2 || w.Spent != 40 {
		t.Fatalf("wallet with balances refilled %+v, %v", w, err)
	}
}

// TestWalletBackfillConformance runs the stores' shared backfill case
// (one node: the embedded store is one process's).
func TestWalletBackfillConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	storagetest.RunWalletBackfill(t, func(t *testing.T) storagetest.NodeStore { return open(t, path) },
		func(t *testing.T, s storagetest.NodeStore) {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			execAll(t, path, `DROP TABLE points_balances`, `DROP TABLE points_changes`, `DROP TABLE points_lots`)
		}, 1)
}

// TestExpiryCrash runs the stores' shared case of an expiry run dying
// between its changes and their events.
func TestExpiryCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	storagetest.RunExpiryCrash(t, func(t *testing.T) storagetest.NodeStore { return open(t, path) })
}
