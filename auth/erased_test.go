package auth

import (
	"context"
	"testing"

	"github.com/questline/questline/internal/errs"
)

func TestPseudonym(t *testing.T) {
	p := Pseudonym("acme", "u1")
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"is erased", Erased(p), true},
		{"stable", p == Pseudonym("acme", "u1"), true},
		{"per user", p == Pseudonym("acme", "u2"), false},
		{"per tenant", p == Pseudonym("beta", "u1"), false},
		{"no tenant/user ambiguity", Pseudonym("a", "b\x00c") == Pseudonym("a\x00b", "c"), false},
		{"user id is not erased", Erased("u1"), false},
		{"reserved prefix", Erased("erased:anything"), true},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v (pseudonym %q)", tc.name, tc.got, tc.want, p)
		}
	}
}

// TestRequireRefusesPseudonym: a token whose subject is a pseudonym would
// read an erased user's anonymised ledger through /me; it is no caller.
func TestRequireRefusesPseudonym(t *testing.T) {
	ctx := WithPrincipal(context.Background(), Principal{Tenant: "acme", Subject: Pseudonym("acme", "u1"), Roles: []Role{Player}})
	_, err := Require(ctx)
	if e, ok := errs.As(err); !ok || e.Kind != errs.Unauthorized {
		t.Fatalf("Require(pseudonym) = %v, want Unauthorized", err)
	}
}
