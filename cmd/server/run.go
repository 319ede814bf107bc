package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/questline/questline/internal/config"
)

const usage = `Questline: gamification and social engagement backend.

Usage: server [command] [flags]

Commands:
  serve     run the API server (the default)
  token     mint a development JWT with the configured HS256 secret
  rebuild   recompute leaderboards from the points ledger
  prune     delete raw events and per-event records past the tenants' retention
  expire    run the points expiry job now (it also runs hourly in serve)
  demo      create a demo tenant with a challenge and a leaderboard

Run "server <command> --help" for a command's flags. Every flag can also be
set by its environment variable (see README.md).
`

// run is the whole program, testable: it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) int {
	cmd, rest := "serve", args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		cmd, rest = rest[0], rest[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, rest, getenv, out)
	case "token":
		err = token(rest, getenv, out)
	case "rebuild":
		err = rebuild(ctx, rest, getenv, out)
	case "prune":
		err = prune(ctx, rest, getenv, out)
	case "expire":
		err = expire(ctx, rest, getenv, out)
	case "demo":
		err = demo(ctx, rest, getenv, out)
	case "help", "-h", "--help":
		fmt.Fprint(out, usage)
		return 0
	default:
		fmt.Fprintf(out, "questline: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(out, "questline: %v\n", err)
		return 1
	}
	return 0
}

// command returns the flag set of a subcommand whose usage text is usage.
func command(name, usage string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseCommand parses a subcommand's own flags (those defined on fs) and
// loads the server settings from the rest of args and the environment.
func parseCommand(fs *flag.FlagSet, args []string, getenv func(string) string, out io.Writer) (config.Config, error) {
	var own []string
	fs.VisitAll(func(f *flag.Flag) { own = append(own, f.Name) })
	mine, rest := splitFlags(args, own...)
	if err := fs.Parse(mine); err != nil {
		return config.Config{}, err
	}
	return loadConfig(rest, getenv, out)
}

// splitFlags separates a subcommand's own flags from the server settings,
// so `server token --sub u1 --data-dir x` works: own is parsed by the
// subcommand, the rest by config.Load.
func splitFlags(args []string, own ...string) (mine, rest []string) {
	isOwn := map[string]bool{}
	for _, o := range own {
		isOwn[o] = true
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		name, _, hasValue := strings.Cut(name, "=")
		target := &rest
		if isOwn[name] || name == "h" || name == "help" {
			target = &mine
		}
		*target = append(*target, a)
		if !hasValue && strings.HasPrefix(a, "-") && name != "h" && name != "help" && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			*target = append(*target, args[i+1])
			i++
		}
	}
	return mine, rest
}

func newLogger(out io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level}))
}

func loadConfig(args []string, getenv func(string) string, out io.Writer) (config.Config, error) {
	cfg, err := config.Load(args, getenv, out)
	if err != nil {
		return cfg, err
	}
	if _, err := cfg.EnsureSecret(); err != nil {
		return cfg, err
	}
	return cfg, nil
}
