package quizzes

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/questline/questline/quizzes/scoring"
)

// QuestionResults are one question's answers summed up.
type QuestionResults struct {
	QuestionID string           `json:"question_id"`
	Type       scoring.Kind     `json:"type"`
	Answers    int64            `json:"answers"`
	Counts     map[string]int64 `json:"counts,omitempty" doc:"Choice questions: answers per option id; rating and nps: per value."`
	Average    *float64         `json:"average,omitempty" doc:"rating and nps."`
	NPS        *float64         `json:"nps,omitempty" doc:"nps: % promoters (9-10) − % detractors (0-6)."`
}

// Results are a quiz's or survey's answers summed up per question.
type Results struct {
	QuizID    string            `json:"quiz_id"`
	Attempts  int64             `json:"attempts"`
	Finished  int64             `json:"finished"`
	Questions []QuestionResults `json:"questions"`
}

// resultsPage is how many attempts a scan reads at once.
const resultsPage = 500

// eachAttempt calls fn on every attempt of a quiz, in pages.
func (s *Service) eachAttempt(ctx context.Context, tenant, quizID string, fn func(Attempt)) error {
	after := ""
	for {
		page, err := s.Store.QuizAttempts(ctx, tenant, quizID, after, resultsPage)
		if err != nil {
			return fmt.Errorf("quizzes: attempts of %s: %w", quizID, err)
		}
		for _, a := range page {
			fn(a)
		}
		if len(page) < resultsPage {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// Results sums up a quiz's answers (managers).
func (s *Service) Results(ctx context.Context, tenant, quizID string) (Results, error) {
	q, err := s.Get(ctx, tenant, quizID)
	if err != nil {
		return Results{}, err
	}
	out := Results{QuizID: q.ID}
	byID := map[string]*QuestionResults{}
	sums := map[string]float64{}
	nps := map[string]*[11]int64{}
	for _, qq := range q.Questions {
		out.Questions = append(out.Questions, QuestionResults{QuestionID: qq.ID, Type: qq.Type, Counts: map[string]int64{}})
	}
	for i := range out.Questions {
		byID[out.Questions[i].QuestionID] = &out.Questions[i]
	}
	err = s.eachAttempt(ctx, tenant, quizID, func(a Attempt) {
		out.Attempts++
		if a.Status == Finished {
			out.Finished++
		}
		for _, ans := range a.Answers {
			r := byID[ans.QuestionID]
			if r == nil {
				continue
			}
			r.Answers++
			for _, c := range ans.Answer.Choices {
				r.Counts[c]++
			}
			if n := ans.Answer.Number; n != nil && (r.Type == scoring.Rating || r.Type == scoring.NPS) {
				r.Counts[strconv.Itoa(int(*n))]++
				sums[r.QuestionID] += *n
				if r.Type == scoring.NPS {
					if nps[r.QuestionID] == nil {
						nps[r.QuestionID] = &[11]int64{}
					}
					nps[r.QuestionID][int(*n)]++
				}
			}
		}
	})
	if err != nil {
		return Results{}, err
	}
	for i := range out.Questions {
		r := &out.Questions[i]
		if (r.Type == scoring.Rating || r.Type == scoring.NPS) && r.Answers > 0 {
			avg := math.Round(sums[r.QuestionID]/float64(r.Answers)*100) / 100
			r.Average = &avg
		}
		if c := nps[r.QuestionID]; c != nil {
			v := scoring.NPSScore(*c)
			r.NPS = &v
		}
	}
	return out, nil
}

// ResponsesCSV writes every attempt as a CSV row: attempt, user, status,
// score, finished_at, then one column per question (choices joined by
// "|", the number or the text).
func (s *Service) ResponsesCSV(ctx context.Context, tenant, quizID string) ([]byte, error) {
	q, err := s.Get(ctx, tenant, quizID)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := []string{"attempt_id", "user_id", "status", "score", "finished_at"}
	for _, qq := range q.Questions {
		head = append(head, qq.ID)
	}
	_ = w.Write(head)
	err = s.eachAttempt(ctx, tenant, quizID, func(a Attempt) {
		row := []string{a.ID, a.User, string(a.Status), strconv.FormatInt(a.Score, 10), ""}
		if a.FinishedAt != nil {
			row[4] = a.FinishedAt.Format("2006-01-02T15:04:05.000Z")
		}
		for _, qq := range q.Questions {
			row = append(row, cell(a, qq.ID))
		}
		_ = w.Write(row)
	})
	if err != nil {
		return nil, err
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// cell renders one answer; a leading =, +, - or @ is quoted with ' so a
// spreadsheet never runs a player's text as a formula.
func cell(a Attempt, qid string) string {
	for _, ans := range a.Answers {
		if ans.QuestionID != qid {
			continue
		}
		var v string
		switch {
		case len(ans.Answer.Choices) > 0:
			v = strings.Join(ans.Answer.Choices, "|")
		case ans.Answer.Number != nil:
			v = strconv.FormatFloat(*ans.Answer.Number, 'f', -1, 64)
		default:
			v = ans.Answer.Text
		}
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			v = "'" + v
		}
		return v
	}
	return ""
}
