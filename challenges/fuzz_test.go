package challenges

import (
	"encoding/json"
	"testing"

	"github.com/questline/questline/internal/errs"
)

// FuzzDefinition: whatever a manager sends, a definition either makes a
// valid challenge or fails with a 422 that names a body field; it never
// panics and never yields an error a client could not act on.
//
//	go test ./challenges -run '^$' -fuzz FuzzDefinition -fuzztime 30s
func FuzzDefinition(f *testing.F) {
	for _, seed := range []string{
		`{"name":"x","event_type":"share","target":3,"filter":{"channel":"ig"}}`,
		`{"name":"x","rule":{"goals":[{"kind":"sum","event_type":"purchase","prop":"amount","target":99.5}],"window":{"recurrence":"weekly","time_zone":"Europe/Paris"}}}`,
		`{"name":"x","rule":{"ordered":true,"goals":[{"kind":"count","event_type":"checkin","target":1},{"kind":"distinct","event_type":"share","prop":"target","target":3,"filters":[{"prop":"channel","op":"in","values":["a","b"]}]}],"window":{"rolling":"7d"}},"limits":{"min_interval":"1m","daily_cap":3},"max_completions":2}`,
		`{"name":"x","rule":{"goals":[{"kind":"count","event_type":"share","target":1,"filters":[{"prop":"n","op":"between","values":[5,1]}]}]}}`,
		`{"name":"x","rule":[]}`,
		`{"name":"x","rule":{"goals":[{"kind":"count","event_type":"share","target":1}],"window":{"time_zone":"Mars/Olympus"}}}`,
		`{"name":"x","event_type":"share","target":1,"reward":{"unlock":"bad key!"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var d Definition
		if json.Unmarshal(body, &d) != nil {
			return // the HTTP layer answers malformed JSON before this point
		}
		c, err := d.challenge()
		if err == nil {
			if len(c.Rule.Goals) == 0 || c.Enrolment == "" || c.Claim == "" {
				t.Fatalf("accepted an incomplete challenge %+v from %s", c, body)
			}
			return
		}
		e, ok := errs.As(err)
		if !ok || e.Kind != errs.Unprocessable || len(e.Field) < len("body.") || e.Field[:5] != "body." {
			t.Fatalf("error %v (%T, field %q) from %s: want a 422 naming a body field", err, err, fieldOf(err), body)
		}
	})
}
