package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/challenges"
	"github.com/questline/questline/leaderboards"
)

const demoChallenge = "Share 3 times"

func demo(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := command("demo", "Usage: server demo [--tenant demo] [--url http://localhost:8080]\n"+
		"Creates (once) a published challenge \"share 3 times -> 50 points\" and an all-time points\n"+
		"leaderboard in the tenant, then prints tokens and commands to try them.\n", out)
	tenant := fs.String("tenant", "demo", "tenant to create")
	url := fs.String("url", "", "where the server listens, for the printed commands (default: from QL_ADDR)")
	cfg, err := parseCommand(fs, args, getenv, out)
	if err != nil {
		return err
	}
	if *url == "" {
		*url = baseURL(cfg.Addr)
	}
	if len(cfg.JWTSecret) == 0 {
		return fmt.Errorf("demo: needs an HS256 secret (QL_JWT_SECRET) to mint tokens")
	}
	a, err := newApp(ctx, cfg, newLogger(io.Discard, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer a.close()

	ch, err := demoChallengeOf(ctx, a, *tenant)
	if err != nil {
		return err
	}
	board, err := demoBoardOf(ctx, a, *tenant)
	if err != nil {
		return err
	}
	tokens := map[string]string{}
	for _, u := range []struct {
		sub  string
		role auth.Role
	}{{"manager", auth.Manager}, {"alice", auth.Player}, {"bob", auth.Player}} {
		if tokens[u.sub], err = auth.Mint(cfg.JWTSecret, u.sub, *tenant, []auth.Role{u.role}, 24*time.Hour); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, `Demo tenant %q is ready.
  challenge   %s  (%q: event "share" x3 -> 50 points, published)
  leaderboard %s  (all-time points)

Tokens (valid 24h):
  export MANAGER=%s
  export ALICE=%s
  export BOB=%s

Try it:
  curl -s %[8]s/v1/events -H "Authorization: Bearer $ALICE" -H 'Idempotency-Key: a1' -H 'Content-Type: application/json' -d '{"type":"share","props":{"post":"p1"}}'
  curl -s %[8]s/v1/me/challenges -H "Authorization: Bearer $ALICE"
  curl -s %[8]s/v1/me/wallet -H "Authorization: Bearer $ALICE"
  curl -s '%[8]s/v1/leaderboards/%[4]s/top?limit=10' -H "Authorization: Bearer $ALICE"
Watch pushes live (any WebSocket client, e.g. websocat):
  websocat '%[9]s/v1/ws?token='$ALICE
`, *tenant, ch.ID, ch.Name, board.ID, tokens["manager"], tokens["alice"], tokens["bob"], *url, wsURL(*url))
	return nil
}

// baseURL is where a server listening on addr (QL_ADDR) is reached from
// this machine: a wildcard or empty host is localhost.
func baseURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func wsURL(u string) string {
	if rest, ok := strings.CutPrefix(u, "https://"); ok {
		return "wss://" + rest
	}
	return "ws://" + strings.TrimPrefix(u, "http://")
}

func demoChallengeOf(ctx context.Context, a *app, tenant string) (challenges.Challenge, error) {
	existing, err := a.challenges.List(ctx, tenant, challenges.Published, "", 100)
	if err != nil {
		return challenges.Challenge{}, err
	}
	for _, c := range existing {
		if c.Name == demoChallenge {
			return c, nil
		}
	}
	c, err := a.challenges.Create(ctx, tenant, challenges.Definition{
		Name: demoChallenge, Description: "Share any post three times to earn 50 points.",
		EventType: "share", Target: 3, RewardPoints: 50,
	})
	if err != nil {
		return c, err
	}
	return a.challenges.Publish(ctx, tenant, c.ID)
}

func demoBoardOf(ctx context.Context, a *app, tenant string) (leaderboards.Board, error) {
	bs, err := a.leaderboards.List(ctx, tenant)
	if err != nil {
		return leaderboards.Board{}, err
	}
	for _, b := range bs {
		if b.Window == leaderboards.AllTime {
			return b, nil
		}
	}
	return a.leaderboards.Create(ctx, tenant, leaderboards.CreateInput{Name: "All-time points", Window: leaderboards.AllTime})
}
