package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

func prune(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := command("prune", "Usage: server prune [--tenant acme]\n"+
		"Deletes raw events and per-event records (challenge and badge contributions, event-board\n"+
		"scores) older than each tenant's retention (GET /v1/retention), keeping what a published\n"+
		"rule still reads. Progress, tallies, totals, completions, awards and the ledger stay, and\n"+
		"boards rebuild from them. A running server does the same every QL_PRUNE_INTERVAL.\n", out)
	tenant := fs.String("tenant", "", "only this tenant (default: every tenant with events)")
	cfg, err := parseCommand(fs, args, getenv, out)
	if err != nil {
		return err
	}
	cfg.LogLevel = slog.LevelWarn // the progress bar is the output; problems still show
	a, err := newApp(ctx, cfg, newLogger(out, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer a.close()
	start := time.Now()
	n, err := a.retention.Prune(ctx, *tenant, pruneBar(out))
	fmt.Fprintln(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "pruned %d records in %s\n", n, time.Since(start).Round(time.Millisecond))
	return nil
}

// pruneBar draws "[#####.....]  50%  3/6 targets, 1200 deleted" in place,
// at most every 100 ms.
func pruneBar(out io.Writer) func(done, total int, deleted int64) {
	var last time.Time
	return func(done, total int, deleted int64) {
		if done < total && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		const width = 30
		n := width
		if total > 0 {
			n = min(done*width/total, width)
		}
		fmt.Fprintf(out, "\r[%s%s] %3d%%  %d/%d targets, %d deleted", strings.Repeat("#", n), strings.Repeat(".", width-n),
			n*100/width, done, total, deleted)
	}
}
