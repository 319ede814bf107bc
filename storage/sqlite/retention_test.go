package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/questline/questline/storage/storagetest"
)

func TestRetentionConformance(t *testing.T) {
	storagetest.RunRetention(t, func(t *testing.T) storagetest.RetentionStore {
		s := open(t, filepath.Join(t.TempDir(), "q.db"))
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}
