package analytics

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/quizzes"
)

// Quiz metrics: every quiz's completions and passes, and per quiz its
// completions, passes, score sums and where self-paced attempts stopped.
const (
	MetricQuizCompletions = "quiz_completions"
	MetricQuizPasses      = "quiz_passes"
)

// QuizReader reads the quizzes stats are about and their starts: attempt
// starts emit no event, so they are counted in the quizzes store over an
// index (quizzes.Store.QuizStarts) rather than folded here.
type QuizReader interface {
	Get(ctx context.Context, tenant, id string) (quizzes.Quiz, error)
	Starts(ctx context.Context, tenant, id string) (quizzes.Starts, error)
}

// quizMetric names a per-quiz rollup.
func quizMetric(id, what string) string { return "quiz:" + id + ":" + what }

// QuizAnswered names the rollup of the quiz's finished self-paced attempts
// that answered exactly n questions.
func QuizAnswered(id string, n int64) string {
	return quizMetric(id, "answered:"+strconv.FormatInt(n, 10))
}

// quizMetrics count quiz.completed (props quiz_id, kind, score, max_score,
// passed; a self-paced attempt's also answered): once per attempt, or
// per player of a live show, as its idempotency key says.
func quizMetrics(ev events.Event) map[string]int64 {
	if ev.Type != "quiz.completed" {
		return nil
	}
	id := events.PropString(ev.Props["quiz_id"])
	m := map[string]int64{MetricQuizCompletions: 1, quizMetric(id, "completions"): 1,
		quizMetric(id, "score"): propInt(ev.Props["score"]), quizMetric(id, "max_score"): propInt(ev.Props["max_score"])}
	if passed, _ := ev.Props["passed"].(bool); passed {
		m[MetricQuizPasses], m[quizMetric(id, "passes")] = 1, 1
	}
	if events.PropString(ev.Props["kind"]) != "live" {
		m[quizMetric(id, "self_paced")] = 1
		if n, ok := ev.Props["answered"]; ok {
			m[QuizAnswered(id, propInt(n))] = 1
		}
	}
	return m
}

// QuizStats is one quiz's or survey's counts.
type QuizStats struct {
	ID           string  `json:"id"`
	Kind         string  `json:"kind" enum:"quiz,survey"`
	Participants int64   `json:"participants" doc:"Users who began a self-paced attempt (counted from the stored attempts, so an erased user no longer counts)."`
	Attempts     int64   `json:"attempts" doc:"Self-paced attempts begun, open and finished."`
	Completions  int64   `json:"completions" doc:"Attempts finished, each once: self-paced ones and every player of a live show who answered."`
	Unfinished   int64   `json:"unfinished" doc:"Self-paced attempts begun and not finished (open or abandoned): attempts minus self-paced completions."`
	Passes       int64   `json:"passes" doc:"Completions that passed the pass mark (a survey or live show never passes)."`
	PassRate     float64 `json:"pass_rate" doc:"Passes / completions, 0 to 1, rounded to 4 places."`
	MeanScore    float64 `json:"mean_score" doc:"Mean score of the completions, rounded to 2 places."`
	MeanMax      float64 `json:"mean_max_score" doc:"Mean maximum score of the completions (attempts drawn from pools may differ), rounded to 2 places."`
	Questions    []QStep `json:"questions" doc:"Drop-off per question position of finished self-paced attempts, first position first. Attempts finished before analytics counted positions are not in it."`
	Days         []QDay  `json:"days,omitempty" doc:"Per local day of the range, when one is given."`
}

// QStep is one question position of a quiz's funnel.
type QStep struct {
	Position   int    `json:"position" doc:"1-based position in the attempt."`
	QuestionID string `json:"question_id,omitempty" doc:"The question at this position, when every attempt asks the same questions in the same order (no pools, no shuffle)."`
	Answered   int64  `json:"answered" doc:"Finished self-paced attempts that answered at least this many questions."`
	DropOff    int64  `json:"drop_off" doc:"Finished attempts that reached the position before (the first: every finished attempt) and stopped there, finishing without answering this one."`
}

// QDay is a quiz's completions and passes on one local date.
type QDay struct {
	Date        string `json:"date"`
	Completions int64  `json:"completions"`
	Passes      int64  `json:"passes"`
}

// asked is how many questions every attempt of sp asks, and their ids in
// order when every attempt asks the same ones in the same order.
func asked(sp quizzes.Spec) (int, []string) {
	n := 0
	var ids []string
	for _, q := range sp.Questions {
		if q.Pool == "" {
			n++
			ids = append(ids, q.ID)
		}
	}
	for _, p := range sp.Pools {
		n += p.Draw
	}
	if len(sp.Pools) > 0 || sp.ShuffleQuestions {
		ids = nil
	}
	return n, ids
}

// QuizStats counts one quiz of the tenant, all time and, when r names a
// range, per local day. A missing quiz, or another tenant's, is not found.
func (s *Service) QuizStats(ctx context.Context, tenant, id string, r *Range) (QuizStats, error) {
	if s.quizzes == nil {
		return QuizStats{}, fmt.Errorf("analytics: quiz %s: no quizzes wired", id)
	}
	q, err := s.quizzes.Get(ctx, tenant, id)
	if err != nil {
		return QuizStats{}, err
	}
	st, err := s.quizzes.Starts(ctx, tenant, id)
	if err != nil {
		return QuizStats{}, err
	}
	n, ids := asked(q.Spec)
	metrics := []string{quizMetric(id, "completions"), quizMetric(id, "passes"), quizMetric(id, "score"),
		quizMetric(id, "max_score"), quizMetric(id, "self_paced")}
	for i := range n + 1 {
		metrics = append(metrics, QuizAnswered(id, int64(i)))
	}
	tot, err := s.store.MetricTotals(ctx, tenant, metrics, allTimeFrom, s.now().UTC().Add(48*time.Hour))
	if err != nil {
		return QuizStats{}, fmt.Errorf("analytics: quiz %s: %w", id, err)
	}
	out := QuizStats{ID: id, Kind: string(q.Kind), Participants: st.Users, Attempts: st.Attempts,
		Completions: tot[metrics[0]], Passes: tot[metrics[1]], Unfinished: max(0, st.Attempts-tot[metrics[4]])}
	if out.Completions > 0 {
		c := float64(out.Completions)
		out.PassRate = round4(float64(out.Passes) / c)
		out.MeanScore, out.MeanMax = round2(float64(tot[metrics[2]])/c), round2(float64(tot[metrics[3]])/c)
	}
	out.Questions = quizSteps(tot, id, n, ids)
	if r == nil {
		return out, nil
	}
	dates, rows, err := s.daily(ctx, tenant, *r, metrics[0], metrics[1])
	if err != nil {
		return QuizStats{}, err
	}
	for i, d := range dates {
		out.Days = append(out.Days, QDay{Date: d, Completions: rows[i][0], Passes: rows[i][1]})
	}
	return out, nil
}

// quizSteps turns the histogram of answered counts into the funnel: the
// attempts that answered at least k questions, for k from 1 to n.
func quizSteps(tot map[string]int64, id string, n int, ids []string) []QStep {
	reached := make([]int64, n+2) // reached[k]: answered at least k
	for k := n; k >= 0; k-- {
		reached[k] = reached[k+1] + tot[QuizAnswered(id, int64(k))]
	}
	out := make([]QStep, n)
	for k := 1; k <= n; k++ {
		out[k-1] = QStep{Position: k, Answered: reached[k], DropOff: reached[k-1] - reached[k]}
		if ids != nil {
			out[k-1].QuestionID = ids[k-1]
		}
	}
	return out
}

func round4(f float64) float64 { return math.Round(f*10000) / 10000 }
