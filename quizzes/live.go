package quizzes

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/quizzes/scoring"
)

// Live-show defaults (see Live).
const (
	defaultMaxPoints  = 1000
	defaultStreakStep = 100
	defaultStreakCap  = 5
	topN              = 10
	codeAlphabet      = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789" // no 0/O or 1/I to misread
	codeLen           = 6
)

// Channel is the realtime channel of a live show.
func Channel(sessionID string) string { return "quiz:" + sessionID }

func (l *Live) maxPoints() int64 {
	if l == nil || l.MaxPoints == 0 {
		return defaultMaxPoints
	}
	return l.MaxPoints
}

func (l *Live) streak() (int64, int) {
	if l == nil {
		return defaultStreakStep, defaultStreakCap
	}
	step, capAt := l.StreakStep, l.StreakCap
	if step == 0 {
		step = defaultStreakStep
	}
	if capAt == 0 {
		capAt = defaultStreakCap
	}
	return step, capAt
}

func liveNotFound(id string) error {
	return errs.New(errs.NotFound, "live-not-found", "no live show %q", id)
}

func (s *Service) engine() (Engine, error) {
	if s.Engine == nil {
		return nil, errs.New(errs.Unavailable, "live-unavailable", "live shows are not configured on this node")
	}
	return s.Engine, nil
}

// session reads a show, answering a missing one as 404.
func (s *Service) session(ctx context.Context, tenant, id string) (Session, error) {
	e, err := s.engine()
	if err != nil {
		return Session{}, err
	}
	sess, err := e.GetSession(ctx, tenant, id)
	if errors.Is(err, errs.ErrNotFound) {
		return Session{}, liveNotFound(id)
	}
	return sess, err
}

// OpenLive opens a live show of a published quiz, in the lobby, with a
// fresh join code. Its questions are drawn once, for every player.
func (s *Service) OpenLive(ctx context.Context, tenant, quizID, host string) (Session, error) {
	e, err := s.engine()
	if err != nil {
		return Session{}, err
	}
	q, err := s.Get(ctx, tenant, quizID)
	if err != nil {
		return Session{}, err
	}
	switch {
	case q.Status != Published:
		return Session{}, errs.New(errs.Conflict, "quiz-not-published", "publish quiz %s before running it live", quizID)
	case q.Kind != KindQuiz:
		return Session{}, errs.New(errs.Conflict, "survey-not-live", "surveys are not run as live shows")
	}
	seed, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	sess := Session{ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, QuizID: q.ID, Host: host,
		Phase: Lobby, Index: -1, CreatedAt: s.now(), Version: 1}
	sess.Questions, sess.Options = draw(q.Spec, seed.Uint64())
	for range 5 {
		sess.Code = joinCode()
		err = e.CreateSession(ctx, sess)
		if !errors.Is(err, errs.ErrDuplicate) {
			break
		}
	}
	if err != nil {
		return Session{}, fmt.Errorf("quizzes: open live %s: %w", quizID, err)
	}
	return sess, nil
}

func joinCode() string {
	b := make([]byte, codeLen)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(codeAlphabet))))
		b[i] = codeAlphabet[n.Int64()]
	}
	return string(b)
}

// JoinLive adds user to the show a code names. Joining again (a phone
// that dropped out) keeps the score and streak, and the view carries the
// current question with its remaining time.
func (s *Service) JoinLive(ctx context.Context, tenant, code, user string) (LiveView, error) {
	e, err := s.engine()
	if err != nil {
		return LiveView{}, err
	}
	id, err := e.SessionByCode(ctx, tenant, strings.ToUpper(strings.TrimSpace(code)))
	if errors.Is(err, errs.ErrNotFound) {
		return LiveView{}, errs.New(errs.NotFound, "live-not-found", "no live show with code %q", code).OnField("body.code")
	}
	if err != nil {
		return LiveView{}, err
	}
	sess, err := s.session(ctx, tenant, id)
	if err != nil {
		return LiveView{}, err
	}
	if sess.Phase == Ended {
		return LiveView{}, errs.New(errs.Conflict, "live-ended", "live show %s has ended", id)
	}
	if _, _, err := e.Join(ctx, tenant, id, user, s.now()); err != nil {
		return LiveView{}, fmt.Errorf("quizzes: join %s: %w", id, err)
	}
	return s.LiveState(ctx, tenant, id, user, false)
}

// LiveAnswerOutcome says whether an answer counted; whether it was right
// shows in the results, after the deadline.
type LiveAnswerOutcome struct {
	QuestionID string    `json:"question_id"`
	Accepted   bool      `json:"accepted"`
	Duplicate  bool      `json:"duplicate" doc:"The question was answered already: the first answer stays."`
	At         time.Time `json:"at" doc:"The server time the answer was stamped with."`
}

// AnswerLive records user's answer to the show's open question, stamped
// with the server's clock; only players who joined may answer, only the
// open question, only until its deadline, and only once.
func (s *Service) AnswerLive(ctx context.Context, tenant, id, user, questionID string, in scoring.Answer) (LiveAnswerOutcome, error) {
	sess, err := s.session(ctx, tenant, id)
	if err != nil {
		return LiveAnswerOutcome{}, err
	}
	now := s.now() // stamped before the limiter's round trip
	if err := s.allowAnswer(ctx, tenant, user); err != nil {
		return LiveAnswerOutcome{}, err
	}
	if _, joined, err := s.Engine.Player(ctx, tenant, id, user); err != nil {
		return LiveAnswerOutcome{}, err
	} else if !joined {
		return LiveAnswerOutcome{}, errs.New(errs.Conflict, "not-joined", "join live show %s with its code first", id)
	}
	if sess.Phase != Asking || sess.Paused || sess.Questions[sess.Index] != questionID {
		return LiveAnswerOutcome{}, errs.New(errs.Conflict, "question-not-open", "question %q is not open", questionID)
	}
	if now.After(sess.Deadline) {
		return LiveAnswerOutcome{}, errs.New(errs.Conflict, "question-closed", "question %q closed at %s", questionID,
			sess.Deadline.Format(time.RFC3339Nano))
	}
	q, err := s.Get(ctx, tenant, sess.QuizID)
	if err != nil {
		return LiveAnswerOutcome{}, err
	}
	qq, _ := q.question(questionID)
	if err := checkAnswer(qq, sess.Options[questionID], in); err != nil {
		return LiveAnswerOutcome{}, err
	}
	fresh, err := s.Engine.Answer(ctx, tenant, id, sess.Index, LiveAnswer{User: user, Answer: in, At: now})
	if err != nil {
		return LiveAnswerOutcome{}, fmt.Errorf("quizzes: live answer %s: %w", id, err)
	}
	return LiveAnswerOutcome{QuestionID: questionID, Accepted: fresh, Duplicate: !fresh, At: now}, nil
}

// Command is what a host tells a show.
type Command string

// The host's commands.
const (
	Next   Command = "next"   // open the next question, or show the open one's results
	Pause  Command = "pause"  // stop the open question's clock
	Resume Command = "resume" // restart it
	Skip   Command = "skip"   // close the open question without scoring it
	End    Command = "end"    // end the show: podium, final ranking, rewards
)

// Host runs a host command on a show, from any node: the session moves
// on by compare-and-set, so of racing commands each applies to the state
// it read, or is retried on the new one.
func (s *Service) Host(ctx context.Context, tenant, id string, cmd Command) (LiveView, error) {
	return s.host(ctx, tenant, id, cmd, nil)
}

// host runs cmd if guard (nil: always) accepts the session it reads.
func (s *Service) host(ctx context.Context, tenant, id string, cmd Command, guard func(Session) bool) (LiveView, error) {
	for range maxUpdateTries {
		sess, err := s.session(ctx, tenant, id)
		if err != nil {
			return LiveView{}, err
		}
		if guard != nil && !guard(sess) {
			return LiveView{}, nil
		}
		q, err := s.Get(ctx, tenant, sess.QuizID)
		if err != nil {
			return LiveView{}, err
		}
		next, err := s.liveTransition(q, sess, cmd)
		if err != nil {
			return LiveView{}, err
		}
		if next.Phase == Asking && !next.Paused {
			// Scheduled before the swap: a node dying between the two
			// leaves a stale entry (the sweep drops it), never a question
			// without its close.
			if err := s.Engine.Schedule(ctx, tenant, id, next.Deadline); err != nil {
				return LiveView{}, fmt.Errorf("quizzes: live %s %s: %w", cmd, id, err)
			}
		}
		won, err := s.Engine.SwapSession(ctx, next)
		if err != nil {
			return LiveView{}, fmt.Errorf("quizzes: live %s %s: %w", cmd, id, err)
		}
		if !won {
			continue
		}
		if err := s.after(ctx, q, sess, next); err != nil {
			return LiveView{}, err
		}
		return s.LiveState(ctx, tenant, id, "", true)
	}
	return LiveView{}, errs.New(errs.Conflict, "edit-conflict", "live show %s keeps changing; retry", id)
}

// liveTransition is the session cmd makes of sess.
func (s *Service) liveTransition(q Quiz, sess Session, cmd Command) (Session, error) {
	now := s.now()
	bad := func() (Session, error) {
		return Session{}, errs.New(errs.Conflict, "bad-command", "cannot %s a show in phase %s", cmd, sess.Phase)
	}
	next := sess
	next.Version++
	switch {
	case sess.Phase == Ended:
		if cmd == End {
			return next, nil // ending again finishes an interrupted payout
		}
		return bad()
	case cmd == End:
		next.Phase, next.Paused, next.EndedAt = Ended, false, &now
	case cmd == Next && sess.Phase == Asking, cmd == Skip && sess.Phase == Asking:
		next.Phase, next.Paused = Showing, false
		if cmd == Skip {
			next.Skipped = append(slices.Clone(sess.Skipped), sess.Index)
		}
	case cmd == Next && sess.Index+1 >= len(sess.Questions):
		next.Phase, next.EndedAt = Ended, &now
	case cmd == Next:
		qq, _ := q.question(sess.Questions[sess.Index+1])
		limit := qq.limit()
		if limit == 0 {
			limit = time.Duration(q.Live.seconds()) * time.Second
		}
		next.Phase, next.Index, next.OpenedAt, next.Deadline = Asking, sess.Index+1, now, now.Add(limit)
	case cmd == Pause && sess.Phase == Asking && !sess.Paused:
		next.Paused, next.Remaining = true, max(0, sess.Deadline.Sub(now))
	case cmd == Resume && sess.Phase == Asking && sess.Paused:
		// The clock restarts where it stopped: answers are timed from an
		// opening moved on by the pause.
		next.Paused, next.Deadline = false, now.Add(sess.Remaining)
		next.OpenedAt = sess.OpenedAt.Add(now.Sub(sess.Deadline.Add(-sess.Remaining)))
		next.Remaining = 0
	default:
		return bad()
	}
	return next, nil
}

// after runs what a won transition from prev to next causes: pushes,
// scoring, the close timer, the end's payout.
func (s *Service) after(ctx context.Context, q Quiz, prev, next Session) error {
	switch {
	case prev.Phase == Asking && next.Phase != Asking:
		if err := s.scoreQuestion(ctx, q, next, prev.Index); err != nil {
			return err
		}
	case prev.Phase == Showing:
		// The node that closed the question may have died before scoring
		// it: scoring again is a no-op once done (the engine keeps the
		// first), and otherwise scores and pushes the results now.
		if err := s.scoreQuestion(ctx, q, prev, prev.Index); err != nil {
			return err
		}
	}
	switch {
	case next.Phase == Asking && !next.Paused && (prev.Phase != Asking || prev.Paused):
		if !prev.Paused {
			s.publish(ctx, next, "quiz.question", s.questionFrame(q, next))
		} else {
			s.publish(ctx, next, "quiz.resumed", map[string]any{"session_id": next.ID, "index": next.Index,
				"deadline": next.Deadline, "server_time": s.now()})
		}
		s.closeAt(next)
	case next.Paused && !prev.Paused:
		s.publish(ctx, next, "quiz.paused", map[string]any{"session_id": next.ID, "index": next.Index,
			"remaining_ms": next.Remaining.Milliseconds()})
	case next.Phase == Ended:
		return s.finishShow(ctx, q, next)
	}
	return nil
}

// closeAt closes sess's open question at its deadline on this node, so
// results follow the deadline without waiting for the host. A timer that
// finds the show moved on (closed early, paused, on another node) does
// nothing; if this node dies first, another node's sweep closes it.
func (s *Service) closeAt(sess Session) {
	k := sess.Tenant + "|" + sess.ID
	// The close applies only to the question this timer was set for:
	// the show may have moved on meanwhile, here or on another node.
	open := func(cur Session) bool {
		return cur.Phase == Asking && cur.Index == sess.Index && !cur.Paused && cur.Version == sess.Version
	}
	s.timersMu.Lock()
	defer s.timersMu.Unlock()
	if old, ok := s.timers[k]; ok {
		old.Stop() // a show has one open question at a time
	}
	var t *time.Timer
	t = time.AfterFunc(time.Until(sess.Deadline), func() {
		s.timersMu.Lock()
		if s.timers[k] == t {
			delete(s.timers, k)
		}
		s.timersMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := s.host(ctx, sess.Tenant, sess.ID, Next, open); err != nil {
			s.Logger.Warn("quizzes: close live question at its deadline", "session", sess.ID, "err", err)
		}
	})
	s.timers[k] = t
}

// Close stops this node's question timers and its deadline sweep.
func (s *Service) Close() {
	s.closed.Do(func() { close(s.stop) })
	s.swept.Wait()
	s.timersMu.Lock()
	defer s.timersMu.Unlock()
	for _, t := range s.timers {
		t.Stop()
	}
	clear(s.timers)
}

// sweepEvery is how late, at worst, a question closes when the node that
// opened it (and armed its exact timer) is gone.
const sweepEvery = 250 * time.Millisecond

// sweep closes, on every node, the questions whose deadline passed: the
// engine's due set is shared, and the close is a compare-and-set of the
// session, so of the nodes (and the opener's timer) exactly one closes a
// question and broadcasts its results.
func (s *Service) sweep() {
	defer s.swept.Done()
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.closeDue()
		}
	}
}

func (s *Service) closeDue() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := s.Now()
	due, err := s.Engine.Due(ctx, now, 100)
	if err != nil {
		s.Logger.Warn("quizzes: read due live questions", "err", err)
		return
	}
	for _, d := range due {
		open := func(cur Session) bool {
			return cur.Phase == Asking && !cur.Paused && cur.Deadline.Equal(d.At) && !now.Before(cur.Deadline)
		}
		_, err := s.host(ctx, d.Tenant, d.ID, Next, open)
		if _, known := errs.As(err); err != nil && !known {
			s.Logger.Warn("quizzes: close live question at its deadline", "session", d.ID, "err", err)
			continue // kept: the next sweep retries
		}
		if err := s.Engine.Unschedule(ctx, d); err != nil {
			s.Logger.Warn("quizzes: unschedule live question", "session", d.ID, "err", err)
		}
	}
}
