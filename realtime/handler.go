package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"
)

const (
	localIdentity = "ql.realtime.identity"
	localSince    = "ql.realtime.since"
	maxFrameBytes = 4096 // client frames are small commands
	commandRate   = 10   // client commands per second, sustained
	commandBurst  = 40
)

// inFrame is a client command.
type inFrame struct {
	Op      string  `json:"op"`
	Channel string  `json:"channel"`
	Since   *uint64 `json:"since"`
}

// Handler returns the Fiber handlers of GET /v1/ws, to register in order:
// the first authenticates before the upgrade (a bad token gets a 401
// problem, never a socket), the second runs the connection.
func Handler(h *Hub, authenticate func(c *fiber.Ctx) (Identity, error)) []fiber.Handler {
	upgrade := func(c *fiber.Ctx) error {
		if !websocket.IsWebSocketUpgrade(c) {
			return fiber.NewError(http.StatusUpgradeRequired, "this endpoint speaks WebSocket only")
		}
		id, err := authenticate(c)
		if err != nil {
			return fiber.NewError(http.StatusUnauthorized, "a valid token is required (Authorization header or ?token=)")
		}
		var since *uint64
		if s := c.Query("since"); s != "" {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return fiber.NewError(http.StatusBadRequest, "since must be a sequence number")
			}
			since = &n
		}
		// fiber.Ctx values are reused after the handler returns: keep copies.
		c.Locals(localIdentity, Identity{
			Tenant: strings.Clone(id.Tenant), User: strings.Clone(id.User), Roles: append([]string(nil), id.Roles...),
		})
		c.Locals(localSince, since)
		return c.Next()
	}
	ws := websocket.New(func(wc *websocket.Conn) {
		id, _ := wc.Locals(localIdentity).(Identity)
		since, _ := wc.Locals(localSince).(*uint64)
		h.serve(wc, id, since)
	}, websocket.Config{
		// Fiber's recover middleware does not cover the socket; a panic
		// here must not take the process down.
		RecoverHandler: func(wc *websocket.Conn) {
			if r := recover(); r != nil {
				h.opts.Logger.Error("realtime: connection panicked", "panic", fmt.Sprint(r))
			}
		},
	})
	return []fiber.Handler{upgrade, ws}
}

// serve owns the connection until it closes: the socket dies when this
// returns, so the read loop runs here and the writer is waited for.
func (h *Hub) serve(wc *websocket.Conn, id Identity, since *uint64) {
	c := newConn(h, id, wc.Conn)
	if !h.add(c) {
		msg := fws.FormatCloseMessage(closeGoingAway, "server shutting down")
		_ = wc.WriteControl(fws.CloseMessage, msg, time.Now().Add(time.Second))
		return
	}
	go c.writeLoop()
	ctx := context.Background()
	c.subscribe(ctx, "user:"+id.User, since)

	readTimeout := 2*h.opts.PingInterval + h.opts.WriteTimeout
	wc.SetReadLimit(maxFrameBytes)
	_ = wc.SetReadDeadline(time.Now().Add(readTimeout))
	wc.SetPongHandler(func(string) error { return wc.SetReadDeadline(time.Now().Add(readTimeout)) })
	// A client gets a steady budget of commands; one that floods is cut
	// off rather than allowed to make the node churn subscriptions.
	budget := rate.NewLimiter(rate.Limit(commandRate), commandBurst)
	for {
		_, raw, err := wc.ReadMessage()
		if err != nil {
			break
		}
		if !budget.Allow() {
			c.kill(closePolicy, "too many commands")
			break
		}
		_ = wc.SetReadDeadline(time.Now().Add(readTimeout))
		h.command(ctx, c, raw)
	}
	c.kill(closeNormal, "")
	<-c.writeDone
	h.remove(ctx, c)
}

// command runs one client frame.
func (h *Hub) command(ctx context.Context, c *conn, raw []byte) {
	var f inFrame
	if err := json.Unmarshal(raw, &f); err != nil {
		c.sendError("", "bad-request", "frames are JSON: {\"op\":\"subscribe\",\"channel\":\"leaderboard:ID\"}")
		return
	}
	switch f.Op {
	case "ping":
		c.sendFrame(outFrame{Type: "pong"})
	case "subscribe":
		if !h.allowed(c.id, f.Channel) {
			c.sendError(f.Channel, "forbidden", "you may not subscribe to this channel")
			return
		}
		c.subscribe(ctx, f.Channel, f.Since)
	case "unsubscribe":
		c.unsubscribe(ctx, f.Channel)
	default:
		c.sendError(f.Channel, "bad-request", "op must be subscribe, unsubscribe or ping")
	}
}

func (h *Hub) allowed(id Identity, channel string) bool {
	if channel == "" || len(channel) > 200 || strings.ContainsAny(channel, "|{}\n") {
		return false
	}
	if channel == "user:"+id.User {
		return true
	}
	if strings.HasPrefix(channel, "user:") {
		return false // never another user's private pushes
	}
	return h.opts.CanSubscribe(id, channel)
}
