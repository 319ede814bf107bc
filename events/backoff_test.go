package events

import (
	"testing"
	"time"
)

func TestBackoffGrows(t *testing.T) {
	for _, c := range []struct {
		attempts int
		want     time.Duration
	}{
		{1, 2 * time.Second}, {2, 4 * time.Second}, {3, 8 * time.Second},
		{9, 512 * time.Second}, {10, 15 * time.Minute}, {64, 15 * time.Minute},
	} {
		if got := backoff(c.attempts); got != c.want {
			t.Errorf("backoff(%d) = %v, want %v", c.attempts, got, c.want)
		}
	}
}
