package contests

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/leaderboards"
)

// Limits of a definition, so one contest cannot make the draw or its
// payouts unbounded.
const (
	maxPlaces      = 1000
	maxEarnRules   = 20
	maxEntriesCap  = 100_000
	maxContestSpan = 366 * 24 * time.Hour
	// defaultMaxEntries caps a user's tickets when the definition does not.
	defaultMaxEntries = 100
)

// Definition is what a manager writes to create a contest.
type Definition struct {
	Name           string       `json:"name" minLength:"1" maxLength:"200"`
	Description    string       `json:"description,omitempty" maxLength:"2000"`
	Kind           Kind         `json:"kind" enum:"leaderboard,draw" doc:"leaderboard: the top of the contest's board at the close wins. draw: a verifiable prize draw among the entries."`
	StartsAt       time.Time    `json:"starts_at,omitempty" doc:"When entries (or scores) start counting; absent, now."`
	EndsAt         time.Time    `json:"ends_at" doc:"The close."`
	Prizes         []Prize      `json:"prizes" minItems:"1" maxItems:"50" doc:"In order: the first quantity places win the first prize, and so on."`
	Board          *BoardSpec   `json:"board,omitempty" doc:"Leaderboard contests: what the contest's board ranks (any board source)."`
	Earn           []EarnRule   `json:"earn,omitempty" maxItems:"20" doc:"Prize draws: events that earn entries, e.g. {event_type: visit} or {event_type: purchase, prop: amount, over: 20}."`
	MaxEntries     int64        `json:"max_entries_per_user,omitempty" minimum:"0" maximum:"100000" doc:"Prize draws: most tickets one user may hold; 0 or absent, 100."`
	PointsPerEntry int64        `json:"points_per_entry,omitempty" minimum:"0" maximum:"1000000000" doc:"Prize draws: players may buy tickets at this many points each (spent from their lots like a redemption); 0 or absent, tickets are not sold."`
	Eligibility    *Eligibility `json:"eligibility,omitempty" doc:"Prize draws: who may enter."`
}

// Patch edits a contest: name and description any time; before it starts,
// the prize list too. The window moves only by extend and force-end.
type Patch struct {
	Name        *string `json:"name,omitempty" minLength:"1" maxLength:"200"`
	Description *string `json:"description,omitempty" maxLength:"2000"`
	Prizes      []Prize `json:"prizes,omitempty" maxItems:"50" doc:"Only before the contest starts."`
}

func invalid(field, format string, args ...any) error {
	return errs.New(errs.Unprocessable, "bad-contest", format, args...).OnField("body." + field)
}

// contest validates d and returns the contest it defines, without identity
// or lifecycle fields.
func (d Definition) contest() (Contest, error) {
	c := Contest{
		Name: d.Name, Description: d.Description, Kind: d.Kind,
		StartsAt: d.StartsAt.UTC().Truncate(time.Millisecond), EndsAt: d.EndsAt.UTC().Truncate(time.Millisecond),
		Prizes: d.Prizes, Board: d.Board, Earn: d.Earn, MaxEntries: d.MaxEntries, Eligibility: d.Eligibility,
		PointsPerEntry: d.PointsPerEntry,
	}
	if strings.TrimSpace(c.Name) == "" || len(c.Name) > 200 {
		return Contest{}, invalid("name", "a contest needs a name of 1-200 characters")
	}
	if c.StartsAt.IsZero() || !c.EndsAt.After(c.StartsAt) {
		return Contest{}, invalid("ends_at", "ends_at must be after starts_at")
	}
	if c.EndsAt.Sub(c.StartsAt) > maxContestSpan {
		return Contest{}, invalid("ends_at", "a contest runs at most 366 days")
	}
	if err := validPrizes(c.Prizes); err != nil {
		return Contest{}, err
	}
	switch c.Kind {
	case LeaderboardKind:
		return c, c.validBoard()
	case DrawKind:
		return c, c.validDraw()
	}
	return Contest{}, invalid("kind", "kind is leaderboard or draw")
}

func validPrizes(ps []Prize) error {
	if len(ps) == 0 || len(ps) > 50 {
		return invalid("prizes", "a contest lists 1-50 prizes")
	}
	places := 0
	for i, p := range ps {
		f := fmt.Sprintf("prizes[%d]", i)
		switch {
		case strings.TrimSpace(p.Description) == "" || len(p.Description) > 500:
			return invalid(f+".description", "a prize needs a description of 1-500 characters")
		case p.Quantity < 1 || p.Quantity > maxPlaces:
			return invalid(f+".quantity", "a prize's quantity is 1-%d", maxPlaces)
		case p.Points < 0 || p.Points > 1_000_000_000:
			return invalid(f+".points", "a prize pays 0-1,000,000,000 points")
		case len(p.Badge) > 64:
			return invalid(f+".badge_id", "a badge id is at most 64 characters")
		case len(p.Reward) > 64:
			return invalid(f+".reward_id", "a reward id is at most 64 characters")
		}
		places += p.Quantity
	}
	if places > maxPlaces {
		return invalid("prizes", "a contest has at most %d winners in all", maxPlaces)
	}
	return nil
}

func (c Contest) validBoard() error {
	if len(c.Earn) > 0 || c.MaxEntries != 0 || c.Eligibility != nil || c.PointsPerEntry != 0 {
		return invalid("earn", "earn, max_entries_per_user, points_per_entry and eligibility are for prize draws; a leaderboard contest ranks its board")
	}
	if c.Board == nil {
		return invalid("board", "a leaderboard contest says what its board ranks")
	}
	// The board's own rules decide the rest: leaderboards.Create checks them.
	return nil
}

// boardInput is the contest's own board: the spec over the contest's
// window, scoped to nothing, kept until a year after the close so the
// standings can be checked against it.
func (c Contest) boardInput() leaderboards.CreateInput {
	start, end := c.StartsAt, c.EndsAt
	keep := 365
	return leaderboards.CreateInput{
		Name: "contest: " + c.Name, Source: c.Board.Source, EventType: c.Board.EventType, Prop: c.Board.Prop,
		Aggregation: c.Board.Aggregation, Window: leaderboards.Custom, StartsAt: &start, EndsAt: &end,
		MaxPerEvent: c.Board.MaxPerEvent, RetentionDays: &keep,
	}
}

func (c *Contest) validDraw() error {
	if c.Board != nil {
		return invalid("board", "board is for leaderboard contests")
	}
	if len(c.Earn) > maxEarnRules {
		return invalid("earn", "at most %d earn rules", maxEarnRules)
	}
	for i := range c.Earn {
		if err := c.Earn[i].normalize(fmt.Sprintf("earn[%d]", i)); err != nil {
			return err
		}
	}
	if c.MaxEntries < 0 || c.MaxEntries > maxEntriesCap {
		return invalid("max_entries_per_user", "max_entries_per_user is 0-%d", maxEntriesCap)
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = defaultMaxEntries
	}
	if c.PointsPerEntry < 0 || c.PointsPerEntry > 1_000_000_000 {
		return invalid("points_per_entry", "points_per_entry is 0-1,000,000,000")
	}
	if e := c.Eligibility; e != nil {
		for i, s := range append(slices.Clone(e.Tiers), e.Segments...) {
			if s == "" || len(s) > 64 {
				return invalid(fmt.Sprintf("eligibility[%d]", i), "tiers and segments are 1-64 characters")
			}
		}
	}
	return nil
}

func (r *EarnRule) normalize(field string) error {
	switch {
	case !events.KnownType(r.EventType):
		return invalid(field+".event_type", "event type %q is not one this tenant accepts", r.EventType)
	case r.Prop == "" && r.Over != 0:
		return invalid(field+".over", "over needs prop")
	case len(r.Prop) > 64:
		return invalid(field+".prop", "a prop name is at most 64 characters")
	case math.IsNaN(r.Over) || math.IsInf(r.Over, 0):
		return invalid(field+".over", "over is a finite number")
	case r.Entries < 0 || r.Entries > 100:
		return invalid(field+".entries", "entries per event is 0-100")
	}
	if r.Entries == 0 {
		r.Entries = 1
	}
	return nil
}

// earns is how many entries ev earns under r.
func (r EarnRule) earns(ev events.Event) int64 {
	if ev.Type != r.EventType {
		return 0
	}
	if r.Prop != "" {
		v, ok := number(ev.Props[r.Prop])
		if !ok || !(v > r.Over) {
			return 0
		}
	}
	return r.Entries
}

// number reads a numeric prop as JSON decodes it.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

// apply returns c edited by p.
func (p Patch) apply(c Contest, started bool) (Contest, error) {
	if p.Name != nil {
		if strings.TrimSpace(*p.Name) == "" {
			return Contest{}, invalid("name", "a contest needs a name")
		}
		c.Name = *p.Name
	}
	if p.Description != nil {
		c.Description = *p.Description
	}
	if p.Prizes != nil {
		if started {
			return Contest{}, errs.New(errs.Conflict, "contest-started", "the prize list is fixed once the contest starts")
		}
		if err := validPrizes(p.Prizes); err != nil {
			return Contest{}, err
		}
		c.Prizes = p.Prizes
	}
	return c, nil
}
