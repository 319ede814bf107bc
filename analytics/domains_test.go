package analytics

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/questline/questline/contests"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/quizzes"
	"github.com/questline/questline/ugc"
)

// totalsStore sums fakeStore's points, as the real stores do.
type totalsStore struct{ fakeStore }

func (f *totalsStore) MetricTotals(_ context.Context, _ string, metrics []string, from, to time.Time) (map[string]int64, error) {
	want := map[string]bool{}
	for _, m := range metrics {
		want[m] = true
	}
	out := map[string]int64{}
	for _, p := range f.points {
		if want[p.Metric] && !p.At.Before(from) && p.At.Before(to) {
			out[p.Metric] += p.Value
		}
	}
	return out, nil
}

func (f *totalsStore) AnalyticsSettings(context.Context, string) (Settings, error) {
	return Settings{}, nil
}

type fakeQuizzes struct {
	q      quizzes.Quiz
	starts quizzes.Starts
}

func (f fakeQuizzes) Get(_ context.Context, tenant, id string) (quizzes.Quiz, error) {
	if tenant != f.q.Tenant || id != f.q.ID {
		return quizzes.Quiz{}, errs.New(errs.NotFound, "quiz-not-found", "no quiz %q", id)
	}
	return f.q, nil
}

func (f fakeQuizzes) Starts(ctx context.Context, tenant, id string) (quizzes.Starts, error) {
	_, err := f.Get(ctx, tenant, id)
	return f.starts, err
}

func TestQuizStats(t *testing.T) {
	day := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pt := func(m string, v int64, at time.Time) Point { return Point{Metric: m, At: at, Value: v} }
	// Five completions: four self-paced (answered 3, 3, 2 and 0 of 3
	// questions; two passed) and one live player; attempts begun: 6.
	st := &totalsStore{fakeStore{points: []Point{
		pt("quiz:q1:completions", 3, day), pt("quiz:q1:completions", 2, day.Add(24*time.Hour)),
		pt("quiz:q1:passes", 2, day), pt("quiz:q1:score", 25, day), pt("quiz:q1:max_score", 50, day),
		pt("quiz:q1:self_paced", 4, day), pt(QuizAnswered("q1", 3), 2, day), pt(QuizAnswered("q1", 2), 1, day),
		pt(QuizAnswered("q1", 0), 1, day), pt("quiz:q2:completions", 9, day),
	}}}
	spec := quizzes.Spec{Kind: quizzes.KindQuiz, Questions: []quizzes.Question{{ID: "a"}, {ID: "b"}, {ID: "c"}}}
	qs := fakeQuizzes{q: quizzes.Quiz{ID: "q1", Tenant: "t", Spec: spec}, starts: quizzes.Starts{Attempts: 6, Users: 4}}
	s := NewService(Config{Store: st, Quizzes: qs})
	got, err := s.QuizStats(context.Background(), "t", "q1", &Range{From: "2026-03-01", To: "2026-03-02"})
	if err != nil {
		t.Fatal(err)
	}
	want := QuizStats{ID: "q1", Kind: "quiz", Participants: 4, Attempts: 6, Completions: 5, Unfinished: 2, Passes: 2, PassRate: 0.4,
		MeanScore: 5, MeanMax: 10, Questions: []QStep{
			{Position: 1, QuestionID: "a", Answered: 3, DropOff: 1},
			{Position: 2, QuestionID: "b", Answered: 3, DropOff: 0},
			{Position: 3, QuestionID: "c", Answered: 2, DropOff: 1}},
		Days: []QDay{{Date: "2026-03-01", Completions: 3, Passes: 2}, {Date: "2026-03-02", Completions: 2}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stats\n%+v\nwant\n%+v", got, want)
	}

	// Pools and shuffling: positions keep their counts, not a question id.
	qs.q.ShuffleQuestions = true
	got, err = NewService(Config{Store: st, Quizzes: qs}).QuizStats(context.Background(), "t", "q1", nil)
	if err != nil || got.Questions[0].QuestionID != "" || got.Questions[2].Answered != 2 || got.Days != nil {
		t.Fatalf("shuffled: %+v, %v", got, err)
	}
	for _, tc := range []struct{ tenant, id string }{{"other", "q1"}, {"t", "missing"}} {
		if _, err := s.QuizStats(context.Background(), tc.tenant, tc.id, nil); errs.KindOf(err) != errs.NotFound {
			t.Errorf("%s/%s: %v, want not found", tc.tenant, tc.id, err)
		}
	}
}

type fakeContests struct {
	c contests.Contest
	n contests.EntryCounts
}

func (f fakeContests) Get(_ context.Context, tenant, id string) (contests.Contest, error) {
	if tenant != f.c.Tenant || id != f.c.ID {
		return contests.Contest{}, errs.New(errs.NotFound, "contest-not-found", "no contest %q", id)
	}
	return f.c, nil
}

func (f fakeContests) EntryCounts(context.Context, contests.Contest) (contests.EntryCounts, error) {
	return f.n, nil
}

func TestContestStats(t *testing.T) {
	paid := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	c := contests.Contest{ID: "c1", Tenant: "t", Kind: contests.DrawKind, Status: contests.Finished, PointsPerEntry: 25,
		Prizes: []contests.Prize{{Description: "Bike", Quantity: 1, Points: 500, Badge: "b"}, {Description: "Mug", Quantity: 2, Reward: "r"},
			{Description: "Thanks", Quantity: 2}},
		Disqualified: []contests.Disqualification{{User: "u9"}},
		Result: &contests.Result{Winners: []contests.Winner{
			{Position: 1, Prize: 0, User: "u1", PaidAt: &paid},
			{Position: 2, Prize: 1, User: "u2", PaidAt: &paid, Redemption: "red1"},
			{Position: 3, Prize: 1, User: "u3", PaidAt: &paid, RewardFailure: "out-of-stock"},
			{Position: 4, Prize: 2, User: "u4"}, // payment pending
			{Position: 5, Prize: 2},             // no entrant left
		}}}
	s := NewService(Config{Store: &totalsStore{}, Contests: fakeContests{c: c, n: contests.EntryCounts{Entrants: 4, Tickets: 10, Bought: 3, OptIns: 2}}})
	got, err := s.ContestStats(context.Background(), "t", "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := ContestStats{ID: "c1", Kind: "draw", Status: "finished",
		Entries: &EntryStats{Entrants: 4, Tickets: 10, Earned: 7, Bought: 3, OptIns: 2, PointsPerEntry: 25, PointsSpent: 75},
		Places:  5, Winners: 4, Paid: 3, DQ: 1,
		Prizes: []PrizeStats{{Prize: 0, Description: "Bike", Quantity: 1, Winners: 1, Paid: 1},
			{Prize: 1, Description: "Mug", Quantity: 2, Winners: 2, Paid: 2}, {Prize: 2, Description: "Thanks", Quantity: 2, Winners: 1}},
		Totals: PrizeTotals{Points: 500, Badges: 1, Rewards: 1, RewardFailures: 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stats\n%+v\nwant\n%+v", got, want)
	}
	if _, err := s.ContestStats(context.Background(), "other", "c1"); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("another tenant's contest: %v", err)
	}
}

type fakeUGC ugc.StatusCounts

func (f fakeUGC) StatusCounts(context.Context, string) (ugc.StatusCounts, error) {
	return ugc.StatusCounts(f), nil
}

func TestSummaryDomains(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := &totalsStore{fakeStore{points: []Point{{MetricQuizCompletions, now, 5}, {MetricQuizPasses, now, 2},
		{MetricUGCApproved, now, 4}, {MetricContestWinners, now, 3}}}}
	s := NewService(Config{Store: st, UGC: fakeUGC{Pending: 2, Approved: 3, Rejected: 1, Removed: 1}})
	s.now = func() time.Time { return now }
	sum, err := s.Summary(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	wantUGC := UGCTotals{Received: 7, Pending: 2, Approved: 3, Rejected: 1, Removed: 1, ApprovalRate: 0.6, EverApproved: 4}
	if sum.Quizzes != (QuizTotal{Completions: 5, Passes: 2}) || sum.UGC != wantUGC || sum.Winners != 3 {
		t.Fatalf("summary %+v", sum)
	}
	days, err := s.Series(context.Background(), "t", Range{From: "2026-03-01", To: "2026-03-01"})
	if err != nil || days[0].QuizCompletions != 5 || days[0].QuizPasses != 2 || days[0].UGCApproved != 4 || days[0].ContestWinners != 3 {
		t.Fatalf("series %+v, %v", days, err)
	}
}
