// Package profiles keeps what other players may see of a user: a display
// name and an avatar, shown next to ranks and reviews.
package profiles

import (
	"context"
	"time"
)

// Profile is a user's public display data.
type Profile struct {
	User      string    `json:"user_id"`
	Tenant    string    `json:"-"`
	Name      string    `json:"name"`
	AvatarURL string    `json:"avatar_url,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Store keeps profiles; (tenant, user) is unique.
type Store interface {
	// PutProfile creates or replaces p.
	PutProfile(ctx context.Context, p Profile) error
	// Profiles returns the profiles of those users that have one, in any
	// order, in one query: leaderboard pages join them without N+1 reads.
	Profiles(ctx context.Context, tenant string, users []string) ([]Profile, error)
}
