package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/bus"
	"github.com/questline/questline/internal/errs"
)

// TypeStore keeps each tenant's own event types, one catalogue per tenant.
type TypeStore interface {
	// EventTypes returns the tenant's catalogue; found is false when it
	// never defined one.
	EventTypes(ctx context.Context, tenant string) (c Catalogue, found bool, err error)
	// PutEventTypes stores c if the stored catalogue's version is
	// c.Version-1 (none stored for version 1); errs.ErrDuplicate otherwise.
	PutEventTypes(ctx context.Context, c Catalogue) error
}

// UsesReporter reports what a domain's published rules need of the event
// catalogue (challenges, badges, earn rules...), so a change cannot break
// them.
type UsesReporter interface {
	AddUses(ctx context.Context, tenant string, u Uses) error
}

// TypeChecker tells whether a tenant accepts an event type; rules, boards
// and earn rules naming one it lacks are refused.
type TypeChecker interface {
	Catalog(ctx context.Context, tenant string) (*Catalog, error)
}

// Types is the tenant event catalogue: definitions, and a node-local
// cache of each tenant's compiled catalogue for intake, dropped through
// the bus when any node changes it.
type Types struct {
	store     TypeStore
	bus       bus.Bus
	cache     *bus.Cache[*Catalog]
	reporters []UsesReporter
	now       func() time.Time
}

// typesTopic names catalogue changes on the bus; keys are tenants.
const typesTopic = "event-types"

// typesCacheTTL bounds how long a node may miss a change whose bus message
// was lost.
const typesCacheTTL = 5 * time.Second

// NewTypes returns the catalogue service; b may be nil on one node.
func NewTypes(store TypeStore, b bus.Bus) *Types {
	t := &Types{store: store, bus: b, cache: bus.NewCache[*Catalog](typesCacheTTL, 100_000), now: time.Now}
	if b != nil {
		b.Subscribe(typesTopic, t.cache.Drop)
	}
	return t
}

// Report adds domains whose published rules a catalogue change must not
// break. Call it while wiring, before serving.
func (t *Types) Report(r ...UsesReporter) { t.reporters = append(t.reporters, r...) }

// Catalog returns the tenant's effective catalogue, cached.
func (t *Types) Catalog(ctx context.Context, tenant string) (*Catalog, error) {
	return t.cache.Get(ctx, tenant, t.now(), func(ctx context.Context) (*Catalog, error) {
		c, found, err := t.store.EventTypes(ctx, tenant)
		if err != nil {
			return nil, fmt.Errorf("events: catalogue of %s: %w", tenant, err)
		}
		if !found {
			return builtinCatalog, nil
		}
		return compile(c.Types), nil
	})
}

// Get returns the tenant's stored catalogue (version 0 when it has none).
func (t *Types) Get(ctx context.Context, tenant string) (Catalogue, error) {
	c, found, err := t.store.EventTypes(ctx, tenant)
	if err != nil {
		return Catalogue{}, fmt.Errorf("events: get catalogue: %w", err)
	}
	if !found {
		c = Catalogue{Tenant: tenant, Types: []TypeSpec{}}
	}
	return c, nil
}

// Put replaces the tenant's own types. version is the version the caller
// read (0 for none): a catalogue changed meanwhile is a 409. A change
// that would take away a type or prop a published rule uses is a 409
// naming it.
func (t *Types) Put(ctx context.Context, tenant string, version int64, in []TypeSpec) (Catalogue, error) {
	next, err := Normalize(in)
	if err != nil {
		return Catalogue{}, err
	}
	cur, err := t.Get(ctx, tenant)
	if err != nil {
		return Catalogue{}, err
	}
	if cur.Version != version {
		return Catalogue{}, staleCatalogue()
	}
	uses := Uses{}
	for _, r := range t.reporters {
		if err := r.AddUses(ctx, tenant, uses); err != nil {
			return Catalogue{}, fmt.Errorf("events: put catalogue: %w", err)
		}
	}
	if typ, prop, bad := uses.Conflict(next); bad {
		if prop == "" {
			return Catalogue{}, errs.New(errs.Conflict, "event-type-in-use", "published rules count %q events; archive them first", typ)
		}
		return Catalogue{}, errs.New(errs.Conflict, "event-prop-in-use",
			"published rules use the prop %q of %q events; keep it in the schema or archive them first", prop, typ).OnField("body.types")
	}
	c := Catalogue{Tenant: tenant, Types: next, Version: version + 1, UpdatedAt: t.now().UTC().Truncate(time.Millisecond)}
	err = t.store.PutEventTypes(ctx, c)
	if errors.Is(err, errs.ErrDuplicate) {
		return Catalogue{}, staleCatalogue()
	}
	if err != nil {
		return Catalogue{}, fmt.Errorf("events: put catalogue: %w", err)
	}
	t.cache.Drop(tenant)
	if t.bus != nil {
		t.bus.Publish(ctx, typesTopic, tenant)
	}
	return c, nil
}

func staleCatalogue() error {
	return errs.New(errs.Conflict, "edit-conflict", "the event catalogue changed meanwhile; read it again and send its version")
}

// CheckRuleTypes refuses a rule counting a type the tenant lacks, with the
// 422 intake answers, at body.rule.goals[i].event_type. A nil checker
// knows only the built-in types.
func CheckRuleTypes(ctx context.Context, tc TypeChecker, tenant string, r rule.Rule) error {
	for i, g := range r.Goals {
		if err := CheckType(ctx, tc, tenant, g.EventType, fmt.Sprintf("body.rule.goals[%d].event_type", i)); err != nil {
			return err
		}
	}
	return nil
}

// CheckType refuses a type the tenant lacks with a 422 at field.
func CheckType(ctx context.Context, tc TypeChecker, tenant, eventType, field string) error {
	cat := builtinCatalog
	if tc != nil {
		var err error
		if cat, err = tc.Catalog(ctx, tenant); err != nil {
			return err
		}
	}
	if !cat.Known(eventType) {
		return errs.New(errs.Unprocessable, "unknown-event-type", "event type %q is not one this tenant accepts", eventType).OnField(field)
	}
	return nil
}
