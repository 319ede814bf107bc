// Command verify-draw re-derives a Questline prize draw's winners from its
// published record and entry list and says whether they match (the
// algorithm is in docs/draws.md and package contests/draw).
//
// From a running server (any signed-in user of the tenant may read both):
//
//	go run ./cmd/verify-draw --contest <id> --url http://127.0.0.1:8080 --token <JWT>
//
// From the published files alone, with no server:
//
//	go run ./cmd/verify-draw --winners winners.json --entries entries.txt
//
// where winners.json is GET /v1/contests/{id}/winners and entries.txt is
// GET /v1/contests/{id}/entries. It exits 0 when the winners match, 1 when
// they do not, 2 on a usage or network error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/questline/questline/contests/draw"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// config is what the flags say.
type config struct {
	contest, url, token, winners, entries string
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("verify-draw", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.contest, "contest", "", "contest id, to fetch from --url")
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "the Questline server")
	fs.StringVar(&c.token, "token", getenv("QL_TOKEN"), "a JWT of the contest's tenant (QL_TOKEN)")
	fs.StringVar(&c.winners, "winners", "", "a saved GET /v1/contests/{id}/winners answer, instead of fetching")
	fs.StringVar(&c.entries, "entries", "", "the saved entry list file, with --winners")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rec, file, err := load(ctx, c)
	if err != nil {
		fmt.Fprintln(stderr, "verify-draw:", err)
		return 2
	}
	fmt.Fprintf(stdout, "commitment    %s\nseed          %s\nentries       %d tickets, SHA-256 %s\nplaces        %d, %d disqualified\n",
		rec.Commitment, rec.Seed, rec.EntriesCount, rec.EntriesHash, rec.Places, len(rec.Disqualified))
	if err := draw.Verify(rec, file); err != nil {
		fmt.Fprintln(stdout, "MISMATCH:", err)
		return 1
	}
	for _, w := range rec.Winners {
		fmt.Fprintf(stdout, "place %-4d %s\n", w.Position, w.Entrant)
	}
	fmt.Fprintln(stdout, "OK: the published winners are the ones the seed and the entry list give")
	return 0
}

// load reads the record and the entry list from files or from the server.
func load(ctx context.Context, c config) (draw.Record, []byte, error) {
	var winners, entries []byte
	var err error
	switch {
	case c.winners != "" && c.entries != "":
		if winners, err = os.ReadFile(c.winners); err != nil {
			return draw.Record{}, nil, err
		}
		if entries, err = os.ReadFile(c.entries); err != nil {
			return draw.Record{}, nil, err
		}
	case c.contest != "":
		base := strings.TrimRight(c.url, "/") + "/v1/contests/" + url.PathEscape(c.contest)
		if winners, err = get(ctx, base+"/winners", c.token); err != nil {
			return draw.Record{}, nil, err
		}
		if entries, err = get(ctx, base+"/entries", c.token); err != nil {
			return draw.Record{}, nil, err
		}
	default:
		return draw.Record{}, nil, errors.New("give --contest (with --url and --token) or --winners and --entries")
	}
	var w struct {
		Draw *draw.Record `json:"draw"`
	}
	if err := json.Unmarshal(winners, &w); err != nil {
		return draw.Record{}, nil, fmt.Errorf("winners: %w", err)
	}
	if w.Draw == nil {
		return draw.Record{}, nil, errors.New("winners: no draw record (is it a leaderboard contest?)")
	}
	if w.Draw.Seed == "" {
		return draw.Record{}, nil, errors.New("the draw has not happened yet: only the commitment is published")
	}
	return *w.Draw, entries, nil
}

func get(ctx context.Context, u, token string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	return b, nil
}
