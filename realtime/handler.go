package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/questline/questline/internal/httpx"
)

const (
	maxFrameBytes = 4096 // client frames are small commands
	maxEpochLen   = 64   // epochs are 16 hex digits; anything longer is not one
	commandRate   = 10   // client commands per second, sustained
	commandBurst  = 40
)

// inFrame is a client command:
//
//	{"op":"subscribe","channel":"leaderboard:b1","since":12,"epoch":"9f…"}
//	{"op":"unsubscribe","channel":"leaderboard:b1"}
//	{"op":"presence","channel":"leaderboard:b1"}
//	{"op":"ping"}
type inFrame struct {
	Op      string  `json:"op"`
	Channel string  `json:"channel"`
	Since   *uint64 `json:"since"`
	Epoch   string  `json:"epoch"`
}

// resumeFrom is the position a client resumes from: nil without since.
func resumeFrom(since *uint64, epoch string) *Position {
	if since == nil {
		return nil
	}
	return &Position{Epoch: epoch, Seq: *since}
}

// Handler returns the Fiber handler of GET /v1/ws
// (app.Get("/v1/ws", Handler(hub, auth))). It authenticates before the
// upgrade (no valid credential: 401 application/problem+json, never a
// socket; a plain GET or a WebSocket version other than 13: 426; a
// malformed Sec-WebSocket-Key: 400), reads ?since=N&epoch=E, the resume
// point of the user channel, then upgrades and runs the connection.
//
// Set the fasthttp server's KeepHijackedConns: then a connection runs on
// the bare socket and fasthttp takes back its request context and
// buffers at once, which is most of an idle connection's memory.
// Without it the connection is served through fasthttp's buffered
// reader, which stays allocated while the socket lives.
//
// The protocol, JSON text frames both ways. A connection starts
// subscribed to "user:{its user}". The client sends
//
//	{"op":"subscribe","channel":"leaderboard:b1","since":12,"epoch":"9f…"}  since, epoch optional
//	{"op":"unsubscribe","channel":"leaderboard:b1"}
//	{"op":"presence","channel":"leaderboard:b1"}  how many watch it, all nodes
//	{"op":"ping"}
//
// and receives {"type","channel","epoch","seq","data"} frames: pushes
// (seq counts per channel and epoch from 1, without gaps),
// {"type":"subscribed","channel","epoch","seq"} with the channel's head
// (then, with since, the missed pushes), {"type":"unsubscribed"},
// {"type":"pong"}, {"type":"presence","channel","data":{"count"}},
// {"type":"resume-gap","channel","epoch"} when pushes
// were missed that the history no longer holds or the channel's history
// restarted in a new epoch (refetch state; the stream goes on from
// "subscribed"'s seq, or from the next push of the new epoch), and
// {"type":"error","channel","data":{"code","message"}} with code
// forbidden, bad-request, too-many-subscriptions or unavailable. A client
// resumes with the epoch and seq of the last push it saw; a since without
// epoch is compared by seq alone.
//
// The server closes with 1012 when draining (reconnect to another node,
// resuming; spread over DrainPeriod), 1008 when the client
// drains its queue too slowly, floods commands or has too many sockets
// open, 1013 when it cannot subscribe the user channel (reconnect later,
// with since), 4001 when the token expired (reconnect with a fresh
// one), and 1002, 1007 or 1009 when the client breaks RFC 6455 framing,
// sends binary or non-UTF-8 text, or a message over maxFrameBytes
// (docs/realtime.md lists them all). A user may hold MaxUserConnections
// sockets on a node; one more is answered 429 before the upgrade.
func Handler(h *Hub, authenticate func(c *fiber.Ctx) (Identity, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := authenticate(c)
		if err != nil || !validTenant(id.Tenant) || id.User == "" || !validChannel("user:"+id.User) {
			return httpx.WriteProblem(c, http.StatusUnauthorized, "unauthorized",
				"a valid token is required (Authorization header or ?token=)")
		}
		if !isUpgrade(c) {
			return httpx.WriteProblem(c, http.StatusUpgradeRequired, "upgrade-required",
				"this endpoint speaks WebSocket only")
		}
		if h.full(id) {
			c.Set(fiber.HeaderRetryAfter, "5")
			return httpx.WriteProblem(c, http.StatusTooManyRequests, "too-many-connections",
				fmt.Sprintf("at most %d sockets per user; close one first", h.opts.MaxUserConnections))
		}
		var since *uint64
		if s := c.Query("since"); s != "" {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return httpx.WriteProblem(c, http.StatusBadRequest, "bad-request", "since must be a sequence number")
			}
			since = &n
		}
		epoch := c.Query("epoch")
		if len(epoch) > maxEpochLen {
			return httpx.WriteProblem(c, http.StatusBadRequest, "bad-request", "epoch is not one the server issued")
		}
		if c.Get("Sec-WebSocket-Version") != "13" {
			c.Set("Sec-WebSocket-Version", "13")
			return httpx.WriteProblem(c, http.StatusUpgradeRequired, "upgrade-required",
				"this endpoint speaks WebSocket version 13")
		}
		accept, ok := acceptKey(c.Get("Sec-WebSocket-Key"))
		if !ok {
			return httpx.WriteProblem(c, http.StatusBadRequest, "bad-request",
				"Sec-WebSocket-Key must be 16 bytes in base64")
		}
		// fiber.Ctx values are reused after the handler returns: the
		// connection keeps copies.
		roles := make([]string, len(id.Roles))
		for i, r := range id.Roles {
			roles[i] = strings.Clone(r)
		}
		id = Identity{Tenant: strings.Clone(id.Tenant), User: strings.Clone(id.User), Roles: roles, Expires: id.Expires}
		from := resumeFrom(since, strings.Clone(epoch))
		c.Status(fiber.StatusSwitchingProtocols)
		c.Set(fiber.HeaderUpgrade, "websocket")
		c.Set(fiber.HeaderConnection, "Upgrade")
		c.Set("Sec-WebSocket-Accept", accept)
		keep := c.App().Server().KeepHijackedConns
		c.Context().Hijack(func(nc net.Conn) {
			if keep {
				go h.serve(rawConn(nc), id, from)
				return // fasthttp frees the request and its buffers now
			}
			h.serve(nc, id, from)
		})
		return nil
	}
}

// serve runs a connection: a refused one gets its close frame at once;
// an admitted one is subscribed to its user channel, then read by the
// hub's poller, or by a loop here when the socket is not one the poller
// can watch. When it returns in the second case the connection is over.
func (h *Hub) serve(nc net.Conn, id Identity, since *Position) {
	c := newConn(h, id, nc)
	if code, reason := h.add(c); code != 0 {
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = nc.Write(closeFrame(code, reason))
		_ = nc.Close()
		return
	}
	defer c.recoverRead()
	if !id.Expires.IsZero() {
		c.expiry = time.AfterFunc(time.Until(id.Expires), func() {
			c.kill(closeTokenExpired, "token expired: reconnect with a fresh one")
		})
	}
	c.startPings()
	if err := c.subscribe("user:"+id.User, since); err != nil {
		// Without its own channel the connection is useless: the client
		// reconnects later (and resumes).
		c.kill(closeTryAgain, "realtime unavailable, try again")
	}
	if p := h.poll.Load(); p != nil && p.add(c) {
		return
	}
	c.readLoop()
}

// command runs one client frame.
func (h *Hub) command(c *conn, raw []byte) {
	var f inFrame
	if err := json.Unmarshal(raw, &f); err != nil {
		c.sendError("", "bad-request", `frames are JSON: {"op":"subscribe","channel":"leaderboard:ID"}`)
		return
	}
	switch f.Op {
	case "ping":
		c.queue(outFrame{Type: "pong"})
	case "subscribe":
		switch {
		case !validChannel(f.Channel):
			c.sendError(f.Channel, "bad-request", "channel must look like kind:id")
		case !h.allowed(c.id, f.Channel):
			c.sendError(f.Channel, "forbidden", "you may not subscribe to this channel")
		case len(f.Epoch) > maxEpochLen:
			c.sendError(f.Channel, "bad-request", "epoch is not one the server issued")
		default:
			_ = c.subscribe(f.Channel, resumeFrom(f.Since, f.Epoch)) // the client was told of a failure
		}
	case "presence":
		h.presence(c, f.Channel)
	case "unsubscribe":
		if !validChannel(f.Channel) {
			c.sendError(f.Channel, "bad-request", "channel must look like kind:id")
			return
		}
		c.unsubscribe(f.Channel)
	default:
		c.sendError(f.Channel, "bad-request", "op must be subscribe, unsubscribe, presence or ping")
	}
}

// presence answers how many watch a channel the client may subscribe to.
func (h *Hub) presence(c *conn, channel string) {
	switch {
	case !validChannel(channel) || strings.HasPrefix(channel, "user:"):
		c.sendError(channel, "bad-request", "presence is counted for channels such as leaderboard:ID")
	case !h.allowed(c.id, channel):
		c.sendError(channel, "forbidden", "you may not subscribe to this channel")
	default:
		n, err := h.Presence(context.Background(), c.id.Tenant, channel)
		if err != nil {
			h.opts.Logger.Warn("realtime: presence failed", "channel", channel, "err", err)
			c.sendError(channel, "unavailable", "could not count; try again")
			return
		}
		data, _ := json.Marshal(map[string]int{"count": n})
		c.queue(outFrame{Type: "presence", Channel: channel, Data: data})
	}
}

// allowed applies the subscription policy: one's own user channel always,
// another user's never, anything else as CanSubscribe decides.
func (h *Hub) allowed(id Identity, channel string) bool {
	if channel == "user:"+id.User {
		return true
	}
	if strings.HasPrefix(channel, "user:") {
		return false // never another user's private pushes
	}
	return h.opts.CanSubscribe(id, channel)
}
