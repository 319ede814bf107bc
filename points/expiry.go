package points

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/events"
)

// Emitter feeds system events (points.expired, points.expiring,
// reward.redeemed) into the event stream, keyed, so a replay emits once.
type Emitter interface {
	Emit(ctx context.Context, ev events.Event) error
}

// SetEmitter sets where the service's system events go (nil: nowhere).
func (s *Service) SetEmitter(e Emitter) { s.emit = e }

// ReasonExpiry is the reason of an expiry's ledger entry.
const ReasonExpiry = "expiry"

// errNothing is a planner's "no change to make": the lots were expired
// (or spent) by someone else meanwhile.
var errNothing = errors.New("points: nothing to change")

// planExpire expires what is left of the user's lots whose expiry has
// come by now, whatever their expiry times, with a ledger line under key:
// one change per user and run, however spread the user's expiries are.
func planExpire(key string, now time.Time) Planner {
	return func(ctx context.Context, w WalletView) (Change, error) {
		b := w.Balance().prune(now)
		c := Change{Kind: KindExpiry, At: now, Owes: EventExpired}
		lots, err := w.ExpiringBy(ctx, now)
		if err != nil {
			return Change{}, err
		}
		for _, l := range lots {
			n := l.Remaining
			if l.AvailableAt.After(now) {
				b.Pending = addBucket(b.Pending, l.AvailableAt, -n)
			}
			b.Expiring = addBucket(b.Expiring, l.ExpiresAt, -n)
			l.Remaining = 0
			c.Lots = append(c.Lots, l)
			c.Takes = append(c.Takes, Take{Lot: l.ID, Amount: n})
		}
		if len(c.Takes) == 0 {
			return Change{}, errNothing
		}
		c.Amount = sumTakes(c.Takes)
		b.Held -= c.Amount
		b.Expired += c.Amount
		c.Balance = b
		c.Ledger = &Entry{ID: uuid.Must(uuid.NewV7()).String(), Amount: -c.Amount, Key: key, Reason: ReasonExpiry, CreatedAt: now}
		return c, nil
	}
}

// ExpiryReport is what one run of the expiry job did.
type ExpiryReport struct {
	Lots    int64 // lots this run expired
	Changes int64 // wallet changes that expired points (one per user with points due)
	Points  int64 // points expired
	Notices int64 // points.expiring events emitted (or found emitted)
	Owed    int64 // points.expired events of earlier runs' changes emitted at last
}

// expiryPage is how many lots one read of the job takes, and
// expiryWorkers how many pages' changes it has in flight: each page's
// changes go to the store in one batch.
const (
	expiryPage    = 1000
	expiryWorkers = 4
)

// Expire runs the expiry job at now: every lot of every tenant with a
// policy whose expiry has come loses what is left of it, once, and
// users with points expiring within their tenant's notice days get a
// points.expiring event. It is safe to run on several nodes at once, or
// again after a crash: each expiry is a wallet change keyed by its lots,
// so a lot expires once, and the change owes its event until emitted
// (Change.Owes), so a run first emits what a run that died left owed.
// Events are keyed, so each is emitted once. progress (may be nil) is
// told of lots done out of lots due.
func (s *Service) Expire(ctx context.Context, now time.Time, progress func(done, total int64)) (ExpiryReport, error) {
	now = now.UTC().Truncate(time.Millisecond)
	tenants, err := s.store.PolicyTenants(ctx)
	if err != nil {
		return ExpiryReport{}, fmt.Errorf("points: expire: %w", err)
	}
	r := &expiryRun{s: s, now: now, progress: progress}
	if err := r.settleOwed(ctx); err != nil {
		return r.report(), err
	}
	due := now.Add(time.Millisecond) // expires_at <= now
	for _, tn := range tenants {
		n, err := s.store.CountExpiringLots(ctx, tn, time.Unix(0, 0), due)
		if err != nil {
			return ExpiryReport{}, fmt.Errorf("points: expire: count %s: %w", tn, err)
		}
		r.total += n
	}
	for _, tn := range tenants {
		if err := r.tenant(ctx, tn, due); err != nil {
			return r.report(), err
		}
	}
	if progress != nil && (r.total == 0 || r.done.Load() < r.total) {
		// Nothing was due, or the rest was expired by an overlapping
		// run: this run is done too.
		progress(r.total, r.total)
	}
	return r.report(), nil
}

// expiryRun is one run of the job across tenants.
type expiryRun struct {
	s        *Service
	now      time.Time
	total    int64
	progress func(done, total int64)
	lots     atomic.Int64
	done     atomic.Int64 // lots expired, or found expired, for progress
	changes  atomic.Int64
	points   atomic.Int64
	notices  atomic.Int64
	owed     atomic.Int64
}

func (r *expiryRun) report() ExpiryReport {
	return ExpiryReport{Lots: r.lots.Load(), Changes: r.changes.Load(), Points: r.points.Load(), Notices: r.notices.Load(), Owed: r.owed.Load()}
}

// owedGrace is how long an expiry's event may stay owed before a run
// emits it for the run that made the change: longer than a run takes
// from a page's changes to their events, so overlapping runs seldom emit
// each other's, and short beside the hourly run, so the events of a run
// that died follow with the next.
const owedGrace = 5 * time.Minute

// settleOwed emits the events of changes (of every tenant) still owing
// them since before the grace, a page at a time, and clears the page in
// one write per tenant in it. An overlapping run may emit some of them
// too: the events are keyed, so each is emitted once.
func (r *expiryRun) settleOwed(ctx context.Context) error {
	for {
		owed, err := r.s.store.OwedChanges(ctx, r.now.Add(-owedGrace), expiryPage)
		if err != nil {
			return fmt.Errorf("points: owed events: %w", err)
		}
		var tenants []string
		keys := make(map[string][]string)
		for _, o := range owed {
			if err := r.s.emitOwed(ctx, o.Tenant, o.Change); err != nil {
				return err
			}
			if keys[o.Tenant] == nil {
				tenants = append(tenants, o.Tenant)
			}
			keys[o.Tenant] = append(keys[o.Tenant], o.Change.Key)
		}
		for _, tn := range tenants {
			if err := r.s.store.ClearOwed(ctx, tn, keys[tn]); err != nil {
				return fmt.Errorf("points: clear owed events of %s: %w", tn, err)
			}
		}
		r.owed.Add(int64(len(owed)))
		if len(owed) < expiryPage {
			return nil
		}
	}
}

// emitOwed emits the event the change c of tenant owes.
func (s *Service) emitOwed(ctx context.Context, tenant string, c Change) error {
	if c.Owes != EventExpired {
		return fmt.Errorf("points: change %s owes %q, which no one emits", c.Key, c.Owes)
	}
	return s.emitEvent(ctx, expiredEvent(tenant, c))
}

// expiredEvent is the points.expired event of the expiry change c.
func expiredEvent(tenant string, c Change) events.Event {
	return events.Event{
		Tenant: tenant, User: c.User, Type: EventExpired, OccurredAt: c.At,
		Props:          map[string]any{"amount": float64(c.Amount), "key": c.Key},
		IdempotencyKey: EventExpired + ":" + c.Key,
	}
}

// group is lots of one user expiring at one time.
type group struct {
	tenant, user string
	at           time.Time
	lots         []Lot
}

// key names the group's expiry change by its first lot: keys name
// causes, never users (see AnonymiseEntries). The change expires every
// lot of the user due by the run's time that has points left when it is
// planned, so whichever run or page formed the group, each lot expires
// once: a later change of the same user finds nothing left.
func (g group) key() string { return "expiry:" + g.lots[0].ID }

func (r *expiryRun) tenant(ctx context.Context, tenant string, due time.Time) error {
	work := make(chan []group)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range expiryWorkers {
		wg.Go(func() {
			for gs := range work {
				if err := r.expire(ctx, tenant, gs); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
	// One change per user: a user met again on a later page (lots due at
	// other times) was already expired whole, so only the lots are counted.
	seen := make(map[string]bool)
	err := scanGroups(ctx, r.s.store, tenant, time.Unix(0, 0), due, func(gs []group) {
		var p []group
		for _, g := range gs {
			if !seen[g.user] {
				seen[g.user] = true
				p = append(p, g)
			}
		}
		select {
		case work <- p:
		case <-ctx.Done():
		}
	})
	close(work)
	wg.Wait()
	if first != nil {
		return first
	}
	if err != nil {
		return fmt.Errorf("points: expire %s: %w", tenant, err)
	}
	return r.notify(ctx, tenant)
}

// scanGroups reads the tenant's lots expiring in [from, to) page by page
// and calls fn with each page's runs of one user's lots expiring at one
// time. A run cut by a page boundary comes as two groups, which is
// harmless: each expires what its lots have left.
func scanGroups(ctx context.Context, st Store, tenant string, from, to time.Time, fn func([]group)) error {
	var after *Lot
	for {
		page, err := st.ExpiringLots(ctx, tenant, from, to, after, expiryPage)
		if err != nil {
			return err
		}
		var gs []group
		for _, l := range page {
			if n := len(gs); n == 0 || l.User != gs[n-1].user || !l.ExpiresAt.Equal(gs[n-1].at) {
				gs = append(gs, group{tenant: tenant, user: l.User, at: l.ExpiresAt})
			}
			gs[len(gs)-1].lots = append(gs[len(gs)-1].lots, l)
		}
		if len(gs) > 0 {
			fn(gs)
		}
		if len(page) < expiryPage {
			return ctx.Err()
		}
		after = &page[len(page)-1]
	}
}

// expire expires a page's users in one batch of wallet changes, each with
// its ledger line and owing its event, then emits their events and clears
// what they owed in one write; a repeat completes what a crashed run
// left undone.
func (r *expiryRun) expire(ctx context.Context, tenant string, gs []group) error {
	ops := make([]ChangeOp, len(gs))
	for i, g := range gs {
		ops[i] = ChangeOp{User: g.user, Key: g.key(), Plan: planExpire(g.key(), r.now)}
	}
	res, err := r.s.store.ApplyChanges(ctx, tenant, ops)
	if err != nil {
		return fmt.Errorf("points: expire: %w", err)
	}
	var (
		done int64
		paid []string
	)
	for i, cr := range res {
		done += max(int64(len(gs[i].lots)), int64(len(cr.Change.Takes)))
		switch {
		case errors.Is(cr.Err, errNothing):
			continue
		case cr.Err != nil:
			return fmt.Errorf("points: expire %s: %w", ops[i].Key, cr.Err)
		case cr.Applied:
			r.changes.Add(1)
			r.points.Add(cr.Change.Amount)
			r.lots.Add(int64(len(cr.Change.Takes)))
		}
		if err := r.s.emitEvent(ctx, expiredEvent(tenant, cr.Change)); err != nil {
			return err
		}
		if cr.Change.Owes != "" {
			paid = append(paid, cr.Change.Key)
		}
	}
	if len(paid) > 0 {
		if err := r.s.store.ClearOwed(ctx, tenant, paid); err != nil {
			return fmt.Errorf("points: expire: clear owed events: %w", err)
		}
	}
	done = r.done.Add(done)
	if r.progress != nil {
		r.progress(min(done, r.total), r.total)
	}
	return nil
}

// System event types of the points domain.
const (
	EventExpired  = "points.expired"  // props: amount, key (the expiry's ledger key)
	EventExpiring = "points.expiring" // props: amount, expires_at
)

// notify emits points.expiring for the tenant's points expiring within
// its notice days, once per user, expiry time and first lot.
func (r *expiryRun) notify(ctx context.Context, tenant string) error {
	p, ok, err := r.s.store.Policy(ctx, tenant)
	if err != nil || !ok || p.NoticeDays == 0 {
		return err
	}
	from, to := r.now.Add(time.Millisecond), r.now.Add(time.Duration(p.NoticeDays)*24*time.Hour)
	var first error
	err = scanGroups(ctx, r.s.store, tenant, from, to, func(gs []group) {
		for _, g := range gs {
			if first != nil {
				return
			}
			var n int64
			for _, l := range g.lots {
				n += l.Remaining
			}
			first = r.s.emitEvent(ctx, events.Event{
				Tenant: tenant, User: g.user, Type: EventExpiring, OccurredAt: r.now,
				Props:          map[string]any{"amount": float64(n), "expires_at": g.at.Format(time.RFC3339)},
				IdempotencyKey: EventExpiring + ":" + g.lots[0].ID + ":" + g.at.Format(time.RFC3339),
			})
			r.notices.Add(1)
		}
	})
	if first != nil {
		return fmt.Errorf("points: expiring notices of %s: %w", tenant, first)
	}
	return err
}

func (s *Service) emitEvent(ctx context.Context, ev events.Event) error {
	if s.emit == nil {
		return nil
	}
	if err := s.emit.Emit(ctx, ev); err != nil {
		return fmt.Errorf("points: emit %s: %w", ev.Type, err)
	}
	return nil
}

// RunExpiry runs the expiry job every interval until ctx ends, logging
// what each run did. Runs on several nodes overlap harmlessly.
func (s *Service) RunExpiry(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r, err := s.Expire(ctx, s.now(), nil)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("points: expiry job failed; the next run retries", "err", err)
		case r.Changes > 0 || r.Notices > 0 || r.Owed > 0:
			log.Info("points: expiry job", "lots", r.Lots, "points", r.Points, "changes", r.Changes, "notices", r.Notices, "owed", r.Owed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PutPolicy validates and stores the tenant's lot policy; it applies to
// lots credited from then on.
func (s *Service) PutPolicy(ctx context.Context, tenant string, p Policy) (Policy, error) {
	if p.Expiry == "" {
		p.Expiry = ExpireNever
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	if err := s.store.PutPolicy(ctx, tenant, p); err != nil {
		return Policy{}, fmt.Errorf("points: put policy: %w", err)
	}
	return p, nil
}

// Policy returns the tenant's lot policy, DefaultPolicy if it set none.
func (s *Service) Policy(ctx context.Context, tenant string) (Policy, error) {
	p, ok, err := s.store.Policy(ctx, tenant)
	if err != nil {
		return Policy{}, fmt.Errorf("points: policy: %w", err)
	}
	if !ok {
		return DefaultPolicy, nil
	}
	return p, nil
}
