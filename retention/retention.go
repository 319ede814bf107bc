// Package retention keeps a tenant's per-event records (raw events,
// challenge and badge contributions, event-board scores) only as long as
// the tenant's retention setting says, and never shorter than a published
// rule still reads them. The folded state derived from them (challenge
// tallies, board totals, completions, awards, the ledger) is never pruned,
// so progress, boards and rebuilds keep working from it:
//
//   - a challenge whose progress is a plain sum reads its tallies, and a
//     rolling one the contributions of its window only;
//   - a challenge or badge that reads its contributions (distinct values,
//     ordered steps, limits) keeps those of every period it still counts,
//     and an all-time one keeps them forever;
//   - boards are rebuilt from their folded totals, not their scores
//     (leaderboards' rebuild); a points board's scores are not pruned at
//     all, being the record that a ledger entry (kept, and replayable by
//     its key, forever) was folded;
//   - an event still waiting for the sweeper keeps every record its replay
//     would find, so a replay never adds twice.
//
// A pruned event's idempotency key is forgotten with it: a client that
// resends a key more than the retention later makes a new event.
package retention

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
)

// DefaultDays is a tenant's retention until a manager sets one.
const DefaultDays = 400

// MaxDays bounds the setting (100 years): a longer one means "keep".
const MaxDays = 36500

// Forever is the Reach of records a rule reads for ever: never pruned.
const Forever = rule.Forever

// Target is one kind of per-event record of a tenant that a prune may
// thin, such as one challenge's contributions.
type Target struct {
	// What names it in logs, e.g. "contributions of challenge X".
	What string
	// Reach is how far back from now the records are still read by a
	// rule (0: by none); Forever keeps them all.
	Reach time.Duration
	// Prune deletes the records older than before and reports how many,
	// calling progress with the running count after each batch.
	Prune func(ctx context.Context, before time.Time, progress func(deleted int64)) (int64, error)
}

// Source lists a domain's targets of a tenant, as of now.
type Source interface {
	RetentionTargets(ctx context.Context, tenant string, now time.Time) ([]Target, error)
}

// Paged builds the targets of a domain whose definitions list pages by id
// (list returns up to pageSize after the given id): one target per
// definition, from target.
func Paged[T any](list func(after string) ([]T, error), id func(T) string, target func(T) Target) ([]Target, error) {
	var out []Target
	for after := ""; ; {
		page, err := list(after)
		if err != nil {
			return nil, err
		}
		for _, d := range page {
			out = append(out, target(d))
		}
		if len(page) < PageSize {
			return out, nil
		}
		after = id(page[len(page)-1])
	}
}

// PageSize is how many definitions Paged asks list for at a time.
const PageSize = 500

// Store keeps the settings and answers what the prune must respect.
type Store interface {
	// RetentionDays returns a tenant's setting; ok is false when unset.
	RetentionDays(ctx context.Context, tenant string) (days int, ok bool, err error)
	SetRetentionDays(ctx context.Context, tenant string, days int, at time.Time) error
	// PendingSince returns when the oldest event of tenant that is not
	// processed (waiting, retrying or dead) was received; ok is false when
	// there is none.
	PendingSince(ctx context.Context, tenant string) (at time.Time, ok bool, err error)
	// EventTenants lists every tenant with stored events.
	EventTenants(ctx context.Context) ([]string, error)
	// PruneEvents deletes the tenant's events received before `before`,
	// except those waiting for the sweeper (dead ones go), in batches.
	PruneEvents(ctx context.Context, tenant string, before time.Time, progress func(int64)) (int64, error)
}

// replayReach is how far before its receipt a pending event's records can
// lie: the intake accepts occurred_at up to 30 days back.
const replayReach = 31 * 24 * time.Hour

// Service runs the prune.
type Service struct {
	store   Store
	sources []Source
	logger  *slog.Logger
	now     func() time.Time
}

// NewService returns a retention service over store and the domains whose
// records it prunes.
func NewService(store Store, logger *slog.Logger, sources ...Source) *Service {
	return &Service{store: store, sources: sources, logger: logger, now: time.Now}
}

// Setting is a tenant's retention as the API shows it.
type Setting struct {
	Days          int  `json:"days" doc:"The tenant's retention in days: raw events and per-event records older than this are pruned."`
	Default       bool `json:"default" doc:"True while the tenant has not set one (the default is 400 days)."`
	MinimumDays   int  `json:"minimum_days" doc:"The longest window a published rule reads records from, in days: the setting may not be shorter."`
	EffectiveDays int  `json:"effective_days" doc:"What the prune applies: the larger of days and minimum_days."`
}

// Get returns tenant's setting.
func (s *Service) Get(ctx context.Context, tenant string) (Setting, error) {
	days, ok, err := s.store.RetentionDays(ctx, tenant)
	if err != nil {
		return Setting{}, fmt.Errorf("retention: get %s: %w", tenant, err)
	}
	if !ok {
		days = DefaultDays
	}
	_, floor, err := s.targets(ctx, tenant, s.now())
	if err != nil {
		return Setting{}, err
	}
	return Setting{Days: days, Default: !ok, MinimumDays: floor, EffectiveDays: max(days, floor)}, nil
}

// Set changes tenant's setting; it may not be shorter than what a
// published rule reads (422 retention-too-short on body.days).
func (s *Service) Set(ctx context.Context, tenant string, days int) (Setting, error) {
	now := s.now()
	_, floor, err := s.targets(ctx, tenant, now)
	if err != nil {
		return Setting{}, err
	}
	if days < floor {
		return Setting{}, errs.New(errs.Unprocessable, "retention-too-short",
			"days must be at least %d: a published rule reads records that far back", floor).OnField("body.days")
	}
	if err := s.store.SetRetentionDays(ctx, tenant, days, now); err != nil {
		return Setting{}, fmt.Errorf("retention: set %s: %w", tenant, err)
	}
	return Setting{Days: days, MinimumDays: floor, EffectiveDays: days}, nil
}

// targets gathers every source's targets of tenant and the longest
// bounded reach among them, in whole days rounded up.
func (s *Service) targets(ctx context.Context, tenant string, now time.Time) ([]Target, int, error) {
	var all []Target
	var longest time.Duration
	for _, src := range s.sources {
		ts, err := src.RetentionTargets(ctx, tenant, now)
		if err != nil {
			return nil, 0, fmt.Errorf("retention: targets of %s: %w", tenant, err)
		}
		for _, t := range ts {
			longest = max(longest, t.Reach)
		}
		all = append(all, ts...)
	}
	return all, days(longest), nil
}

// days rounds d up to whole days.
func days(d time.Duration) int {
	const day = 24 * time.Hour
	return int(math.Ceil(float64(d) / float64(day)))
}

// Progress reports a prune: targets done of total, records deleted so far.
type Progress func(done, total int, deleted int64)

// Prune prunes tenant ("" = every tenant with events) and returns how
// many records it deleted. It is idempotent and safe to run on several
// nodes at once: each batch deletes only what is past its cutoff.
func (s *Service) Prune(ctx context.Context, tenant string, progress Progress) (int64, error) {
	tenants := []string{tenant}
	if tenant == "" {
		var err error
		if tenants, err = s.store.EventTenants(ctx); err != nil {
			return 0, fmt.Errorf("retention: prune: tenants: %w", err)
		}
	}
	var total int64
	for _, t := range tenants {
		n, err := s.pruneTenant(ctx, t, progress)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// pruneTenant deletes tenant's raw events first, then every target's
// records past its cutoff: now less the longer of the effective retention
// and the target's reach, and never later than the records a pending
// event's replay would read.
func (s *Service) pruneTenant(ctx context.Context, tenant string, progress Progress) (int64, error) {
	now := s.now()
	set, err := s.Get(ctx, tenant)
	if err != nil {
		return 0, err
	}
	ts, _, err := s.targets(ctx, tenant, now)
	if err != nil {
		return 0, err
	}
	keep := time.Duration(set.EffectiveDays) * 24 * time.Hour
	var deleted int64
	report := func(done int) func(int64) {
		base := deleted
		return func(n int64) {
			if progress != nil {
				progress(done, len(ts)+1, base+n)
			}
		}
	}
	start := time.Now()
	n, err := s.store.PruneEvents(ctx, tenant, now.Add(-keep), report(0))
	deleted += n
	if err != nil {
		return deleted, fmt.Errorf("retention: prune events of %s: %w", tenant, err)
	}
	guard, pending, err := s.store.PendingSince(ctx, tenant)
	if err != nil {
		return deleted, fmt.Errorf("retention: prune %s: pending events: %w", tenant, err)
	}
	for i, t := range ts {
		if t.Reach == Forever {
			continue
		}
		before := now.Add(-max(keep, t.Reach))
		if pending && guard.Add(-replayReach).Before(before) {
			before = guard.Add(-replayReach)
		}
		n, err := t.Prune(ctx, before, report(i+1))
		deleted += n
		if err != nil {
			return deleted, fmt.Errorf("retention: prune %s of %s: %w", t.What, tenant, err)
		}
		if n > 0 {
			s.logger.InfoContext(ctx, "retention: pruned", "tenant", tenant, "what", t.What, "before", before, "deleted", n)
		}
	}
	if progress != nil {
		progress(len(ts)+1, len(ts)+1, deleted)
	}
	s.logger.InfoContext(ctx, "retention: tenant pruned", "tenant", tenant, "days", set.EffectiveDays,
		"deleted", deleted, "took", time.Since(start))
	return deleted, nil
}

// Run prunes every tenant once per interval until ctx ends, logging
// failures; the first run waits one interval, so a start is never slowed.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Prune(ctx, "", nil); err != nil && ctx.Err() == nil {
			s.logger.ErrorContext(ctx, "retention: prune failed", "err", err)
		}
	}
}
