package webhooks

import "time"

// SetClock replaces the service's clock, for tests that move time on.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Backoff exposes the retry schedule to the tests.
var Backoff = backoff
