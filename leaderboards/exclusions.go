package leaderboards

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/errs"
)

// ExcludeInput names the user to take off a board and why.
type ExcludeInput struct {
	User   string `json:"user_id" minLength:"1" maxLength:"128"`
	Reason string `json:"reason" minLength:"1" maxLength:"500" doc:"Why, for the audit log (e.g. staff account, bot, fraud)."`
}

// Exclude takes a user off every kept period of a board and keeps them off
// future writes and rebuilds, recording who did it in the audit log.
func (s *Service) Exclude(ctx context.Context, tenant, actor, id string, in ExcludeInput) (Exclusion, error) {
	if !auth.ValidUser(in.User) {
		return Exclusion{}, errs.New(errs.Unprocessable, "bad-user-id", "%s", auth.UserRule).OnField("body.user_id")
	}
	b, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Exclusion{}, err
	}
	e := Exclusion{Tenant: tenant, Board: b.ID, User: in.User, By: actor, Reason: in.Reason, At: s.Now().UTC().Truncate(time.Millisecond)}
	if err := s.Store.Exclude(ctx, e); err != nil {
		return Exclusion{}, fmt.Errorf("leaderboards: exclude %s from %s: %w", in.User, id, err)
	}
	s.forget(ctx, tenant)
	if err := s.record(ctx, tenant, actor, "leaderboard.exclude", b.ID, in.User, in.Reason); err != nil {
		return Exclusion{}, err
	}
	if err := s.removeEverywhere(ctx, b, in.User); err != nil {
		return Exclusion{}, err
	}
	// A node whose board cache predates the exclusion may still write the
	// user for up to boardCacheTTL; take them off again once that is over.
	time.AfterFunc(boardCacheTTL+time.Second, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.removeEverywhere(ctx, b, in.User); err != nil {
			s.Logger.Warn("leaderboards: exclude, second pass", "board", b.ID, "user", in.User, "err", err)
		}
	})
	return e, nil
}

// Reinstate lifts an exclusion and puts the user back on every kept period
// of the board, derived from the source as any write is.
func (s *Service) Reinstate(ctx context.Context, tenant, actor, id, user string) error {
	b, err := s.Get(ctx, tenant, id)
	if err != nil {
		return err
	}
	err = s.Store.Reinstate(ctx, tenant, b.ID, user)
	if errors.Is(err, errs.ErrNotFound) {
		return errs.New(errs.NotFound, "not-excluded", "user %q is not excluded from board %s", user, id)
	}
	if err != nil {
		return fmt.Errorf("leaderboards: reinstate %s on %s: %w", user, id, err)
	}
	s.forget(ctx, tenant)
	if err := s.record(ctx, tenant, actor, "leaderboard.reinstate", b.ID, user, ""); err != nil {
		return err
	}
	for _, p := range b.keptPeriods(s.Now()) {
		if err := s.refresh(ctx, b, p, user); err != nil {
			return err
		}
	}
	return nil
}

// Exclusions lists who is kept off a board, by whom and why.
func (s *Service) Exclusions(ctx context.Context, tenant, id string) ([]Exclusion, error) {
	b, err := s.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	ex, err := s.Store.Exclusions(ctx, tenant, b.ID)
	if err != nil {
		return nil, fmt.Errorf("leaderboards: exclusions of %s: %w", id, err)
	}
	return ex, nil
}

func (s *Service) removeEverywhere(ctx context.Context, b Board, user string) error {
	for _, p := range b.keptPeriods(s.Now()) {
		key := engineKey(b.Tenant, b.ID, p.Name)
		if err := s.Engine.Remove(ctx, key, user); err != nil {
			return fmt.Errorf("leaderboards: remove %s from %s: %w", user, key, err)
		}
		s.live.touch(b)
	}
	return nil
}

// keptPeriods lists the periods of b still readable at now, newest first:
// back to the board's creation (or a late event's reach before it), and
// within the retention.
func (b Board) keptPeriods(now time.Time) []Period {
	switch b.Window {
	case AllTime, Custom:
		return []Period{b.currentPeriod(now)}
	}
	oldest := b.CreatedAt.Add(-lateReach)
	var out []Period
	// maxKept bounds the walk for a board kept forever.
	const maxKept = 1000
	for p := b.currentPeriod(now); !b.expired(p, now) && p.End.After(oldest) && len(out) < maxKept; {
		out = append(out, p)
		p, _ = b.periodAt(p.Start.Add(-time.Millisecond))
	}
	return out
}

func (s *Service) record(ctx context.Context, tenant, actor, action, board, user, reason string) error {
	if s.Auditor == nil {
		return nil
	}
	e := audit.Entry{
		ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, Actor: actor, Action: action,
		Subject: "leaderboard:" + board + "/user:" + user, At: s.Now().UTC().Truncate(time.Millisecond),
	}
	if reason != "" {
		e.Detail = map[string]string{"reason": reason}
	}
	if err := s.Auditor.Append(ctx, e); err != nil {
		return fmt.Errorf("leaderboards: audit %s: %w", action, err)
	}
	return nil
}
