package ugc

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
)

// Decision is a moderator's verdict on a queue item.
type Decision struct {
	Reason string `json:"reason" pattern:"^[a-z0-9-]{1,64}$" doc:"Reason code, e.g. ok, spam, off-topic, abusive, low-quality."`
	Note   string `json:"note,omitempty" maxLength:"2000" doc:"Moderator's note; never shown to the author or the public."`
}

// Queue lists pending items for moderator, oldest first, leaving out
// items another moderator holds a live lease on.
func (s *Service) Queue(ctx context.Context, tenant, moderator string, q QueueQuery) ([]Submission, error) {
	q.Moderator, q.Now = moderator, s.clock()
	subs, err := s.Store.Queue(ctx, tenant, q)
	if err != nil {
		return nil, fmt.Errorf("ugc: queue: %w", err)
	}
	return subs, nil
}

// Claim leases up to q.Limit queue items to moderator for the tenant's
// lease period, so no other moderator is handed them meanwhile, and
// returns them.
func (s *Service) Claim(ctx context.Context, tenant, moderator string, q QueueQuery) ([]Submission, error) {
	st, err := s.Settings(ctx, tenant)
	if err != nil {
		return nil, err
	}
	want := q.Limit
	q.Limit = want * 2 // some may be taken by a concurrent claim
	cands, err := s.Queue(ctx, tenant, moderator, q)
	if err != nil {
		return nil, err
	}
	out := []Submission{}
	for _, c := range cands {
		if len(out) == want {
			break
		}
		next := c
		next.LeaseBy, next.LeaseUntil = moderator, s.clock().Add(st.lease())
		saved, err := s.save(ctx, c, next)
		if errs.KindOf(err) == errs.Conflict || errs.KindOf(err) == errs.NotFound {
			continue // another moderator claimed it first, or it was erased
		}
		if err != nil {
			return nil, err
		}
		out = append(out, saved)
	}
	return out, nil
}

// Moderator is who decides: their id, for leases and the audit log.
type Moderator struct {
	Tenant, ID string
}

// Approve publishes the pending version of a submission, pays its points
// once and emits ugc.approved once. Approving an approved submission
// again changes nothing but finishes effects a crash may have cut short.
func (s *Service) Approve(ctx context.Context, m Moderator, id string, d Decision) (Submission, error) {
	sub, err := s.decide(ctx, m, id, d, Approved)
	if err != nil {
		return Submission{}, err
	}
	if err := s.approved(ctx, sub); err != nil {
		return Submission{}, err
	}
	return sub, s.settle(ctx, sub, OwePay)
}

// Reject refuses the pending version; an earlier approved version stays
// public. Rejecting content that abuse reports took down reverses what
// its approval paid.
func (s *Service) Reject(ctx context.Context, m Moderator, id string, d Decision) (Submission, error) {
	return s.takeDown(s.decide(ctx, m, id, d, Rejected))
}

// Remove takes approved content down: it leaves the feed and its
// product's summary, and the points its approval paid are reversed.
func (s *Service) Remove(ctx context.Context, m Moderator, id string, d Decision) (Submission, error) {
	return s.takeDown(s.decide(ctx, m, id, d, Removed))
}

// takeDown reverses the payouts of a decided submission that was approved
// once and is public no more. Repeating a decision repeats this, which
// finishes a reversal a crash cut short and reverses nothing twice.
func (s *Service) takeDown(sub Submission, err error) (Submission, error) {
	if err != nil || sub.ApprovedAt == nil || sub.Public != nil {
		return sub, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.reverse(ctx, sub, sub.Reason); err != nil {
		return sub, err
	}
	return sub, s.settle(ctx, sub, OweReverse)
}

// decide moves a submission to status to, audited with the reason. Two
// moderators deciding the same item alike both succeed and change it
// once; a different decision already made is a 409.
func (s *Service) decide(ctx context.Context, m Moderator, id string, d Decision, to Status) (Submission, error) {
	for range 3 {
		sub, err := s.Get(ctx, m.Tenant, id)
		if err != nil {
			return Submission{}, err
		}
		if done, err := s.decided(sub, to); done || err != nil {
			return sub, err
		}
		now := s.clock()
		if sub.LeaseBy != "" && sub.LeaseBy != m.ID && sub.LeaseUntil.After(now) {
			return Submission{}, errs.New(errs.Conflict, "claimed", "another moderator holds this item until %s", sub.LeaseUntil.Format(time.RFC3339))
		}
		next := sub
		next.Status, next.Reason, next.Note, next.UpdatedAt = to, d.Reason, d.Note, now
		next.LeaseBy, next.LeaseUntil, next.Flags = "", time.Time{}, nil
		switch to {
		case Approved:
			c := sub.Content
			next.Public, next.Reason, next.ApprovedAt = &c, d.Reason, &now
			// A purchase reported after the review was written verifies it.
			if next.Verified, err = s.verified(ctx, sub); err != nil {
				return Submission{}, err
			}
		case Removed:
			next.Public = nil
		}
		// Saved with the decision: what its effects still owe, cleared
		// once they are done (settle), finished by the sweep otherwise.
		next.Owed = owedBy(next)
		saved, err := s.save(ctx, sub, next)
		if errs.KindOf(err) == errs.Conflict {
			continue // re-read: a concurrent decision may be this one
		}
		if err != nil {
			return Submission{}, err
		}
		s.audit(ctx, m, saved, d)
		s.tell(ctx, saved)
		return saved, nil
	}
	return Submission{}, errs.New(errs.Conflict, "edit-conflict", "the submission keeps changing; retry")
}

// verified reports whether sub's author bought its product.
func (s *Service) verified(ctx context.Context, sub Submission) (bool, error) {
	if sub.Verified || sub.ProductID == "" {
		return sub.Verified, nil
	}
	ok, err := s.Store.Purchased(ctx, sub.Tenant, sub.User, sub.ProductID)
	if err != nil {
		return false, fmt.Errorf("ugc: verify %s: %w", sub.ID, err)
	}
	return ok, nil
}

// decided reports whether sub is already where a decision to would take
// it (nothing to do), or refuses a decision its state does not allow.
func (s *Service) decided(sub Submission, to Status) (bool, error) {
	switch {
	case sub.Status == to:
		return true, nil
	case to == Removed && sub.Public == nil:
		return false, errs.New(errs.Conflict, "not-public", "only public content can be removed; reject a pending one")
	case to != Removed && sub.Status != Pending:
		return false, errs.New(errs.Conflict, "not-pending", "the submission is %s, not pending", sub.Status)
	}
	return false, nil
}

// audit records a decision with who, what and why; the content itself is
// never copied into the log.
func (s *Service) audit(ctx context.Context, m Moderator, sub Submission, d Decision) {
	if s.Auditor == nil {
		return
	}
	detail := map[string]string{"reason": d.Reason, "status": string(sub.Status), "kind": string(sub.Kind)}
	if d.Note != "" {
		detail["note"] = d.Note
	}
	e := audit.Entry{
		Tenant: m.Tenant, Actor: m.ID, Action: "ugc." + string(sub.Status), Subject: "submission:" + sub.ID + "/user:" + sub.User,
		Detail: detail, At: s.clock(),
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.Auditor.Append(actx, e); err != nil {
		s.Logger.Error("ugc: a moderation decision was made but not recorded", "submission", sub.ID, "actor", m.ID, "err", err)
	}
}

// moderatedFrame is the author's live push on a decision.
type moderatedFrame struct {
	SubmissionID string `json:"submission_id"`
	Kind         Kind   `json:"kind"`
	Status       Status `json:"status"`
	Reason       string `json:"reason,omitempty"`
}

// tell pushes the decision to the author; a push is a courtesy on top of
// the durable state (GET /v1/me/submissions tells the truth).
func (s *Service) tell(ctx context.Context, sub Submission) {
	if s.Notifier == nil {
		return
	}
	_ = s.Notifier.PublishUser(ctx, sub.Tenant, sub.User, "ugc."+string(sub.Status),
		moderatedFrame{SubmissionID: sub.ID, Kind: sub.Kind, Status: sub.Status, Reason: sub.Reason})
}

// approved pays an approved submission's points, each rule once under
// its own key, and emits ugc.approved once. Every step is keyed, so
// running it again after a crash or a second approval pays nothing more.
func (s *Service) approved(ctx context.Context, sub Submission) error {
	st, err := s.Settings(ctx, sub.Tenant)
	if err != nil {
		return err
	}
	if s.Payer != nil {
		var paid []string
		for _, p := range s.payouts(st.Points, sub) {
			// The first-review key of a product already paid to another
			// review returns that payment and pays nothing here.
			by, _, err := s.Payer.PayOnce(ctx, sub.Tenant, sub.User, p.amount, p.key, p.reason, sub.ID)
			if err != nil {
				return fmt.Errorf("ugc: pay %s: %w", p.key, err)
			}
			if by == sub.ID {
				paid = append(paid, p.key)
			}
		}
		if err := s.recordPaid(ctx, sub, paid); err != nil {
			return err
		}
	}
	if s.Emitter == nil {
		return nil
	}
	pub := sub.Content
	if sub.Public != nil {
		pub = *sub.Public
	}
	props := map[string]any{"submission_id": sub.ID, "kind": string(sub.Kind), "verified": sub.Verified}
	if sub.ProductID != "" {
		props["product_id"] = sub.ProductID
	}
	if sub.Kind == Review {
		props["rating"] = pub.Rating
	}
	at := sub.CreatedAt
	if sub.ApprovedAt != nil {
		at = *sub.ApprovedAt
	}
	err = s.Emitter.Emit(ctx, events.Event{
		Tenant: sub.Tenant, User: sub.User, Type: "ugc.approved", Props: props, OccurredAt: at,
		IdempotencyKey: "ugc.approved:" + sub.ID,
	})
	if err != nil {
		return fmt.Errorf("ugc: emit ugc.approved %s: %w", sub.ID, err)
	}
	return nil
}

// recordPaid stores on the submission the keys its approval paid, so a
// take-down reverses exactly those. If the content was taken down while
// it was being paid, the payment is reversed at once.
func (s *Service) recordPaid(ctx context.Context, sub Submission, paid []string) error {
	for range 5 {
		if slices.Equal(sub.Paid, paid) || len(paid) == 0 {
			break
		}
		next := sub
		next.Paid = paid
		saved, err := s.save(ctx, sub, next)
		if errs.KindOf(err) == errs.NotFound {
			sub.Paid = paid // erased meanwhile: reverse below
			break
		}
		if err == nil {
			sub = saved
			break
		}
		if errs.KindOf(err) != errs.Conflict {
			return err
		}
		if sub, err = s.Get(ctx, sub.Tenant, sub.ID); errs.KindOf(err) == errs.NotFound {
			sub.Paid = paid
			break
		} else if err != nil {
			return err
		}
	}
	if sub.Public == nil {
		return s.reverse(ctx, sub, "removed")
	}
	return nil
}

// reversedFrame is the author's live push when points are taken back.
type reversedFrame struct {
	SubmissionID string `json:"submission_id"`
	Reason       string `json:"reason"`
	Points       int64  `json:"points" doc:"Points taken back."`
}

// reverse takes back every credit the submission's approval paid, each
// once (the ledger keys the reversals), and tells the author why. The
// submission's own keys (base, verified) are reversed even if a crash
// kept them out of Paid; the product's first-review key only when Paid
// says this submission holds it.
func (s *Service) reverse(ctx context.Context, sub Submission, reason string) error {
	if s.Payer == nil || sub.ApprovedAt == nil {
		return nil
	}
	keys := append([]string{"ugc:" + sub.ID + ":base", "ugc:" + sub.ID + ":verified"}, sub.Paid...)
	slices.Sort(keys)
	var taken int64
	fresh := false
	for _, key := range slices.Compact(keys) {
		ch, err := s.Payer.Reverse(ctx, sub.Tenant, key)
		if errs.KindOf(err) == errs.NotFound {
			continue // the ledger has no such credit: nothing to take back
		}
		if err != nil {
			return fmt.Errorf("ugc: reverse %s: %w", key, err)
		}
		fresh = fresh || !ch.Repeat
		taken += ch.Amount
	}
	if fresh && s.Notifier != nil {
		_ = s.Notifier.PublishUser(ctx, sub.Tenant, sub.User, "ugc.reversed", reversedFrame{SubmissionID: sub.ID, Reason: reason, Points: taken})
	}
	return nil
}

type payout struct {
	rule, key, reason string
	amount            int64
}

// payouts are the ledger credits an approval makes. The first-review
// bonus is keyed by product, not submission: the ledger's unique key
// lets exactly one review of a product ever hold it.
func (s *Service) payouts(p Points, sub Submission) []payout {
	c := sub.Content
	if sub.Public != nil {
		c = *sub.Public
	}
	rule, amount := p.base(sub, c)
	// One base key whatever the rule: an edit that adds photos is not
	// paid again as a photo review.
	out := []payout{{rule: rule, key: "ugc:" + sub.ID + ":base", reason: "ugc." + rule, amount: amount}}
	if sub.Kind == Review && sub.Verified {
		out = append(out, payout{rule: "verified", key: "ugc:" + sub.ID + ":verified", reason: "ugc.verified", amount: p.Verified})
	}
	if sub.Kind == Review {
		out = append(out, payout{rule: "first_review", key: "ugc:first:" + sub.ProductID, reason: "ugc.first_review", amount: p.FirstReview})
	}
	return slices.DeleteFunc(out, func(p payout) bool { return p.amount <= 0 })
}

// BulkResult is one item of a bulk decision.
type BulkResult struct {
	ID     string `json:"id"`
	Status Status `json:"status,omitempty"`
	Error  string `json:"error,omitempty" doc:"Why this item was not decided (its problem type)."`
}

// Bulk applies one decision to many items; each succeeds or fails on its
// own.
func (s *Service) Bulk(ctx context.Context, m Moderator, ids []string, d Decision, approve bool) ([]BulkResult, error) {
	out := make([]BulkResult, 0, len(ids))
	for _, id := range ids {
		do := s.Reject
		if approve {
			do = s.Approve
		}
		sub, err := do(ctx, m, id, d)
		if e, ok := errs.As(err); ok {
			out = append(out, BulkResult{ID: id, Error: e.Code})
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, BulkResult{ID: id, Status: sub.Status})
	}
	return out, nil
}

// ageFilter turns a minimum age in seconds into QueueQuery.Before.
func (s *Service) ageFilter(olderThan int) time.Time {
	if olderThan <= 0 {
		return time.Time{}
	}
	return s.clock().Add(-time.Duration(olderThan) * time.Second)
}

// What a decided submission still owes (Submission.Owed).
const (
	OwePay     = "pay"     // the approval's payouts and its ugc.approved
	OweReverse = "reverse" // the take-down's reversals
)

// owedBy is what the decision that made sub owes.
func owedBy(sub Submission) string {
	switch {
	case sub.Status == Approved:
		return OwePay
	case sub.ApprovedAt != nil && sub.Public == nil:
		return OweReverse
	}
	return ""
}

// settle clears sub's Owed mark once what it owed is done; a newer
// decision owing something else keeps its own mark.
func (s *Service) settle(ctx context.Context, sub Submission, owed string) error {
	for range 5 {
		cur, err := s.Get(ctx, sub.Tenant, sub.ID)
		if errs.KindOf(err) == errs.NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.Owed != owed {
			return nil
		}
		next := cur
		next.Owed = ""
		if _, err = s.save(ctx, cur, next); errs.KindOf(err) != errs.Conflict {
			return err
		}
	}
	return errs.New(errs.Conflict, "edit-conflict", "the submission keeps changing; retry")
}

// Sweep finishes what a crash (or a failed payout) left owed by
// decisions older than grace: the summary folds of their saves and the
// vote and report counters (MongoDB),
// an approval's keyed payouts and its ugc.approved, a take-down's
// reversals. Each is keyed, so finishing one
// twice changes nothing. It returns how many it settled.
func (s *Service) Sweep(ctx context.Context, grace time.Duration) (int, error) {
	n, err := s.Store.HealFolds(ctx, s.clock().Add(-grace), 1000)
	if err != nil {
		return 0, fmt.Errorf("ugc: sweep: %w", err)
	}
	if n > 0 {
		s.Logger.Info("ugc: sweep applied owed summary folds and counter recounts", "count", n)
	}
	n = 0
	for range sweepPages {
		subs, err := s.Store.Owed(ctx, s.clock().Add(-grace), 100)
		if err != nil {
			return n, fmt.Errorf("ugc: sweep: %w", err)
		}
		for _, sub := range subs {
			switch sub.Owed {
			case OwePay:
				err = s.approved(ctx, sub)
			case OweReverse:
				err = s.reverse(ctx, sub, sub.Reason)
			}
			if err == nil {
				err = s.settle(ctx, sub, sub.Owed)
			}
			if err != nil {
				return n, fmt.Errorf("ugc: sweep %s: %w", sub.ID, err)
			}
			n++
		}
		if len(subs) < 100 {
			break
		}
	}
	return n, nil
}

// sweepPages bounds one sweep (100 items a page); the next sweep goes on.
const sweepPages = 10

// RunSweeper sweeps owed effects at start and every interval until ctx
// ends; decisions younger than interval are left to the request that
// made them.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.Sweep(ctx, interval); err != nil && ctx.Err() == nil {
			s.Logger.Error("ugc: sweep failed", "settled", n, "err", err)
		} else if n > 0 {
			s.Logger.Info("ugc: sweep settled owed effects", "settled", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
