package events

import (
	"encoding/json"
	"testing"

	"github.com/questline/questline/internal/errs"
)

// TestUsesConflict: what a catalogue change may take away from published
// rules.
func TestUsesConflict(t *testing.T) {
	uses := Uses{}
	uses.Add("store_visit", "store_id")
	uses.Add("share", "channel")
	visit := func(props ...string) TypeSpec {
		t := TypeSpec{Name: "store_visit", Senders: SendersPlayers}
		for _, p := range props {
			t.Props = append(t.Props, PropSpec{Name: p, Type: PropText})
		}
		return t
	}
	cases := []struct {
		name       string
		next       []TypeSpec
		prop, typ  string
		conflicted bool
	}{
		{"kept with the prop", []TypeSpec{visit("store_id", "minutes")}, "", "", false},
		{"kept without a schema", []TypeSpec{visit()}, "", "", false},
		{"prop dropped", []TypeSpec{visit("minutes")}, "store_id", "store_visit", true},
		{"type dropped", nil, "", "store_visit", true},
		{"built-in given a schema without the prop", []TypeSpec{visit("store_id"), {Name: "share", Senders: SendersPlayers,
			Props: []PropSpec{{Name: "post", Type: PropText}}}}, "channel", "share", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			typ, prop, bad := uses.Conflict(c.next)
			if bad != c.conflicted || bad && (typ != c.typ || prop != c.prop) {
				t.Fatalf("Conflict = %q %q %v, want %q %q %v", typ, prop, bad, c.typ, c.prop, c.conflicted)
			}
		})
	}
}

// FuzzCatalogue: any catalogue document either normalizes or is refused
// with a 422; a normalized one checks any props without panicking, with
// nothing but nil or a 422 bad-prop.
func FuzzCatalogue(f *testing.F) {
	f.Add([]byte(`[{"name":"store_visit","senders":"players","props":[{"name":"store_id","type":"string","required":true,"enum":["a"]},{"name":"n","type":"number","min":0,"max":5}]}]`),
		[]byte(`{"store_id":"a","n":3}`))
	f.Add([]byte(`[{"name":"share","senders":"trusted","props":[{"name":"ok","type":"boolean"}]}]`), []byte(`{"ok":"yes"}`))
	f.Fuzz(func(t *testing.T, doc, props []byte) {
		var in []TypeSpec
		if json.Unmarshal(doc, &in) != nil {
			return
		}
		out, err := Normalize(in)
		if err != nil {
			if e, ok := errs.As(err); !ok || e.Kind != errs.Unprocessable {
				t.Fatalf("not a 422: %v", err)
			}
			return
		}
		var ps map[string]any
		if json.Unmarshal(props, &ps) != nil {
			return
		}
		cat := compile(out)
		for _, ts := range out {
			if err := cat.CheckProps(ts.Name, ps); err != nil {
				if e, ok := errs.As(err); !ok || e.Code != "bad-prop" {
					t.Fatalf("not a bad-prop: %v", err)
				}
			}
		}
	})
}
