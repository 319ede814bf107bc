package profiles

import (
	"context"

	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/bus"
	"github.com/questline/questline/internal/errs"
)

// Service keeps users' display data.
type Service struct {
	store Store
	now   func() time.Time
	bus   bus.Bus // nil on a single node without one
	cache *bus.Cache[cached]
}

// NewService returns a profile service over store.
func NewService(store Store) *Service {
	return &Service{store: store, now: time.Now, cache: newCache()}
}

// Input is what a user sets of their profile.
type Input struct {
	Name      string `json:"name" minLength:"1" maxLength:"64" doc:"Display name shown on leaderboards and reviews."`
	AvatarURL string `json:"avatar_url,omitempty" maxLength:"512" doc:"An https URL of the avatar image."`
}

// Put sets user's profile.
func (s *Service) Put(ctx context.Context, tenant, user string, in Input) (Profile, error) {
	if in.AvatarURL != "" {
		u, err := url.Parse(in.AvatarURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return Profile{}, errs.New(errs.Unprocessable, "bad-avatar-url", "avatar_url must be an https URL").OnField("body.avatar_url")
		}
	}
	p := Profile{User: user, Tenant: tenant, Name: in.Name, AvatarURL: in.AvatarURL, UpdatedAt: s.now().UTC().Truncate(time.Millisecond)}
	if err := s.store.PutProfile(ctx, p); err != nil {
		return Profile{}, fmt.Errorf("profiles: put %s: %w", user, err)
	}
	s.forget(ctx, tenant, user)
	return p, nil
}

// forget drops user's cached profile on this node and, through the bus,
// on every other node.
func (s *Service) forget(ctx context.Context, tenant, user string) {
	key := cacheKey(tenant, user)
	s.cache.Drop(key)
	if s.bus != nil {
		s.bus.Publish(ctx, busTopic, key)
	}
}

// Get returns user's profile.
func (s *Service) Get(ctx context.Context, tenant, user string) (Profile, error) {
	ps, err := s.Profiles(ctx, tenant, []string{user})
	if err != nil {
		return Profile{}, err
	}
	if len(ps) == 0 {
		return Profile{}, errs.New(errs.NotFound, "profile-not-found", "user %q has no profile", user)
	}
	return ps[0], nil
}

// Profiles returns the profiles of those users that have one, in at most
// one query: what this node read lately (a profile, or that there is
// none) comes from its cache.
func (s *Service) Profiles(ctx context.Context, tenant string, users []string) ([]Profile, error) {
	now := s.now()
	var out []Profile
	var misses []string
	var gen uint64
	for i, u := range users {
		c, ok, g := s.cache.Lookup(cacheKey(tenant, u), now)
		if i == 0 {
			gen = g // the oldest: what is read below is kept only if nothing changed since
		}
		switch {
		case !ok:
			misses = append(misses, u)
		case c.found:
			out = append(out, c.p)
		}
	}
	if len(misses) == 0 {
		return out, nil
	}
	ps, err := s.store.Profiles(ctx, tenant, misses)
	if err != nil {
		return nil, fmt.Errorf("profiles: get %d: %w", len(misses), err)
	}
	for _, u := range misses {
		s.cache.Keep(cacheKey(tenant, u), cached{}, gen, now)
	}
	for _, p := range ps {
		s.cache.Keep(cacheKey(tenant, p.User), cached{p: p, found: true}, gen, now)
	}
	return append(out, ps...), nil
}

// AttributesInput is what a brand sets about a user.
type AttributesInput struct {
	Tier     string   `json:"tier,omitempty" maxLength:"64" doc:"The user's loyalty tier, e.g. gold."`
	Segments []string `json:"segments" maxItems:"50" doc:"Segments or tags, e.g. vip, newsletter, paris."`
}

// PutAttributes sets what a brand says about user: their tier and segments,
// which decide eligibility for challenges.
func (s *Service) PutAttributes(ctx context.Context, tenant, user string, in AttributesInput) (Attributes, error) {
	for i, seg := range in.Segments {
		if seg == "" || len(seg) > 64 {
			return Attributes{}, errs.New(errs.Unprocessable, "bad-segment", "segments are 1-64 characters").OnField(fmt.Sprintf("body.segments[%d]", i))
		}
	}
	a := Attributes{User: user, Tenant: tenant, Tier: in.Tier, Segments: append([]string{}, in.Segments...), UpdatedAt: s.now().UTC().Truncate(time.Millisecond)}
	if err := s.store.PutAttributes(ctx, a); err != nil {
		return Attributes{}, fmt.Errorf("profiles: put attributes of %s: %w", user, err)
	}
	return a, nil
}

// GetAttributes returns a user's attributes; ok is false when none were set.
func (s *Service) GetAttributes(ctx context.Context, tenant, user string) (Attributes, bool, error) {
	a, ok, err := s.store.GetAttributes(ctx, tenant, user)
	if err != nil {
		return Attributes{}, false, fmt.Errorf("profiles: attributes of %s: %w", user, err)
	}
	return a, ok, nil
}

// Routes registers the profile API.
func Routes(api huma.API, s *Service) {
	tags := []string{"profiles"}
	auth.Register(api, huma.Operation{
		OperationID: "put-my-profile", Method: http.MethodPut, Path: "/v1/me/profile",
		Summary: "Set my display name and avatar", Tags: tags,
	}, auth.People, func(ctx context.Context, in *struct{ Body Input }) (*output, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		pr, err := s.Put(ctx, p.Tenant, p.Subject, in.Body)
		if err != nil {
			return nil, err
		}
		return &output{Body: pr}, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "get-user-profile", Method: http.MethodGet, Path: "/v1/users/{id}/profile",
		Summary: "A user's public profile", Tags: tags,
	}, auth.Readers, func(ctx context.Context, in *struct {
		ID string `path:"id" maxLength:"128" format:"user-id" doc:"User id."`
	}) (*output, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		pr, err := s.Get(ctx, p.Tenant, in.ID)
		if err != nil {
			return nil, err
		}
		return &output{Body: pr}, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "put-user-attributes", Method: http.MethodPut, Path: "/v1/users/{id}/attributes",
		Summary: "Set a user's tier and segments (manager or manage key)", Tags: tags,
		Description: "What the brand knows about a user; challenges may be limited to tiers or segments. Players cannot set their own.",
	}, auth.Managers, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"128" format:"user-id" doc:"User id."`
		Body AttributesInput
	}) (*attributesOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		a, err := s.PutAttributes(ctx, p.Tenant, in.ID, in.Body)
		if err != nil {
			return nil, err
		}
		return &attributesOutput{Body: a}, nil
	})
}

type output struct{ Body Profile }

type attributesOutput struct{ Body Attributes }
