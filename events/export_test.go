package events

import (
	"context"
	"time"
)

// SetClock sets the service's clock, for tests that move it across backoffs.
func SetClock(s *Service, now func() time.Time) { s.now = now }

// MaxAttempts is maxAttempts, for tests.
const MaxAttempts = maxAttempts

// SweepAll runs one sweeper tick.
func SweepAll(s *Service, grace time.Duration) { s.sweepAll(context.Background(), grace) }
