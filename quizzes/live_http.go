package quizzes

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
)

type liveOutput struct{ Body LiveView }

func liveRoutes(api huma.API, s *Service, tags []string) {
	auth.Register(api, huma.Operation{
		OperationID: "open-live-quiz", Method: http.MethodPost, Path: "/v1/quizzes/{id}/live",
		Summary: "Open a live show of a published quiz (manager)", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Returns the session with its join code, in the lobby. Players join with POST /v1/live/join, then subscribe " +
			"to its channel quiz:{session_id} on /v1/ws. The host drives it with next, pause, resume, skip and end, from any node. " +
			"Scoring, from server timestamps only: a right answer at t of T seconds earns round((1 − (t/T)/2) × max) " +
			"(max = live.max_points × the question's points, default 1000), plus for a run of right answers a streak bonus of " +
			"live.streak_step (100) per right answer before it, at most live.streak_cap (5) steps; partial credit scales the " +
			"speed points. Ties rank by the earlier total answer time, then user id.",
	}, auth.Managers, func(ctx context.Context, in *idInput) (*liveOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		sess, err := s.OpenLive(ctx, p.Tenant, in.ID, p.Subject)
		if err != nil {
			return nil, err
		}
		v, err := s.LiveState(ctx, p.Tenant, sess.ID, "", true)
		return &liveOutput{Body: v}, err
	})
	auth.Register(api, huma.Operation{
		OperationID: "join-live-quiz", Method: http.MethodPost, Path: "/v1/live/join",
		Summary: "Join a live show with its code", Tags: tags,
		Description: "Joining again (a phone that dropped out) keeps the player's score and streak and returns the open question " +
			"with its remaining time. After joining, subscribe to the channel the answer names.",
	}, auth.People, func(ctx context.Context, in *struct {
		Body struct {
			Code string `json:"code" minLength:"4" maxLength:"12" doc:"The code on the host's screen."`
		}
	}) (*liveOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		v, err := s.JoinLive(ctx, p.Tenant, in.Body.Code, p.Subject)
		return &liveOutput{Body: v}, err
	})
	auth.Register(api, huma.Operation{
		OperationID: "get-live-quiz", Method: http.MethodGet, Path: "/v1/live/{id}",
		Summary: "A live show's state: the open question and its remaining time, my score and rank", Tags: tags,
		Description: "Players see shows they joined (others answer 404); managers see any show of the tenant.",
	}, auth.People, func(ctx context.Context, in *idInput) (*liveOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		v, err := s.LiveState(ctx, p.Tenant, in.ID, p.Subject, auth.Managers.Admits(p))
		return &liveOutput{Body: v}, err
	})
	auth.Register(api, huma.Operation{
		OperationID: "answer-live-quiz", Method: http.MethodPost, Path: "/v1/live/{id}/answers",
		Summary: "Answer the open question of a live show", Tags: tags,
		Description: "Stamped with the server's clock. Only players who joined (409 not-joined), only the open question " +
			"(409 question-not-open), only until its deadline (409 question-closed), only once (a repeat answers duplicate: true). " +
			"Whether it was right shows in quiz.result after the deadline.",
	}, auth.People, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"64"`
		Body quizAnswerInput
	}) (*struct{ Body LiveAnswerOutcome }, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		o, err := s.AnswerLive(ctx, p.Tenant, in.ID, p.Subject, in.Body.QuestionID, in.Body.Answer)
		return &struct{ Body LiveAnswerOutcome }{Body: o}, err
	})
	for _, c := range []struct {
		cmd     Command
		summary string
	}{
		{Next, "Open the next question, or close the open one and show its results (manager)"},
		{Pause, "Stop the open question's clock (manager)"},
		{Resume, "Restart a paused question's clock (manager)"},
		{Skip, "Close the open question without scoring it (manager)"},
		{End, "End the show: podium, final ranking, rewards (manager)"},
	} {
		auth.Register(api, huma.Operation{
			OperationID: string(c.cmd) + "-live-quiz", Method: http.MethodPost, Path: "/v1/live/{id}/" + string(c.cmd),
			Summary: c.summary, Tags: tags,
			Description: "Any node may take the command: the show's state is in the engine and moves on by compare-and-set. " +
				"409 bad-command when the show's phase does not allow it.",
		}, auth.Managers, func(ctx context.Context, in *idInput) (*liveOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			v, err := s.Host(ctx, p.Tenant, in.ID, c.cmd)
			return &liveOutput{Body: v}, err
		})
	}
}
