package contests

import (
	"context"
	"fmt"

	"github.com/questline/questline/auth"
)

// UserExport is the contests section of a user's data export.
type UserExport struct {
	Entries []ExportedEntry `json:"entries" doc:"The user's tickets and opt-ins, per contest."`
	Wins    []ExportedWin   `json:"wins" doc:"Places the user holds or held."`
}

// ExportedEntry is one ticket (number 0: the opt-in).
type ExportedEntry struct {
	ContestID string `json:"contest_id"`
	Entrant   string `json:"entrant"`
	Number    int64  `json:"number"`
	At        string `json:"at"`
}

// ExportedWin is one place of a finished contest.
type ExportedWin struct {
	ContestID    string `json:"contest_id"`
	Position     int    `json:"position"`
	Disqualified bool   `json:"disqualified,omitempty"`
}

// Export returns the user's entries and places.
func (s *Service) Export(ctx context.Context, tenant, user string) (string, any, error) {
	es, err := s.Store.UserContestEntries(ctx, tenant, user)
	if err != nil {
		return "", nil, fmt.Errorf("contests: export %s: %w", user, err)
	}
	out := UserExport{Entries: []ExportedEntry{}, Wins: []ExportedWin{}}
	for _, e := range es {
		out.Entries = append(out.Entries, ExportedEntry{ContestID: e.Contest, Entrant: e.Entrant, Number: e.N, At: e.At.Format("2006-01-02T15:04:05.000Z07:00")})
	}
	err = s.eachFinished(ctx, tenant, func(c *Contest) bool {
		for _, w := range c.Result.Winners {
			if w.User == user {
				out.Wins = append(out.Wins, ExportedWin{ContestID: c.ID, Position: w.Position})
			}
			for _, r := range w.Replaced {
				if r == user {
					out.Wins = append(out.Wins, ExportedWin{ContestID: c.ID, Position: w.Position, Disqualified: true})
				}
			}
		}
		return false
	})
	if err != nil {
		return "", nil, fmt.Errorf("contests: export %s: %w", user, err)
	}
	return "contests", out, nil
}

// Erase moves the user's entries, places, standings and disqualifications
// to their pseudonym. Their entrant handle is the pseudonym's own, so
// published entry lists and draw records still verify.
func (s *Service) Erase(ctx context.Context, tenant, user string) error {
	pseudo := auth.Pseudonym(tenant, user)
	if err := s.Store.EraseContestUser(ctx, tenant, user, pseudo); err != nil {
		return fmt.Errorf("contests: erase %s: %w", user, err)
	}
	err := s.eachFinished(ctx, tenant, func(c *Contest) bool { return c.rename(user, pseudo) })
	if err != nil {
		return fmt.Errorf("contests: erase %s: %w", user, err)
	}
	return nil
}

// rename replaces user by pseudo wherever c names them.
func (c *Contest) rename(user, pseudo string) bool {
	changed := false
	swap := func(s *string) {
		if *s == user {
			*s, changed = pseudo, true
		}
	}
	for i := range c.Result.Winners {
		swap(&c.Result.Winners[i].User)
		for j := range c.Result.Winners[i].Replaced {
			swap(&c.Result.Winners[i].Replaced[j])
		}
	}
	for i := range c.Result.Standings {
		swap(&c.Result.Standings[i].User)
	}
	for i := range c.Disqualified {
		swap(&c.Disqualified[i].User)
	}
	return changed
}

// eachFinished calls fn for every finished contest of the tenant and saves
// those fn changed, retrying a contest that changed meanwhile.
func (s *Service) eachFinished(ctx context.Context, tenant string, fn func(*Contest) bool) error {
	after := ""
	for {
		page, err := s.Store.ListContests(ctx, tenant, Finished, after, pageSize)
		if err != nil {
			return err
		}
		for _, c := range page {
			if err := s.editFinished(ctx, c, fn); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

func (s *Service) editFinished(ctx context.Context, c Contest, fn func(*Contest) bool) error {
	for range maxSlotRaces {
		if c.Result == nil || !fn(&c) {
			return nil
		}
		_, err := s.save(ctx, c)
		if err == nil {
			return nil
		}
		if c, err = s.Get(ctx, c.Tenant, c.ID); err != nil {
			return err
		}
	}
	return fmt.Errorf("contests: %s kept changing", c.ID)
}
