package sqlite

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentOpen: several nodes starting at once on one fresh file
// all open it; one migrates, the others wait for it.
func TestConcurrentOpen(t *testing.T) {
	for round := range 10 {
		path := filepath.Join(t.TempDir(), "q.db")
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() {
				s, err := Open(context.Background(), path)
				errs[i] = err
				if err == nil {
					s.Close()
				}
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, node %d: %v", round, i, err)
			}
		}
	}
}
