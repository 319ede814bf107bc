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

// Attributes are what a brand says about a user: their tier and the
// segments they belong to. Only managers and brand back ends set them, so
// players cannot make themselves eligible for challenges.
type Attributes struct {
	User      string    `json:"user_id"`
	Tenant    string    `json:"-"`
	Tier      string    `json:"tier,omitempty"`
	Segments  []string  `json:"segments"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Store keeps profiles and attributes; (tenant, user) is unique for each.
type Store interface {
	UserData // export and erasure: privacy.go
	// PutAttributes creates or replaces a.
	PutAttributes(ctx context.Context, a Attributes) error
	// GetAttributes returns a user's attributes; ok is false when none
	// were set.
	GetAttributes(ctx context.Context, tenant, user string) (a Attributes, ok bool, err error)
	// PutProfile creates or replaces p.
	PutProfile(ctx context.Context, p Profile) error
	// Profiles returns the profiles of those users that have one, in any
	// order, in one query: leaderboard pages join them without N+1 reads.
	Profiles(ctx context.Context, tenant string, users []string) ([]Profile, error)
}
