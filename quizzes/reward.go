package quizzes

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
)

// settle writes a finished attempt's effects once: quiz.completed into the
// event stream (so rules and event boards see it), then the reward. Each
// is keyed by the attempt, so a retry after a crash repeats nothing; the
// attempt is marked settled when all are written.
func (s *Service) settle(ctx context.Context, q Quiz, a Attempt) (Attempt, error) {
	if a.Status != Finished || a.Settled {
		return a, nil
	}
	if err := s.completed(ctx, q, a); err != nil {
		return Attempt{}, fmt.Errorf("quizzes: settle %s: %w", a.ID, err)
	}
	a.Settled = true
	a.Version++
	err := s.Store.UpdateAttempt(ctx, a)
	if errors.Is(err, errs.ErrDuplicate) {
		// Another request settled it meanwhile; what it wrote is the same.
		return s.Store.GetAttempt(ctx, a.Tenant, a.ID)
	}
	if err != nil {
		return Attempt{}, fmt.Errorf("quizzes: settle %s: %w", a.ID, err)
	}
	s.push(ctx, a.Tenant, a.User, "quiz.completed", map[string]any{
		"quiz_id": q.ID, "attempt_id": a.ID, "score": a.Score, "max_score": a.MaxScore, "passed": a.Passed,
	})
	return a, nil
}

func (s *Service) completed(ctx context.Context, q Quiz, a Attempt) error {
	emit := []events.Event{{
		Tenant: a.Tenant, User: a.User, Type: "quiz.completed",
		Props: map[string]any{
			"quiz_id": q.ID, "attempt_id": a.ID, "kind": string(q.Kind),
			"score": float64(a.Score), "max_score": float64(a.MaxScore), "passed": a.Passed,
			// answered and questions give analytics the attempt's drop-off
			// point: a finish before the last question answers fewer.
			"answered": float64(len(a.Answers)), "questions": float64(len(a.Questions)),
		},
		OccurredAt:     *a.FinishedAt,
		IdempotencyKey: "quiz.completed:" + a.ID,
	}}
	if q.RewardOn != OnPass || a.Passed {
		sys, err := s.pay(ctx, a.Tenant, a.User, q.Reward, "quiz:"+q.ID, "quiz:"+q.ID+":"+a.ID, "quiz "+q.Name, *a.FinishedAt)
		if err != nil {
			return err
		}
		emit = append(emit, sys...)
	}
	return s.emit(ctx, emit)
}

// pay pays a reward the way challenges do: points keyed by key, a badge
// and unlockable content from source, each at most once.
func (s *Service) pay(ctx context.Context, tenant, user string, r challenges.Reward, source, key, reason string, at time.Time) ([]events.Event, error) {
	var emit []events.Event
	if r.Points > 0 && s.Payer != nil {
		if _, _, err := s.Payer.PayOnce(ctx, tenant, user, r.Points, key, reason, key); err != nil {
			return nil, fmt.Errorf("pay %s: %w", key, err)
		}
		emit = append(emit, events.Event{
			Tenant: tenant, User: user, Type: "points.earned",
			Props:      map[string]any{"amount": float64(r.Points), "key": key},
			OccurredAt: at, IdempotencyKey: "points.earned:" + key,
		})
	}
	if r.Badge != "" && s.Awarder != nil {
		sys, err := s.Awarder.Award(ctx, tenant, user, r.Badge, source, key)
		if e, ok := errs.As(err); ok && (e.Kind == errs.NotFound || e.Kind == errs.Conflict) {
			err = nil // the badge is gone or unpublished: nothing to award, and retrying cannot help
		}
		if err != nil {
			return nil, fmt.Errorf("badge %s: %w", r.Badge, err)
		}
		emit = append(emit, sys...)
	}
	if r.Unlock != "" && s.Unlocker != nil {
		u := challenges.Unlock{Tenant: tenant, User: user, Content: r.Unlock, Source: source, UnlockedAt: s.now()}
		fresh, err := s.Unlocker.AddUnlock(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("unlock %s: %w", r.Unlock, err)
		}
		if fresh {
			s.push(ctx, tenant, user, "content.unlocked", u)
		}
	}
	return emit, nil
}

func (s *Service) emit(ctx context.Context, evs []events.Event) error {
	if s.Emitter == nil {
		return nil
	}
	for _, ev := range evs {
		if err := s.Emitter.Emit(ctx, ev); err != nil {
			return fmt.Errorf("emit %s: %w", ev.Type, err)
		}
	}
	return nil
}

// push is best effort: the durable state is written and views read it.
func (s *Service) push(ctx context.Context, tenant, user, typ string, data any) {
	if s.Publisher != nil {
		_ = s.Publisher.PublishUser(ctx, tenant, user, typ, data)
	}
}
