package analytics

import (
	"context"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
)

type quizOutput struct{ Body QuizStats }

type contestOutput struct{ Body ContestStats }

type contestInput struct {
	ID string `path:"id" maxLength:"64"`
}

func quizRoutes(api huma.API, s *Service) {
	const desc = "Participants and attempts begun (counted over an index of the stored attempts), completions and passes " +
		"(folded once per attempt from quiz.completed), pass rate, mean score and maximum score, and the drop-off per question " +
		"position of finished self-paced attempts; with from/to, completions and passes per local date. Another tenant's id answers 404."
	stats := func(ctx context.Context, tenant string, in *objectInput) (QuizStats, error) {
		r, err := in.rng()
		if err != nil {
			return QuizStats{}, err
		}
		return s.QuizStats(ctx, tenant, in.ID, r)
	}
	get(api, "analytics-quiz", "/v1/analytics/quizzes/{id}", "Stats of a quiz (manager)", desc,
		func(ctx context.Context, tenant string, in *objectInput) (*quizOutput, error) {
			st, err := stats(ctx, tenant, in)
			return &quizOutput{Body: st}, err
		})
	get(api, "export-analytics-quiz", "/v1/analytics/quizzes/{id}/export", "Stats of a quiz as CSV (manager)",
		desc+" The CSV has the challenges' shape: an all row, then one per date.",
		func(ctx context.Context, tenant string, in *objectInput) (*csvOutput, error) {
			st, err := stats(ctx, tenant, in)
			if err != nil {
				return nil, err
			}
			rows := [][]string{{"date", "completions", "passes"}, {"all", i64(st.Completions), i64(st.Passes)}}
			for _, d := range st.Days {
				rows = append(rows, []string{d.Date, i64(d.Completions), i64(d.Passes)})
			}
			return csvOf("quiz-"+in.ID, rows)
		})
}

func contestRoutes(api huma.API, s *Service) {
	const desc = "A prize draw's entrants, tickets earned and bought, opt-ins and the points spent on tickets (counted over the " +
		"entry indexes), and for any contest its prize places, winners, places paid and what they received by kind of prize " +
		"(from its result). Another tenant's id answers 404."
	get(api, "analytics-contest", "/v1/analytics/contests/{id}", "Stats of a contest (manager)", desc,
		func(ctx context.Context, tenant string, in *contestInput) (*contestOutput, error) {
			st, err := s.ContestStats(ctx, tenant, in.ID)
			return &contestOutput{Body: st}, err
		})
	get(api, "export-analytics-contest", "/v1/analytics/contests/{id}/export", "Stats of a contest as CSV (manager)",
		desc+" The CSV is metric,value rows, as the summary's.",
		func(ctx context.Context, tenant string, in *contestInput) (*csvOutput, error) {
			st, err := s.ContestStats(ctx, tenant, in.ID)
			if err != nil {
				return nil, err
			}
			return csvOf("contest-"+in.ID, contestRows(st))
		})
}

// contestRows are a contest's stats as metric,value rows; a leaderboard
// contest has no entry rows.
func contestRows(st ContestStats) [][]string {
	rows := [][]string{{"metric", "value"}, {"kind", st.Kind}, {"status", st.Status}}
	if e := st.Entries; e != nil {
		rows = append(rows, []string{"entrants", i64(e.Entrants)}, []string{"tickets", i64(e.Tickets)},
			[]string{"tickets_earned", i64(e.Earned)}, []string{"tickets_bought", i64(e.Bought)}, []string{"opt_ins", i64(e.OptIns)},
			[]string{"points_per_entry", i64(e.PointsPerEntry)}, []string{"points_spent", i64(e.PointsSpent)})
	}
	t := st.Totals
	rows = append(rows, []string{"places", strconv.Itoa(st.Places)}, []string{"winners", strconv.Itoa(st.Winners)},
		[]string{"paid", strconv.Itoa(st.Paid)}, []string{"disqualified", strconv.Itoa(st.DQ)},
		[]string{"prize_points", i64(t.Points)}, []string{"prize_badges", strconv.Itoa(t.Badges)},
		[]string{"prize_rewards", strconv.Itoa(t.Rewards)}, []string{"prize_reward_failures", strconv.Itoa(t.RewardFailures)},
		[]string{"prize_other", strconv.Itoa(t.Other)})
	for _, p := range st.Prizes {
		n := "prize_" + strconv.Itoa(p.Prize) + "_"
		rows = append(rows, []string{n + "winners", strconv.Itoa(p.Winners)}, []string{n + "paid", strconv.Itoa(p.Paid)})
	}
	return rows
}
