package analytics

import (
	"context"
	"fmt"

	"github.com/questline/questline/contests"
	"github.com/questline/questline/events"
)

// MetricContestWinners counts prize places paid, from contest.won.
const MetricContestWinners = "contest_winners"

// ContestReader reads the contests stats are about. A contest keeps its
// own counts: its entries are counted over the entry indexes, its winners
// and what they were paid are in its result, so nothing is folded here
// but the tenant-wide winners of the summary and series.
type ContestReader interface {
	Get(ctx context.Context, tenant, id string) (contests.Contest, error)
	EntryCounts(ctx context.Context, c contests.Contest) (contests.EntryCounts, error)
}

// contestMetrics count contest.won (props contest_id, position, prize):
// once per paid place, as its idempotency key (the payment's) says.
func contestMetrics(ev events.Event) map[string]int64 {
	if ev.Type != contests.WonType {
		return nil
	}
	return map[string]int64{MetricContestWinners: 1}
}

// ContestStats is one contest's entries, winners and prizes.
type ContestStats struct {
	ID      string       `json:"id"`
	Kind    string       `json:"kind" enum:"leaderboard,draw"`
	Status  string       `json:"status" enum:"open,finished"`
	Entries *EntryStats  `json:"entries,omitempty" doc:"Prize draws: their entries, counted now."`
	BoardID string       `json:"board_id,omitempty" doc:"Leaderboard contests: the contest's board, whose members GET /v1/analytics/leaderboards/{board_id} counts."`
	Places  int          `json:"places" doc:"Prize places of the prize list."`
	Winners int          `json:"winners" doc:"Places held by a user since the close (a draw with fewer entrants than places leaves some empty)."`
	Paid    int          `json:"paid" doc:"Places whose prize is paid."`
	DQ      int          `json:"disqualified" doc:"Winners a manager disqualified (their places passed on)."`
	Prizes  []PrizeStats `json:"prizes" doc:"Per line of the prize list, in its order."`
	Totals  PrizeTotals  `json:"prizes_paid" doc:"What the paid places received, by kind of prize."`
}

// EntryStats are a prize draw's entries.
type EntryStats struct {
	Entrants       int64 `json:"entrants" doc:"Users holding at least one ticket."`
	Tickets        int64 `json:"tickets" doc:"Every ticket, earned or bought."`
	Earned         int64 `json:"earned" doc:"Tickets earned by events."`
	Bought         int64 `json:"bought" doc:"Tickets bought with points."`
	OptIns         int64 `json:"opt_ins" doc:"Users who opted in."`
	PointsPerEntry int64 `json:"points_per_entry" doc:"The price of a ticket; it never changes once the contest exists."`
	PointsSpent    int64 `json:"points_spent" doc:"Points spent on tickets: bought tickets times their price (each ticket is paid exactly once)."`
}

// PrizeStats is one line of the prize list.
type PrizeStats struct {
	Prize       int    `json:"prize" doc:"Index in the prize list."`
	Description string `json:"description"`
	Quantity    int    `json:"quantity"`
	Winners     int    `json:"winners" doc:"Its places held by a user."`
	Paid        int    `json:"paid" doc:"Its places paid."`
}

// PrizeTotals are what paid places received.
type PrizeTotals struct {
	Points         int64 `json:"points" doc:"Points paid to winners."`
	Badges         int   `json:"badges" doc:"Badges awarded to winners."`
	Rewards        int   `json:"rewards" doc:"Catalogue rewards granted to winners."`
	RewardFailures int   `json:"reward_failures" doc:"Rewards that could not be granted (out of stock); the rest of those prizes was paid."`
	Other          int   `json:"other" doc:"Paid places whose prize is its description alone (delivered outside Questline)."`
}

// ContestStats reads one contest of the tenant. A missing contest, or
// another tenant's, is not found.
func (s *Service) ContestStats(ctx context.Context, tenant, id string) (ContestStats, error) {
	if s.contests == nil {
		return ContestStats{}, fmt.Errorf("analytics: contest %s: no contests wired", id)
	}
	c, err := s.contests.Get(ctx, tenant, id)
	if err != nil {
		return ContestStats{}, err
	}
	out := ContestStats{ID: c.ID, Kind: string(c.Kind), Status: string(c.Status), BoardID: c.BoardID,
		Places: c.Places(), DQ: len(c.Disqualified), Prizes: make([]PrizeStats, len(c.Prizes))}
	if c.Kind == contests.DrawKind {
		n, err := s.contests.EntryCounts(ctx, c)
		if err != nil {
			return ContestStats{}, err
		}
		out.Entries = &EntryStats{Entrants: n.Entrants, Tickets: n.Tickets, Earned: n.Tickets - n.Bought, Bought: n.Bought,
			OptIns: n.OptIns, PointsPerEntry: c.PointsPerEntry, PointsSpent: n.Bought * c.PointsPerEntry}
	}
	for i, p := range c.Prizes {
		out.Prizes[i] = PrizeStats{Prize: i, Description: p.Description, Quantity: p.Quantity}
	}
	if c.Result != nil {
		for _, w := range c.Result.Winners {
			out.place(c, w)
		}
	}
	return out, nil
}

// place counts one winner's place.
func (out *ContestStats) place(c contests.Contest, w contests.Winner) {
	if w.User == "" || w.Prize < 0 || w.Prize >= len(c.Prizes) {
		return
	}
	out.Winners++
	out.Prizes[w.Prize].Winners++
	if w.PaidAt == nil {
		return
	}
	p := c.Prizes[w.Prize]
	out.Paid++
	out.Prizes[w.Prize].Paid++
	out.Totals.Points += p.Points
	if p.Badge != "" {
		out.Totals.Badges++
	}
	if w.Redemption != "" {
		out.Totals.Rewards++
	}
	if w.RewardFailure != "" {
		out.Totals.RewardFailures++
	}
	if p.Points == 0 && p.Badge == "" && p.Reward == "" {
		out.Totals.Other++
	}
}
