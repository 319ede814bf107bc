package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/config"
	"github.com/questline/questline/internal/mongotest"
	"github.com/questline/questline/internal/redistest"
)

const testSecret = "test-secret-0123456789abcdef0123456789"

// testServer is a real Questline server started through run, as the binary
// would be, on a free loopback port.
type testServer struct {
	t       *testing.T
	base    string
	env     map[string]string
	dataDir string
	stop    context.CancelFunc
	done    chan int
	logs    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// deployment is one of the shapes the black-box tests run against.
type deployment struct {
	name string
	env  func(t *testing.T) map[string]string
}

func deployments() []deployment {
	ds := []deployment{
		{"embedded", func(*testing.T) map[string]string { return map[string]string{} }},
		{"redis", func(t *testing.T) map[string]string {
			return map[string]string{"REDIS_URL": redistest.URL(t)}
		}},
	}
	if uri := os.Getenv("MONGO_URI"); uri != "" {
		// Production shape: MongoDB + Redis, on a database of its own.
		ds = append(ds, deployment{"mongo", func(t *testing.T) map[string]string {
			return map[string]string{"MONGO_URI": uri, "QL_MONGO_DB": mongoDB(t), "REDIS_URL": redistest.URL(t)}
		}})
	}
	return ds
}

// TestMongoDeployment fails under CI=true when MONGO_URI is unset, so the
// "mongo" deployment above can never drop out of a CI run unnoticed.
func TestMongoDeployment(t *testing.T) {
	mongotest.URI(t)
}

// mongoDB names a database for one test and drops it afterwards.
func mongoDB(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("qltest_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := mongodrv.Connect(options.Client().ApplyURI(os.Getenv("MONGO_URI")))
		if err != nil {
			return
		}
		defer c.Disconnect(ctx)
		_ = c.Database(name).Drop(ctx)
	})
	return name
}

func startServer(t *testing.T, env map[string]string) *testServer {
	t.Helper()
	s := &testServer{t: t, env: map[string]string{}, dataDir: t.TempDir(), logs: &syncBuffer{}}
	s.env["QL_DATA_DIR"] = s.dataDir
	s.env["QL_JWT_SECRET"] = testSecret
	s.env["QL_LOG_LEVEL"] = "warn"
	s.env["QL_EVENT_RATE"] = "1000" // tests fire bursts; TestRateLimit covers the limit
	// Tests send many bad credentials; TestAuthFailureLimit covers the limit.
	s.env["QL_AUTH_FAIL_RATE"] = "1000"
	for k, v := range env {
		s.env[k] = v
	}
	s.start()
	return s
}

// start runs the server in this process. Its port is picked free before
// the server binds it, so another process may take it in between; the
// start is then tried again on a new port.
func (s *testServer) start() {
	s.t.Helper()
	for attempt := 1; ; attempt++ {
		before := len(s.logs.String())
		code, started := s.launch()
		if started {
			s.t.Cleanup(s.shutdown)
			return
		}
		if !strings.Contains(s.logs.String()[before:], addrInUse) || attempt == 3 {
			s.t.Fatalf("server exited with %d: %s", code, s.logs.String())
		}
	}
}

// addrInUse is what a failed bind logs.
const addrInUse = "address already in use"

// probe asks whether a starting server answers. Its timeout matters when
// another process holds the port: a connection it accepts but never
// answers would otherwise hang the start.
var probe = &http.Client{Timeout: time.Second}

// launch starts the server and waits until it answers /healthz; if it
// exits first, launch reports its exit code.
func (s *testServer) launch() (code int, started bool) {
	s.t.Helper()
	port := freePort(s.t)
	s.env["QL_ADDR"] = fmt.Sprintf("127.0.0.1:%d", port)
	s.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan int, 1)
	go func() { s.done <- run(ctx, []string{"server", "serve"}, s.getenv, s.logs) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := probe.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return 0, true
		}
		select {
		case code := <-s.done:
			s.stop()
			s.stop = nil
			return code, false
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("server did not start: %s", s.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *testServer) getenv(k string) string { return s.env[k] }

// shutdown stops the server the way SIGTERM does; it is safe to call twice.
func (s *testServer) shutdown() {
	if s.stop == nil {
		return
	}
	s.stop()
	select {
	case code := <-s.done:
		if code != 0 {
			s.t.Errorf("server exited with %d: %s", code, s.logs.String())
		}
	case <-time.After(30 * time.Second):
		s.t.Errorf("server did not stop")
	}
	s.stop = nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *testServer) token(sub, tenant string, roles ...auth.Role) string {
	s.t.Helper()
	if len(roles) == 0 {
		roles = []auth.Role{auth.Player}
	}
	tok, err := auth.Mint([]byte(testSecret), sub, tenant, roles, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// response is a decoded HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t *testing.T, into any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, into); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// problemType returns the problem+json type of an error response.
func (r response) problemType(t *testing.T) string {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("status %d content type %q, want problem+json: %s", r.Status, ct, r.Body)
	}
	var p struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
	}
	r.json(t, &p)
	if p.Status != r.Status {
		t.Fatalf("problem status %d != HTTP status %d", p.Status, r.Status)
	}
	return strings.TrimPrefix(p.Type, "https://questline.dev/problems/")
}

type req struct {
	method, path, token string
	body                any // string sent raw, anything else as JSON
	header              map[string]string
	// oversized: the body is over the server's limit. Only the headers
	// are sent, declaring the body's length, as a client is cut off at:
	// a server refusing the body closes the connection at once, and a
	// client still writing then gets a reset that can discard the 413.
	oversized bool
}

func (s *testServer) do(r req) response {
	s.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	hr, err := http.NewRequest(r.method, s.base+r.path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.oversized {
		return s.headersOnly(hr, body)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		s.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// headersOnly sends hr's request line and headers, with the
// Content-Length of body but none of it, and reads the answer.
func (s *testServer) headersOnly(hr *http.Request, body io.Reader) response {
	s.t.Helper()
	n, err := io.Copy(io.Discard, body)
	if err != nil {
		s.t.Fatal(err)
	}
	conn, err := net.Dial("tcp", hr.URL.Host)
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close()
	// A server that waits for the body instead of refusing it fails here.
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var head bytes.Buffer
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", hr.Method, hr.URL.RequestURI(), hr.URL.Host, n)
	for k, vs := range hr.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	if _, err := conn.Write(head.Bytes()); err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), hr)
	if err != nil {
		s.t.Fatalf("%s %s: %v", hr.Method, hr.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// embeddedApp opens an in-process node on the embedded default in a
// fresh data directory, closed when tb ends.
func embeddedApp(tb testing.TB) *app {
	tb.Helper()
	dir := tb.TempDir()
	cfg, err := config.Load(nil, func(k string) string {
		return map[string]string{"QL_DATA_DIR": dir, "QL_JWT_SECRET": testSecret, "QL_LOG_LEVEL": "error"}[k]
	}, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, newLogger(io.Discard, cfg.LogLevel))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(a.close)
	return a
}

// must does r and fails the test unless the status is want.
func (s *testServer) must(want int, r req) response {
	s.t.Helper()
	resp := s.do(r)
	if resp.Status != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", r.method, r.path, resp.Status, want, resp.Body)
	}
	return resp
}

// setupSlice creates and publishes "share 3 times -> 50 points" and an
// all-time points board as a manager of tenant.
func (s *testServer) setupSlice(tenant string) (challengeID, boardID string) {
	s.t.Helper()
	mgr := s.token("boss", tenant, auth.Manager)
	var ch struct{ ID, Status string }
	s.must(201, req{method: "POST", path: "/v1/challenges", token: mgr, body: map[string]any{
		"name": "Share 3 times", "event_type": "share", "target": 3, "reward_points": 50,
	}}).json(s.t, &ch)
	if ch.Status != "draft" {
		s.t.Fatalf("new challenge status %q", ch.Status)
	}
	s.must(200, req{method: "POST", path: "/v1/challenges/" + ch.ID + "/publish", token: mgr}).json(s.t, &ch)
	if ch.Status != "published" {
		s.t.Fatalf("published challenge status %q", ch.Status)
	}
	var b struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/leaderboards", token: mgr, body: map[string]any{
		"name": "Points", "window": "all_time",
	}}).json(s.t, &b)
	return ch.ID, b.ID
}

type eventResult struct {
	EventID  string `json:"event_id"`
	Replayed bool   `json:"replayed"`
	Progress []struct {
		ChallengeID string  `json:"challenge_id"`
		Current     float64 `json:"current"`
		Target      float64 `json:"target"`
		Completed   bool    `json:"completed"`
	} `json:"progress"`
	Completions []struct {
		ChallengeID string `json:"challenge_id"`
	} `json:"completions"`
	Points []struct {
		Amount  int64 `json:"amount"`
		Balance int64 `json:"balance"`
	} `json:"points"`
}

type wallet struct {
	Balance int64 `json:"balance"`
	Earned  int64 `json:"earned"`
}

func (s *testServer) wallet(token string) wallet {
	var w wallet
	s.must(200, req{method: "GET", path: "/v1/me/wallet", token: token}).json(s.t, &w)
	return w
}

type boardPage struct {
	Total   int64 `json:"total"`
	Entries []struct {
		UserID string `json:"user_id"`
		Score  int64  `json:"score"`
		Rank   int64  `json:"rank"`
	} `json:"entries"`
	Me *struct {
		UserID string `json:"user_id"`
		Score  int64  `json:"score"`
		Rank   int64  `json:"rank"`
	} `json:"me"`
}

func (s *testServer) top(token, board string) boardPage {
	var p boardPage
	s.must(200, req{method: "GET", path: "/v1/leaderboards/" + board + "/top?limit=100", token: token}).json(s.t, &p)
	return p
}

// wsFrame is a push as the phone receives it.
type wsFrame struct {
	Type    string          `json:"type"`
	Channel string          `json:"channel"`
	Epoch   string          `json:"epoch"`
	Seq     uint64          `json:"seq"`
	Data    json.RawMessage `json:"data"`
}

// dial opens a WebSocket and waits for the user channel's "subscribed"
// answer: pushes sent before it are not the connection's to receive (a
// client resumes them with ?since=).
func (s *testServer) dial(token, query string) *websocket.Conn {
	s.t.Helper()
	u := strings.Replace(s.base, "http://", "ws://", 1) + "/v1/ws?token=" + token + query
	c, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		s.t.Fatalf("dial ws: %v (status %d)", err, status)
	}
	s.t.Cleanup(func() { c.Close() })
	if f := readFrames(s.t, c, 1, "subscribed")[0]; !strings.HasPrefix(f.Channel, "user:") {
		s.t.Fatalf("first subscription = %+v, want the user channel", f)
	}
	return c
}

// readFrames reads frames until n of the wanted types arrived or timeout.
func readFrames(t *testing.T, c *websocket.Conn, n int, types ...string) []wsFrame {
	t.Helper()
	want := map[string]bool{}
	for _, ty := range types {
		want[ty] = true
	}
	var got []wsFrame
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(got) < n {
		var f wsFrame
		if err := c.ReadJSON(&f); err != nil {
			t.Fatalf("read ws after %d frames %+v: %v", len(got), got, err)
		}
		if want[f.Type] {
			got = append(got, f)
		}
	}
	return got
}

// TestMongoLooseURIWarned: a MONGO_URI asking for secondary reads and
// w=1 still runs on primary reads and majority writes, and the node says
// at start that it ignores them.
func TestMongoLooseURIWarned(t *testing.T) {
	uri := mongotest.URI(t)
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	s := startServer(t, map[string]string{"MONGO_URI": uri + sep + "readPreference=secondaryPreferred&w=1", "QL_MONGO_DB": mongoDB(t)})
	s.setupSlice("acme")
	alice := s.token("alice", "acme")
	for i := range 3 {
		s.event(alice, fmt.Sprint(i), map[string]any{"type": "share"})
	}
	if w := s.wallet(alice); w.Balance != 50 {
		t.Fatalf("wallet = %+v, want 50", w)
	}
	if logs := s.logs.String(); !strings.Contains(logs, "ignoring settings that would loosen consistency") ||
		!strings.Contains(logs, `"ignored":"readPreference=secondaryPreferred,w=1"`) {
		t.Fatalf("no warning of the ignored settings in the log: %s", logs)
	}
}
