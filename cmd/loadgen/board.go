package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/questline/questline/auth"
)

// boardScenario creates an event board, seeds it with one checkin per
// player (so the board has o.players members), and returns a request mix:
// o.readRatio of reads, half top-10 and half around-me ±5 of a random
// member, the rest checkins that move a random member.
func boardScenario(ctx context.Context, c *client, o options, out io.Writer) (request, error) {
	mgr, err := auth.Mint([]byte(o.secret), "loadgen-manager", o.tenant, []auth.Role{auth.Manager}, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	var b struct{ ID string }
	if err := post(c, mgr, "/v1/leaderboards", `{"name":"Steps","source":"event","event_type":"checkin","prop":"steps","aggregation":"best"}`, &b); err != nil {
		return nil, err
	}
	// Each member keeps one token, as a phone does for the token's life:
	// minting per request would cost loadgen an HMAC per request and the
	// server a full verification (tokens minted a second apart differ),
	// both on the cores being measured. Minted on first use, so a million
	// members cost nothing up front.
	tokens := make([]atomic.Pointer[string], o.players)
	token := func(i int) string {
		if tok := tokens[i].Load(); tok != nil {
			return *tok
		}
		tok, _ := auth.Mint([]byte(o.secret), fmt.Sprintf("m%d", i), o.tenant, []auth.Role{auth.Player}, 24*time.Hour)
		tokens[i].CompareAndSwap(nil, &tok)
		return *tokens[i].Load()
	}
	checkin := func(i int, key string, steps int) (int, error) {
		body := fmt.Appendf(nil, `{"type":"checkin","props":{"steps":%d}}`, steps)
		status, _, err := c.do("POST", "/v1/events", token(i), key, body)
		return status, err
	}
	if err := seed(ctx, o, out, func(i int) error {
		status, err := checkin(i, "seed", rand.IntN(1_000_000))
		if err == nil && status != 200 {
			err = fmt.Errorf("status %d", status)
		}
		return err
	}); err != nil {
		return nil, err
	}
	var seq atomic.Int64
	return func(r *rand.Rand) (int, error) {
		i := r.IntN(o.players)
		if r.Float64() >= o.readRatio {
			return checkin(i, fmt.Sprintf("lg-%d", seq.Add(1)), r.IntN(2_000_000))
		}
		path := "/v1/leaderboards/" + b.ID + "/top?limit=10"
		if r.IntN(2) == 0 {
			path = "/v1/leaderboards/" + b.ID + "/me?around=5"
		}
		status, _, err := c.do("GET", path, token(i), "", nil)
		return status, err
	}, nil
}

// seed calls one(i) for every player with concurrency workers, showing
// progress each second.
func seed(ctx context.Context, o options, out io.Writer, one func(i int) error) error {
	var next, done atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range o.concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= o.players {
					return
				}
				if err := one(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("seed member %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
				done.Add(1)
			}
		})
	}
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				n := done.Load()
				fmt.Fprintf(out, "  seeding %d/%d members (%.0f/s)\n", n, o.players, float64(n)/time.Since(start).Seconds())
			}
		}
	}()
	wg.Wait()
	close(stop)
	if firstErr != nil {
		return firstErr
	}
	fmt.Fprintf(out, "seeded %d members in %s\n", done.Load(), time.Since(start).Round(time.Second))
	return ctx.Err()
}
