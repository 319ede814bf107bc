package leaderboards

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/questline/questline/internal/errs"
)

// Row is an entry as clients see it, with the member's display data.
type Row struct {
	Entry
	Name      string `json:"name,omitempty" doc:"Display name, when the user has a profile."`
	AvatarURL string `json:"avatar_url,omitempty"`
	// BoardRank is the member's rank on the whole board, in cohort pages
	// where Rank is the rank within the cohort.
	BoardRank int64 `json:"board_rank,omitempty"`
}

// Page is a slice of a board period.
type Page struct {
	Board    string     `json:"board_id"`
	Period   string     `json:"period"`
	Start    *time.Time `json:"starts_at,omitempty" doc:"First instant of the period; null for all-time."`
	ResetsAt *time.Time `json:"resets_at,omitempty" doc:"When the period ends; null when it never does."`
	Total    int64      `json:"total" doc:"Members on this board period."`
	Entries  []Row      `json:"entries"`
	// Build is set while the board is still being filled: the page holds
	// what is there so far.
	Build *Build `json:"build,omitempty" doc:"Present while the board is still being filled from the ledger after its creation: the page shows what is there so far."`
}

// The period selectors a read accepts besides a period name.
const (
	currentPeriod  = "current"
	previousPeriod = "previous"
)

// period resolves a read's period selector, sent in field: "" or
// "current", "previous", or a period name. A period past its retention is
// gone.
func (s *Service) period(b Board, field, sel string) (Period, error) {
	now := s.Now()
	var p Period
	var err error
	switch sel {
	case "", currentPeriod:
		p = b.currentPeriod(now)
	case previousPeriod:
		if b.Window == AllTime || b.Window == Custom {
			return Period{}, errs.New(errs.Invalid, "bad-period", "a %s board has only one period", b.Window).OnField(field)
		}
		p, _ = b.periodAt(b.currentPeriod(now).Start.Add(-time.Millisecond))
	default:
		p, err = b.parsePeriod(sel)
		if errors.Is(err, errPeriodRange) {
			return Period{}, errs.New(errs.Unprocessable, "period-out-of-range", "%v: boards hold periods from %d to %d", err, MinTime.Year(), MaxTime.Year()).OnField(field)
		}
		if err != nil {
			return Period{}, errs.New(errs.Invalid, "bad-period", "%v", err).OnField(field)
		}
	}
	if b.expired(p, now) {
		return Period{}, errs.New(errs.NotFound, "period-expired", "period %s of board %s ended more than %d days ago and is no longer kept", p.Name, b.ID, b.RetentionDays)
	}
	return p, nil
}

// currentPeriod is the period of now; for a custom window, its one period.
func (b Board) currentPeriod(now time.Time) Period {
	p, _ := b.periodAt(now)
	return p
}

// windowQuery and windowBody name where a read's period selector came
// from, for errors.
const (
	windowQuery = "window"
	windowBody  = "body.window"
)

func (s *Service) boardPeriod(ctx context.Context, tenant, id, sel string) (Board, Period, string, error) {
	return s.boardPeriodIn(ctx, tenant, id, windowQuery, sel)
}

// boardPeriodIn is boardPeriod for a selector sent in field.
func (s *Service) boardPeriodIn(ctx context.Context, tenant, id, field, sel string) (Board, Period, string, error) {
	b, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Board{}, Period{}, "", err
	}
	p, err := s.period(b, field, sel)
	return b, p, engineKey(tenant, b.ID, p.Name), err
}

// Top returns a page of a board period, best first, read from the engine.
func (s *Service) Top(ctx context.Context, tenant, id, sel string, offset, limit int) (Page, error) {
	return s.top(ctx, tenant, id, sel, offset, limit, false)
}

// top is Top; cached reads the page through the page cache, if any: for
// players' reads, never for what pays prizes.
func (s *Service) top(ctx context.Context, tenant, id, sel string, offset, limit int, cached bool) (Page, error) {
	b, p, key, err := s.boardPeriod(ctx, tenant, id, sel)
	if err != nil {
		return Page{}, err
	}
	var entries []Entry
	var total int64
	if cached && s.pages != nil {
		entries, total, err = s.pages.topCount(ctx, s.Engine, key, offset, limit)
	} else {
		entries, total, err = s.Engine.TopCount(ctx, key, offset, limit)
	}
	if err != nil {
		return Page{}, fmt.Errorf("leaderboards: top %s: %w", id, err)
	}
	return s.page(ctx, b, p, total, entries)
}

// Around returns user's entry with up to n neighbours either side; me is
// nil when the user is not on the board period.
func (s *Service) Around(ctx context.Context, tenant, id, sel, user string, n int) (Page, *Row, error) {
	b, p, key, err := s.boardPeriod(ctx, tenant, id, sel)
	if err != nil {
		return Page{}, nil, err
	}
	entries, total, err := s.Engine.AroundCount(ctx, key, user, n)
	if err != nil {
		return Page{}, nil, fmt.Errorf("leaderboards: around %s: %w", id, err)
	}
	pg, err := s.page(ctx, b, p, total, entries)
	if err != nil {
		return Page{}, nil, err
	}
	for i := range pg.Entries {
		if pg.Entries[i].Member == user {
			return pg, &pg.Entries[i], nil
		}
	}
	return pg, nil, nil
}

// Member returns one user's rank and score on a board period.
func (s *Service) Member(ctx context.Context, tenant, id, sel, user string) (Page, error) {
	b, p, key, err := s.boardPeriod(ctx, tenant, id, sel)
	if err != nil {
		return Page{}, err
	}
	e, ok, err := s.Engine.Rank(ctx, key, user)
	if err != nil {
		return Page{}, fmt.Errorf("leaderboards: rank on %s: %w", id, err)
	}
	if !ok {
		return Page{}, errs.New(errs.NotFound, "not-ranked", "user %q is not on board %s in period %s", user, id, p.Name)
	}
	return s.ranked(ctx, b, p, key, []Entry{e})
}

// Cohort ranks a set of users (such as the player's friends) against each
// other on a board period. Rank is the rank within the cohort, BoardRank
// the rank on the whole board; users not on the board are left out.
func (s *Service) Cohort(ctx context.Context, tenant, id, sel string, users []string) (Page, error) {
	b, p, key, err := s.boardPeriodIn(ctx, tenant, id, windowBody, sel)
	if err != nil {
		return Page{}, err
	}
	entries, err := s.Engine.Ranks(ctx, key, users)
	if err != nil {
		return Page{}, fmt.Errorf("leaderboards: cohort on %s: %w", id, err)
	}
	pg, err := s.page(ctx, b, p, int64(len(entries)), entries)
	if err != nil {
		return Page{}, err
	}
	for i := range pg.Entries {
		r := &pg.Entries[i]
		r.BoardRank, r.Rank = r.Rank, int64(i+1)
	}
	return pg, nil
}

// Standing is the caller's place on one board's current period.
type Standing struct {
	Board  Board  `json:"board"`
	Period string `json:"period"`
	Entry
}

// Standings returns the user's rank on every board of the tenant they are
// on, in the current period of each.
func (s *Service) Standings(ctx context.Context, tenant, user string) ([]Standing, error) {
	bs, err := s.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := []Standing{}
	now := s.Now()
	for _, b := range bs {
		p := b.currentPeriod(now)
		e, ok, err := s.Engine.Rank(ctx, engineKey(tenant, b.ID, p.Name), user)
		if err != nil {
			return nil, fmt.Errorf("leaderboards: standing on %s: %w", b.ID, err)
		}
		if ok {
			out = append(out, Standing{Board: b, Period: p.Name, Entry: e})
		}
	}
	return out, nil
}

// ranked is page for a slice of the whole board period: Total counts its
// members.
func (s *Service) ranked(ctx context.Context, b Board, p Period, key string, entries []Entry) (Page, error) {
	total, err := s.Engine.Count(ctx, key)
	if err != nil {
		return Page{}, fmt.Errorf("leaderboards: count %s: %w", key, err)
	}
	return s.page(ctx, b, p, total, entries)
}

// page wraps entries with the period's facts and the members' display data,
// fetched in one query for the whole page.
func (s *Service) page(ctx context.Context, b Board, p Period, total int64, entries []Entry) (Page, error) {
	pg := Page{Board: b.ID, Period: p.Name, Total: total, Entries: make([]Row, len(entries))}
	if b.Build != nil && b.Build.State != Ready {
		pg.Build = b.Build
	}
	if !p.Start.IsZero() {
		pg.Start = &p.Start
	}
	if !p.End.IsZero() {
		pg.ResetsAt = &p.End
	}
	users := make([]string, len(entries))
	at := make(map[string]int, len(entries))
	for i, e := range entries {
		pg.Entries[i].Entry, users[i], at[e.Member] = e, e.Member, i
	}
	if s.Directory == nil || len(users) == 0 {
		return pg, nil
	}
	profs, err := s.Directory.Profiles(ctx, b.Tenant, users)
	if err != nil {
		return Page{}, fmt.Errorf("leaderboards: profiles for %s: %w", b.ID, err)
	}
	for _, pr := range profs {
		if i, ok := at[pr.User]; ok {
			pg.Entries[i].Name, pg.Entries[i].AvatarURL = pr.Name, pr.AvatarURL
		}
	}
	return pg, nil
}
