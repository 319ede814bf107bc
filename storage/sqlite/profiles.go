package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/questline/questline/profiles"
	"github.com/questline/questline/storage/internal/norm"
)

// profileChunk caps the users of one Profiles query, keeping its IN list
// (one bound variable each) far below SQLite's variable limit.
const profileChunk = 500

// PutProfile creates or replaces p. A zero UpdatedAt becomes now.
func (s *Store) PutProfile(ctx context.Context, p profiles.Profile) error {
	if p.User == "" {
		return errors.New("sqlite: put profile: empty user")
	}
	p.UpdatedAt = norm.NowIfZero(p.UpdatedAt)
	err := s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.exec(s.wq.upsertProfile, p.Tenant, p.User, p.Name, p.AvatarURL, norm.Millis(p.UpdatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: put profile: %w", err)
	}
	return nil
}

// Profiles returns the profiles of those users that have one, in user
// order: one query per profileChunk distinct users.
func (s *Store) Profiles(ctx context.Context, tenant string, users []string) ([]profiles.Profile, error) {
	// Sorted and without repeats, so a user repeated across chunks is
	// still returned once.
	users = slices.Compact(slices.Sorted(slices.Values(users)))
	var out []profiles.Profile
	for len(users) > 0 {
		n := min(len(users), profileChunk)
		page, err := s.profilesIn(ctx, tenant, users[:n])
		if err != nil {
			return nil, fmt.Errorf("sqlite: get profiles: %w", err)
		}
		out = append(out, page...)
		users = users[n:]
	}
	return out, nil
}

// profilesIn reads the profiles of up to profileChunk users. The query
// depends on len(users), so it is not one of the prepared statements.
func (s *Store) profilesIn(ctx context.Context, tenant string, users []string) ([]profiles.Profile, error) {
	q := `SELECT ` + profileCols + ` FROM profiles WHERE tenant = ? AND user_id IN (?` +
		strings.Repeat(",?", len(users)-1) + `) ORDER BY user_id`
	args := make([]any, 0, 1+len(users))
	args = append(args, tenant)
	for _, u := range users {
		args = append(args, u)
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanProfile)
}

func scanProfile(sc scanner) (profiles.Profile, error) {
	var (
		p  profiles.Profile
		at int64
	)
	if err := sc.Scan(&p.Tenant, &p.User, &p.Name, &p.AvatarURL, &at); err != nil {
		return profiles.Profile{}, err
	}
	p.UpdatedAt = norm.Time(at)
	return p, nil
}

// PutAttributes creates or replaces a. A zero UpdatedAt becomes now.
func (s *Store) PutAttributes(ctx context.Context, a profiles.Attributes) error {
	if a.User == "" {
		return errors.New("sqlite: put attributes: empty user")
	}
	var segments any
	if len(a.Segments) > 0 {
		b, err := json.Marshal(a.Segments)
		if err != nil {
			return fmt.Errorf("sqlite: put attributes: encode segments: %w", err)
		}
		segments = string(b)
	}
	at := norm.Millis(norm.NowIfZero(a.UpdatedAt))
	err := s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.exec(s.wq.upsertAttributes, a.Tenant, a.User, a.Tier, segments, at)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: put attributes: %w", err)
	}
	return nil
}

// GetAttributes returns a user's attributes; ok is false when none were
// set. No segments come back nil.
func (s *Store) GetAttributes(ctx context.Context, tenant, user string) (profiles.Attributes, bool, error) {
	var (
		a        profiles.Attributes
		segments sql.NullString
		at       int64
	)
	err := s.rq.attributes.QueryRowContext(ctx, tenant, user).Scan(&a.Tenant, &a.User, &a.Tier, &segments, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return profiles.Attributes{}, false, nil
	}
	if err != nil {
		return profiles.Attributes{}, false, fmt.Errorf("sqlite: get attributes: %w", err)
	}
	if segments.Valid {
		if err := json.Unmarshal([]byte(segments.String), &a.Segments); err != nil {
			return profiles.Attributes{}, false, fmt.Errorf("sqlite: get attributes: decode segments: %w", err)
		}
	}
	a.Segments, a.UpdatedAt = norm.Strings(a.Segments), norm.Time(at)
	return a, true, nil
}
