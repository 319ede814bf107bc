// Command server runs Questline: the REST + WebSocket API (serve, the
// default), and the operator's tools token, rebuild and demo.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// go-redis logs through a process-wide logger of its own; route it into
	// structured logs so its reconnect notices are JSON like everything else.
	redis.SetLogger(redisLog{slog.New(slog.NewJSONHandler(os.Stderr, nil))})
	os.Exit(run(ctx, os.Args, os.Getenv, os.Stdout))
}

type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
