package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/questline/questline/analytics"
	"github.com/questline/questline/storage/storagetest"
)

func TestAnalyticsConformance(t *testing.T) {
	storagetest.RunAnalytics(t, func(t *testing.T) analytics.Store {
		s := open(t, filepath.Join(t.TempDir(), "q.db"))
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestAnalyticsEventScan(t *testing.T) {
	storagetest.RunEventScan(t, func(t *testing.T) storagetest.ScanStore {
		s := open(t, filepath.Join(t.TempDir(), "q.db"))
		t.Cleanup(func() { s.Close() })
		return s
	})
}
