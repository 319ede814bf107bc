package realtime

import (
	"context"
	"strings"
	"testing"

	"github.com/questline/questline/internal/errs"
)

// TestHubUserExportErase: a user's export holds the pushes kept on their
// own channel, oldest first; erasure drops them and nobody else's, also
// when repeated; a broker that fails answers as unavailable.
func TestHubUserExportErase(t *testing.T) {
	ctx := context.Background()
	b := NewMemoryBroker(BrokerOptions{})
	defer b.Close()
	h := NewHub(b, HubOptions{})
	for _, p := range []struct{ tenant, user, typ string }{
		{"acme", "ann", "points"}, {"acme", "ann", "badge.unlocked"}, {"acme", "bob", "points"}, {"globex", "ann", "points"},
	} {
		if err := h.PublishUser(ctx, p.tenant, p.user, p.typ, map[string]any{"user": p.user}); err != nil {
			t.Fatal(err)
		}
	}
	history := func(tenant, user string) string {
		t.Helper()
		name, data, err := h.Export(ctx, tenant, user)
		if err != nil || name != "realtime" {
			t.Fatalf("export = %q, %v", name, err)
		}
		var types []string
		for _, f := range data.(UserExport).History {
			types = append(types, f.Type+":"+string(f.Data))
		}
		return strings.Join(types, ",")
	}
	if got, want := history("acme", "ann"), `points:{"user":"ann"},badge.unlocked:{"user":"ann"}`; got != want {
		t.Fatalf("ann's export = %s, want %s", got, want)
	}
	for range 2 {
		if err := h.Erase(ctx, "acme", "ann"); err != nil {
			t.Fatal(err)
		}
		if got := history("acme", "ann"); got != "" {
			t.Fatalf("ann's export after erasure = %s", got)
		}
	}
	if history("acme", "bob") == "" || history("globex", "ann") == "" {
		t.Fatal("the erasure reached another user's or another tenant's history")
	}
	b.Close()
	if _, _, err := h.Export(ctx, "acme", "ann"); errs.KindOf(err) != errs.Unavailable {
		t.Fatalf("export on a closed broker: %v, want unavailable", err)
	}
	if err := h.Erase(ctx, "acme", "ann"); errs.KindOf(err) != errs.Unavailable {
		t.Fatalf("erase on a closed broker: %v, want unavailable", err)
	}
}
