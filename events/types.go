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

	"purchase":     TrustedOnly,
	"signup":       TrustedOnly,
	"referral":     TrustedOnly,
	"subscription": TrustedOnly,

	// System events re-enter the rules, so that badges such as "3
	// challenges this month" or "1,000 lifetime points" are just rules.
	"challenge.completed": SystemOnly, // props: challenge_id
	"badge.unlocked":      SystemOnly, // props: badge_id, tier
	"points.earned":       SystemOnly, // props: amount, key (the ledger key)
	// Emitted by the quizzes and ugc packages; in the catalogue already so
	// that badge rules may name them.
	"quiz.completed": SystemOnly, // props: quiz_id, score
	"ugc.approved":   SystemOnly, // props: submission_id, kind
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

// SenderOf returns who may send t.
func SenderOf(t string) (Sender, bool) {
	s, ok := types[t]
	return s, ok
}

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
