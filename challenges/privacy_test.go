package challenges

import (
	"context"
	"testing"

	"github.com/questline/questline/internal/bus"
)

// TestErasureForgetsShortcutsOnEveryNode: a user's erasure on one node
// drops that user's completion shortcuts on every node sharing the bus,
// and only that user's; a bus that may have missed messages drops all.
func TestErasureForgetsShortcutsOnEveryNode(t *testing.T) {
	b := bus.NewMemory()
	other := NewService(Config{Bus: b})
	keys := []completionKey{
		{tenant: "acme", challenge: "c1", user: "ann", period: "p"},
		{tenant: "acme", challenge: "c2", user: "ann", period: capPeriod, cap: 2},
		{tenant: "acme", challenge: "c1", user: "bob", period: "p"},
		{tenant: "globex", challenge: "c1", user: "ann", period: "p"},
	}
	for _, k := range keys {
		other.done[k] = "e1"
	}
	b.Publish(context.Background(), erasedTopic, "acme|ann")
	for i, k := range keys {
		if _, kept := other.done[k]; kept != (i >= 2) {
			t.Errorf("after ann's erasure in acme, shortcut %+v kept = %v", k, kept)
		}
	}
	other.forgetUser("")
	if len(other.done) != 0 {
		t.Errorf("a bus that missed messages left %d shortcuts", len(other.done))
	}
}
