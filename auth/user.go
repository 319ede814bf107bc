package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxUserLen bounds a user id, in bytes.
const MaxUserLen = 128

// UserIDFormat is the OpenAPI format of path parameters that hold a user
// id; the server checks every such parameter with ValidUser.
const UserIDFormat = "user-id"

// ValidUser reports whether s may name a user: 1-128 bytes of valid UTF-8,
// printable, with no white space, no control character, no U+FFFD and none
// of the quoting characters " ' ` \. That admits what identity providers issue as
// subjects (auth0|abc123, a UUID, an e-mail address) and keeps ids that
// could pass for something else in a log line, a query or a URL out.
// Event intake and every path that names a user use it.
func ValidUser(s string) bool {
	if s == "" || len(s) > MaxUserLen || !utf8.ValidString(s) {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !unicode.IsPrint(r) || unicode.IsSpace(r) || r == utf8.RuneError || strings.ContainsRune("\"'`\\", r)
	}) < 0
}

// UserRule describes ValidUser's rule for error messages.
const UserRule = "user ids are 1-128 bytes of printable characters, without spaces or quotes"
