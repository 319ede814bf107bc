package main

import (
	"fmt"
	"io"
	"net/http"
	"testing"
)

// TestPprofListener: with QL_PPROF_ADDR the profiles answer on that
// loopback address and nowhere on the public one.
func TestPprofListener(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := startServer(t, map[string]string{"QL_PPROF_ADDR": addr})
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Fatalf("pprof cmdline: %d %q", resp.StatusCode, body)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline"} {
		if r := s.do(req{method: "GET", path: path}); r.Status != http.StatusNotFound {
			t.Errorf("public %s: %d, want 404", path, r.Status)
		}
	}
}

// TestPprofOffByDefault: without QL_PPROF_ADDR nothing serves profiles.
func TestPprofOffByDefault(t *testing.T) {
	s := startServer(t, nil)
	if r := s.do(req{method: "GET", path: "/debug/pprof/"}); r.Status != http.StatusNotFound {
		t.Errorf("public /debug/pprof/: %d, want 404", r.Status)
	}
}
