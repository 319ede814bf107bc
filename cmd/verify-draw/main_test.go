package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/questline/questline/contests/draw"
)

// published builds a drawn record and its entry list, as a server would.
func published(t *testing.T) ([]byte, []byte) {
	t.Helper()
	seed := bytes.Repeat([]byte{7}, draw.SeedSize)
	l := draw.NewList(true)
	var ts []draw.Ticket
	for i := range 30 {
		x := draw.Ticket{Entrant: fmt.Sprintf("h%02d", i), N: 1}
		if err := l.Add(x); err != nil {
			t.Fatal(err)
		}
		ts = append(ts, x)
	}
	sum := l.Sum()
	rec := draw.Record{Algorithm: draw.Version, Commitment: draw.Commit(seed), Seed: hex.EncodeToString(seed),
		EntriesHash: hex.EncodeToString(sum[:]), EntriesCount: len(ts), Places: 3}
	rec.Winners = draw.Assign(draw.Order(seed, sum, ts), 3, nil)
	w, err := json.Marshal(map[string]any{"contest_id": "c1", "draw": rec})
	if err != nil {
		t.Fatal(err)
	}
	return w, l.Bytes()
}

func TestVerifyDraw(t *testing.T) {
	winners, entries := published(t)
	tampered := bytes.Replace(entries, []byte("h05\t1"), []byte("h05x\t1"), 1)
	for _, c := range []struct {
		name    string
		entries []byte
		want    int
	}{{"published files", entries, 0}, {"one entry changed", tampered, 1}} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer tok" {
					http.Error(w, "no", http.StatusUnauthorized)
					return
				}
				switch r.URL.Path {
				case "/v1/contests/c1/winners":
					_, _ = w.Write(winners)
				case "/v1/contests/c1/entries":
					_, _ = w.Write(c.entries)
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			var out, errOut strings.Builder
			if got := run(context.Background(), []string{"--contest", "c1", "--url", srv.URL, "--token", "tok"}, func(string) string { return "" }, &out, &errOut); got != c.want {
				t.Fatalf("over HTTP: exit %d, want %d: %s %s", got, c.want, out.String(), errOut.String())
			}
			dir := t.TempDir()
			wf, ef := filepath.Join(dir, "winners.json"), filepath.Join(dir, "entries.txt")
			if err := os.WriteFile(wf, winners, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(ef, c.entries, 0o600); err != nil {
				t.Fatal(err)
			}
			out.Reset()
			if got := run(context.Background(), []string{"--winners", wf, "--entries", ef}, func(string) string { return "" }, &out, &errOut); got != c.want {
				t.Fatalf("from files: exit %d, want %d: %s", got, c.want, out.String())
			}
		})
	}
	var out, errOut strings.Builder
	if got := run(context.Background(), nil, func(string) string { return "" }, &out, &errOut); got != 2 {
		t.Fatalf("no arguments: exit %d", got)
	}
}
