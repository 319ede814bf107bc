package loyalty

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/points"
)

// ReferralProgramme is a tenant's referral terms.
type ReferralProgramme struct {
	QualifyingEvent string    `json:"qualifying_event" minLength:"1" maxLength:"64" doc:"The event type a referred user must send (e.g. purchase) for both sides to be paid: their first one after claiming."`
	ReferrerPoints  int64     `json:"referrer_points" minimum:"0" maximum:"1000000"`
	RefereePoints   int64     `json:"referee_points" minimum:"0" maximum:"1000000"`
	MonthlyCap      int64     `json:"monthly_cap,omitempty" minimum:"0" maximum:"100000" doc:"Most referrals paid to one referrer per calendar month (UTC); 0 is no cap. Past it the referee is still paid."`
	Version         int64     `json:"version" minimum:"0" doc:"On PUT: the version last read (0 at first)."`
	UpdatedAt       time.Time `json:"updated_at,omitzero" readOnly:"true"`
}

// Claim is a referee's use of a referrer's code, and its completion.
type Claim struct {
	Tenant       string     `json:"-"`
	Referee      string     `json:"referee"`
	Referrer     string     `json:"referrer"`
	Code         string     `json:"code"`
	ClaimedAt    time.Time  `json:"claimed_at"`
	EventID      string     `json:"event_id,omitempty" doc:"The qualifying event that completed it."`
	CompletedAt  *time.Time `json:"completed_at,omitempty"`
	ReferrerPaid bool       `json:"referrer_paid,omitempty" doc:"False when the referrer's monthly cap was reached."`
}

// ReferralStore keeps codes and claims.
type ReferralStore interface {
	// ReferralProgramme returns the tenant's terms; found is false without.
	ReferralProgramme(ctx context.Context, tenant string) (ReferralProgramme, bool, error)
	// PutReferralProgramme stores p if the stored version is p.Version-1.
	PutReferralProgramme(ctx context.Context, tenant string, p ReferralProgramme) error
	// ReferralCode stores code as user's unless they have one, and
	// returns theirs; a code another user holds is errs.ErrDuplicate.
	ReferralCode(ctx context.Context, tenant, user, code string) (string, error)
	// CodeOwner returns the user holding code, errs.ErrNotFound if none.
	CodeOwner(ctx context.Context, tenant, code string) (string, error)
	// InsertClaim stores c; a referee who claimed before is
	// errs.ErrDuplicate.
	InsertClaim(ctx context.Context, c Claim) error
	// ClaimOf returns the referee's claim; found is false without one.
	ClaimOf(ctx context.Context, tenant, referee string) (Claim, bool, error)
	// CompleteClaim records the completion of the referee's claim unless
	// it is complete already, and returns the claim as stored.
	CompleteClaim(ctx context.Context, tenant, referee, eventID string, referrerPaid bool, at time.Time) (Claim, error)
	// CountCompleted counts the referrer's completed, paid claims
	// completed in [from, to).
	CountCompleted(ctx context.Context, tenant, referrer string, from, to time.Time) (int64, error)
}

// PutReferrals sets the tenant's referral terms; version is the one last
// read (0 at first).
func (s *Service) PutReferrals(ctx context.Context, tenant string, version int64, p ReferralProgramme) (ReferralProgramme, error) {
	if err := events.CheckType(ctx, s.Types, tenant, p.QualifyingEvent, "body.qualifying_event"); err != nil {
		return ReferralProgramme{}, err
	}
	p.Version, p.UpdatedAt = version+1, s.Now().UTC().Truncate(time.Millisecond)
	err := s.Store.PutReferralProgramme(ctx, tenant, p)
	if errors.Is(err, errs.ErrDuplicate) || errors.Is(err, errs.ErrNotFound) {
		return ReferralProgramme{}, errs.New(errs.Conflict, "edit-conflict", "the referral terms changed meanwhile; read them again and send their version")
	}
	if err != nil {
		return ReferralProgramme{}, fmt.Errorf("loyalty: put referral terms: %w", err)
	}
	s.refs.Drop(tenant)
	if s.Bus != nil {
		s.Bus.Publish(ctx, referralsTopic, tenant)
	}
	return p, nil
}

const referralsTopic = "referrals"

// qualifies reports whether ev is of the tenant's referral qualifying
// type, from the node's cache of the terms.
func (s *Service) qualifies(ctx context.Context, ev events.Event) (ReferralProgramme, bool, error) {
	p, err := s.refs.Get(ctx, ev.Tenant, s.Now(), func(ctx context.Context) (ReferralProgramme, error) {
		p, _, err := s.Store.ReferralProgramme(ctx, ev.Tenant)
		return p, err
	})
	if err != nil {
		return ReferralProgramme{}, false, fmt.Errorf("loyalty: referral terms: %w", err)
	}
	return p, p.QualifyingEvent != "" && p.QualifyingEvent == ev.Type, nil
}

// Referrals returns the tenant's referral terms (version 0 without).
func (s *Service) Referrals(ctx context.Context, tenant string) (ReferralProgramme, error) {
	p, _, err := s.Store.ReferralProgramme(ctx, tenant)
	if err != nil {
		return ReferralProgramme{}, fmt.Errorf("loyalty: referral terms: %w", err)
	}
	return p, nil
}

// codeAlphabet leaves out look-alikes (0/O, 1/I/L), as codes are typed.
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

func newCode() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(b)
}

// Code returns the user's referral code, made on first use.
func (s *Service) Code(ctx context.Context, tenant, user string) (string, error) {
	for range 5 {
		code, err := s.Store.ReferralCode(ctx, tenant, user, newCode())
		if errors.Is(err, errs.ErrDuplicate) {
			continue // another user's code: draw again
		}
		if err != nil {
			return "", fmt.Errorf("loyalty: referral code of %s: %w", user, err)
		}
		return code, nil
	}
	return "", fmt.Errorf("loyalty: referral code of %s: no free code", user)
}

// maxChain bounds the walk up a referrer chain looking for a cycle.
const maxChain = 100

// ClaimCode makes referee the referral of code's owner, once: their own
// code, a second claim and a claim closing a cycle (the owner was
// referred, directly or not, by the referee) are refused.
func (s *Service) ClaimCode(ctx context.Context, tenant, referee, code string) (Claim, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	owner, err := s.Store.CodeOwner(ctx, tenant, code)
	if errors.Is(err, errs.ErrNotFound) {
		return Claim{}, errs.New(errs.NotFound, "referral-code-not-found", "no referral code %q", code)
	}
	if err != nil {
		return Claim{}, fmt.Errorf("loyalty: claim %s: %w", code, err)
	}
	if owner == referee {
		return Claim{}, errs.New(errs.Unprocessable, "self-referral", "a user cannot claim their own code").OnField("body.code")
	}
	if err := s.checkCycle(ctx, tenant, owner, referee); err != nil {
		return Claim{}, err
	}
	c := Claim{Tenant: tenant, Referee: referee, Referrer: owner, Code: code, ClaimedAt: s.Now().UTC().Truncate(time.Millisecond)}
	err = s.Store.InsertClaim(ctx, c)
	if errors.Is(err, errs.ErrDuplicate) {
		return Claim{}, errs.New(errs.Conflict, "already-referred", "this user has claimed a referral code already")
	}
	if err != nil {
		return Claim{}, fmt.Errorf("loyalty: claim %s: %w", code, err)
	}
	return c, nil
}

// checkCycle refuses a claim whose referrer chain leads back to referee.
func (s *Service) checkCycle(ctx context.Context, tenant, owner, referee string) error {
	for u, i := owner, 0; i < maxChain; i++ {
		c, found, err := s.Store.ClaimOf(ctx, tenant, u)
		if err != nil {
			return fmt.Errorf("loyalty: referral chain: %w", err)
		}
		if !found {
			return nil
		}
		if c.Referrer == referee {
			return errs.New(errs.Unprocessable, "referral-cycle", "this code's owner was referred by you, directly or not").OnField("body.code")
		}
		u = c.Referrer
	}
	return errs.New(errs.Unprocessable, "referral-cycle", "the referral chain is too long").OnField("body.code")
}

// completeReferral pays a referral whose referee sent the qualifying
// event: the completion is stored once (with whether the referrer's cap
// allowed their share), then both credits, keyed by the referee, and
// referral.completed, keyed too. A replay redoes the keyed writes only.
func (s *Service) completeReferral(ctx context.Context, ev events.Event, r *events.Result) ([]events.Event, error) {
	p, ok, err := s.qualifies(ctx, ev)
	if err != nil || !ok {
		return nil, err
	}
	c, found, err := s.Store.ClaimOf(ctx, ev.Tenant, ev.User)
	if err != nil || !found || c.CompletedAt != nil && c.EventID != ev.ID {
		return nil, err
	}
	if c.CompletedAt == nil {
		paid := true
		if p.MonthlyCap > 0 {
			at := ev.OccurredAt.UTC()
			from := time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC)
			n, err := s.Store.CountCompleted(ctx, ev.Tenant, c.Referrer, from, from.AddDate(0, 1, 0))
			if err != nil {
				return nil, fmt.Errorf("loyalty: referral cap: %w", err)
			}
			paid = n < p.MonthlyCap
		}
		if c, err = s.Store.CompleteClaim(ctx, ev.Tenant, ev.User, ev.ID, paid, ev.OccurredAt); err != nil {
			return nil, fmt.Errorf("loyalty: complete referral of %s: %w", ev.User, err)
		}
		if c.EventID != ev.ID {
			return nil, nil // another event completed it first
		}
	}
	pay := []points.Credit{{Tenant: ev.Tenant, User: ev.User, Amount: p.RefereePoints, Key: "referral:" + ev.User + ":referee",
		Reason: "referral: welcome", EventID: ev.ID}}
	// A referrer erased since the claim is nobody: the referee is still
	// welcomed, the pseudonym is paid nothing and told nothing.
	gone := auth.Erased(c.Referrer)
	if c.ReferrerPaid && !gone {
		pay = append(pay, points.Credit{Tenant: ev.Tenant, User: c.Referrer, Amount: p.ReferrerPoints, Key: "referral:" + ev.User + ":referrer",
			Reason: "referral: " + ev.User + " joined", EventID: ev.ID})
	}
	for _, cr := range pay {
		if cr.Amount <= 0 {
			continue
		}
		e, t, err := s.Ledger.Credit(ctx, cr)
		if err != nil {
			return nil, fmt.Errorf("loyalty: pay referral of %s: %w", ev.User, err)
		}
		if cr.User == ev.User {
			r.Points = append(r.Points, events.Points{Amount: e.Amount, Reason: e.Reason, Balance: t.Balance})
		}
	}
	if gone {
		return nil, nil
	}
	return []events.Event{{Tenant: ev.Tenant, User: c.Referrer, Type: "referral.completed", OccurredAt: ev.OccurredAt,
		IdempotencyKey: "referral.completed:" + ev.User,
		Props:          map[string]any{"referrer": c.Referrer, "referee": ev.User, "code": c.Code, "referrer_paid": c.ReferrerPaid}}}, nil
}
