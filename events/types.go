package events

import (
	"fmt"
	"math"
	"strconv"
)

// Sender is who may send an event type.
type Sender int

// Who may send: players themselves, only trusted back ends (API keys), or
// only Questline itself.
const (
	ClientAllowed Sender = iota
	TrustedOnly
	SystemOnly
)

// types is the event catalogue. Players may send only client-allowed types;
// anything that moves money-like value (a purchase) must come from a brand
// back end with an API key.
var types = map[string]Sender{
	"app_open": ClientAllowed,
	"share":    ClientAllowed,
	"visit":    ClientAllowed,
	"checkin":  ClientAllowed,
	"like":     ClientAllowed,
	"comment":  ClientAllowed,
	"view":     ClientAllowed,

	"purchase": TrustedOnly,
	// props: purchase_event_id (the purchase's event_id): earn rules take
	// back what that purchase paid.
	"purchase.refunded": TrustedOnly,
	"signup":            TrustedOnly,
	"referral":          TrustedOnly,
	"subscription":      TrustedOnly,

	// System events re-enter the rules, so that badges such as "3
	// challenges this month" or "1,000 lifetime points" are just rules.
	"challenge.completed": SystemOnly, // props: challenge_id
	"badge.unlocked":      SystemOnly, // props: badge_id, tier
	"points.earned":       SystemOnly, // props: amount, key (the ledger key)
	// Emitted by the quizzes and ugc packages; in the catalogue already so
	// that badge rules may name them.
	"quiz.completed": SystemOnly, // props: quiz_id, score
	"ugc.approved":   SystemOnly, // props: submission_id, kind, product_id, verified, rating (reviews)
	// Emitted by the loyalty programme.
	"tier.changed":       SystemOnly, // props: from, to, reason (automatic, manual)
	"tier.grace":         SystemOnly, // props: from, to (the tier kept until grace_until), reason
	"referral.completed": SystemOnly, // props: referrer, referee, code
	// Emitted by contests when a winner's prize is paid.
	"contest.won": SystemOnly, // props: contest_id, position, prize (index)
	// Emitted by the points package (expiry job, redemptions).
	"points.expired":  SystemOnly, // props: amount, key (the expiry's ledger key)
	"points.expiring": SystemOnly, // props: amount, expires_at (RFC 3339)
	"reward.redeemed": SystemOnly, // props: reward_id, redemption_id, cost
}

// KnownType reports whether t is in the catalogue.
func KnownType(t string) bool {
	_, ok := types[t]
	return ok
}

// PlausibleType reports whether t is a built-in type or a name a tenant
// may give one of its own: what a definition can check without knowing
// the tenant's catalogue.
func PlausibleType(t string) bool { return KnownType(t) || validTypeName(t) }

// PropString renders a prop value the way filters compare it: strings as
// they are, whole numbers without a decimal point, booleans as true/false.
func PropString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	}
	return fmt.Sprint(v)
}
