package quizzes

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events"
	"github.com/questline/questline/quizzes/scoring"
)

// scoreQuestion scores every answer to question index once (the engine
// keeps the first scoring of a question), then pushes the results: the
// key and the top 10 to the show's channel, each player's own points,
// score and rank to their user channel. A skipped question scores
// nothing and keeps streaks.
func (s *Service) scoreQuestion(ctx context.Context, q Quiz, sess Session, index int) error {
	players, err := s.Engine.Players(ctx, sess.Tenant, sess.ID)
	if err != nil {
		return err
	}
	skipped := slices.Contains(sess.Skipped, index)
	qq, _ := q.question(sess.Questions[index])
	answers := map[string]LiveAnswer{}
	if !skipped {
		as, err := s.Engine.Answers(ctx, sess.Tenant, sess.ID, index)
		if err != nil {
			return err
		}
		for _, a := range as {
			answers[a.User] = a
		}
		for i := range players {
			players[i] = scorePlayer(q, qq, sess, index, players[i], answers)
		}
	}
	won, err := s.Engine.Score(ctx, sess.Tenant, sess.ID, index, players)
	if err != nil || !won {
		return err // another node scored it and pushed the results
	}
	ranked := standings(players)
	s.publish(ctx, sess, "quiz.result", map[string]any{
		"session_id": sess.ID, "index": index, "question_id": qq.ID, "skipped": skipped,
		"reveal": reveal(qq), "answers": len(answers), "players": len(players), "top": top(ranked, topN),
	})
	s.eachPlayer(ctx, ranked, func(ctx context.Context, st scoring.Standing, p Player) {
		s.push(ctx, sess.Tenant, st.User, "quiz.you", map[string]any{
			"session_id": sess.ID, "index": index, "last": p.Last, "score": st.Score, "rank": st.Rank,
			"streak": st.Streak, "players": len(ranked),
		})
	}, players)
	return nil
}

// scorePlayer applies the speed formula to one player's answer:
// round(credit × (1 − (t/T)/2) × max) plus, for a right answer, the
// capped streak bonus; t runs from the question's opening (moved on by
// pauses) to the server's stamp on the answer.
func scorePlayer(q Quiz, qq Question, sess Session, index int, p Player, answers map[string]LiveAnswer) Player {
	a, ok := answers[p.User]
	if !ok {
		p.Streak, p.Last = 0, &LastResult{Index: index, Missed: true}
		return p
	}
	T := sess.Deadline.Sub(sess.OpenedAt)
	took := min(max(0, a.At.Sub(sess.OpenedAt)), T)
	credit := scoring.Credit(qq.Type, qq.key(), qq.Partial, a.Answer)
	maxPts := q.Live.maxPoints() * max(qq.Points, 1)
	pts := int64(math.Round(credit * float64(scoring.SpeedPoints(maxPts, took, T))))
	right := credit == 1
	if right {
		p.Streak++
		step, capAt := q.Live.streak()
		pts += scoring.StreakBonus(p.Streak, step, capAt)
	} else {
		p.Streak = 0
	}
	p.Score += pts
	p.Time += took
	p.Answered++
	p.Last = &LastResult{Index: index, Points: pts, Correct: right}
	return p
}

func standings(ps []Player) []scoring.Standing {
	out := make([]scoring.Standing, len(ps))
	for i, p := range ps {
		out[i] = scoring.Standing{User: p.User, Score: p.Score, Streak: p.Streak, Time: p.Time}
	}
	scoring.Rank(out)
	return out
}

func top(ranked []scoring.Standing, n int) []scoring.Standing {
	return slices.Clone(ranked[:min(n, len(ranked))])
}

// Reveal is a question's key, shown once the question closed.
type Reveal struct {
	Correct  []string `json:"correct,omitempty"`
	Accepted []string `json:"accepted,omitempty"`
	Value    *float64 `json:"value,omitempty"`
}

func reveal(q Question) Reveal {
	return Reveal{Correct: q.Correct, Accepted: q.Accepted, Value: q.Value}
}

// pushWorkers run the per-user pushes: enough that 10,000 pushes do not
// take 10,000 Redis round trips in a row, few enough that they leave the
// CPU to the connections' writers sending the broadcast that precedes them.
const pushWorkers = 8

// eachPlayer runs fn for every ranked player with pushWorkers workers.
func (s *Service) eachPlayer(ctx context.Context, ranked []scoring.Standing, fn func(context.Context, scoring.Standing, Player), ps []Player) {
	byUser := make(map[string]Player, len(ps))
	for _, p := range ps {
		byUser[p.User] = p
	}
	work := make(chan scoring.Standing)
	var wg sync.WaitGroup
	for range min(pushWorkers, len(ranked)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for st := range work {
				fn(ctx, st, byUser[st.User])
			}
		}()
	}
	for _, st := range ranked {
		work <- st
	}
	close(work)
	wg.Wait()
}

// publish is best effort, as push is: state is in the engine and
// GET /v1/live/{id} reads it.
func (s *Service) publish(ctx context.Context, sess Session, typ string, data any) {
	if s.Publisher != nil {
		if err := s.Publisher.Publish(ctx, sess.Tenant, Channel(sess.ID), typ, data); err != nil {
			s.Logger.Warn("quizzes: live push", "session", sess.ID, "type", typ, "err", err)
		}
	}
}

// questionFrame is a question as broadcast: no key, with its server
// deadline and the server's time, so a phone shows the right countdown
// whatever its own clock says.
func (s *Service) questionFrame(q Quiz, sess Session) map[string]any {
	qq, _ := q.question(sess.Questions[sess.Index])
	return map[string]any{
		"session_id": sess.ID, "index": sess.Index, "count": len(sess.Questions),
		"question": playerQuestion(qq, sess.Options[qq.ID]), "deadline": sess.Deadline, "server_time": s.now(),
		"time_limit_ms": sess.Deadline.Sub(sess.OpenedAt).Milliseconds(),
	}
}

// finishShow pushes the podium and final ranking and pays the rewards:
// the podium's by rank, the participants' to everyone who answered, and
// quiz.completed for every player who answered, all keyed by the show and
// the user, so ending again (after a crash) pays nothing twice. Payouts
// run in the background: 10,000 players take a while.
func (s *Service) finishShow(ctx context.Context, q Quiz, sess Session) error {
	players, err := s.Engine.Players(ctx, sess.Tenant, sess.ID)
	if err != nil {
		return err
	}
	ranked := standings(players)
	s.publish(ctx, sess, "quiz.ended", map[string]any{
		"session_id": sess.ID, "podium": top(ranked, 3), "top": top(ranked, topN), "players": len(ranked),
	})
	s.eachPlayer(ctx, ranked, func(ctx context.Context, st scoring.Standing, _ Player) {
		s.push(ctx, sess.Tenant, st.User, "quiz.final", map[string]any{"session_id": sess.ID, "score": st.Score, "rank": st.Rank, "players": len(ranked)})
	}, players)
	go s.payShow(q, sess, ranked, players)
	return nil
}

func (s *Service) payShow(q Quiz, sess Session, ranked []scoring.Standing, ps []Player) {
	answered := map[string]int{}
	for _, p := range ps {
		answered[p.User] = p.Answered
	}
	maxScore := float64(q.Live.maxPoints() * int64(len(sess.Questions)))
	for i, st := range ranked {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := s.payPlayer(ctx, q, sess, i, st, answered[st.User], maxScore)
		cancel()
		if err != nil {
			s.Logger.Warn("quizzes: live payout stopped; end the show again to finish it", "session", sess.ID, "user", st.User, "err", err)
			return
		}
		if (i+1)%1000 == 0 {
			s.Logger.Info("quizzes: live payout", "session", sess.ID, "done", i+1, "of", len(ranked))
		}
	}
}

func (s *Service) payPlayer(ctx context.Context, q Quiz, sess Session, i int, st scoring.Standing, answered int, maxScore float64) error {
	var emit []events.Event
	pay := func(r challenges.Reward, what string) error {
		key := "live:" + sess.ID + ":" + what + ":" + st.User
		sys, err := s.pay(ctx, sess.Tenant, st.User, r, "quiz:"+q.ID, key, "live quiz "+q.Name, *sess.EndedAt)
		emit = append(emit, sys...)
		return err
	}
	if q.Live != nil && i < len(q.Live.Winners) {
		if err := pay(q.Live.Winners[i], "winner"); err != nil {
			return err
		}
	}
	if answered == 0 {
		return s.emit(ctx, emit)
	}
	if q.Live != nil && q.Live.Participant != nil {
		if err := pay(*q.Live.Participant, "participant"); err != nil {
			return err
		}
	}
	emit = append(emit, events.Event{
		Tenant: sess.Tenant, User: st.User, Type: "quiz.completed",
		Props: map[string]any{"quiz_id": q.ID, "session_id": sess.ID, "kind": "live", "score": float64(st.Score),
			"max_score": maxScore, "passed": false, "rank": float64(st.Rank)},
		OccurredAt: *sess.EndedAt, IdempotencyKey: "quiz.completed:live:" + sess.ID + ":" + st.User,
	})
	return s.emit(ctx, emit)
}
