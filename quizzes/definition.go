package quizzes

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/quizzes/scoring"
)

func invalid(field, format string, args ...any) error {
	return errs.New(errs.Unprocessable, "bad-quiz", format, args...).OnField("body." + field)
}

// normalize fills s's defaults and checks it whole; errors name the field.
func (s *Spec) normalize() error {
	if s.Kind == "" {
		s.Kind = KindQuiz
	}
	if s.RewardOn == "" {
		s.RewardOn = OnCompletion
	}
	if s.Kind == KindSurvey && s.RewardOn == OnPass {
		return invalid("reward_on", "a survey has no pass mark: its reward is paid on completion")
	}
	if s.StartsAt != nil && s.EndsAt != nil && !s.EndsAt.After(*s.StartsAt) {
		return invalid("ends_at", "ends_at must be after starts_at")
	}
	if s.MaxAttempts == 0 && s.AttemptPeriod != "" {
		return invalid("attempt_period", "attempt_period needs max_attempts")
	}
	if len(s.Questions) == 0 {
		return invalid("questions", "a quiz needs at least one question")
	}
	if err := s.checkPools(); err != nil {
		return err
	}
	ids := map[string]bool{}
	for i := range s.Questions {
		q := &s.Questions[i]
		if ids[q.ID] {
			return invalid(fmt.Sprintf("questions[%d].id", i), "question id %q is used twice", q.ID)
		}
		ids[q.ID] = true
		if err := s.normalizeQuestion(q); err != nil {
			if e, ok := errs.As(err); ok {
				e.Field = fmt.Sprintf("body.questions[%d].%s", i, e.Field)
			}
			return err
		}
	}
	return s.checkRewards()
}

func (s *Spec) checkPools() error {
	sizes := map[string]int{}
	for _, q := range s.Questions {
		if q.Pool != "" {
			sizes[q.Pool]++
		}
	}
	seen := map[string]bool{}
	for i, p := range s.Pools {
		if seen[p.ID] {
			return invalid(fmt.Sprintf("pools[%d].id", i), "pool %q is defined twice", p.ID)
		}
		seen[p.ID] = true
		if p.Draw < 1 || p.Draw > sizes[p.ID] {
			return invalid(fmt.Sprintf("pools[%d].draw", i), "pool %q draws %d of its %d questions", p.ID, p.Draw, sizes[p.ID])
		}
	}
	for i, q := range s.Questions {
		if q.Pool != "" && !seen[q.Pool] {
			return invalid(fmt.Sprintf("questions[%d].pool", i), "no pool %q in pools", q.Pool)
		}
	}
	return nil
}

// qerr is an error on a field of the question being checked; normalize
// prefixes the question's path.
func qerr(field, format string, args ...any) error {
	return errs.New(errs.Unprocessable, "bad-quiz", format, args...).OnField(field)
}

func (s *Spec) normalizeQuestion(q *Question) error {
	survey := s.Kind == KindSurvey
	switch {
	case survey && q.Type.Scored() && q.Type != scoring.Single && q.Type != scoring.Multiple:
		return qerr("type", "a survey asks single, multiple, rating, nps or open_text questions")
	case !survey && !q.Type.Scored():
		return qerr("type", "%s questions are for surveys", q.Type)
	}
	if q.Type == scoring.TrueFalse && len(q.Options) == 0 {
		q.Options = []Option{{ID: "true", Text: "True"}, {ID: "false", Text: "False"}}
	}
	if err := checkOptions(q); err != nil {
		return err
	}
	if survey {
		if len(q.Correct) > 0 || len(q.Accepted) > 0 || q.Value != nil || q.Negative > 0 {
			return qerr("correct", "survey questions have no right answers")
		}
		return nil
	}
	if q.Points == 0 {
		q.Points = 1
	}
	if s.Live != nil && q.TimeLimitSeconds == 0 {
		q.TimeLimitSeconds = s.Live.seconds()
	}
	return checkKey(q)
}

func checkOptions(q *Question) error {
	choice := q.Type == scoring.Single || q.Type == scoring.Multiple || q.Type == scoring.TrueFalse || q.Type == scoring.Ordering
	if !choice {
		if len(q.Options) > 0 {
			return qerr("options", "%s questions have no options", q.Type)
		}
		return nil
	}
	if len(q.Options) < 2 {
		return qerr("options", "give at least two options")
	}
	seen := map[string]bool{}
	for i, o := range q.Options {
		if seen[o.ID] {
			return qerr(fmt.Sprintf("options[%d].id", i), "option id %q is used twice", o.ID)
		}
		seen[o.ID] = true
	}
	return nil
}

func checkKey(q *Question) error {
	ids := make([]string, len(q.Options))
	for i, o := range q.Options {
		ids[i] = o.ID
	}
	for i, c := range q.Correct {
		if !slices.Contains(ids, c) {
			return qerr(fmt.Sprintf("correct[%d]", i), "no option %q", c)
		}
	}
	switch q.Type {
	case scoring.Single, scoring.TrueFalse:
		if len(q.Correct) != 1 {
			return qerr("correct", "give the one right option id")
		}
	case scoring.Multiple:
		if len(q.Correct) < 1 || len(dedup(q.Correct)) != len(q.Correct) {
			return qerr("correct", "give every right option id once")
		}
	case scoring.Ordering:
		if len(q.Correct) != len(q.Options) || len(dedup(q.Correct)) != len(q.Correct) {
			return qerr("correct", "give every option id once, in the right order")
		}
	case scoring.Text:
		if len(q.Accepted) == 0 || slices.ContainsFunc(q.Accepted, func(a string) bool { return scoring.Fold(a) == "" || len(a) > 200 }) {
			return qerr("accepted", "give 1-20 accepted answers of 1-200 characters")
		}
	case scoring.Numeric:
		if q.Value == nil || math.IsNaN(*q.Value) || math.IsInf(*q.Value, 0) || math.IsNaN(q.Tolerance) || math.IsInf(q.Tolerance, 0) {
			return qerr("value", "a numeric question needs a finite value and tolerance")
		}
	}
	if q.Type != scoring.Text && len(q.Accepted) > 0 {
		return qerr("accepted", "only text questions have accepted answers")
	}
	if q.Partial && q.Type != scoring.Multiple && q.Type != scoring.Ordering {
		return qerr("partial", "partial credit is for multiple and ordering questions")
	}
	return nil
}

func dedup(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

func (s *Spec) checkRewards() error {
	rs := []struct {
		field, unlock string
	}{{"reward.unlock", s.Reward.Unlock}}
	if s.Live != nil {
		for i, w := range s.Live.Winners {
			rs = append(rs, struct{ field, unlock string }{fmt.Sprintf("live.winners[%d].unlock", i), w.Unlock})
		}
		if s.Live.Participant != nil {
			rs = append(rs, struct{ field, unlock string }{"live.participant.unlock", s.Live.Participant.Unlock})
		}
	}
	for _, r := range rs {
		if r.unlock != "" && !contentKey(r.unlock) {
			return invalid(r.field, "unlock is a content key of letters, digits, '-', '_', '.', ':' and '/'")
		}
	}
	return nil
}

func contentKey(s string) bool {
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == ':' || r == '/'
		if !ok {
			return false
		}
	}
	return true
}

func (l *Live) seconds() int {
	if l.Seconds > 0 {
		return l.Seconds
	}
	return 20
}

// limit is a question's time limit; 0 is none.
func (q Question) limit() time.Duration { return time.Duration(q.TimeLimitSeconds) * time.Second }

// key and rules are what scoring needs of q.
func (q Question) key() scoring.Key {
	k := scoring.Key{Correct: q.Correct, Accepted: q.Accepted, Tolerance: q.Tolerance}
	if q.Value != nil {
		k.Value = *q.Value
	}
	return k
}

func (s Spec) rules(q Question) scoring.Rules {
	return scoring.Rules{Points: q.Points, Partial: q.Partial, Negative: q.Negative, TimeLimit: q.limit(), SpeedBonus: s.SpeedBonus}
}

// question returns the question with id.
func (s Spec) question(id string) (Question, bool) {
	i := slices.IndexFunc(s.Questions, func(q Question) bool { return q.ID == id })
	if i < 0 {
		return Question{}, false
	}
	return s.Questions[i], true
}
