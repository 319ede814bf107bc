package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/questline/questline/internal/config"
	"github.com/questline/questline/webhooks"
)

func serve(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	cfg, err := config.Load(args, getenv, out)
	if err != nil {
		return err
	}
	generated, err := cfg.EnsureSecret()
	if err != nil {
		return err
	}
	logger := newLogger(out, cfg.LogLevel)
	if generated {
		logger.Info("generated a development JWT secret", "path", filepath.Join(cfg.DataDir, "jwt-secret"))
	}
	a, err := newApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.close()

	if a.redis == nil {
		// The in-process engine starts empty: fill it from the boards' sources.
		start := time.Now()
		if err := a.leaderboards.Rebuild(ctx, "", func(done, total int64) {
			logger.Info("leaderboards: rebuilding boards", "done", done, "total", total)
		}); err != nil {
			return fmt.Errorf("leaderboards: initial rebuild: %w", err)
		}
		logger.Info("leaderboards: ready", "took_ms", time.Since(start).Milliseconds())
	}

	if cfg.PprofAddr != "" {
		stop, err := servePprof(ctx, cfg.PprofAddr, logger)
		if err != nil {
			return err
		}
		defer stop()
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("QL_ADDR: %w", err)
	}
	f := a.handler()
	conns := trackConns(f.Server())
	ln = conns.listener(ln)

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := a.hub.Run(bg); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("realtime hub stopped", "err", err)
		}
	})
	wg.Go(func() { a.events.RunSweeper(bg, cfg.SweepInterval) })
	wg.Go(func() { a.ugc.RunSweeper(bg, cfg.SweepInterval) })
	wg.Go(func() { a.leaderboards.RunLive(bg) })
	wg.Go(func() { a.leaderboards.RunBuilds(bg) })
	wg.Go(func() { a.loyalty.RunTierReviews(bg, time.Minute) })
	if a.runBus != nil {
		wg.Go(func() {
			if err := a.runBus(bg); err != nil && !errors.Is(err, context.Canceled) {
				logger.Error("cache invalidation bus stopped", "err", err)
			}
		})
	}
	wg.Go(func() { a.leaderboards.RunFeeder(bg, time.Second) })
	wg.Go(func() { a.webhooks.NewSender(webhooks.SenderConfig{}).Run(bg) })
	wg.Go(func() { a.retention.Run(bg, cfg.PruneInterval) })
	wg.Go(func() { a.points.RunExpiry(bg, time.Hour, logger) })
	wg.Go(func() { a.contests.RunClose(bg, 15*time.Second) })

	served := make(chan error, 1)
	go func() { served <- f.Listener(ln) }()
	logger.Info("questline listening", "addr", ln.Addr().String(), "embedded", cfg.Embedded(), "data_dir", cfg.DataDir)

	select {
	case err = <-served:
	case <-ctx.Done():
		logger.Info("shutting down: finishing in-flight requests", "grace", cfg.ShutdownTimeout.String())
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		if herr := a.hub.Shutdown(sctx); herr != nil {
			logger.Warn("websocket shutdown", "err", herr)
		}
		err = shutdownHTTP(sctx, f.ShutdownWithContext, conns)
		cancel()
	}
	stopBG()
	wg.Wait()
	logger.Info("questline stopped")
	return err
}

// shutdownHTTP stops accepting, lets in-flight requests finish and closes
// connections that carry none as soon as they are seen.
func shutdownHTTP(ctx context.Context, shutdown func(context.Context) error, conns *connTracker) error {
	done := make(chan error, 1)
	go func() { done <- shutdown(ctx) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		conns.closeUnused()
		select {
		case err := <-done:
			return err
		case <-tick.C:

		}
	}
}
