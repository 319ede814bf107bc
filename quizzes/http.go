package quizzes

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/httpx"
	"github.com/questline/questline/quizzes/scoring"
)

// Routes registers the quiz API.
func Routes(api huma.API, s *Service) {
	tags := []string{"quizzes"}
	auth.Register(api, huma.Operation{
		OperationID: "create-quiz", Method: http.MethodPost, Path: "/v1/quizzes",
		Summary: "Create a draft quiz or survey (manager)", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Question types: single, multiple (all or nothing, or partial: (right picks − wrong picks) / right options), " +
			"true_false, text (accepted answers, compared trimmed, ignoring case and accents), numeric (value ± tolerance), ordering; " +
			"surveys (kind: survey) ask single, multiple, rating (1-5), nps (0-10) and open_text. Per question: points, " +
			"time_limit_seconds (server clock from when the question is served), negative (negative marking), pool. " +
			"pools draw some of their questions per attempt; shuffle_questions and shuffle_options are seeded per attempt, so a " +
			"resumed attempt shows the same draw. reward (points, badge_id, unlock, as challenges) is paid on completion or on passing. " +
			"A bad definition answers 422 naming the field, e.g. body.questions[2].correct.",
	}, auth.Managers, func(ctx context.Context, in *struct{ Body Spec }) (*quizOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		return one(s.Create(ctx, p.Tenant, in.Body))
	})
	auth.Register(api, huma.Operation{
		OperationID: "list-quizzes", Method: http.MethodGet, Path: "/v1/quizzes",
		Summary: "List quizzes with their questions and keys (manager)", Tags: tags,
	}, auth.Managers, func(ctx context.Context, in *quizListInput) (*quizListOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		qs, err := s.List(ctx, p.Tenant, in.Status, in.Cursor, in.Limit+1)
		if err != nil {
			return nil, err
		}
		out := &quizListOutput{}
		out.Body.Quizzes, out.Body.NextCursor = httpx.Page(qs, in.Limit, func(q Quiz) string { return q.ID })
		return out, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "get-quiz", Method: http.MethodGet, Path: "/v1/quizzes/{id}",
		Summary: "Get a quiz with its questions and keys (manager)", Tags: tags,
	}, auth.Managers, func(ctx context.Context, in *idInput) (*quizOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		return one(s.Get(ctx, p.Tenant, in.ID))
	})
	auth.Register(api, huma.Operation{
		OperationID: "update-quiz", Method: http.MethodPatch, Path: "/v1/quizzes/{id}",
		Summary: "Edit a quiz (manager)", Tags: tags,
		Description: "A draft may change freely. A published quiz keeps its questions, pools and pass mark (409 quiz-published): " +
			"attempts were scored against them. Archived quizzes cannot change.",
	}, auth.Managers, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"64"`
		Body Patch
	}) (*quizOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		return one(s.Update(ctx, p.Tenant, in.ID, in.Body))
	})
	for _, t := range []struct {
		op, path, summary string
		do                func(context.Context, string, string) (Quiz, error)
	}{
		{"publish-quiz", "/v1/quizzes/{id}/publish", "Publish a draft quiz (manager)", s.Publish},
		{"archive-quiz", "/v1/quizzes/{id}/archive", "Archive a quiz (manager)", s.Archive},
	} {
		auth.Register(api, huma.Operation{
			OperationID: t.op, Method: http.MethodPost, Path: t.path, Summary: t.summary, Tags: tags,
		}, auth.Managers, func(ctx context.Context, in *idInput) (*quizOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			return one(t.do(ctx, p.Tenant, in.ID))
		})
	}
	resultRoutes(api, s, tags)
	attemptRoutes(api, s, tags)
	liveRoutes(api, s, tags)
}

func resultRoutes(api huma.API, s *Service, tags []string) {
	auth.Register(api, huma.Operation{
		OperationID: "get-quiz-results", Method: http.MethodGet, Path: "/v1/quizzes/{id}/results",
		Summary: "Answers per question: counts, distribution, average, NPS (manager)", Tags: tags,
	}, auth.Managers, func(ctx context.Context, in *idInput) (*quizResultsOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		r, err := s.Results(ctx, p.Tenant, in.ID)
		if err != nil {
			return nil, err
		}
		return &quizResultsOutput{Body: r}, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "export-quiz-responses", Method: http.MethodGet, Path: "/v1/quizzes/{id}/responses",
		Summary: "Every response as CSV (manager)", Tags: tags,
		Description: "One row per attempt: attempt_id, user_id, status, score, finished_at, then a column per question id " +
			"(choices joined by |, the number, or the text; text starting with = + - @ is prefixed with ').",
		Responses: map[string]*huma.Response{"200": {Description: "CSV", Content: map[string]*huma.MediaType{"text/csv": {}}}},
	}, auth.Managers, func(ctx context.Context, in *idInput) (*quizCSVOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		b, err := s.ResponsesCSV(ctx, p.Tenant, in.ID)
		if err != nil {
			return nil, err
		}
		return &quizCSVOutput{ContentType: "text/csv; charset=utf-8", Body: b}, nil
	})
}

func attemptRoutes(api huma.API, s *Service, tags []string) {
	auth.Register(api, huma.Operation{
		OperationID: "list-my-quizzes", Method: http.MethodGet, Path: "/v1/me/quizzes",
		Summary: "Published quizzes and surveys, with my attempts used and resets_at", Tags: tags,
	}, auth.People, func(ctx context.Context, in *struct {
		Cursor string `query:"cursor" maxLength:"64"`
		Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	}) (*myQuizzesOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		qs, err := s.List(ctx, p.Tenant, Published, in.Cursor, in.Limit+1)
		if err != nil {
			return nil, err
		}
		out := &myQuizzesOutput{}
		page, next := httpx.Page(qs, in.Limit, func(q Quiz) string { return q.ID })
		out.Body.NextCursor, out.Body.Quizzes = next, []PlayerQuiz{}
		for _, q := range page {
			pq, err := s.ForPlayer(ctx, q, p.Subject)
			if err != nil {
				return nil, err
			}
			out.Body.Quizzes = append(out.Body.Quizzes, pq)
		}
		return out, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "start-attempt", Method: http.MethodPost, Path: "/v1/quizzes/{id}/attempts",
		Summary: "Start or resume an attempt", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Returns the attempt's questions (its own draw and option order) without any answer key, the current " +
			"question and its deadline. An open attempt is resumed (200, resumed: true) unless fresh is set, which answers " +
			"409 attempt-in-progress. 409 attempts-exhausted when max_attempts are used (see resets_at on /v1/me/quizzes), " +
			"quiz-not-started, quiz-ended or quiz-closed outside the window (404 quiz-not-found for a draft, and for an archived " +
			"quiz the player never took); 403 not-eligible.",
	}, auth.People, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"64"`
		Body *struct {
			Fresh bool `json:"fresh,omitempty" doc:"Refuse to resume an open attempt (409) instead of returning it."`
		}
	}) (*quizAttemptOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		fresh := in.Body != nil && in.Body.Fresh
		q, a, resumed, err := s.Start(ctx, p.Tenant, in.ID, p.Subject, fresh)
		if err != nil {
			return nil, err
		}
		out := &quizAttemptOutput{Status: http.StatusCreated, Body: View(q, a)}
		if resumed {
			out.Status, out.Body.Resumed = http.StatusOK, true
		}
		return out, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "get-attempt", Method: http.MethodGet, Path: "/v1/attempts/{id}",
		Summary: "Read my attempt", Tags: tags,
	}, auth.People, func(ctx context.Context, in *idInput) (*quizAttemptOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		q, a, err := s.Attempt(ctx, p.Tenant, in.ID, p.Subject)
		if err != nil {
			return nil, err
		}
		return &quizAttemptOutput{Body: View(q, a)}, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "answer-question", Method: http.MethodPost, Path: "/v1/attempts/{id}/answers",
		Summary: "Answer the current question", Tags: tags,
		Description: "Scored on the server's clock: an answer after the question's deadline scores zero and says late: true. " +
			"The first answer to a question stays (a repeat answers duplicate: true). Questions are answered in the attempt's " +
			"order (409 question-not-open). Whether the answer was right shows only when the attempt ends. The last answer " +
			"finishes the attempt: quiz.completed is emitted and the reward paid, once.",
	}, auth.People, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"64"`
		Body quizAnswerInput
	}) (*quizAnswerOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		q, a, o, err := s.Answer(ctx, p.Tenant, in.ID, p.Subject, in.Body.QuestionID, in.Body.Answer)
		if err != nil {
			return nil, err
		}
		out := &quizAnswerOutput{}
		out.Body.Outcome, out.Body.Attempt = o, View(q, a)
		return out, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "finish-attempt", Method: http.MethodPost, Path: "/v1/attempts/{id}/finish",
		Summary: "Finish my attempt", Tags: tags,
		Description: "Unanswered questions score nothing. Emits quiz.completed (props quiz_id, attempt_id, kind, score, " +
			"max_score, passed) and pays the reward exactly once; repeating the call answers the same.",
	}, auth.People, func(ctx context.Context, in *idInput) (*quizAttemptOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		q, a, err := s.Finish(ctx, p.Tenant, in.ID, p.Subject)
		if err != nil {
			return nil, err
		}
		return &quizAttemptOutput{Body: View(q, a)}, nil
	})
}

func one(q Quiz, err error) (*quizOutput, error) {
	if err != nil {
		return nil, err
	}
	return &quizOutput{Body: q}, nil
}

type idInput struct {
	ID string `path:"id" maxLength:"64"`
}

type quizOutput struct{ Body Quiz }

type quizListInput struct {
	Status Status `query:"status" enum:"draft,published,archived"`
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

type quizListOutput struct {
	Body struct {
		Quizzes    []Quiz `json:"quizzes"`
		NextCursor string `json:"next_cursor,omitempty"`
	}
}

type myQuizzesOutput struct {
	Body struct {
		Quizzes    []PlayerQuiz `json:"quizzes"`
		NextCursor string       `json:"next_cursor,omitempty"`
	}
}

type quizResultsOutput struct{ Body Results }

type quizCSVOutput struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

type quizAttemptOutput struct {
	Status int
	Body   AttemptView
}

type quizAnswerInput struct {
	QuestionID string `json:"question_id" minLength:"1" maxLength:"32"`
	scoring.Answer
}

type quizAnswerOutput struct {
	Body struct {
		Outcome Outcome     `json:"outcome"`
		Attempt AttemptView `json:"attempt"`
	}
}
