package badges

import "time"

// SetClock replaces s's clock, for tests outside the package.
func SetClock(s *Service, now func() time.Time) { s.now = now }
