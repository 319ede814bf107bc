package realtime

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/questline/questline/internal/errs"
)

// UserExport is the realtime section of a user's data export.
type UserExport struct {
	History []Frame `json:"history" doc:"The pushes still kept for resuming on the user's own channel (user:{id}), oldest first; the history holds the last QL_WS_HISTORY_SIZE of them for QL_WS_HISTORY_TTL."`
}

// Frame is one kept push, as the client received it.
type Frame struct {
	Type  string          `json:"type"`
	Epoch string          `json:"epoch"`
	Seq   uint64          `json:"seq"`
	Data  json.RawMessage `json:"data"`
}

// Export returns the history of the user's channel: the pushes a client
// resuming could still read.
func (h *Hub) Export(ctx context.Context, tenant, user string) (string, any, error) {
	ctx, cancel := context.WithTimeout(ctx, brokerTimeout)
	defer cancel()
	msgs, _, err := h.broker.History(ctx, brokerChannel(tenant, "user:"+user), Position{})
	if err != nil {
		return "", nil, unavailable("export", user, err)
	}
	out := UserExport{History: []Frame{}}
	for _, m := range msgs {
		out.History = append(out.History, Frame{Type: m.Type, Epoch: m.Epoch, Seq: m.Seq, Data: m.Data})
	}
	return "realtime", out, nil
}

// Erase drops the history of the user's channel. Shared channels
// (leaderboard top 10, contests, live quizzes) may name the user in
// snapshots already sent; those age out of the history by themselves
// (QL_WS_HISTORY_TTL after the channel's last push, or sooner as newer
// snapshots push them out), and every snapshot after the erasure is made
// without the user.
func (h *Hub) Erase(ctx context.Context, tenant, user string) error {
	ctx, cancel := context.WithTimeout(ctx, brokerTimeout)
	defer cancel()
	if err := h.broker.DropHistory(ctx, brokerChannel(tenant, "user:"+user)); err != nil {
		return unavailable("erase", user, err)
	}
	return nil
}

// unavailable is a broker failure as the client may see it: the realtime
// backend is down, the export or erasure is worth repeating.
func unavailable(op, user string, err error) error {
	return fmt.Errorf("realtime: %s %s: %w", op, user, &errs.Error{Kind: errs.Unavailable, Code: "realtime-unavailable",
		Message: "the realtime backend is unavailable; retry shortly", Err: err})
}
