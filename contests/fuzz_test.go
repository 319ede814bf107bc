package contests

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/questline/questline/contests/draw"
	"github.com/questline/questline/internal/errs"
)

// FuzzDefinition: whatever a manager sends, a definition either makes a
// valid contest or fails with a 422 naming a body field; never a panic.
//
//	go test ./contests -run '^$' -fuzz FuzzDefinition -fuzztime 30s
func FuzzDefinition(f *testing.F) {
	for _, seed := range []string{
		`{"name":"x","kind":"draw","starts_at":"2026-01-01T00:00:00Z","ends_at":"2026-02-01T00:00:00Z","prizes":[{"description":"bike","quantity":1,"points":10}],"earn":[{"event_type":"visit"},{"event_type":"purchase","prop":"amount","over":20,"entries":2}],"max_entries_per_user":5,"eligibility":{"tiers":["gold"],"segments":["fr"],"opt_in":true}}`,
		`{"name":"x","kind":"leaderboard","starts_at":"2026-01-01T00:00:00Z","ends_at":"2026-01-08T00:00:00Z","prizes":[{"description":"a","quantity":3}],"board":{"source":"event","event_type":"quiz.completed","prop":"score","aggregation":"best"}}`,
		`{"name":"x","kind":"draw","starts_at":"2026-01-01T00:00:00Z","ends_at":"2025-01-01T00:00:00Z","prizes":[]}`,
		`{"name":"x","kind":"draw","starts_at":"2026-01-01T00:00:00Z","ends_at":"2026-01-02T00:00:00Z","prizes":[{"description":"a","quantity":1000},{"description":"b","quantity":1}]}`,
		`{"name":"x","kind":"draw","starts_at":"2026-01-01T00:00:00Z","ends_at":"2026-01-02T00:00:00Z","prizes":[{"description":"a","quantity":1}],"earn":[{"event_type":"nope"}]}`,
		`{"name":" ","kind":"lottery"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var d Definition
		if json.Unmarshal(body, &d) != nil {
			return // the HTTP layer answers malformed JSON before this point
		}
		c, err := d.contest()
		if err == nil {
			if c.Places() < 1 || c.Places() > maxPlaces || !c.EndsAt.After(c.StartsAt) ||
				(c.Kind == DrawKind && (c.MaxEntries < 1 || c.Board != nil)) || (c.Kind == LeaderboardKind && c.Board == nil) {
				t.Fatalf("accepted a bad contest %+v from %s", c, body)
			}
			for _, r := range c.Earn {
				if r.Entries < 1 {
					t.Fatalf("earn rule %+v gives no entry", r)
				}
			}
			return
		}
		e, ok := errs.As(err)
		if !ok || e.Kind != errs.Unprocessable || !strings.HasPrefix(e.Field, "body.") {
			t.Fatalf("error %v from %s: want a 422 naming a body field", err, body)
		}
	})
}

// FuzzEntryList: any file either parses as a canonical entry list, whose
// re-encoding is the same bytes, or is refused; never a panic.
//
//	go test ./contests -run '^$' -fuzz FuzzEntryList -fuzztime 30s
func FuzzEntryList(f *testing.F) {
	for _, seed := range []string{"a\t1\na\t2\nb\t1\n", "b\t1\na\t1\n", "a\t01\n", "a\t1", "", "\t1\n", "a b\t1\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		ts, sum, err := draw.Parse(file)
		if err != nil {
			return
		}
		l := draw.NewList(true)
		for _, x := range ts {
			if err := l.Add(x); err != nil {
				t.Fatalf("parsed ticket refused: %v", err)
			}
		}
		if !bytes.Equal(l.Bytes(), file) || l.Sum() != sum {
			t.Fatalf("%q parsed but re-encodes as %q", file, l.Bytes())
		}
	})
}
