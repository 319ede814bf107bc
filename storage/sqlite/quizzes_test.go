package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/questline/questline/storage/storagetest"
)

func TestQuizConformance(t *testing.T) {
	storagetest.RunQuizzes(t, func(t *testing.T) storagetest.QuizStore {
		s := open(t, filepath.Join(t.TempDir(), "q.db"))
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}
