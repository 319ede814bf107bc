// Command loadgen drives a running Questline server the way a crowd of
// phones would. It prints progress every second and, at the end,
// requests/s and latency percentiles.
//
// The "events" scenario (default): many simulated players sending share
// events (each with its own Idempotency-Key) against a "share 3 times"
// challenge that pays into a points leaderboard, optionally mixed with
// leaderboard reads.
//
//	go run ./cmd/loadgen -duration 20s -players 5000 -concurrency 128
//
// The "baseline" scenario sends the same share events to cmd/baseline, a
// bare Fiber JSON handler, with no setup: the yardstick for the ratios in
// BENCHMARKS.md.
//
//	go run ./cmd/loadgen -scenario baseline -url http://127.0.0.1:8091
//
// The "board" scenario: an event board (best "steps" of a checkin) is
// seeded with -players members, one event each, then driven with a mix of
// reads (top 10, and around-me ±5) and score updates.
//
//	go run ./cmd/loadgen -scenario board -players 1000000 -reads 0.8 -duration 30s
//
// The "quiz" scenario runs the events scenario, then players answering a
// 20-question quiz for as long, and prints answers/s as a ratio to
// events/s. The "live" scenario connects -players phones to one live show
// and has them all answer one 10 s question (see quiz.go).
//
//	go run ./cmd/loadgen -scenario quiz -duration 10s -players 5000
//	go run ./cmd/loadgen -scenario live -players 10000
//
// The WebSocket scenarios ws-idle, ws-push and ws-board are in ws.go.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/questline/questline/auth"
)

type options struct {
	url         string
	secret      string
	tenant      string
	players     int
	concurrency int
	duration    time.Duration
	readRatio   float64
	scenario    string
	ws          wsOptions
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "server base URL (loopback only)")
	dataDir := fs.String("data-dir", "./data", "where to read the generated development secret from")
	fs.StringVar(&o.secret, "secret", os.Getenv("QL_JWT_SECRET"), "HS256 secret (default: QL_JWT_SECRET, else <data-dir>/jwt-secret)")
	fs.StringVar(&o.tenant, "tenant", fmt.Sprintf("load-%d", time.Now().Unix()), "tenant to create the load in")
	fs.IntVar(&o.players, "players", 5000, "simulated players")
	fs.IntVar(&o.concurrency, "concurrency", 128, "requests in flight")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long to send (bounded: at most 10m)")
	fs.Float64Var(&o.readRatio, "reads", 0, "fraction of requests that read the leaderboard instead of sending an event")
	fs.StringVar(&o.scenario, "scenario", "events", "events (share events into a challenge and a points board), board (a seeded event board, read and updated), baseline (share events to cmd/baseline), quiz (events, then self-paced quiz answers, and their ratio) live (-players phones in one live show), ws-idle, ws-push or ws-board (WebSocket crowds, see ws.go)")
	fs.IntVar(&o.ws.conns, "conns", 1000, "WebSocket clients (ws-* scenarios)")
	fs.IntVar(&o.ws.sources, "sources", 1, "source addresses 127.0.0.2… to spread the sockets over (64k ports each)")
	nodes := fs.String("nodes", "", "comma-separated base URLs of the nodes (ws-*; default -url)")
	fs.IntVar(&o.ws.rate, "rate", 1000, "events per second (ws-push)")
	fs.StringVar(&o.ws.pprof, "pprof", "", "ws-idle: base URL of the node's QL_PPROF_ADDR listener, to sample memory again after forced GCs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.ws.nodes = []string{o.url}
	if *nodes != "" {
		o.ws.nodes = strings.Split(*nodes, ",")
	}
	if o.duration <= 0 || o.duration > 10*time.Minute || o.players < 1 || o.concurrency < 1 {
		return errors.New("need 0 < duration <= 10m, players >= 1, concurrency >= 1")
	}
	if !slices.Contains([]string{"events", "board", "baseline", "quiz", "live", "ws-idle", "ws-push", "ws-board"}, o.scenario) {
		return fmt.Errorf("unknown scenario %q (events, board, baseline, quiz, live, ws-idle, ws-push or ws-board)", o.scenario)
	}
	if !strings.HasPrefix(o.url, "http://127.") && !strings.HasPrefix(o.url, "http://localhost") && !strings.HasPrefix(o.url, "http://[::1]") {
		return errors.New("loadgen only targets loopback servers")
	}
	if o.secret == "" && o.scenario != "baseline" {
		b, err := os.ReadFile(filepath.Join(*dataDir, "jwt-secret"))
		if err != nil {
			return fmt.Errorf("no secret: set -secret or QL_JWT_SECRET (%w)", err)
		}
		o.secret = strings.TrimSpace(string(b))
	}
	return load(ctx, o, out)
}

type client struct {
	c    *fasthttp.Client
	base string
}

func (c *client) do(method, path, token, idem string, body []byte) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.base + path)
	req.Header.SetMethod(method)
	req.Header.Set("Authorization", "Bearer "+token)
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBody(body)
	}
	if err := c.c.DoTimeout(req, resp, 10*time.Second); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
}

// request sends one request chosen with r and returns its status.
type request func(r *rand.Rand) (int, error)

func load(ctx context.Context, o options, out io.Writer) error {
	fmt.Fprintf(out, "loadgen: scenario %s, nodes %v, tenant %s\n", o.scenario, o.ws.nodes, o.tenant)
	switch o.scenario {
	case "ws-idle":
		return idleScenario(ctx, o, o.ws, out)
	case "ws-push":
		return pushScenario(ctx, o, o.ws, out)
	case "ws-board":
		return boardFanout(ctx, o, o.ws, out)
	}
	c := &client{base: o.url, c: &fasthttp.Client{MaxConnsPerHost: o.concurrency * 2, ReadTimeout: 10 * time.Second}}
	var send request
	var err error
	switch o.scenario {
	case "quiz":
		return quizScenario(ctx, c, o, out)
	case "live":
		c.c.MaxConnsPerHost = 1024
		return liveScenario(ctx, c, o, out)
	case "board":
		send, err = boardScenario(ctx, c, o, out)
	case "baseline":
		send = baselineScenario(c)
	default:
		send, err = eventsScenario(c, o)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "loadgen: %s, scenario %s, %d players, %d in flight, %s, reads %.0f%%, tenant %s\n",
		o.url, o.scenario, o.players, o.concurrency, o.duration, o.readRatio*100, o.tenant)
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	return drive(ctx, o.concurrency, send, out)
}

// eventsScenario sets up the challenge and points board, and sends share
// events mixed with top-10 reads.
func eventsScenario(c *client, o options) (request, error) {
	board, err := setup(c, o)
	if err != nil {
		return nil, err
	}
	tokens := make([]string, o.players)
	for i := range tokens {
		if tokens[i], err = auth.Mint([]byte(o.secret), fmt.Sprintf("p%d", i), o.tenant, []auth.Role{auth.Player}, time.Hour); err != nil {
			return nil, err
		}
	}
	var seq atomic.Int64
	return func(r *rand.Rand) (int, error) {
		tok := tokens[r.IntN(o.players)]
		if r.Float64() < o.readRatio {
			status, _, err := c.do("GET", "/v1/leaderboards/"+board+"/top?limit=10", tok, "", nil)
			return status, err
		}
		n := seq.Add(1)
		body := fmt.Appendf(nil, `{"type":"share","props":{"post":"p%d"}}`, n%50)
		status, _, err := c.do("POST", "/v1/events", tok, fmt.Sprintf("lg-%d", n), body)
		return status, err
	}, nil
}

// baselineScenario sends the events scenario's share events, without its
// setup or tokens, to a bare handler.
func baselineScenario(c *client) request {
	var seq atomic.Int64
	return func(*rand.Rand) (int, error) {
		n := seq.Add(1)
		body := fmt.Appendf(nil, `{"type":"share","props":{"post":"p%d"}}`, n%50)
		status, _, err := c.do("POST", "/v1/events", "baseline", fmt.Sprintf("lg-%d", n), body)
		return status, err
	}
}

// drive runs send from concurrency workers until ctx ends, printing
// progress each second and the figures at the end.
func drive(ctx context.Context, concurrency int, send request, out io.Writer) error {
	var sent, failed atomic.Int64
	lat := make([][]time.Duration, concurrency)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := range concurrency {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for ctx.Err() == nil {
				t0 := time.Now()
				status, err := send(r)
				lat[w] = append(lat[w], time.Since(t0))
				sent.Add(1)
				if err != nil || status != 200 {
					failed.Add(1)
					if firstErr.Load() == nil {
						firstErr.Store(fmt.Sprintf("status %d err %v", status, err))
					}
				}
			}
		})
	}
	tick := time.NewTicker(time.Second)
	var last int64
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			n := sent.Load()
			fmt.Fprintf(out, "  %4.0fs  %7d req/s  total %d  failed %d\n", time.Since(start).Seconds(), n-last, n, failed.Load())
			last = n
		}
	}
	tick.Stop()
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))]
	}
	fmt.Fprintf(out, "result: %d requests in %s = %.0f req/s, failed %d\n", len(all), elapsed.Round(time.Millisecond), float64(len(all))/elapsed.Seconds(), failed.Load())
	fmt.Fprintf(out, "latency: p50 %s  p90 %s  p99 %s  max %s\n", pct(.50), pct(.90), pct(.99), pct(1))
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(out, "first failure: %v\n", e)
	}
	return nil
}

// setup creates and publishes the challenge and the board as a manager.
func setup(c *client, o options) (board string, err error) {
	mgr, err := auth.Mint([]byte(o.secret), "loadgen-manager", o.tenant, []auth.Role{auth.Manager}, time.Hour)
	if err != nil {
		return "", err
	}
	var ch struct{ ID string }
	if err := post(c, mgr, "/v1/challenges", `{"name":"Share 3 times","event_type":"share","target":3,"reward_points":50}`, &ch); err != nil {
		return "", err
	}
	if err := post(c, mgr, "/v1/challenges/"+ch.ID+"/publish", ``, &ch); err != nil {
		return "", err
	}
	var b struct{ ID string }
	if err := post(c, mgr, "/v1/leaderboards", `{"name":"Points","window":"all_time"}`, &b); err != nil {
		return "", err
	}
	return b.ID, nil
}

func post(c *client, token, path, body string, into any) error {
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	status, resp, err := c.do("POST", path, token, "", b)
	if err != nil {
		return fmt.Errorf("setup %s: %w", path, err)
	}
	if status >= 300 {
		return fmt.Errorf("setup %s: status %d: %s", path, status, resp)
	}
	return json.Unmarshal(resp, into)
}
