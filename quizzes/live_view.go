package quizzes

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/questline/questline/quizzes/scoring"
)

// LiveView is a live show as a player (or its host) reads it, e.g. on a
// rejoin: the open question with its remaining time, the player's
// standing, and once the question closed its key and the top 10.
type LiveView struct {
	SessionID   string             `json:"session_id"`
	QuizID      string             `json:"quiz_id"`
	Code        string             `json:"code" doc:"The join code players type."`
	Channel     string             `json:"channel" doc:"Subscribe to it on /v1/ws for quiz.question, quiz.result, quiz.paused, quiz.resumed, quiz.ended."`
	Phase       Phase              `json:"phase" enum:"lobby,question,results,ended"`
	Index       int                `json:"index"`
	Count       int                `json:"count" doc:"Questions in the show."`
	Question    *PlayerQuestion    `json:"question,omitempty" doc:"The open question (phase question), without its key."`
	Deadline    *time.Time         `json:"deadline,omitempty"`
	RemainingMS int64              `json:"remaining_ms,omitempty" doc:"Time left to answer, by the server's clock."`
	Paused      bool               `json:"paused,omitempty"`
	ServerTime  time.Time          `json:"server_time"`
	Answered    bool               `json:"answered,omitempty" doc:"The player answered the open question."`
	Reveal      *Reveal            `json:"reveal,omitempty" doc:"The last closed question's key (phase results)."`
	Top         []scoring.Standing `json:"top,omitempty" doc:"The top 10 (phase results and ended)."`
	Me          *Player            `json:"me,omitempty" doc:"The player's score, streak and last result."`
	Rank        int                `json:"rank,omitempty" doc:"The player's rank (phase results and ended)."`
	Players     int                `json:"players"`
}

// LiveState renders a show for user ("" for the host); host views are
// for managers, who may read any show of the tenant. A player who never
// joined it gets 404.
func (s *Service) LiveState(ctx context.Context, tenant, id, user string, host bool) (LiveView, error) {
	sess, err := s.session(ctx, tenant, id)
	if err != nil {
		return LiveView{}, err
	}
	q, err := s.Get(ctx, tenant, sess.QuizID)
	if err != nil {
		return LiveView{}, err
	}
	now := s.now()
	v := LiveView{SessionID: sess.ID, QuizID: sess.QuizID, Code: sess.Code, Channel: Channel(sess.ID), Phase: sess.Phase,
		Index: sess.Index, Count: len(sess.Questions), Paused: sess.Paused, ServerTime: now}
	if !host {
		p, joined, err := s.Engine.Player(ctx, tenant, id, user)
		if err != nil {
			return LiveView{}, err
		}
		if !joined {
			return LiveView{}, liveNotFound(id)
		}
		v.Me = &p
	}
	switch sess.Phase {
	case Asking:
		qq, _ := q.question(sess.Questions[sess.Index])
		pq := playerQuestion(qq, sess.Options[qq.ID])
		v.Question, v.Deadline = &pq, &sess.Deadline
		v.RemainingMS = max(0, sess.Deadline.Sub(now).Milliseconds())
		if sess.Paused {
			v.RemainingMS = sess.Remaining.Milliseconds()
		}
		if v.Me != nil {
			if v.Answered, err = s.Engine.Answered(ctx, tenant, id, sess.Index, user); err != nil {
				return LiveView{}, err
			}
		}
	case Showing, Ended:
		if sess.Phase == Showing {
			qq, _ := q.question(sess.Questions[sess.Index])
			r := reveal(qq)
			v.Reveal = &r
		}
		if err := s.ranking(ctx, sess, user, &v); err != nil {
			return LiveView{}, err
		}
	}
	if v.Players == 0 {
		if v.Players, err = s.Engine.PlayerCount(ctx, tenant, id); err != nil {
			return LiveView{}, err
		}
	}
	return v, nil
}

func (s *Service) ranking(ctx context.Context, sess Session, user string, v *LiveView) error {
	ps, err := s.Engine.Players(ctx, sess.Tenant, sess.ID)
	if err != nil {
		return err
	}
	ranked := standings(ps)
	v.Top, v.Players = top(ranked, topN), len(ranked)
	if i := slices.IndexFunc(ranked, func(st scoring.Standing) bool { return st.User == user }); i >= 0 {
		v.Rank = ranked[i].Rank
	}
	return nil
}

// CanSubscribe says whether user may subscribe to a quiz channel: only
// players who joined the show, and the tenant's managers (the host's
// screen). Other channels are not the quizzes' to decide.
func (s *Service) CanSubscribe(ctx context.Context, tenant, user string, manager bool, channel string) bool {
	id, ok := strings.CutPrefix(channel, "quiz:")
	if !ok || s.Engine == nil {
		return false
	}
	if manager {
		_, err := s.Engine.GetSession(ctx, tenant, id)
		return err == nil
	}
	_, joined, err := s.Engine.Player(ctx, tenant, id, user)
	return err == nil && joined
}
