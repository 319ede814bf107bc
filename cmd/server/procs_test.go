package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/realtime/client"
)

// procEnv, when set in the environment, makes the test binary a server
// process instead of running tests: the multi-process tests start copies
// of themselves, so no separate build is needed.
const procEnv = "QL_TEST_SERVER_PROCESS"

func TestMain(m *testing.M) {
	if os.Getenv(procEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, []string{"server", "serve"}, os.Getenv, os.Stdout)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// proc is one server process on loopback.
type proc struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	base  string // http://127.0.0.1:port
	ws    string // ws://127.0.0.1:port/v1/ws
	pprof string // 127.0.0.1:port
	logs  string
	done  chan error
}

// startProcs starts n server processes sharing one SQLite file under dir
// and env (REDIS_URL at least).
func startProcs(t *testing.T, n int, env map[string]string) []*proc {
	t.Helper()
	dir := t.TempDir()
	procs := make([]*proc, n)
	for i := range procs {
		procs[i] = startProc(t, fmt.Sprintf("node%d", i), dir, env)
	}
	return procs
}

// startProc starts one server process. Its ports are picked free
// before the child binds them, so another process may take one in
// between; the start is then tried again on new ports.
func startProc(t *testing.T, name, dir string, env map[string]string) *proc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p, err := launchProc(t, name, dir, env)
		if err == nil {
			return p
		}
		if !strings.Contains(p.log(), addrInUse) || attempt == 3 {
			t.Fatalf("%s: %v: %s", name, err, p.log())
		}
	}
}

// launchProc starts the process and waits until it answers /healthz.
func launchProc(t *testing.T, name, dir string, env map[string]string) (*proc, error) {
	t.Helper()
	port, pport := freePort(t), freePort(t)
	p := &proc{
		t: t, name: name,
		base: fmt.Sprintf("http://127.0.0.1:%d", port), ws: fmt.Sprintf("ws://127.0.0.1:%d/v1/ws", port),
		pprof: fmt.Sprintf("127.0.0.1:%d", pport), logs: filepath.Join(dir, name+".log"), done: make(chan error, 1),
	}
	vars := map[string]string{
		procEnv: "1", "QL_ADDR": fmt.Sprintf("127.0.0.1:%d", port), "QL_PPROF_ADDR": p.pprof,
		"QL_DATA_DIR": dir, "QL_JWT_SECRET": testSecret, "QL_LOG_LEVEL": "warn",
		"QL_EVENT_RATE": "1000", "QL_AUTH_FAIL_RATE": "1000", "QL_SHUTDOWN_TIMEOUT": "10s",
	}
	for k, v := range env {
		vars[k] = v
	}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range vars {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	logf, err := os.Create(p.logs)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := probe.Get(p.base + "/healthz"); err == nil {
			resp.Body.Close()
			t.Cleanup(func() { p.kill() })
			return p, nil
		}
		select {
		case err := <-p.done:
			p.done <- err
			return p, fmt.Errorf("exited at start (%v)", err)
		default:
		}
		if time.Now().After(deadline) {
			p.kill()
			return p, fmt.Errorf("did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) log() string {
	b, _ := os.ReadFile(p.logs)
	return string(b)
}

// kill stops the process at once (SIGKILL), as a crash would.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	p.wait()
}

// term stops the process as an orchestrator does (SIGTERM) and waits.
func (p *proc) term() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait()
}

func (p *proc) wait() {
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(20 * time.Second):
		p.t.Errorf("%s did not exit", p.name)
	}
}

func (p *proc) alive() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return false
	default:
		return true
	}
}

// goroutines reads the process's goroutine count from its pprof port.
func (p *proc) goroutines() int {
	p.t.Helper()
	resp, err := http.Get("http://" + p.pprof + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		p.t.Fatalf("%s goroutines: %v", p.name, err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "goroutine profile: total")))
	if err != nil {
		p.t.Fatalf("%s goroutines: %q", p.name, line)
	}
	return n
}

// server is the testServer view of p, for the HTTP helpers.
func (p *proc) server() *testServer {
	return &testServer{t: p.t, base: p.base}
}

// watcher is a reference client recording what it is handed.
type watcher struct {
	c      *client.Client
	mu     sync.Mutex
	frames []client.Frame
	closes []int
	cancel context.CancelFunc
	done   chan struct{}
}

// watch runs a reference client for user on urls (the first is where it
// connects first), subscribed to channels too, until the test ends.
func watch(t *testing.T, user, tenant string, urls []string, channels ...string) *watcher {
	t.Helper()
	tok, err := auth.Mint([]byte(testSecret), user, tenant, []auth.Role{auth.Player}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{done: make(chan struct{})}
	w.c = client.New(client.Options{
		URLs:  urls,
		Token: func(context.Context) (string, error) { return tok, nil },
		OnFrame: func(f client.Frame) {
			w.mu.Lock()
			w.frames = append(w.frames, f)
			w.mu.Unlock()
		},
		OnState: func(up bool, err error) {
			if !up {
				w.mu.Lock()
				w.closes = append(w.closes, client.CloseCode(err))
				w.mu.Unlock()
			}
		},
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
	})
	for _, ch := range channels {
		_ = w.c.Subscribe(ch)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() { defer close(w.done); _ = w.c.Run(ctx) }()
	t.Cleanup(w.stop)
	return w
}

func (w *watcher) stop() { w.cancel(); <-w.done }

// pushes returns the seqs of the pushes of typ on channels with prefix.
func (w *watcher) pushes(prefix string, types ...string) []uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []uint64
	for _, f := range w.frames {
		for _, ty := range types {
			if f.Type == ty && strings.HasPrefix(f.Channel, prefix) {
				out = append(out, f.Seq)
			}
		}
	}
	return out
}

func (w *watcher) count(typ string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, f := range w.frames {
		if f.Type == typ {
			n++
		}
	}
	return n
}

// waitFor polls ok until it holds or 15 s pass.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// contiguous reports whether seqs run from seqs[0] up by one.
func contiguous(seqs []uint64) bool {
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			return false
		}
	}
	return true
}

// userPushes are the push types an event of setupSlice causes on the
// user channel.
var userPushes = []string{"progress", "challenge.completed", "points", "badge.unlocked", "tier.changed"}
