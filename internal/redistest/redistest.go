// Package redistest gives tests a real Redis: the server named by REDIS_URL,
// or a throwaway redis-server started on a free loopback port, and a
// throwaway three-node Redis Cluster.
//
// Redis-backed tests never use a mock. When no server can be had they skip,
// except under CI=true, where a missing Redis is a failure.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// URL returns a redis:// URL for a server the test may use and flush. A
// server started here is stopped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	bin := serverBinary(t)
	port, err := freePort()
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	return "redis://" + startServer(t, bin, t.TempDir(), port) + "/0"
}

// Client returns a client for URL(t) on a flushed database, closed when the
// test ends.
func Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	opts, err := redis.ParseURL(URL(t))
	if err != nil {
		t.Fatalf("redistest: parse url: %v", err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("redistest: flush: %v", err)
	}
	return c
}

// clusterNodes is the size of the Cluster that Cluster starts: the smallest
// that redis-cli --cluster create accepts, and enough for keys of different
// hash tags to land on different nodes.
const clusterNodes = 3

// Cluster starts a throwaway Redis Cluster of three masters without
// replicas on loopback, its 16,384 slots split evenly, and returns a client
// for it. Everything is stopped when the test ends. REDIS_URL plays no part:
// a test that asks for a Cluster needs one whose nodes it knows are empty.
func Cluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: ClusterAddrs(t)})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ClusterAddrs starts a Cluster as Cluster does and returns its nodes'
// host:port addresses, e.g. for a REDIS_URL seed list.
func ClusterAddrs(t testing.TB) []string {
	t.Helper()
	bin := serverBinary(t)
	dir := t.TempDir()
	addrs := make([]string, clusterNodes)
	for i := range addrs {
		port, err := clusterPort()
		if err != nil {
			t.Fatalf("redistest: free port: %v", err)
		}
		addrs[i] = startServer(t, bin, dir, port,
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", port)),
		)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := joinCluster(ctx, addrs); err != nil {
		t.Fatalf("redistest: cluster: %v", err)
	}
	return addrs
}

// joinCluster assigns each node an equal range of slots and a distinct
// config epoch, introduces the nodes to each other, and waits until every
// node sees the whole Cluster as ok: the steps of redis-cli --cluster
// create, without depending on redis-cli.
func joinCluster(ctx context.Context, addrs []string) error {
	clients := make([]*redis.Client, len(addrs))
	for i, a := range addrs {
		clients[i] = redis.NewClient(&redis.Options{Addr: a})
		defer clients[i].Close()
	}
	for i, c := range clients {
		lo, hi := i*16384/len(addrs), (i+1)*16384/len(addrs)-1
		if err := c.ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			return fmt.Errorf("add slots %d-%d to %s: %w", lo, hi, addrs[i], err)
		}
		// Distinct epochs spare the nodes the collision handling that would
		// otherwise delay agreement.
		if err := c.Do(ctx, "cluster", "set-config-epoch", i+1).Err(); err != nil {
			return fmt.Errorf("set config epoch of %s: %w", addrs[i], err)
		}
	}
	for _, a := range addrs[1:] {
		host, port, _ := net.SplitHostPort(a)
		if err := clients[0].ClusterMeet(ctx, host, port).Err(); err != nil {
			return fmt.Errorf("meet %s: %w", a, err)
		}
	}
	for i, c := range clients {
		if err := waitClusterOK(ctx, c, len(addrs)); err != nil {
			return fmt.Errorf("node %s: %w", addrs[i], err)
		}
	}
	return nil
}

// waitClusterOK polls CLUSTER INFO until c knows nodes nodes and reports
// cluster_state:ok, which it does only once every slot has an owner it
// can reach.
func waitClusterOK(ctx context.Context, c *redis.Client, nodes int) error {
	want := []string{"cluster_state:ok", fmt.Sprintf("cluster_known_nodes:%d", nodes)}
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && containsAll(info, want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ok (last CLUSTER INFO error %v): %w\n%s", err, ctx.Err(), info)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// serverBinary finds redis-server or skips (fails under CI=true) the test.
func serverBinary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server not found on PATH")
	}
	return bin
}

// startServer runs redis-server on port with its files in dir, waits until
// it answers, and returns its address. It is killed when the test ends.
func startServer(t testing.TB, bin, dir string, port int, extra ...string) string {
	t.Helper()
	cmd := exec.Command(bin, serverArgs(dir, port, extra...)...)
	if err := cmd.Start(); err != nil {
		unavailable(t, fmt.Sprintf("start redis-server: %v", err))
	}
	t.Cleanup(func() { kill(cmd) })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitReady(t, addr)
	return addr
}

// serverArgs runs a loopback redis-server on port that persists nothing.
func serverArgs(dir string, port int, extra ...string) []string {
	return append([]string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--logfile", filepath.Join(dir, fmt.Sprintf("redis-%d.log", port)),
	}, extra...)
}

func kill(cmd *exec.Cmd) {
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// Outage is a throwaway redis-server that a test can kill and start
// again on the same port, to see what an outage does. It never uses
// REDIS_URL: a shared server cannot be killed.
type Outage struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	// Addr is host:port, the same across restarts.
	Addr string
	cmd  *exec.Cmd
}

// StartOutage starts a redis-server for an outage test.
func StartOutage(t testing.TB) *Outage {
	t.Helper()
	o := &Outage{t: t, bin: serverBinary(t), dir: t.TempDir()}
	port, err := freePort()
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	o.port = port
	o.Start()
	t.Cleanup(o.Kill)
	return o
}

// URL is the server's redis:// URL.
func (o *Outage) URL() string { return "redis://" + o.Addr + "/0" }

// Kill stops the server at once (SIGKILL), losing its data as an
// unpersisted Redis does. Killing a stopped server does nothing.
func (o *Outage) Kill() {
	if o.cmd != nil {
		kill(o.cmd)
		o.cmd = nil
	}
}

// Pause freezes the server (SIGSTOP): connections stay open and nothing
// answers, as a Redis stuck in a long command or a lost network does.
func (o *Outage) Pause() {
	o.t.Helper()
	if o.cmd == nil {
		o.t.Fatal("redistest: pause: the server is not running")
	}
	if err := o.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		o.t.Fatalf("redistest: pause redis-server: %v", err)
	}
}

// Resume lets a paused server go on (SIGCONT).
func (o *Outage) Resume() {
	if o.cmd != nil {
		_ = o.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// Start starts the server again on its port and waits until it answers.
func (o *Outage) Start() {
	o.t.Helper()
	if o.cmd != nil {
		return
	}
	o.cmd = exec.Command(o.bin, serverArgs(o.dir, o.port)...)
	if err := o.cmd.Start(); err != nil {
		o.t.Fatalf("redistest: start redis-server: %v", err)
	}
	o.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(o.port))
	waitReady(o.t, o.Addr)
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("redistest: %s (CI=true requires Redis)", why)
	}
	t.Skipf("redistest: %s; install redis-server or set REDIS_URL", why)
}

func waitReady(t testing.TB, addr string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: redis-server on %s did not answer: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// clusterBusOffset is how far above its port a Cluster node listens for
// the other nodes (Redis' default cluster-port).
const clusterBusOffset = 10000

// clusterPort returns a free port whose cluster bus port is free too.
func clusterPort() (int, error) {
	for range 100 {
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		if p+clusterBusOffset > 65535 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+clusterBusOffset)))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, errors.New("no free port with a free cluster bus port")
}
