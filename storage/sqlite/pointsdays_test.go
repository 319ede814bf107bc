package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/questline/questline/storage/storagetest"
)

// TestPointsDaysBackfilled: a file from before points_days (version 4)
// gets every user's day and month sums folded from its ledger and
// reversals on its first open, the same as the write path folded them, and later opens
// leave them alone.
func TestPointsDaysBackfilled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	s := open(t, path)
	tn, days := storagetest.SeedDays(t, s)
	s.Close()
	execAll(t, path, `DROP TABLE points_days`, `DROP TABLE points_months`, `PRAGMA user_version = 4`)
	for range 2 {
		s = open(t, path)
		storagetest.CheckDays(t, s, tn, days)
		s.Close()
	}
	if n := queryInt(t, path, `PRAGMA user_version`); n != 5 {
		t.Fatalf("user_version = %d, want 5", n)
	}
	// A file with the day sums but not the months gets the months.
	execAll(t, path, `DROP TABLE points_months`)
	s = open(t, path)
	storagetest.CheckDays(t, s, tn, days)
	s.Close()
}
