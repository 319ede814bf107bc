package contests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/points"
	"github.com/questline/questline/profiles"
)

// pageSize is how many contests one store read lists when a tenant's
// running ones are needed.
const pageSize = 500

// earning returns the tenant's open prize draws with earn rules, cached.
func (s *Service) earning(ctx context.Context, tenant string) ([]Contest, error) {
	return s.cache.Get(ctx, tenant, s.Now(), func(ctx context.Context) ([]Contest, error) {
		var out []Contest
		after := ""
		for {
			page, err := s.Store.ListContests(ctx, tenant, Open, after, pageSize)
			if err != nil {
				return nil, fmt.Errorf("contests: running %s: %w", tenant, err)
			}
			for _, c := range page {
				if c.Kind == DrawKind && len(c.Earn) > 0 {
					out = append(out, c)
				}
			}
			if len(page) < pageSize {
				return out, nil
			}
			after = page[len(page)-1].ID
		}
	})
}

// hit is a contest an event earns entries in.
type hit struct {
	c    Contest
	rule int
	n    int64
}

// hits returns what ev earns: contests whose entry window holds the
// event's receipt (not its claimed occurred_at, which a sender chooses),
// while the close has not settled.
func (s *Service) hits(ctx context.Context, ev events.Event) ([]hit, error) {
	cs, err := s.earning(ctx, ev.Tenant)
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	now := s.Now()
	var out []hit
	for _, c := range cs {
		if ev.ReceivedAt.Before(c.StartsAt) || !ev.ReceivedAt.Before(c.EndsAt) || !now.Before(c.EndsAt.Add(s.Settle)) {
			continue
		}
		for i, r := range c.Earn {
			if n := r.earns(ev); n > 0 {
				out = append(out, hit{c: c, rule: i, n: n})
			}
		}
	}
	return out, nil
}

// Preview reports whether ev earns no entry anywhere, without writing.
func (s *Service) Preview(ctx context.Context, ev events.Event, _ *events.Result) (bool, error) {
	hs, err := s.hits(ctx, ev)
	return len(hs) == 0 && err == nil, err
}

// HandleEvent gives ev's entries in every running prize draw it earns in.
// Each ticket's source is (event, rule, i), so a replay adds nothing; the
// cap holds because tickets are numbered 1..max per user. Ineligible users,
// and users who have not opted in where that is required, earn nothing.
func (s *Service) HandleEvent(ctx context.Context, ev events.Event, _ *events.Result) ([]events.Event, error) {
	hs, err := s.hits(ctx, ev)
	if err != nil || len(hs) == 0 {
		return nil, err
	}
	var attrs *profiles.Attributes
	for _, h := range hs {
		ok, err := s.eligible(ctx, h.c, ev.User, &attrs)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if h.c.Eligibility != nil && h.c.Eligibility.OptIn {
			if _, in, err := s.Store.ContestUserEntries(ctx, ev.Tenant, h.c.ID, ev.User); err != nil || !in {
				if err != nil {
					return nil, fmt.Errorf("contests: opt-in %s: %w", h.c.ID, err)
				}
				continue
			}
		}
		sources := make([]string, h.n)
		for i := range sources {
			sources[i] = "ev:" + ev.ID + ":" + strconv.Itoa(h.rule) + ":" + strconv.Itoa(i)
		}
		added, err := s.addTickets(ctx, h.c, ev.User, sources, ev.ReceivedAt)
		if err != nil {
			return nil, fmt.Errorf("contests: event %s in %s: %w", ev.ID, h.c.ID, err)
		}
		if added > 0 {
			s.push(ctx, ev.Tenant, ev.User, "contest.entries", map[string]any{"contest_id": h.c.ID, "added": added})
		}
	}
	return nil, nil
}

// eligible checks a user's tier and segments, reading their attributes
// once per event however many contests ask.
func (s *Service) eligible(ctx context.Context, c Contest, user string, attrs **profiles.Attributes) (bool, error) {
	e := c.Eligibility
	if e == nil || (len(e.Tiers) == 0 && len(e.Segments) == 0) {
		return true, nil
	}
	if *attrs == nil {
		a := profiles.Attributes{}
		if s.Attributes != nil {
			got, _, err := s.Attributes.GetAttributes(ctx, c.Tenant, user)
			if err != nil {
				return false, fmt.Errorf("contests: attributes of %s: %w", user, err)
			}
			a = got
		}
		*attrs = &a
	}
	a := **attrs
	if len(e.Tiers) > 0 && !slices.Contains(e.Tiers, a.Tier) {
		return false, nil
	}
	if len(e.Segments) > 0 && !slices.ContainsFunc(e.Segments, func(s string) bool { return slices.Contains(a.Segments, s) }) {
		return false, nil
	}
	return true, nil
}

// maxSlotRaces bounds the retries of a ticket whose number another write
// took meanwhile.
const maxSlotRaces = 16

// addTickets gives the user one ticket per source, up to the contest's
// cap, and returns how many are new.
func (s *Service) addTickets(ctx context.Context, c Contest, user string, sources []string, at time.Time) (int, error) {
	have, _, err := s.Store.ContestUserEntries(ctx, c.Tenant, c.ID, user)
	if err != nil {
		return 0, err
	}
	added := 0
	entrant := Entrant(c.Tenant, user)
	for _, src := range sources {
		for race := 0; ; race++ {
			if have >= c.MaxEntries {
				// A repeat of a source that holds a ticket is no new
				// ticket either way: stop without looking.
				return added, nil
			}
			e := Entry{Tenant: c.Tenant, Contest: c.ID, User: user, Entrant: entrant, N: have + 1, Source: src, At: at}
			ok, err := s.Store.AddContestEntry(ctx, e)
			if errors.Is(err, errs.ErrDuplicate) && race < maxSlotRaces {
				have++ // another source took the number: try the next
				continue
			}
			if err != nil {
				return added, err
			}
			if ok {
				have++
				added++
			}
			break
		}
	}
	return added, nil
}

// EnterInput is a player's entry request.
type EnterInput struct {
	OptIn bool  `json:"opt_in,omitempty" doc:"Opt in, where the contest requires it, so that events earn entries from now on."`
	Buy   int64 `json:"buy,omitempty" minimum:"0" maximum:"1000" doc:"Tickets to buy at the contest's points_per_entry each, within max_entries_per_user."`
}

// EnterResult is a player's state in a prize draw.
type EnterResult struct {
	ContestID  string `json:"contest_id"`
	Entrant    string `json:"entrant" doc:"Your handle in the published entry list (GET /v1/contests/{id}/entries)."`
	Tickets    int64  `json:"tickets"`
	MaxEntries int64  `json:"max_entries_per_user"`
	OptedIn    bool   `json:"opted_in"`
}

// Enter opts a player in to a running prize draw (repeating it is
// harmless), buys tickets with points, and reports the player's tickets.
// A purchase is keyed by purchase (the request's Idempotency-Key), so a
// retry spends nothing twice and adds no ticket twice.
func (s *Service) Enter(ctx context.Context, tenant, user, id, purchase string, in EnterInput) (EnterResult, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return EnterResult{}, err
	}
	if c.Kind != DrawKind {
		return EnterResult{}, errs.New(errs.Conflict, "not-a-draw", "a leaderboard contest has no entries: score on its board %s", c.BoardID)
	}
	if in.OptIn || in.Buy > 0 {
		if err := s.mayEnter(ctx, c, user); err != nil {
			return EnterResult{}, err
		}
	}
	if in.Buy > 0 {
		if err := s.buy(ctx, c, user, purchase, in.Buy); err != nil {
			return EnterResult{}, err
		}
	}
	if in.OptIn {
		e := Entry{Tenant: tenant, Contest: c.ID, User: user, Entrant: Entrant(tenant, user), N: 0, Source: "opt-in:" + Entrant(tenant, user), At: s.clock()}
		if _, err := s.Store.AddContestEntry(ctx, e); err != nil && !errors.Is(err, errs.ErrDuplicate) {
			return EnterResult{}, fmt.Errorf("contests: opt in %s: %w", c.ID, err)
		}
	}
	return s.entered(ctx, c, user)
}

// mayEnter checks the entry window and the user's eligibility.
func (s *Service) mayEnter(ctx context.Context, c Contest, user string) error {
	now := s.Now()
	if c.Status != Open || now.Before(c.StartsAt) || !now.Before(c.EndsAt) {
		return errs.New(errs.Conflict, "entry-window-closed", "entries are open from %s to %s",
			c.StartsAt.Format(time.RFC3339), c.EndsAt.Format(time.RFC3339))
	}
	var attrs *profiles.Attributes
	if ok, err := s.eligible(ctx, c, user, &attrs); err != nil {
		return err
	} else if !ok {
		return errs.New(errs.Forbidden, "not-eligible", "this contest is for players of tiers %v and segments %v",
			c.Eligibility.Tiers, c.Eligibility.Segments)
	}
	return nil
}

// buy buys n tickets, one at a time: each ticket number (slot) of the
// user is paid under a key naming the slot, then claimed for the
// purchase's source. A retry of the purchase skips the tickets it holds
// and finds a paid, unclaimed slot paid already (a repeat spends nothing);
// concurrent purchases of one user that race for a slot pay it once, and
// the loser pays the next: every ticket is paid exactly once. A purchase
// cut short by the cap or by too few points keeps the tickets it got.
func (s *Service) buy(ctx context.Context, c Contest, user, purchase string, n int64) error {
	if c.PointsPerEntry == 0 || s.Spender == nil {
		return errs.New(errs.Conflict, "not-for-sale", "this contest's tickets are not sold for points").OnField("body.buy")
	}
	have, _, err := s.Store.ContestUserEntries(ctx, c.Tenant, c.ID, user)
	if err != nil {
		return fmt.Errorf("contests: entries of %s: %w", user, err)
	}
	if purchase == "" {
		purchase = uuid.NewString()
	} else if held, err := s.Store.HasContestEntry(ctx, c.Tenant, c.ID, buySource(c, user, purchase, 0)); err != nil {
		return fmt.Errorf("contests: purchase %s: %w", purchase, err)
	} else if held {
		have -= n // a retry: its own tickets do not count against the cap
	}
	if have+n > c.MaxEntries {
		return errs.New(errs.Conflict, "entry-cap", "you hold %d of at most %d tickets", max(have, 0), c.MaxEntries).OnField("body.buy")
	}
	for i := range n {
		if err := s.buyOne(ctx, c, user, buySource(c, user, purchase, i)); err != nil {
			return err
		}
	}
	return nil
}

// buySource names ticket i of a purchase. It and the spend keys name the
// entrant, not the user id: they outlive an erasure.
func buySource(c Contest, user, purchase string, i int64) string {
	return BoughtPrefix + Entrant(c.Tenant, user) + ":" + purchase + ":" + strconv.FormatInt(i, 10)
}

// buyOne pays for and claims one ticket for source, unless it holds one.
// The count is read before the check: read after it, it could already hold
// the ticket a concurrent copy of this purchase claimed for source, and
// this copy would then pay the slot above (or fail for want of points)
// instead of finding its ticket when it claims the lower one.
func (s *Service) buyOne(ctx context.Context, c Contest, user, source string) error {
	have, _, err := s.Store.ContestUserEntries(ctx, c.Tenant, c.ID, user)
	if err != nil {
		return fmt.Errorf("contests: entries of %s: %w", user, err)
	}
	if held, err := s.Store.HasContestEntry(ctx, c.Tenant, c.ID, source); err != nil || held {
		return err
	}
	entrant := Entrant(c.Tenant, user)
	for slot := have + 1; slot <= c.MaxEntries && slot <= have+maxSlotRaces; slot++ {
		key := "contest:" + c.ID + ":ticket:" + entrant + ":" + strconv.FormatInt(slot, 10)
		if _, err := s.Spender.Spend(ctx, points.Spend{Tenant: c.Tenant, User: user, Amount: c.PointsPerEntry, Key: key,
			Reason: "contest ticket: " + c.Name}); err != nil {
			return err
		}
		e := Entry{Tenant: c.Tenant, Contest: c.ID, User: user, Entrant: entrant, N: slot, Source: source, At: s.clock()}
		_, err := s.Store.AddContestEntry(ctx, e)
		if errors.Is(err, errs.ErrDuplicate) {
			// Another purchase claimed this paid slot, or an earned ticket
			// did; then the slot's payment bought nothing: give it back.
			if err := s.refundEarnedSlot(ctx, c, user, slot, key); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("contests: ticket %d of %s in %s: %w", slot, user, c.ID, err)
		}
		return nil
	}
	return errs.New(errs.Conflict, "entry-cap", "you hold the most tickets this contest allows, %d", c.MaxEntries).OnField("body.buy")
}

// refundEarnedSlot refunds the payment keyed key of ticket slot when the
// ticket holding that slot was earned, not bought. A bought holder spent
// under the same key (the key names the slot), so its payment stands. The
// refund is keyed by the spend: concurrent purchases and retries that
// meet the same earned slot give the points back once. Only this rare
// race reads the user's entries.
func (s *Service) refundEarnedSlot(ctx context.Context, c Contest, user string, slot int64, key string) error {
	held, err := s.Store.UserContestEntries(ctx, c.Tenant, user)
	if err != nil {
		return fmt.Errorf("contests: ticket %d of %s in %s: %w", slot, user, c.ID, err)
	}
	for _, e := range held {
		if e.Contest != c.ID || e.N != slot || strings.HasPrefix(e.Source, BoughtPrefix) {
			continue
		}
		if _, err := s.Spender.Refund(ctx, c.Tenant, key); err != nil {
			return fmt.Errorf("contests: refund ticket %d of %s in %s: %w", slot, user, c.ID, err)
		}
		s.Logger.InfoContext(ctx, "contest ticket refunded: an earned ticket took the paid slot",
			"tenant", c.Tenant, "contest", c.ID, "slot", slot)
	}
	return nil
}

// entered is a player's state in c.
func (s *Service) entered(ctx context.Context, c Contest, user string) (EnterResult, error) {
	n, in, err := s.Store.ContestUserEntries(ctx, c.Tenant, c.ID, user)
	if err != nil {
		return EnterResult{}, fmt.Errorf("contests: entries of %s: %w", user, err)
	}
	return EnterResult{ContestID: c.ID, Entrant: Entrant(c.Tenant, user), Tickets: n, MaxEntries: c.MaxEntries, OptedIn: in}, nil
}

// push is best effort, like publish.
func (s *Service) push(ctx context.Context, tenant, user, typ string, data any) {
	if s.Publisher != nil {
		_ = s.Publisher.PublishUser(ctx, tenant, user, typ, data)
	}
}
