package events

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/errs"
)

func TestAccept(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	player := auth.Principal{Tenant: "acme", Subject: "alice", Roles: []auth.Role{auth.Player}}
	key := auth.Principal{Tenant: "acme", Subject: "key:k1", APIKey: true, Scopes: []string{"events:write"}}
	keyNoScope := auth.Principal{Tenant: "acme", Subject: "key:k2", APIKey: true}
	ptr := func(t time.Time) *time.Time { return &t }
	tests := []struct {
		name      string
		p         auth.Principal
		in        Input
		header    string
		wantKind  errs.Kind // Internal = no error expected
		wantCode  string
		wantUser  string
		wantIdemp string
	}{
		{name: "player share", p: player, in: Input{Type: "share"}, header: "k1", wantUser: "alice", wantIdemp: "u:alice|k1"},
		{name: "player own id", p: player, in: Input{Type: "share", UserID: "alice"}, wantUser: "alice"},
		{name: "player for another user", p: player, in: Input{Type: "share", UserID: "bob"}, wantKind: errs.Forbidden, wantCode: "forbidden"},
		{name: "player trusted type", p: player, in: Input{Type: "purchase"}, wantKind: errs.Forbidden, wantCode: "event-type-not-allowed"},
		{name: "system type", p: key, in: Input{Type: "challenge.completed", UserID: "bob"}, wantKind: errs.Forbidden, wantCode: "event-type-not-allowed"},
		{name: "unknown type", p: player, in: Input{Type: "teleport"}, wantKind: errs.Unprocessable, wantCode: "unknown-event-type"},
		{name: "key purchase", p: key, in: Input{Type: "purchase", UserID: "bob", Props: map[string]any{"amount": 42.5}}, wantUser: "bob"},
		{name: "key without user", p: key, in: Input{Type: "purchase"}, wantKind: errs.Unprocessable, wantCode: "user-required"},
		{name: "key without scope", p: keyNoScope, in: Input{Type: "purchase", UserID: "bob"}, wantKind: errs.Forbidden, wantCode: "forbidden"},
		{name: "bad user id", p: key, in: Input{Type: "purchase", UserID: "bob smith"}, wantKind: errs.Unprocessable, wantCode: "bad-user-id"},
		{name: "nested prop", p: player, in: Input{Type: "share", Props: map[string]any{"x": map[string]any{}}}, wantKind: errs.Unprocessable, wantCode: "bad-props"},
		{name: "dollar prop", p: player, in: Input{Type: "share", Props: map[string]any{"$where": "x"}}, wantKind: errs.Unprocessable, wantCode: "bad-props"},
		{name: "dotted prop", p: player, in: Input{Type: "share", Props: map[string]any{"a.b": "x"}}, wantKind: errs.Unprocessable, wantCode: "bad-props"},
		{name: "long prop", p: player, in: Input{Type: "share", Props: map[string]any{"x": strings.Repeat("a", 1025)}}, wantKind: errs.Unprocessable, wantCode: "bad-props"},
		{name: "far future", p: player, in: Input{Type: "share", OccurredAt: ptr(now.Add(6 * time.Minute))}, wantKind: errs.Unprocessable, wantCode: "occurred-at-out-of-range"},
		{name: "slight future ok", p: player, in: Input{Type: "share", OccurredAt: ptr(now.Add(4 * time.Minute))}, wantUser: "alice"},
		{name: "too old", p: player, in: Input{Type: "share", OccurredAt: ptr(now.Add(-31 * 24 * time.Hour))}, wantKind: errs.Unprocessable, wantCode: "occurred-at-out-of-range"},
		{name: "body key", p: player, in: Input{Type: "share", IdempotencyKey: "b1"}, wantUser: "alice", wantIdemp: "u:alice|b1"},
		{name: "keys differ", p: player, in: Input{Type: "share", IdempotencyKey: "b1"}, header: "h1", wantKind: errs.Invalid, wantCode: "idempotency-key-mismatch"},
		{name: "key with space", p: player, in: Input{Type: "share"}, header: "a b", wantKind: errs.Invalid, wantCode: "bad-idempotency-key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Accept(tc.p, tc.in, tc.header, now)
			if tc.wantCode != "" {
				e, ok := errs.As(err)
				if !ok || e.Kind != tc.wantKind || e.Code != tc.wantCode {
					t.Fatalf("Accept error = %v, want %s (kind %d)", err, tc.wantCode, tc.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Accept: %v", err)
			}
			if ev.User != tc.wantUser || ev.Tenant != "acme" || ev.IdempotencyKey != tc.wantIdemp {
				t.Fatalf("event = %+v", ev)
			}
		})
	}
}

// FuzzAccept feeds arbitrary JSON bodies through decoding and Accept: it
// must never panic, and anything it accepts must be well formed.
func FuzzAccept(f *testing.F) {
	f.Add([]byte(`{"type":"share","props":{"post":"p1"}}`), "k1")
	f.Add([]byte(`{"type":"purchase","user_id":"u","props":{"amount":1e308}}`), "")
	f.Add([]byte(`{"type":"share","occurred_at":"2026-11-23T12:00:00Z","props":{"a":[1,2]}}`), "x")
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	principals := []auth.Principal{
		{Tenant: "acme", Subject: "alice", Roles: []auth.Role{auth.Player}},
		{Tenant: "acme", Subject: "key:k", APIKey: true, Scopes: []string{"events:write"}},
	}
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		var in Input
		if json.Unmarshal(body, &in) != nil {
			return
		}
		for _, p := range principals {
			ev, err := Accept(p, in, header, now)
			if err != nil {
				if _, ok := errs.As(err); !ok {
					t.Fatalf("non-client error %v", err)
				}
				continue
			}
			if ev.Tenant != p.Tenant || ev.User == "" || !KnownType(ev.Type) {
				t.Fatalf("accepted malformed event %+v", ev)
			}
		}
	})
}

// TestAcceptProviderSubjects: user ids as identity providers issue them are
// accepted, and a "|" in one never makes two senders' idempotency keys one.
func TestAcceptProviderSubjects(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	key := auth.Principal{Tenant: "acme", Subject: "key:k1", APIKey: true, Scopes: []string{"events:write"}}
	auth0 := auth.Principal{Tenant: "acme", Subject: "auth0|abc123", Roles: []auth.Role{auth.Player}}
	bar := auth.Principal{Tenant: "acme", Subject: "a|b", Roles: []auth.Role{auth.Player}}
	pct := auth.Principal{Tenant: "acme", Subject: "a%7Cb", Roles: []auth.Role{auth.Player}}
	a := auth.Principal{Tenant: "acme", Subject: "a", Roles: []auth.Role{auth.Player}}
	tests := []struct {
		name      string
		p         auth.Principal
		in        Input
		header    string
		wantCode  string // "" = accepted
		wantUser  string
		wantIdemp string
	}{
		{name: "identity provider subject", p: auth0, in: Input{Type: "share"}, header: "k1", wantUser: "auth0|abc123", wantIdemp: "u:auth0%7Cabc123|k1"},
		{name: "key for a provider's subject", p: key, in: Input{Type: "purchase", UserID: "google-oauth2|1234"}, wantUser: "google-oauth2|1234"},
		{name: "unicode user id", p: key, in: Input{Type: "purchase", UserID: "jürgen@example.com"}, wantUser: "jürgen@example.com"},
		// "u:a|b" + "|c" and "u:a" + "|b|c" must not be one key.
		{name: "bar in subject", p: bar, in: Input{Type: "share"}, header: "c", wantUser: "a|b", wantIdemp: "u:a%7Cb|c"},
		{name: "bar in key", p: a, in: Input{Type: "share"}, header: "b|c", wantUser: "a", wantIdemp: "u:a|b|c"},
		{name: "escape in subject", p: pct, in: Input{Type: "share"}, header: "c", wantUser: "a%7Cb", wantIdemp: "u:a%257Cb|c"},
		{name: "user id with control char", p: key, in: Input{Type: "purchase", UserID: "bob\x00"}, wantCode: "bad-user-id"},
		{name: "user id invalid utf-8", p: key, in: Input{Type: "purchase", UserID: "bob\xff"}, wantCode: "bad-user-id"},
		{name: "user id too long", p: key, in: Input{Type: "purchase", UserID: strings.Repeat("é", 65)}, wantCode: "bad-user-id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Accept(tc.p, tc.in, tc.header, now)
			if tc.wantCode != "" {
				if e, ok := errs.As(err); !ok || e.Kind != errs.Unprocessable || e.Code != tc.wantCode {
					t.Fatalf("Accept error = %v, want %s", err, tc.wantCode)
				}
				return
			}
			if err != nil || ev.User != tc.wantUser || ev.IdempotencyKey != tc.wantIdemp {
				t.Fatalf("Accept = %+v, %v", ev, err)
			}
		})
	}
}
