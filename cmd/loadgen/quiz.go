package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/questline/questline/auth"
)

// quizScenario measures self-paced answers/s in the same run as the event
// intake: the events scenario first, then players answering a 20-question
// quiz (one start per 20 answers), and prints their ratio.
func quizScenario(ctx context.Context, c *client, o options, out io.Writer) error {
	send, err := eventsScenario(c, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "loadgen: %s, scenario quiz: events for %s, then quiz answers for %s, %d players, %d in flight\n",
		o.url, o.duration, o.duration, o.players, o.concurrency)
	fmt.Fprintln(out, "phase 1: events")
	evCtx, cancel := context.WithTimeout(ctx, o.duration)
	events, err := driveRate(evCtx, o.concurrency, send, out)
	cancel()
	if err != nil {
		return err
	}
	answer, answers, err := answerScenario(c, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "phase 2: quiz answers")
	qCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	start := time.Now()
	if _, err := driveRate(qCtx, o.concurrency, answer, out); err != nil {
		return err
	}
	rate := float64(answers.Load()) / time.Since(start).Seconds()
	fmt.Fprintf(out, "quiz: %.0f answers/s against %.0f events/s: ratio %.2f\n", rate, events, rate/events)
	return nil
}

// driveRate is drive, returning the request rate.
func driveRate(ctx context.Context, concurrency int, send request, out io.Writer) (float64, error) {
	var n atomic.Int64
	start := time.Now()
	counted := func(r *rand.Rand) (int, error) {
		n.Add(1)
		return send(r)
	}
	if err := drive(ctx, concurrency, counted, out); err != nil {
		return 0, err
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

// quizPlayer is one simulated player's place in the quiz; busy keeps two
// workers from driving the same player at once.
type quizPlayer struct {
	busy    atomic.Bool
	token   string
	attempt string
	next    int
}

const quizQuestions = 20

func answerScenario(c *client, o options) (request, *atomic.Int64, error) {
	mgr, err := auth.Mint([]byte(o.secret), "loadgen-manager", o.tenant, []auth.Role{auth.Manager}, time.Hour)
	if err != nil {
		return nil, nil, err
	}
	qs := make([]string, quizQuestions)
	for i := range qs {
		qs[i] = fmt.Sprintf(`{"id":"q%d","type":"true_false","text":"Q%d","correct":["true"]}`, i, i)
	}
	var q struct{ ID string }
	if err := post(c, mgr, "/v1/quizzes", `{"name":"Load quiz","reward":{"points":1},"questions":[`+strings.Join(qs, ",")+`]}`, &q); err != nil {
		return nil, nil, err
	}
	if err := post(c, mgr, "/v1/quizzes/"+q.ID+"/publish", ``, &q); err != nil {
		return nil, nil, err
	}
	players := make([]*quizPlayer, o.players)
	for i := range players {
		tok, err := auth.Mint([]byte(o.secret), fmt.Sprintf("qp%d", i), o.tenant, []auth.Role{auth.Player}, time.Hour)
		if err != nil {
			return nil, nil, err
		}
		players[i] = &quizPlayer{token: tok}
	}
	answers := &atomic.Int64{}
	return func(r *rand.Rand) (int, error) {
		p := players[r.IntN(len(players))]
		for !p.busy.CompareAndSwap(false, true) {
			p = players[r.IntN(len(players))]
		}
		defer p.busy.Store(false)
		if p.attempt == "" {
			status, body, err := c.do("POST", "/v1/quizzes/"+q.ID+"/attempts", p.token, "", []byte(`{}`))
			var a struct{ ID string }
			if err == nil && status < 300 && json.Unmarshal(body, &a) == nil {
				p.attempt, p.next = a.ID, 0
				status = 200
			}
			return status, err
		}
		body := fmt.Appendf(nil, `{"question_id":"q%d","choices":["true"]}`, p.next)
		status, _, err := c.do("POST", "/v1/attempts/"+p.attempt+"/answers", p.token, "", body)
		if err == nil && status == 200 {
			answers.Add(1)
			if p.next++; p.next == quizQuestions {
				p.attempt = ""
			}
		}
		return status, err
	}, answers, nil
}

// liveScenario connects -players phones to one live show (WebSockets from
// several 127.0.0.x source addresses), opens one question with a 10 s
// limit, has every phone answer at a random moment inside it, and reports
// the answers counted, how long after the deadline each phone got its
// results, and the server's memory per connected player.
func liveScenario(ctx context.Context, c *client, o options, out io.Writer) error {
	mgr, err := auth.Mint([]byte(o.secret), "loadgen-host", o.tenant, []auth.Role{auth.Manager}, time.Hour)
	if err != nil {
		return err
	}
	var q struct{ ID string }
	def := `{"name":"Load show","live":{"participant":{"points":1}},"questions":[{"id":"q","type":"single","text":"Pick b",` +
		`"time_limit_seconds":10,"correct":["b"],"options":[{"id":"a","text":"A"},{"id":"b","text":"B"}]}]}`
	if err := post(c, mgr, "/v1/quizzes", def, &q); err != nil {
		return err
	}
	if err := post(c, mgr, "/v1/quizzes/"+q.ID+"/publish", ``, &q); err != nil {
		return err
	}
	var show struct {
		SessionID string `json:"session_id"`
		Code      string `json:"code"`
		Channel   string `json:"channel"`
	}
	if err := post(c, mgr, "/v1/quizzes/"+q.ID+"/live", ``, &show); err != nil {
		return err
	}
	before, err := serverRSS(c)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "loadgen: %s, scenario live: %d players, show %s (code %s), server RSS %d MiB before\n",
		o.url, o.players, show.SessionID, show.Code, before>>20)
	phones, err := connectPhones(ctx, c, o, show.Code, show.Channel, out)
	defer func() {
		for _, p := range phones {
			p.ws.Close()
		}
	}()
	if err != nil {
		return err
	}
	after, err := serverRSS(c)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "connected %d phones: server RSS %d MiB, %.1f KiB per player\n", len(phones), after>>20,
		float64(after-before)/1024/float64(len(phones)))
	return runQuestion(ctx, c, mgr, show.SessionID, phones, out)
}

type phone struct {
	user, token string
	ws          *websocket.Conn
	question    chan time.Time // the question's deadline, once it arrives
	result      chan time.Time // when the results frame arrived
	mine        atomic.Bool    // its own rank arrived
	points      atomic.Int64   // the points its own result gave it
	counted     atomic.Int64   // the answers the results frame says the server scored
}

// connectPhones joins and subscribes every phone, 64 at a time.
func connectPhones(ctx context.Context, c *client, o options, code, channel string, out io.Writer) ([]*phone, error) {
	phones := make([]*phone, o.players)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for w := range 64 {
		dialer := &websocket.Dialer{HandshakeTimeout: 30 * time.Second, NetDialContext: sourceDialer(w)}
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(phones) && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				p, err := connectPhone(c, o, dialer, i, code, channel)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				phones[i] = p
				mu.Unlock()
				if err != nil {
					return
				}
				if (i+1)%1000 == 0 {
					fmt.Fprintf(out, "  %d phones connected (%.0fs)\n", i+1, time.Since(start).Seconds())
				}
			}
		})
	}
	wg.Wait()
	return slices.DeleteFunc(phones, func(p *phone) bool { return p == nil }), firstErr
}

// sourceDialer spreads connections over 127.0.0.1-16, so 10,000 sockets
// never run out of ephemeral ports towards one server port.
func sourceDialer(w int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+w%16))}}
	return d.DialContext
}

func connectPhone(c *client, o options, d *websocket.Dialer, i int, code, channel string) (*phone, error) {
	user := fmt.Sprintf("lp%d", i)
	tok, err := auth.Mint([]byte(o.secret), user, o.tenant, []auth.Role{auth.Player}, time.Hour)
	if err != nil {
		return nil, err
	}
	status, body, err := c.do("POST", "/v1/live/join", tok, "", fmt.Appendf(nil, `{"code":%q}`, code))
	if err != nil || status != 200 {
		return nil, fmt.Errorf("join %s: status %d %s: %v", user, status, body, err)
	}
	u := strings.Replace(c.base, "http://", "ws://", 1) + "/v1/ws"
	ws, _, err := d.Dial(u, http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", user, err)
	}
	p := &phone{user: user, token: tok, ws: ws, question: make(chan time.Time, 1), result: make(chan time.Time, 1)}
	if err := ws.WriteJSON(map[string]any{"op": "subscribe", "channel": channel}); err != nil {
		return nil, err
	}
	for subscribed := 0; subscribed < 2; { // the user channel, then the show's
		var f struct{ Type, Channel string }
		_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		if err := ws.ReadJSON(&f); err != nil {
			return nil, fmt.Errorf("subscribe %s: %w", user, err)
		}
		if f.Type == "error" {
			return nil, fmt.Errorf("subscribe %s refused", user)
		}
		if f.Type == "subscribed" {
			subscribed++
		}
	}
	go p.read()
	return p, nil
}

var (
	deadlineRE = regexp.MustCompile(`"deadline":"([^"]+)"`)
	answersRE  = regexp.MustCompile(`"answers":([0-9]+)`)
	pointsRE   = regexp.MustCompile(`"points":([0-9]+)`)
)

// read records the frames the measurement needs until the socket closes.
func (p *phone) read() {
	_ = p.ws.SetReadDeadline(time.Time{})
	for {
		_, msg, err := p.ws.ReadMessage()
		if err != nil {
			return
		}
		s := string(msg)
		switch {
		case strings.Contains(s, `"type":"quiz.question"`):
			if m := deadlineRE.FindStringSubmatch(s); m != nil {
				if d, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
					p.question <- d
				}
			}
		case strings.Contains(s, `"type":"quiz.result"`):
			p.result <- time.Now()
			if m := answersRE.FindStringSubmatch(s); m != nil {
				n, _ := strconv.ParseInt(m[1], 10, 64)
				p.counted.Store(n)
			}
		case strings.Contains(s, `"type":"quiz.you"`):
			if m := pointsRE.FindStringSubmatch(s); m != nil {
				n, _ := strconv.ParseInt(m[1], 10, 64)
				p.points.Store(n)
			}
			p.mine.Store(true)
		}
	}
}

// runQuestion opens the question and has every phone answer at a random
// moment within it, then waits for the results.
func runQuestion(ctx context.Context, c *client, host, session string, phones []*phone, out io.Writer) error {
	status, body, err := c.do("POST", "/v1/live/"+session+"/next", host, "", nil)
	if err != nil || status != 200 {
		return fmt.Errorf("next: %d %s %v", status, body, err)
	}
	var accepted, dup, failed atomic.Int64
	var firstFail atomic.Value
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	var deadline time.Time
	for _, p := range phones {
		select {
		case deadline = <-p.question:
		case <-time.After(15 * time.Second):
			return fmt.Errorf("%s got no question", p.user)
		}
		wait := time.Until(deadline.Add(-500*time.Millisecond)) * time.Duration(rand.IntN(1000)) / 1000
		wg.Go(func() {
			time.Sleep(wait)
			sem <- struct{}{}
			defer func() { <-sem }()
			status, body, err := c.do("POST", "/v1/live/"+session+"/answers", p.token, "", []byte(`{"question_id":"q","choices":["b"]}`))
			switch {
			case err == nil && status == 200 && strings.Contains(string(body), `"accepted":true`):
				accepted.Add(1)
			case err == nil && status == 200:
				dup.Add(1)
			default:
				failed.Add(1)
				firstFail.CompareAndSwap(nil, fmt.Sprintf("status %d %s %v", status, body, err))
			}
		})
	}
	wg.Wait()
	fmt.Fprintf(out, "answers: %d accepted, %d duplicates, %d failed (sent before the deadline %s)\n",
		accepted.Load(), dup.Load(), failed.Load(), deadline.Format(time.RFC3339Nano))
	if f := firstFail.Load(); f != nil {
		fmt.Fprintf(out, "first failure: %v\n", f)
	}
	return awaitResults(ctx, c, host, session, deadline, phones, accepted.Load(), out)
}

func awaitResults(ctx context.Context, c *client, host, session string, deadline time.Time, phones []*phone, accepted int64, out io.Writer) error {
	var lags []time.Duration
	missing := 0
	wait := time.After(time.Until(deadline) + 30*time.Second)
	for _, p := range phones {
		select {
		case at := <-p.result:
			lags = append(lags, at.Sub(deadline))
		case <-wait:
			missing++
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	slices.Sort(lags)
	pct := func(f float64) time.Duration {
		if len(lags) == 0 {
			return 0
		}
		return lags[min(len(lags)-1, int(f*float64(len(lags))))].Round(time.Millisecond)
	}
	within := 0
	for _, l := range lags {
		if l <= time.Second {
			within++
		}
	}
	fmt.Fprintf(out, "results: %d of %d phones, %d within 1 s of the deadline; after the deadline p50 %s p99 %s max %s\n",
		len(lags), len(phones), within, pct(.5), pct(.99), pct(1))
	time.Sleep(2 * time.Second) // the per-player rank pushes follow the broadcast
	own, scored := 0, 0
	for _, p := range phones {
		if p.mine.Load() {
			own++
		}
		if p.points.Load() > 0 {
			scored++
		}
	}
	fmt.Fprintf(out, "own results: %d of %d phones, %d with points; the server counted %d answers; %d accepted: exactly once %v\n",
		own, len(phones), scored, phones[0].counted.Load(), accepted, int64(scored) == accepted && phones[0].counted.Load() == accepted)
	if missing > 0 {
		fmt.Fprintf(out, "missing results: %d\n", missing)
	}
	if status, body, err := c.do("POST", "/v1/live/"+session+"/end", host, "", nil); err != nil || status != 200 {
		return fmt.Errorf("end: %d %s %v", status, body, err)
	}
	return nil
}

var rssRE = regexp.MustCompile(`(?m)^process_resident_memory_bytes ([0-9.e+]+)$`)

// serverRSS reads the server's resident memory from /metrics.
func serverRSS(c *client) (int64, error) {
	_, body, err := c.do("GET", "/metrics", "", "", nil)
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	m := rssRE.FindSubmatch(body)
	if m == nil {
		return 0, errors.New("metrics: no process_resident_memory_bytes")
	}
	f, err := strconv.ParseFloat(string(m[1]), 64)
	return int64(f), err
}
