package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

func rebuild(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := command("rebuild", "Usage: server rebuild [--tenant acme [--board id]]\n"+
		"Recomputes leaderboards from their source (the points ledger, or an event board's scores)\n"+
		"and swaps each board period in atomically; writes keep flowing meanwhile.\n"+
		"With REDIS_URL it repairs the shared boards (e.g. after Redis was flushed); on the\n"+
		"in-process engine a running server rebuilds at every start, so this run only measures it.\n", out)
	tenant := fs.String("tenant", "", "only this tenant (default: every tenant)")
	board := fs.String("board", "", "only this board (needs --tenant)")
	cfg, err := parseCommand(fs, args, getenv, out)
	if err != nil {
		return err
	}
	if *board != "" && *tenant == "" {
		return fmt.Errorf("rebuild: --board needs --tenant")
	}
	cfg.LogLevel = 8 // quiet: the progress bar is the output
	a, err := newApp(ctx, cfg, newLogger(io.Discard, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer a.close()
	start := time.Now()
	bar := progressBar(out, "source rows")
	if *board != "" {
		err = a.leaderboards.RebuildBoard(ctx, *tenant, *board, bar)
	} else {
		err = a.leaderboards.Rebuild(ctx, *tenant, bar)
	}
	fmt.Fprintln(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "rebuilt in %s\n", time.Since(start).Round(time.Millisecond))
	if a.redis == nil {
		fmt.Fprintln(out, "note: in-process engine; a running server rebuilds its boards from their sources at every start")
	}
	return nil
}

// progressBar draws "[#####.....]  50%  500/1000 source rows" in place,
// unit naming what is counted.
func progressBar(out io.Writer, unit string) func(done, total int64) {
	return func(done, total int64) {
		const width = 30
		frac := 1.0
		if total > 0 {
			frac = min(float64(done)/float64(total), 1)
		}
		n := int(frac * width)
		fmt.Fprintf(out, "\r[%s%s] %3.0f%%  %d/%d %s", strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, done, total, unit)
	}
}
