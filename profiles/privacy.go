package profiles

import (
	"context"
	"fmt"
)

// UserData is what a user's erasure needs of the profile store.
type UserData interface {
	// DeleteUser deletes the user's profile and attributes; a user without
	// them is no error.
	DeleteUser(ctx context.Context, tenant, user string) error
}

// UserExport is the profiles section of a user's data export; both are
// null when unset.
type UserExport struct {
	Profile    *Profile    `json:"profile"`
	Attributes *Attributes `json:"attributes"`
}

// Export returns the user's profile and attributes.
func (s *Service) Export(ctx context.Context, tenant, user string) (string, any, error) {
	var out UserExport
	ps, err := s.Profiles(ctx, tenant, []string{user})
	if err != nil {
		return "", nil, err
	}
	if len(ps) > 0 {
		out.Profile = &ps[0]
	}
	a, ok, err := s.GetAttributes(ctx, tenant, user)
	if err != nil {
		return "", nil, err
	}
	if ok {
		out.Attributes = &a
	}
	return "profiles", out, nil
}

// Erase deletes the user's profile and attributes.
func (s *Service) Erase(ctx context.Context, tenant, user string) error {
	if err := s.store.DeleteUser(ctx, tenant, user); err != nil {
		return fmt.Errorf("profiles: erase %s: %w", user, err)
	}
	s.forget(ctx, tenant, user) // an erased name must leave every node's boards now
	return nil
}
