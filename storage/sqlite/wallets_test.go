package sqlite_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/questline/questline/events"
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

// TestOwedUpgrade: a file whose points_changes predates owed events gets
// the columns and their index on open, again harmlessly; its changes owe
// nothing, and expiry then marks and clears as on a new file.
func TestOwedUpgrade(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	now := time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
	s := open(t, path)
	svc := points.NewService(s, nil)
	svc.SetClock(func() time.Time { return now })
	if _, err := svc.PutPolicy(ctx, "acme", points.Policy{Expiry: points.ExpireQuarters}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Credit(ctx, points.Credit{Tenant: "acme", User: "ann", Amount: 9, Key: "k1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	execAll(t, path, `DROP INDEX points_changes_owed`,
		`ALTER TABLE points_changes DROP COLUMN owes`, `ALTER TABLE points_changes DROP COLUMN owed_at`)
	for range 2 {
		s = open(t, path)
		if owed, err := s.OwedChanges(ctx, now.AddDate(1, 0, 0), 10); err != nil || len(owed) != 0 {
			t.Fatalf("owed on an upgraded file: %+v, %v", owed, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s = open(t, path)
	defer s.Close()
	svc = points.NewService(s, nil)
	rec := &countingEmitter{}
	svc.SetEmitter(rec)
	r, err := svc.Expire(ctx, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), nil)
	if err != nil || r.Points != 9 || rec.n.Load() != 1 {
		t.Fatalf("expiry on an upgraded file: %+v, %v, %d events", r, err, rec.n.Load())
	}
	if owed, err := s.OwedChanges(ctx, now.AddDate(1, 0, 0), 10); err != nil || len(owed) != 0 {
		t.Fatalf("owed after the expiry: %+v, %v", owed, err)
	}
}

// countingEmitter counts the events emitted to it.
type countingEmitter struct{ n atomic.Int64 }

func (e *countingEmitter) Emit(context.Context, events.Event) error {
	e.n.Add(1)
	return nil
}
