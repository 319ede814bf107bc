package main

// WebSocket scenarios, driven with the reference client (realtime/client):
//
//	ws-idle   -conns N idle sockets, spread over -sources 127.0.0.x source
//	          addresses; reports the server's heap and RSS per connection.
//	ws-push   -conns players over the -nodes, share events at -rate/s sent
//	          to the other node; event sent -> progress frame received.
//	ws-board  -conns subscribers of one board over the -nodes; a check-in
//	          that changes the board each second; write sent -> snapshot
//	          received by every subscriber, and the spread of one snapshot.
//
//	go run ./cmd/loadgen -scenario ws-idle -conns 19000 -sources 8 -url http://127.0.0.1:8080

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"github.com/questline/questline/auth"
	rt "github.com/questline/questline/realtime/client"
)

// wsOptions are the WebSocket scenarios' own flags.
type wsOptions struct {
	conns   int
	sources int      // 127.0.0.2 … 127.0.0.(1+sources): 64k ports each
	nodes   []string // http base URLs; the first is -url
	rate    int      // events per second (ws-push)
	pprof   string   // ws-idle: node 1's pprof listener, to force GCs before the settled sample
}

// wsURL turns an http base URL into its WebSocket endpoint.
func wsURL(base string) string { return strings.Replace(base, "http://", "ws://", 1) + "/v1/ws" }

// dialer binds connections to source address i of n.
func dialer(i, n int) *websocket.Dialer {
	src := net.IPv4(127, 0, 0, byte(2+i%max(n, 1)))
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 10 * time.Second}
	return &websocket.Dialer{NetDial: nd.Dial, HandshakeTimeout: 10 * time.Second, ReadBufferSize: 512, WriteBufferSize: 512}
}

// crowd is a set of running reference clients.
type crowd struct {
	clients []*rt.Client
	up      atomic.Int64
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// connect starts n clients, client i on nodes[i%len(nodes)], subscribed
// to channels, and waits (bounded by ctx) until all are up. onFrame gets
// the client's index and each frame.
func connect(ctx context.Context, o options, w wsOptions, n int, channels []string, onFrame func(i int, f rt.Frame), out io.Writer) (*crowd, error) {
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &crowd{cancel: cancel}
	start := time.Now()
	for i := range n {
		tok, err := auth.Mint([]byte(o.secret), fmt.Sprintf("ws%d", i), o.tenant, []auth.Role{auth.Player}, 24*time.Hour)
		if err != nil {
			return nil, err
		}
		var once sync.Once
		cl := rt.New(rt.Options{
			URL:     wsURL(w.nodes[i%len(w.nodes)]),
			Token:   func(context.Context) (string, error) { return tok, nil },
			OnFrame: func(f rt.Frame) { onFrame(i, f) },
			OnState: func(up bool, _ error) {
				if up {
					once.Do(func() { c.up.Add(1) })
				}
			},
			Dialer:       dialer(i, w.sources),
			PingInterval: 5 * time.Minute, // idle means idle: the server's pings keep it alive
		})
		for _, ch := range channels {
			_ = cl.Subscribe(ch)
		}
		c.clients = append(c.clients, cl)
		c.wg.Go(func() { _ = cl.Run(cctx) })
		if i%200 == 199 { // pace the handshakes a little
			time.Sleep(5 * time.Millisecond)
		}
	}
	for last := time.Now(); c.up.Load() < int64(n); time.Sleep(100 * time.Millisecond) {
		if ctx.Err() != nil {
			return c, ctx.Err()
		}
		if time.Since(last) >= time.Second {
			fmt.Fprintf(out, "  %4.0fs  %d/%d connected\n", time.Since(start).Seconds(), c.up.Load(), n)
			last = time.Now()
		}
	}
	fmt.Fprintf(out, "connected %d sockets in %s\n", n, time.Since(start).Round(time.Millisecond))
	return c, nil
}

func (c *crowd) close() { c.cancel(); c.wg.Wait() }

// serverMemory reads heap in use, RSS and goroutines from /metrics.
func serverMemory(c *client) (heap, rss, goroutines float64, err error) {
	status, body, err := c.do("GET", "/metrics", "", "", nil)
	if err != nil || status != 200 {
		return 0, 0, 0, fmt.Errorf("metrics: %d %v", status, err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(val, 64)
		switch name {
		case "go_memstats_heap_inuse_bytes":
			heap = v
		case "process_resident_memory_bytes":
			rss = v
		case "go_goroutines":
			goroutines = v
		}
	}
	return heap, rss, goroutines, nil
}

func idleScenario(ctx context.Context, o options, w wsOptions, out io.Writer) error {
	c := &client{base: w.nodes[0], c: newHTTP(8)}
	h0, r0, g0, err := serverMemory(c)
	if err != nil {
		return err
	}
	cr, err := connect(ctx, o, w, w.conns, nil, func(int, rt.Frame) {}, out)
	if cr != nil {
		defer cr.close()
	}
	if err != nil {
		return err
	}
	time.Sleep(5 * time.Second) // let buffers settle and a GC run
	h1, r1, g1, err := serverMemory(c)
	if err != nil {
		return err
	}
	n := float64(w.conns)
	report := func(when string, h1, r1, g1 float64) {
		fmt.Fprintf(out, "result: %d idle sockets, %s: heap in use %.0f -> %.0f MiB (%.2f KiB/conn), RSS %.0f -> %.0f MiB (%.2f KiB/conn), goroutines %.0f -> %.0f (%.2f/conn)\n",
			w.conns, when, h0/(1<<20), h1/(1<<20), (h1-h0)/n/1024, r0/(1<<20), r1/(1<<20), (r1-r0)/n/1024, g0, g1, (g1-g0)/n)
	}
	report("5 s after connecting", h1, r1, g1)
	if w.pprof == "" {
		return nil
	}
	// Steady state, as hours-long idle sockets see it: fasthttp's idle
	// workers have gone (10 s), two GCs have emptied the sync.Pools of
	// request contexts and buffers the connect burst left behind, and the
	// runtime's background scavenger has had 30 s to hand the freed pages
	// back to the OS (RSS).
	time.Sleep(10 * time.Second)
	for range 2 {
		if err := forceGC(ctx, w.pprof); err != nil {
			return err
		}
	}
	time.Sleep(30 * time.Second)
	if h1, r1, g1, err = serverMemory(c); err != nil {
		return err
	}
	report("settled (two forced GCs, 30 s)", h1, r1, g1)
	return nil
}

// forceGC runs a collection in the server: its heap profile with gc=1
// collects first.
func forceGC(ctx context.Context, pprof string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pprof+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("force a GC: %w", err)
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// latencies collects durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) report(out io.Writer, what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	slices.Sort(l.d)
	pct := func(p float64) time.Duration {
		if len(l.d) == 0 {
			return 0
		}
		return l.d[min(len(l.d)-1, int(p*float64(len(l.d))))]
	}
	fmt.Fprintf(out, "%s: n %d  p50 %s  p90 %s  p99 %s  max %s\n", what, len(l.d), pct(.5), pct(.9), pct(.99), pct(1))
}

func newHTTP(conns int) *fasthttp.Client {
	return &fasthttp.Client{MaxConnsPerHost: conns, ReadTimeout: 10 * time.Second}
}

// pushScenario: share events for player i go to the node player i is not
// connected to, at w.rate per second; each progress frame is matched
// with the oldest unanswered send of its player.
func pushScenario(ctx context.Context, o options, w wsOptions, out io.Writer) error {
	if len(w.nodes) < 2 {
		return fmt.Errorf("ws-push needs two -nodes")
	}
	https := []*client{{base: w.nodes[0], c: newHTTP(256)}, {base: w.nodes[1], c: newHTTP(256)}}
	mgr, err := auth.Mint([]byte(o.secret), "loadgen-manager", o.tenant, []auth.Role{auth.Manager}, time.Hour)
	if err != nil {
		return err
	}
	var ch struct{ ID string }
	if err := post(https[0], mgr, "/v1/challenges", `{"name":"Share a lot","event_type":"share","target":1000000,"reward_points":1}`, &ch); err != nil {
		return err
	}
	if err := post(https[0], mgr, "/v1/challenges/"+ch.ID+"/publish", ``, &ch); err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond) // the other node drops its cached definitions
	pending := make([][]time.Time, w.conns)
	var mu sync.Mutex
	lat := &latencies{}
	cr, err := connect(ctx, o, w, w.conns, nil, func(i int, f rt.Frame) {
		if f.Type != "progress" {
			return
		}
		now := time.Now()
		mu.Lock()
		if len(pending[i]) > 0 {
			lat.add(now.Sub(pending[i][0]))
			pending[i] = pending[i][1:]
		}
		mu.Unlock()
	}, out)
	if cr != nil {
		defer cr.close()
	}
	if err != nil {
		return err
	}
	tokens := make([]string, w.conns)
	for i := range tokens {
		tokens[i], _ = auth.Mint([]byte(o.secret), fmt.Sprintf("ws%d", i), o.tenant, []auth.Role{auth.Player}, time.Hour)
	}
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var sent, failed atomic.Int64
	tick := time.NewTicker(time.Second / time.Duration(max(1, w.rate/100)))
	defer tick.Stop()
	var wg sync.WaitGroup
	sem := make(chan struct{}, o.concurrency)
	for n := 0; ctx.Err() == nil; {
		select {
		case <-ctx.Done():
		case <-tick.C:
			for range 100 { // 100 sends per tick
				i := n % w.conns
				n++
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					mu.Lock()
					pending[i] = append(pending[i], time.Now())
					mu.Unlock()
					body := []byte(`{"type":"share"}`)
					status, _, err := https[1-i%2].do("POST", "/v1/events", tokens[i], fmt.Sprintf("lgp-%s-%d", o.tenant, n), body)
					sent.Add(1)
					if err != nil || status != 200 {
						failed.Add(1)
					}
				})
			}
		}
	}
	wg.Wait()
	time.Sleep(2 * time.Second) // the last frames
	fmt.Fprintf(out, "result: %d events sent in %s (%.0f/s), failed %d\n", sent.Load(), o.duration, float64(sent.Load())/o.duration.Seconds(), failed.Load())
	lat.report(out, "event sent -> frame received on the other node")
	return nil
}

// boardFanout is ws-board: subscribers of one board on every node; a
// new player checks in each second, which changes the board's top.
func boardFanout(ctx context.Context, o options, w wsOptions, out io.Writer) error {
	c := &client{base: w.nodes[0], c: newHTTP(8)}
	mgr, err := auth.Mint([]byte(o.secret), "loadgen-manager", o.tenant, []auth.Role{auth.Manager}, time.Hour)
	if err != nil {
		return err
	}
	var ch, b struct{ ID string }
	if err := post(c, mgr, "/v1/challenges", `{"name":"Check in","event_type":"checkin","target":1,"reward_points":10}`, &ch); err != nil {
		return err
	}
	if err := post(c, mgr, "/v1/challenges/"+ch.ID+"/publish", ``, &ch); err != nil {
		return err
	}
	if err := post(c, mgr, "/v1/leaderboards", `{"name":"Points","window":"all_time"}`, &b); err != nil {
		return err
	}
	// Each client stamps its own receipts, without a lock: 10,000 clients
	// taking one mutex per snapshot would measure the mutex. The spread is
	// worked out afterwards.
	type receipt struct {
		seq       uint64
		at        time.Time
		fromWrite time.Duration
	}
	var round atomic.Int64 // when the latest write was sent, Unix ns; 0 before the first
	got := make([][]receipt, w.conns)
	cr, err := connect(ctx, o, w, w.conns, []string{"leaderboard:" + b.ID}, func(i int, f rt.Frame) {
		r := round.Load()
		if f.Type != "leaderboard.top" || r == 0 {
			return // a snapshot from before the first write
		}
		now := time.Now()
		got[i] = append(got[i], receipt{f.Seq, now, now.Sub(time.Unix(0, r))})
	}, out)
	if cr != nil {
		defer cr.close()
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	for i := 0; ctx.Err() == nil; i++ {
		tok, _ := auth.Mint([]byte(o.secret), fmt.Sprintf("scorer%d", i), o.tenant, []auth.Role{auth.Player}, time.Hour)
		round.Store(time.Now().UnixNano())
		if status, body, err := c.do("POST", "/v1/events", tok, fmt.Sprintf("lgb-%d", i), []byte(`{"type":"checkin"}`)); err != nil || status != 200 {
			return fmt.Errorf("check-in: %d %v %s", status, err, body)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	time.Sleep(time.Second)
	cr.close()                      // every client has stopped stamping
	first := map[uint64]time.Time{} // seq -> first receipt anywhere
	for _, rs := range got {
		for _, r := range rs {
			if t, ok := first[r.seq]; !ok || r.at.Before(t) {
				first[r.seq] = r.at
			}
		}
	}
	fromWrite, spread := &latencies{}, &latencies{}
	for _, rs := range got {
		for _, r := range rs {
			fromWrite.d = append(fromWrite.d, r.fromWrite)
			spread.d = append(spread.d, r.at.Sub(first[r.seq]))
		}
	}
	fmt.Fprintf(out, "result: %d snapshots to %d subscribers\n", len(first), w.conns)
	fromWrite.report(out, "write sent -> snapshot received (includes the board's 100ms flush tick)")
	spread.report(out, "first subscriber -> each subscriber, per snapshot (the fan-out itself)")
	return nil
}
