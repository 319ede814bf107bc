package ugc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/points"
	"github.com/questline/questline/ugc/text"
)

// Payer pays points once per key and reverses a credit once.
type Payer interface {
	PayOnce(ctx context.Context, tenant, user string, amount int64, key, reason, eventID string) (paidByEvent string, balance int64, err error)
	Reverse(ctx context.Context, tenant, key string) (points.Change, error)
}

// Emitter feeds system events (ugc.approved) into the event stream, so
// challenges, badges and boards count approvals.
type Emitter interface {
	Emit(ctx context.Context, ev events.Event) error
}

// Notifier pushes a frame to a user's live connections.
type Notifier interface {
	PublishUser(ctx context.Context, tenant, user, typ string, data any) error
}

// Auditor records moderation and erasure in the audit log.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) error
}

// Config is what a Service runs on. Payer, Emitter, Notifier and Auditor
// may be nil (tests).
type Config struct {
	Store    Store
	Payer    Payer
	Emitter  Emitter
	Notifier Notifier
	Auditor  Auditor
	Logger   *slog.Logger
}

// Service runs user-generated content.
type Service struct {
	Config
	now func() time.Time
}

// NewService returns a UGC service.
func NewService(c Config) *Service {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return &Service{Config: c, now: time.Now}
}

// clock is the time stored on records: UTC milliseconds, as both stores
// keep it.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Settings returns the tenant's settings, or the defaults.
func (s *Service) Settings(ctx context.Context, tenant string) (Settings, error) {
	st, ok, err := s.Store.GetSettings(ctx, tenant)
	if err != nil {
		return Settings{}, fmt.Errorf("ugc: settings: %w", err)
	}
	if !ok {
		return DefaultSettings(), nil
	}
	return st, nil
}

// PutSettings saves the tenant's settings.
func (s *Service) PutSettings(ctx context.Context, tenant string, st Settings) (Settings, error) {
	if st.Checks.MaxLength < st.Checks.MinLength {
		return Settings{}, invalid("body.checks.max_length", "bad-length", "max_length must be at least min_length")
	}
	if err := s.Store.PutSettings(ctx, tenant, st); err != nil {
		return Settings{}, fmt.Errorf("ugc: put settings: %w", err)
	}
	return st, nil
}

// Get returns one submission of the tenant.
func (s *Service) Get(ctx context.Context, tenant, id string) (Submission, error) {
	sub, err := s.Store.GetSubmission(ctx, tenant, id)
	if errors.Is(err, errs.ErrNotFound) {
		return Submission{}, notFound(id)
	}
	if err != nil {
		return Submission{}, fmt.Errorf("ugc: get %s: %w", id, err)
	}
	return sub, nil
}

// StatusCounts counts the tenant's submissions per status now.
func (s *Service) StatusCounts(ctx context.Context, tenant string) (StatusCounts, error) {
	c, err := s.Store.CountByStatus(ctx, tenant)
	if err != nil {
		return StatusCounts{}, fmt.Errorf("ugc: status counts: %w", err)
	}
	return c, nil
}

func notFound(id string) error {
	return errs.New(errs.NotFound, "submission-not-found", "no submission %q", id)
}

// Submit checks and stores a new submission, pending moderation. A
// second review of the same product by the same user is an edit of the
// first. A failed check stores nothing.
func (s *Service) Submit(ctx context.Context, tenant, user string, in Input) (Submission, error) {
	c := Content{Rating: in.Rating, Title: in.Title, Body: in.Body, Steps: in.Steps, Media: in.Media, Link: in.Link}
	again := Edit{Rating: &c.Rating, Title: &c.Title, Body: &c.Body, Media: &c.Media, Tags: &in.Tags}
	if in.Kind == Review && in.ProductID != "" {
		if prev, err := s.Store.UserReview(ctx, tenant, user, in.ProductID); err == nil {
			return s.edit(ctx, prev, again)
		} else if !errors.Is(err, errs.ErrNotFound) {
			return Submission{}, fmt.Errorf("ugc: submit: %w", err)
		}
	}
	if err := validate(in.Kind, in.ProductID, in.Tags, c); err != nil {
		return Submission{}, err
	}
	st, err := s.Settings(ctx, tenant)
	if err != nil {
		return Submission{}, err
	}
	now := s.clock()
	sub := Submission{
		ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, User: user, Kind: in.Kind, ProductID: in.ProductID,
		Tags: in.Tags, Status: Pending, Content: c, CreatedAt: now, UpdatedAt: now, QueuedAt: now, Version: 1,
	}
	if err := s.check(ctx, st, &sub); err != nil {
		return Submission{}, err
	}
	if sub.Verified, err = s.verified(ctx, sub); err != nil {
		return Submission{}, err
	}
	// Slots are taken last, so a submission the checks refuse uses none.
	if err := s.underLimits(ctx, st.Checks, tenant, user, now); err != nil {
		return Submission{}, err
	}
	stored, inserted, err := s.Store.CreateSubmission(ctx, sub)
	if err != nil {
		return Submission{}, fmt.Errorf("ugc: submit: %w", err)
	}
	if !inserted {
		// A concurrent first review of the product won: this one edits it.
		return s.edit(ctx, stored, again)
	}
	return stored, nil
}

// underLimits takes a slot of the user's hourly limit and of the daily
// cap, or refuses the submission. The hour is checked first: when the day
// is full the hour's slot is lost, which is harmless since the hour lies
// inside the refused day.
func (s *Service) underLimits(ctx context.Context, c Checks, tenant, user string, now time.Time) error {
	hour, day := rateWindows(now)
	for _, w := range []struct {
		key   string
		limit int
		full  func() error
	}{
		{"h" + hour.Format("2006010215"), c.PerHour, func() error { return hourFull(c) }},
		{"d" + day.Format("20060102"), c.PerDay, func() error { return dayFull(c, day) }},
	} {
		if w.limit <= 0 {
			continue
		}
		ok, err := s.Store.TakeSlot(ctx, tenant, user, w.key, w.limit)
		if err != nil {
			return fmt.Errorf("ugc: submit: rate slot: %w", err)
		}
		if !ok {
			return w.full()
		}
	}
	return nil
}

// check runs the content checks on sub's latest version and fills its
// fingerprints.
func (s *Service) check(ctx context.Context, st Settings, sub *Submission) error {
	if err := textChecks(st.Checks, sub.Kind, sub.Content); err != nil {
		return err
	}
	n := fingerprint(sub)
	if n == "" {
		return nil
	}
	if !st.Checks.Duplicates {
		return nil
	}
	cands, err := s.Store.SimilarTexts(ctx, sub.Tenant, sub.TextHash, text.Bands(sub.Signature), sub.ID, similarLimit)
	if err != nil {
		return fmt.Errorf("ugc: duplicate check: %w", err)
	}
	return duplicateOf(st.Checks, sub.TextHash, sub.Signature, len(text.Words(n)), cands)
}

// fingerprint fills sub's duplicate fingerprints from its content and
// returns the normalised text they were taken of.
func fingerprint(sub *Submission) string {
	n := text.Normalize(sub.Content.mainText())
	sub.TextHash, sub.Signature = text.Hash(n), text.Signature(n)
	if n == "" {
		sub.TextHash = "" // media without words is nobody's duplicate
	}
	return n
}

// similarLimit bounds the candidates one duplicate check reads: one
// exact or near match is enough to refuse.
const similarLimit = 50

// Edit changes the author's submission. An approved one goes back to
// moderation while its approved version stays public.
func (s *Service) Edit(ctx context.Context, tenant, user, id string, e Edit) (Submission, error) {
	sub, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Submission{}, err
	}
	if sub.User != user {
		return Submission{}, notFound(id)
	}
	return s.edit(ctx, sub, e)
}

func (s *Service) edit(ctx context.Context, sub Submission, e Edit) (Submission, error) {
	if sub.Status == Removed {
		return Submission{}, errs.New(errs.Conflict, "submission-removed", "a removed submission cannot be edited")
	}
	next := sub
	next.Content, next.Tags = e.apply(sub.Content, sub.Tags)
	if err := validate(sub.Kind, sub.ProductID, next.Tags, next.Content); err != nil {
		return Submission{}, err
	}
	st, err := s.Settings(ctx, sub.Tenant)
	if err != nil {
		return Submission{}, err
	}
	if err := s.check(ctx, st, &next); err != nil {
		return Submission{}, err
	}
	now := s.clock()
	next.Status, next.QueuedAt, next.UpdatedAt, next.Reason = Pending, now, now, ""
	next.LeaseBy, next.LeaseUntil = "", time.Time{}
	if sub.Public != nil && !slices.Contains(next.Flags, FlagEdited) {
		next.Flags = append(slices.Clone(next.Flags), FlagEdited)
	}
	return s.save(ctx, sub, next)
}

// Queue flags.
const (
	FlagEdited   = "edited"   // an approved submission's new version
	FlagReported = "reported" // sent back by abuse reports
)

// save writes next over prev, bumping the version; a concurrent change
// is a 409.
func (s *Service) save(ctx context.Context, prev, next Submission) (Submission, error) {
	next.Version = prev.Version + 1
	err := s.Store.SaveSubmission(ctx, prev, next)
	if errors.Is(err, errs.ErrDuplicate) {
		return Submission{}, errs.New(errs.Conflict, "edit-conflict", "the submission changed meanwhile; read it again and retry")
	}
	if errors.Is(err, errs.ErrNotFound) {
		return Submission{}, notFound(prev.ID)
	}
	if err != nil {
		return Submission{}, fmt.Errorf("ugc: save %s: %w", prev.ID, err)
	}
	return next, nil
}

// Mine pages the user's submissions newest first.
func (s *Service) Mine(ctx context.Context, tenant, user, before string, limit int) ([]Submission, error) {
	subs, err := s.Store.UserSubmissions(ctx, tenant, user, before, limit)
	if err != nil {
		return nil, fmt.Errorf("ugc: my submissions: %w", err)
	}
	return subs, nil
}

// Feed pages a product's public feed.
func (s *Service) Feed(ctx context.Context, tenant, product string, q FeedQuery) ([]Submission, error) {
	subs, err := s.Store.Feed(ctx, tenant, product, q)
	if err != nil {
		return nil, fmt.Errorf("ugc: feed of %s: %w", product, err)
	}
	return subs, nil
}

// RebuildSummary recounts a product's rating summary from its listed
// reviews.
func (s *Service) RebuildSummary(ctx context.Context, tenant, product string) (Summary, error) {
	sum, err := s.Store.RebuildSummary(ctx, tenant, product)
	if err != nil {
		return Summary{}, fmt.Errorf("ugc: rebuild summary of %s: %w", product, err)
	}
	return sum.WithAverage(), nil
}

// Counters are a submission's recounted helpful and report counters.
type Counters struct {
	Helpful int64 `json:"helpful" doc:"Helpful votes."`
	Reports int64 `json:"reports" doc:"Abuse reports."`
}

// RecountMarks recounts a submission's helpful and report counters from
// its votes and reports.
func (s *Service) RecountMarks(ctx context.Context, tenant, id string) (Counters, error) {
	h, r, err := s.Store.RecountMarks(ctx, tenant, id)
	if errors.Is(err, errs.ErrNotFound) {
		return Counters{}, notFound(id)
	}
	if err != nil {
		return Counters{}, fmt.Errorf("ugc: recount %s: %w", id, err)
	}
	return Counters{Helpful: h, Reports: r}, nil
}

// Summary returns a product's rating summary.
func (s *Service) Summary(ctx context.Context, tenant, product string) (Summary, error) {
	sum, err := s.Store.Summary(ctx, tenant, product)
	if err != nil {
		return Summary{}, fmt.Errorf("ugc: summary of %s: %w", product, err)
	}
	return sum.WithAverage(), nil
}
