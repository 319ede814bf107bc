package events

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/httpx"
)

// TestBatchOutOfTime: events a batch has no time left for are answered
// 503 batch-timeout (safe to send again), not 500, and not tried.
func TestBatchOutOfTime(t *testing.T) {
	s := &Service{logger: slog.New(slog.DiscardHandler), now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := auth.Principal{Tenant: "acme", Subject: "key:1", APIKey: true, Scopes: []string{"events:write"}}
	raw := []json.RawMessage{json.RawMessage(`{"type":"share","user_id":"u1"}`), json.RawMessage(`{"type":"share","user_id":"u2"}`)}
	for i, it := range s.ingestBatch(ctx, p, raw, nil) {
		if it.Index != i || it.Status != http.StatusServiceUnavailable || it.Problem == nil || it.Problem.Type != httpx.ProblemBase+"batch-timeout" {
			t.Fatalf("item %d = %+v", i, it)
		}
	}
}
