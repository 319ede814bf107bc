package challenges

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/events"
)

// UserData is what a user's export and erasure need of the challenge
// store.
type UserData interface {
	// UserMemberships lists the opt-in challenges the user joined.
	UserMemberships(ctx context.Context, tenant, user string) ([]Membership, error)
	// EraseChallengeUser deletes the user's contributions and unlocks and
	// moves their completions and enrolments to pseudonym, so challenge
	// stats keep counting them. Repeating it changes nothing.
	EraseChallengeUser(ctx context.Context, tenant, user, pseudonym string) error
}

// UserExport is the challenges section of a user's data export.
type UserExport struct {
	Progress    []PlayerChallenge `json:"progress" doc:"Challenges the user has progress in or completed, as the user sees them."`
	Completions []Completion      `json:"completions"`
	Enrolments  []Joined          `json:"enrolments"`
	Unlocks     []Unlock          `json:"unlocks"`
}

// Joined is an opt-in challenge the user joined.
type Joined struct {
	ChallengeID string    `json:"challenge_id"`
	JoinedAt    time.Time `json:"joined_at"`
}

// Export returns the user's challenge data.
func (s *Service) Export(ctx context.Context, tenant, user string) (string, any, error) {
	views, err := s.ForPlayer(ctx, tenant, user)
	if err != nil {
		return "", nil, fmt.Errorf("challenges: export %s: %w", user, err)
	}
	out := UserExport{Progress: []PlayerChallenge{}, Enrolments: []Joined{}}
	for _, c := range views {
		if c.Completions > 0 || slices.ContainsFunc(c.Goals, func(g events.GoalProgress) bool { return g.Current > 0 }) {
			out.Progress = append(out.Progress, c)
		}
	}
	if out.Completions, err = s.Store.UserCompletions(ctx, tenant, user); err != nil {
		return "", nil, fmt.Errorf("challenges: export %s: %w", user, err)
	}
	ms, err := s.Store.UserMemberships(ctx, tenant, user)
	if err != nil {
		return "", nil, fmt.Errorf("challenges: export %s: %w", user, err)
	}
	for _, m := range ms {
		out.Enrolments = append(out.Enrolments, Joined{ChallengeID: m.ChallengeID, JoinedAt: m.JoinedAt})
	}
	if out.Unlocks, err = s.Unlocks(ctx, tenant, user); err != nil {
		return "", nil, err
	}
	out.Completions = append([]Completion{}, out.Completions...)
	out.Unlocks = append([]Unlock{}, out.Unlocks...)
	return "challenges", out, nil
}

// Erase removes the user's progress and unlocks and anonymises their
// completions and enrolments, then forgets the completion shortcuts for
// the user on this node and, through the bus, on every other, so a user id
// reused later starts afresh.
func (s *Service) Erase(ctx context.Context, tenant, user string) error {
	if err := s.Store.EraseChallengeUser(ctx, tenant, user, auth.Pseudonym(tenant, user)); err != nil {
		return fmt.Errorf("challenges: erase %s: %w", user, err)
	}
	key := tenant + "|" + user
	s.forgetUser(key)
	if s.Bus != nil {
		s.Bus.Publish(ctx, erasedTopic, key)
	}
	return nil
}

// forgetUser drops the completion shortcuts of key (tenant|user), or of
// everyone for "" (the bus may have missed messages).
func (s *Service) forgetUser(key string) {
	s.doneMu.Lock()
	defer s.doneMu.Unlock()
	if key == "" {
		clear(s.done)
		return
	}
	tenant, user, _ := strings.Cut(key, "|") // tenants hold no "|"
	for k := range s.done {
		if k.tenant == tenant && k.user == user {
			delete(s.done, k)
		}
	}
}
