package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// erasedPrefix starts every pseudonym an erased user's records carry.
// It is reserved: Require refuses a principal whose subject has it, and
// user ids in paths and events are checked with Erased, so no caller can
// act as, or read the records of, an erased user.
const erasedPrefix = "erased:"

// Pseudonym is the stable stand-in for user of tenant once erased:
// "erased:" and 32 hex digits of a SHA-256 of both. Records kept for
// exact totals (ledger lines, awards, completions) carry it instead of the
// user id, so they stay distinct per user and a retried erasure writes the
// same value.
func Pseudonym(tenant, user string) string {
	// The tenant's length first, so no (tenant, user) pair hashes the
	// bytes of another.
	h := sha256.Sum256([]byte(strconv.Itoa(len(tenant)) + ":" + tenant + user))
	return erasedPrefix + hex.EncodeToString(h[:16])
}

// Erased reports whether user is a pseudonym, not a user id: derived
// state such as leaderboards leaves it out.
func Erased(user string) bool { return strings.HasPrefix(user, erasedPrefix) }
