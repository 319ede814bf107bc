package redistest

import (
	"context"
	"fmt"
	"testing"
)

func TestClient(t *testing.T) {
	c := Client(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := c.Get(ctx, "k").Val(); got != "v" {
		t.Fatalf("GET = %q", got)
	}
}

// TestCluster checks that the Cluster is whole and spreads keys: one key
// per hash tag, and tags picked to fall in each third of the slots.
func TestCluster(t *testing.T) {
	c := Cluster(t)
	ctx := context.Background()
	masters := map[string]bool{}
	for _, tag := range []string{"a", "b", "c"} { // slots 15495, 3300, 7365
		key := fmt.Sprintf("{%s}:k", tag)
		if err := c.Set(ctx, key, tag, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
		if got := c.Get(ctx, key).Val(); got != tag {
			t.Fatalf("GET %s = %q", key, got)
		}
		m, err := c.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Options().Addr] = true
	}
	if len(masters) != clusterNodes {
		t.Fatalf("keys landed on %d masters, want %d", len(masters), clusterNodes)
	}
	// A multi-key command across slots is refused: it really is a Cluster.
	if err := c.Do(ctx, "mget", "{a}:k", "{b}:k").Err(); err == nil {
		t.Fatal("MGET across slots succeeded")
	}
}
