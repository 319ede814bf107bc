package httpx

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"

	"github.com/questline/questline/internal/errs"
)

// TestProblems: errors become problem+json with a stable type in one
// place; a backend outage is 503 with Retry-After, and an error without a
// client-visible kind is a bare 500.
func TestProblems(t *testing.T) {
	InstallErrors(slog.New(slog.DiscardHandler))
	_, api := humatest.New(t)
	for path, err := range map[string]error{
		"/down":     errs.New(errs.Unavailable, "leaderboards-unavailable", "the leaderboards backend is unavailable"),
		"/missing":  errs.New(errs.NotFound, "board-not-found", "no leaderboard"),
		"/internal": context.DeadlineExceeded,
	} {
		huma.Get(api, path, func(context.Context, *struct{}) (*struct{}, error) { return nil, err })
	}
	for _, c := range []struct {
		path, typ, retry string
		status           int
	}{
		{"/down", "leaderboards-unavailable", RetryAfter, http.StatusServiceUnavailable},
		{"/missing", "board-not-found", "", http.StatusNotFound},
		{"/internal", "internal", "", http.StatusInternalServerError},
	} {
		resp := api.Get(c.path)
		var p huma.ErrorModel
		if err := json.Unmarshal(resp.Body.Bytes(), &p); err != nil {
			t.Fatalf("%s: %v: %s", c.path, err, resp.Body)
		}
		if resp.Code != c.status || p.Status != c.status || p.Type != ProblemBase+c.typ {
			t.Errorf("%s: %d %+v, want %d %s", c.path, resp.Code, p, c.status, c.typ)
		}
		if got := resp.Header().Get("Retry-After"); got != c.retry {
			t.Errorf("%s: Retry-After %q, want %q", c.path, got, c.retry)
		}
	}
}
