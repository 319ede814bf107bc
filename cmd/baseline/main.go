// Command baseline is the yardstick for Questline's throughput targets: a
// bare Fiber server whose POST /v1/events decodes the JSON body and answers
// a small JSON document, with no authentication, storage or rules. Driving
// it and the real server with the same load in one run gives the ratios
// BENCHMARKS.md reports ("intake at a quarter of bare Fiber"), which stay
// comparable on a noisy shared machine where absolute figures do not.
//
//	go run ./cmd/baseline -addr 127.0.0.1:8091 &
//	go run ./cmd/loadgen -scenario baseline -url http://127.0.0.1:8091
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gofiber/fiber/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

// event is the part of an event body a real handler would decode.
type event struct {
	Type  string         `json:"type"`
	Props map[string]any `json:"props"`
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8091", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	app := newApp()
	go func() {
		<-ctx.Done()
		_ = app.Shutdown()
	}()
	fmt.Fprintf(out, "baseline: bare Fiber JSON handler on %s\n", *addr)
	return app.Listen(*addr)
}

// newApp is the bare handler: the same framework and JSON round trip as the
// server's intake, nothing else.
func newApp() *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post("/v1/events", func(c *fiber.Ctx) error {
		var ev event
		if err := c.BodyParser(&ev); err != nil {
			return fiber.NewError(fiber.StatusBadRequest, err.Error())
		}
		return c.JSON(fiber.Map{"type": ev.Type, "accepted": true, "props": len(ev.Props)})
	})
	return app
}
