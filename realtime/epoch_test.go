package realtime

import (
	"context"
	"fmt"
	"testing"

	"github.com/questline/questline/internal/redistest"
)

// TestEpochChange: after the broker's backend lost every counter (Redis
// FLUSHALL, a restart without persistence; for the memory broker, a
// forgotten channel), an open socket is told of the gap and gets the new
// pushes at once, though their seqs restart at 1; a client resuming with
// the old epoch is told of the gap instead of being replayed the new
// epoch's messages as if they followed its own.
func TestEpochChange(t *testing.T) {
	cases := []struct {
		name  string
		nodes func(t *testing.T) (pub, sub *node, reset func())
	}{
		{"memory", func(t *testing.T) (*node, *node, func()) {
			b := NewMemoryBroker(BrokerOptions{})
			n := startNode(t, b, HubOptions{})
			return n, n, func() {
				b.mu.Lock()
				defer b.mu.Unlock()
				clear(b.channels)
			}
		}},
		{"redis, two nodes", func(t *testing.T) (*node, *node, func()) {
			client := redistest.Client(t)
			a := startNode(t, NewRedisBroker(client, BrokerOptions{}), HubOptions{})
			b := startNode(t, NewRedisBroker(client, BrokerOptions{}), HubOptions{})
			return a, b, func() {
				if err := client.FlushAll(context.Background()).Err(); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pub, sub, reset := tc.nodes(t)
			c, _ := sub.connect(t, "acme/alice", "")
			var old frame
			for i := 1; i <= 3; i++ {
				publishUser(t, pub, "acme", "alice", i)
				old = read(t, c)
			}
			if old.Seq != 3 || old.Epoch == "" {
				t.Fatalf("third push = %+v", old)
			}
			reset()

			// The open socket: told of the gap, then every new push.
			publishUser(t, pub, "acme", "alice", 4)
			if f := read(t, c); f.Type != "resume-gap" || f.Channel != "user:alice" {
				t.Fatalf("after the reset: %+v, want resume-gap", f)
			}
			f := read(t, c)
			if f.Type != "progress" || f.Seq != 1 || f.Epoch == "" || f.Epoch == old.Epoch {
				t.Fatalf("first push of the new epoch = %+v (old epoch %s)", f, old.Epoch)
			}
			epoch := f.Epoch
			for want := uint64(2); want <= 5; want++ {
				publishUser(t, pub, "acme", "alice", int(want)+3)
				if f := read(t, c); f.Seq != want || f.Epoch != epoch {
					t.Fatalf("push = %+v, want seq %d", f, want)
				}
			}
			quiet(t, c)
			c.Close()
			waitConnections(t, sub.hub, 0)

			// Resuming with the old epoch at a seq the new one passed.
			c2, f := sub.connect(t, "acme/alice", fmt.Sprintf("&since=3&epoch=%s", old.Epoch))
			if f.Seq != 5 || f.Epoch != epoch {
				t.Fatalf("subscribed = %+v, want seq 5 of epoch %s", f, epoch)
			}
			if f := read(t, c2); f.Type != "resume-gap" {
				t.Fatalf("resume from the old epoch: %+v, want resume-gap", f)
			}
			quiet(t, c2)
			c2.Close()
			waitConnections(t, sub.hub, 0)

			// Resuming within the new epoch replays what was missed.
			c3, _ := sub.connect(t, "acme/alice", fmt.Sprintf("&since=3&epoch=%s", epoch))
			for want := uint64(4); want <= 5; want++ {
				if f := read(t, c3); f.Seq != want || f.Epoch != epoch {
					t.Fatalf("replayed = %+v, want seq %d", f, want)
				}
			}
			quiet(t, c3)
		})
	}
}
