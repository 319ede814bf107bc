package config

import (
	"io"
	"strings"
	"testing"
)

func TestPprofAddr(t *testing.T) {
	for _, tc := range []struct {
		addr, public string
		ok           bool
	}{
		{"", ":8080", true},
		{"127.0.0.1:6060", ":8080", true},
		{"[::1]:6060", ":8080", true},
		{"localhost:6060", ":8080", true},
		{"127.0.0.2:0", ":8080", true},
		{"0.0.0.0:6060", ":8080", false},
		{":6060", ":8080", false},
		{"10.0.0.5:6060", ":8080", false},
		{"example.com:6060", ":8080", false},
		{"[::]:6060", ":8080", false},
		{"127.0.0.1", ":8080", false},
		{"127.0.0.1:8080", "127.0.0.1:8080", false},
	} {
		env := map[string]string{"QL_PPROF_ADDR": tc.addr, "QL_ADDR": tc.public}
		c, err := Load(nil, func(k string) string { return env[k] }, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("QL_PPROF_ADDR=%q: err = %v, want ok=%v", tc.addr, err, tc.ok)
			continue
		}
		if err != nil && !strings.HasPrefix(err.Error(), "QL_PPROF_ADDR: ") {
			t.Errorf("QL_PPROF_ADDR=%q: error %q does not name the setting", tc.addr, err)
		}
		if err == nil && c.PprofAddr != tc.addr {
			t.Errorf("QL_PPROF_ADDR=%q: PprofAddr = %q", tc.addr, c.PprofAddr)
		}
	}
	// The flag wins over the environment.
	c, err := Load([]string{"-pprof-addr", "127.0.0.1:7070"}, func(k string) string {
		return map[string]string{"QL_PPROF_ADDR": "127.0.0.1:6060"}[k]
	}, io.Discard)
	if err != nil || c.PprofAddr != "127.0.0.1:7070" {
		t.Errorf("flag: %q, %v", c.PprofAddr, err)
	}
}
