package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

func expire(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := command("expire", "Usage: server expire [--at 2026-04-01T00:00:00Z]\n"+
		"Runs the points expiry job once: every lot whose expiry has come loses what is left of it\n"+
		"(points.expired), and points.expiring goes to users whose points expire within their\n"+
		"tenant's notice days. Safe beside running servers and other runs: each lot expires once.\n"+
		"It first emits the points.expired events a run that died left owed.\n", out)
	at := fs.String("at", "", "expire as of this RFC 3339 time (default: now)")
	cfg, err := parseCommand(fs, args, getenv, out)
	if err != nil {
		return err
	}
	now := time.Now()
	if *at != "" {
		if now, err = time.Parse(time.RFC3339, *at); err != nil {
			return fmt.Errorf("expire: --at: %w", err)
		}
	}
	cfg.LogLevel = 8 // quiet: the progress bar is the output
	a, err := newApp(ctx, cfg, newLogger(io.Discard, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer a.close()
	start := time.Now()
	r, err := a.points.Expire(ctx, now, progressBar(out, "lots"))
	fmt.Fprintln(out)
	if err != nil {
		return err
	}
	if r.Owed > 0 {
		fmt.Fprintf(out, "emitted %d points.expired events owed by an earlier run\n", r.Owed)
	}
	fmt.Fprintf(out, "expired %d points of %d lots in %d wallet changes, %d expiring notices, in %s\n",
		r.Points, r.Lots, r.Changes, r.Notices, time.Since(start).Round(time.Millisecond))
	return nil
}
