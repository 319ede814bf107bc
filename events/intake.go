package events

import (
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
)

// Input is an event as a caller sends it.
type Input struct {
	Type           string         `json:"type" minLength:"1" maxLength:"64" doc:"Event type, e.g. share."`
	UserID         string         `json:"user_id,omitempty" maxLength:"128" doc:"API keys: the user the event is for (required). Players: omit it, or give their own id."`
	Props          map[string]any `json:"props,omitempty" maxProperties:"32" doc:"Flat properties: strings, numbers or booleans."`
	OccurredAt     *time.Time     `json:"occurred_at,omitempty" doc:"When it happened; default now. At most 5 minutes ahead of the server clock and 30 days behind it."`
	IdempotencyKey string         `json:"idempotency_key,omitempty" maxLength:"128" doc:"Alternative to the Idempotency-Key header."`
}

// Bounds on occurred_at: clients' clocks drift, but an event from far in
// the past or future would land in windows it never belonged to.
const (
	maxFuture = 5 * time.Minute
	maxPast   = 30 * 24 * time.Hour
)

var keyPattern = regexp.MustCompile(`^[\x21-\x7e]{1,128}$`)

var errNoWriteScope = errs.New(errs.Forbidden, "forbidden", "this API key lacks the events:write scope")

// Accept checks in against the caller and the built-in catalogue and
// returns the event to store. It is pure, so every rule here is
// table-tested and fuzzed.
func Accept(p auth.Principal, in Input, headerKey string, now time.Time) (Event, error) {
	return AcceptIn(builtinCatalog, p, in, headerKey, now)
}

// AcceptIn is Accept against a tenant's catalogue: its own types, their
// senders and prop schemas.
func AcceptIn(cat *Catalog, p auth.Principal, in Input, headerKey string, now time.Time) (Event, error) {
	sender, ok := cat.Sender(in.Type)
	if !ok {
		return Event{}, errs.New(errs.Unprocessable, "unknown-event-type", "event type %q is not in the catalogue", in.Type).OnField("body.type")
	}
	ev := Event{Tenant: p.Tenant, Type: in.Type, Props: in.Props}
	switch {
	case sender == SystemOnly:
		return Event{}, errs.New(errs.Forbidden, "event-type-not-allowed", "%q events are raised by Questline itself", in.Type)
	case p.APIKey:
		if !p.HasScope("events:write") {
			return Event{}, errNoWriteScope
		}
		if in.UserID == "" {
			return Event{}, errs.New(errs.Unprocessable, "user-required", "an API key must say which user the event is for").OnField("body.user_id")
		}
		ev.User, ev.Source = in.UserID, p.Subject
	default:
		if in.UserID != "" && in.UserID != p.Subject {
			return Event{}, errs.New(errs.Forbidden, "forbidden", "players may send events only for themselves")
		}
		if sender != ClientAllowed {
			return Event{}, errs.New(errs.Forbidden, "event-type-not-allowed", "%q events must come from the brand's back end", in.Type)
		}
		ev.User, ev.Source = p.Subject, "player"
	}
	if !auth.ValidUser(ev.User) {
		return Event{}, errs.New(errs.Unprocessable, "bad-user-id", "%s", auth.UserRule).OnField("body.user_id")
	}
	if err := checkProps(in.Props); err != nil {
		return Event{}, err
	}
	if err := cat.CheckProps(in.Type, in.Props); err != nil {
		return Event{}, err
	}
	if in.OccurredAt != nil {
		at := in.OccurredAt.UTC()
		if at.After(now.Add(maxFuture)) || at.Before(now.Add(-maxPast)) {
			return Event{}, errs.New(errs.Unprocessable, "occurred-at-out-of-range",
				"occurred_at must be within 30 days before and 5 minutes after now").OnField("body.occurred_at")
		}
		ev.OccurredAt = at
	}
	ev.IdempotencyKey = headerKey
	if in.IdempotencyKey != "" {
		if headerKey != "" && headerKey != in.IdempotencyKey {
			return Event{}, errs.New(errs.Invalid, "idempotency-key-mismatch", "the Idempotency-Key header and body idempotency_key differ")
		}
		ev.IdempotencyKey = in.IdempotencyKey
	}
	if ev.IdempotencyKey != "" {
		if !keyPattern.MatchString(ev.IdempotencyKey) {
			return Event{}, errs.New(errs.Invalid, "bad-idempotency-key", "idempotency keys are 1-128 printable ASCII characters")
		}
		// Keys are the sender's own namespace: one player's key can never
		// collide with (or pre-empt) another's, nor with an API key's.
		ev.IdempotencyKey = senderScope(p) + ev.IdempotencyKey
	}
	return ev, nil
}

func checkProps(props map[string]any) error {
	bad := func(format string, args ...any) error {
		return errs.New(errs.Unprocessable, "bad-props", format, args...).OnField("body.props")
	}
	if len(props) > 32 {
		return bad("at most 32 props")
	}
	for k, v := range props {
		// Prop names are the names rules filter on (rule.ValidName): no
		// "." or leading "$", which document stores read as paths and
		// operators.
		if !rule.ValidName(k) {
			return bad("prop name %q: use 1-64 letters, digits, _ : or -", k)
		}
		switch x := v.(type) {
		case string:
			if len(x) > 1024 {
				return bad("prop %q is longer than 1024 bytes", k)
			}
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return bad("prop %q is not a finite number", k)
			}
		case bool:
		default:
			return bad("prop %q must be a string, number or boolean", k)
		}
	}
	return nil
}

// senderScope prefixes a caller's idempotency keys. A user id may hold
// "|", so it is escaped ("%" and "|" as %25 and %7C) to keep the first "|"
// the end of the scope: else "u:a|b" + "c" and "u:a" + "b|c" would be one
// key. Ids without either (all ids before they were allowed) are unchanged,
// so keys stored earlier still match.
func senderScope(p auth.Principal) string {
	if p.APIKey {
		return p.Subject + "|"
	}
	return "u:" + scopeEscaper.Replace(p.Subject) + "|"
}

var scopeEscaper = strings.NewReplacer("%", "%25", "|", "%7C")
