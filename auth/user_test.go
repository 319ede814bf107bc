package auth

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestValidUser(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"alice", true},
		{"user@example.com", true},
		{"auth0|abc123", true},
		{"google-oauth2|1234567890", true},
		{"0b6a6f0e-2f8e-4c1a-9d57-5d3c2c1f8a10", true},
		{"zoë", true},
		{"a/b", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{strings.Repeat("é", 65), false}, // 130 bytes
		{"", false},
		{"a b", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\u00a0b", false}, // no-break space
		{"a\u200bb", false}, // zero-width space: not printable
		{`{"$ne":null}`, false},
		{"o'brien", false},
		{"a`b", false},
		{`a\b`, false},
		{"a\xffb", false},
		{"\ufeffa", false},
	}
	for _, tc := range tests {
		if got := ValidUser(tc.id); got != tc.want {
			t.Errorf("ValidUser(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

// FuzzValidUser checks ValidUser's promises on any input: what it admits
// is short, valid UTF-8 and free of spaces, controls and quotes.
func FuzzValidUser(f *testing.F) {
	for _, s := range []string{"alice", "auth0|abc", "a b", "%00", `{"$ne":null}`, "\xff", "zoë"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidUser(s) {
			return
		}
		if s == "" || len(s) > MaxUserLen || !utf8.ValidString(s) {
			t.Fatalf("admitted %q", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) || unicode.IsSpace(r) || r == '"' || r == '\\' || r == utf8.RuneError {
				t.Fatalf("admitted %q with %U", s, r)
			}
		}
	})
}
