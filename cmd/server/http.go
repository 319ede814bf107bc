package main

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/questline/questline/analytics"
	"github.com/questline/questline/audit"
	"github.com/questline/questline/auth"
	"github.com/questline/questline/badges"
	"github.com/questline/questline/challenges"
	"github.com/questline/questline/contests"
	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/internal/httpx"
	"github.com/questline/questline/internal/ratelimit"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/loyalty"
	"github.com/questline/questline/points"
	"github.com/questline/questline/profiles"
	"github.com/questline/questline/quizzes"
	"github.com/questline/questline/realtime"
	"github.com/questline/questline/retention"
	"github.com/questline/questline/ugc"
	"github.com/questline/questline/users"
	"github.com/questline/questline/webhooks"
)

// requestTimeout bounds every request's backend calls: fasthttp does not
// cancel a request's context when the client goes away.
const requestTimeout = 10 * time.Second

// handler builds the Fiber app with every route of the node.
func (a *app) handler() *fiber.App {
	httpx.InstallErrors(a.logger)
	f := fiber.New(fiber.Config{
		AppName:               "questline",
		BodyLimit:             a.cfg.BodyLimit,
		DisableStartupMessage: true,
		ErrorHandler:          httpx.ErrorHandler(a.logger),
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           120 * time.Second,
	})
	// WebSockets run on the bare socket once upgraded, and fasthttp takes
	// back the request context and buffers at once: most of what an idle
	// socket would otherwise hold (see realtime.Handler).
	f.Server().KeepHijackedConns = true
	f.Use(httpx.RequestID(), recover.New(), httpx.AccessLog(a.logger, httpx.NewMetrics(a.reg)))
	f.Use(func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), requestTimeout)
		defer cancel()
		c.SetUserContext(ctx)
		return c.Next()
	})
	f.Use(a.guard.Before(a.clientKey), auth.Middleware(a.verifier, a.keys),
		a.guard.After(a.clientKey, failedAuth), requireCredential)
	f.Use(ratelimit.Middleware(a.limiter, a.logger, a.rateKey))
	f.Use(httpx.TextBodies())

	f.Get("/v1/ws", admitWS, realtime.Handler(a.hub, a.wsIdentity))
	f.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{})))

	cfg := huma.DefaultConfig("Questline API", "1.0.0")
	cfg.OpenAPIPath = "/openapi"
	cfg.CreateHooks = nil // no $schema links: they cost on every hot-path response
	cfg.Info.Description = "Gamification and social engagement backend: challenges, points, leaderboards, live pushes."
	cfg.Components.SecuritySchemes = auth.SecuritySchemes()
	cfg.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", schemaName)
	api := humafiber.New(f, cfg)
	// These run before any handler, in this order; routes registered
	// after this see them. The audit log records what the handler did.
	api.UseMiddleware(auth.AccessMiddleware(api))
	api.UseMiddleware(httpx.PathParams(api, map[string]httpx.ParamRule{
		auth.UserIDFormat: {Valid: auth.ValidUser, Code: "bad-user-id", Message: auth.UserRule},
	}))
	api.UseMiddleware(audit.Middleware(a.audit, a.logger))
	a.opsRoutes(api)
	auth.Routes(api, a.keys)
	events.Routes(api, a.events, a.meterEvent)
	events.OpsRoutes(api, a.events, a.audit)
	events.TypesRoutes(api, a.types)
	loyalty.Routes(api, a.loyalty)
	loyalty.TierRoutes(api, a.loyalty)
	loyalty.ReferralRoutes(api, a.loyalty)
	challenges.Routes(api, a.challenges)
	badges.Routes(api, a.badges)
	contests.Routes(api, a.contests)
	points.Routes(api, a.points)
	points.RewardRoutes(api, a.points)
	leaderboards.Routes(api, a.leaderboards)
	profiles.Routes(api, a.profiles)
	quizzes.Routes(api, a.quizzes)
	audit.Routes(api, a.audit)
	webhooks.Routes(api, a.webhooks)
	retention.Routes(api, a.retention)
	ugc.Routes(api, a.ugc)
	analytics.Routes(api, a.analytics)
	users.Routes(api, a.users, users.Views{Points: a.points, Challenges: a.challenges, Badges: a.badges, Leaderboards: a.leaderboards})
	documentRaw(api)
	if err := auth.CheckDeclared(api.OpenAPI()); err != nil {
		panic(err) // a programming error: an operation nobody said who may call
	}
	return f
}

// requireCredential answers 401 for an API call without a valid
// credential before its body is even parsed, so an anonymous caller learns
// nothing from validation errors. Roles and scopes are checked by
// auth.AccessMiddleware against each operation's declaration.
func requireCredential(c *fiber.Ctx) error {
	if !strings.HasPrefix(c.Path(), "/v1/") || c.Path() == "/v1/ws" {
		return c.Next()
	}
	if _, err := auth.Require(c.UserContext()); err != nil {
		if e, ok := errs.As(err); ok {
			return httpx.WriteProblem(c, httpx.Status(e.Kind), e.Code, e.Message)
		}
		return httpx.WriteProblem(c, http.StatusUnauthorized, "unauthorized", "send a bearer token or an API key")
	}
	return c.Next()
}

// wsAccess is who may open a WebSocket: people, by their JWT; an API key
// has no user channel.
var wsAccess = auth.People

// admitWS refuses, with the 403 every huma route gives, a caller whose
// credential wsAccess does not admit; wsIdentity then verifies the token.
func admitWS(c *fiber.Ctx) error {
	if p, ok := auth.FromContext(c.UserContext()); ok && !wsAccess.Admits(p) {
		return httpx.WriteProblem(c, http.StatusForbidden, "forbidden", "API keys cannot open a WebSocket; it needs "+wsAccess.String())
	}
	return c.Next()
}

// schemaName prefixes a domain type's schema name with its package, so
// leaderboards.Entry and points.Entry stay apart in the OpenAPI document.
func schemaName(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	pkg, ok := strings.CutPrefix(t.PkgPath(), "github.com/questline/questline/")
	if !ok || t.Name() == "" {
		return name
	}
	pkg = pkg[strings.LastIndex(pkg, "/")+1:]
	return strings.ToUpper(pkg[:1]) + pkg[1:] + name
}

// rateKey limits every authenticated caller, with a tighter budget for the
// events a player can send; API keys (brand back ends batching for many
// users) get a larger one. Ops endpoints are not limited.
func (a *app) rateKey(c *fiber.Ctx) (string, ratelimit.Limit, bool) {
	if c.Path() == "/v1/ws" {
		if id, err := a.wsIdentity(c); err == nil {
			return wsRateKey(id)
		}
	}
	p, ok := auth.FromContext(c.UserContext())
	if !ok {
		if strings.HasPrefix(c.Path(), "/v1/") {
			// The client's address, read through trusted proxies, as the
			// failed-authentication limit reads it.
			return "ip:" + a.clientKey(c), ratelimit.PerSecond(20, 40), true
		}
		return "", ratelimit.Limit{}, false
	}
	who := p.Tenant + "|" + p.Subject
	switch {
	case p.APIKey:
		return "key:" + who, ratelimit.PerSecond(2000, 4000), true
	case c.Method() == fiber.MethodPost && c.Path() == "/v1/events":
		return eventBucket(p), a.eventLimit(), true
	}
	return "req:" + who, ratelimit.PerSecond(50, 100), true
}

// wsRateKey limits WebSocket upgrades per user, not per IP: browsers send
// their token in ?token=, which the auth middleware does not read, and
// behind a load balancer every browser shares one IP.
func wsRateKey(id realtime.Identity) (string, ratelimit.Limit, bool) {
	return "ws:" + id.Tenant + "|" + id.User, ratelimit.PerSecond(2, 20), true
}

// eventBucket and eventLimit are a player's event budget, which single
// events (rateKey) and each event of a batch (meterEvent) draw on.
func eventBucket(p auth.Principal) string { return "ev:" + p.Tenant + "|" + p.Subject }

func (a *app) eventLimit() ratelimit.Limit {
	return ratelimit.PerSecond(a.cfg.EventRate, 2*a.cfg.EventRate)
}

// meterEvent charges one event of a player's batch. Like the middleware,
// it fails open when the limiter is down.
func (a *app) meterEvent(ctx context.Context, p auth.Principal) (bool, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
	defer cancel()
	res, err := a.limiter.Allow(ctx, eventBucket(p), a.eventLimit())
	if err != nil {
		return true, 0, err
	}
	return res.Allowed, res.RetryAfter, nil
}

// wsIdentity authenticates a WebSocket upgrade: the bearer header, or
// ?token= for browsers, which cannot set headers on a WebSocket.
func (a *app) wsIdentity(c *fiber.Ctx) (realtime.Identity, error) {
	tok := strings.TrimPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if tok == "" {
		tok = c.Query("token")
	}
	p, err := a.verifier.Verify(tok)
	if err != nil {
		return realtime.Identity{}, err
	}
	roles := make([]string, len(p.Roles))
	for i, r := range p.Roles {
		roles[i] = string(r)
	}
	return realtime.Identity{Tenant: p.Tenant, User: p.Subject, Roles: roles, Expires: p.Expires}, nil
}

type healthOutput struct {
	Body struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks,omitempty"`
	}
}

func (a *app) opsRoutes(api huma.API) {
	auth.Register(api, huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz", Tags: []string{"ops"},
		Summary: "Liveness: the process serves requests",
	}, auth.Public, func(context.Context, *struct{}) (*healthOutput, error) {
		out := &healthOutput{}
		out.Body.Status = "ok"
		return out, nil
	})
	auth.Register(api, huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz", Tags: []string{"ops"},
		Summary: "Readiness: every backend answers", Errors: []int{http.StatusServiceUnavailable},
	}, auth.Public, func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
		checks := map[string]func(context.Context) error{
			"store": a.store.Ping, "leaderboards": a.engine.Ping, "realtime": a.broker.Ping,
		}
		out := &healthOutput{}
		out.Body.Status, out.Body.Checks = "ok", map[string]string{}
		// The backends are asked at once, so a hung one costs the check
		// its 2 s bound once, not once per backend.
		var mu sync.Mutex
		var wg sync.WaitGroup
		for name, ping := range checks {
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				err := ping(cctx)
				cancel()
				mu.Lock()
				defer mu.Unlock()
				out.Body.Checks[name] = "ok"
				if err != nil {
					a.logger.Warn("readyz: backend down", "backend", name, "err", err)
					out.Body.Checks[name] = "down"
					out.Body.Status = "down"
				}
			})
		}
		wg.Wait()
		if out.Body.Status != "ok" {
			return nil, errs.New(errs.Unavailable, "unavailable", "a backend is down: %s", downList(out.Body.Checks))
		}
		return out, nil
	})
}

func downList(checks map[string]string) string {
	var down []string
	for name, s := range checks {
		if s != "ok" {
			down = append(down, name)
		}
	}
	return strings.Join(down, ", ")
}

// documentRaw adds the routes served by Fiber directly to the OpenAPI
// document, so it lists every endpoint, with the access their handlers
// enforce themselves (the WebSocket verifies its JWT: no API key).
func documentRaw(api huma.API) {
	ws := auth.Declare(huma.Operation{
		OperationID: "websocket", Method: http.MethodGet, Path: "/v1/ws", Tags: []string{"realtime"},
		Summary: "Live pushes over WebSocket",
		Description: "Upgrade to a WebSocket, authenticated by the bearer JWT or ?token=. The connection is " +
			"subscribed to user:{sub}; send {\"op\":\"subscribe\",\"channel\":\"leaderboard:{id}\",\"since\":N} for more. " +
			"Frames are {\"type\",\"channel\",\"epoch\",\"seq\",\"data\"}: progress, challenge.completed, points, ... " +
			"seq counts from 1 per channel and epoch; {\"type\":\"subscribed\",\"channel\",\"epoch\",\"seq\"} gives the head. " +
			"Resume after a reconnect with ?since=<last seq>&epoch=<its epoch> (user channel) or since and epoch in subscribe. " +
			"{\"type\":\"resume-gap\"} means pushes were lost (history too short, or a new epoch after the backend lost its " +
			"counters): refetch state. Close codes: 1012 node draining (reconnect elsewhere, resuming), 1008 too slow, " +
			"flooding or too many sockets, 1013 try again later, 4001 token expired (reconnect with a fresh one), " +
			"1002 broken framing, 1007 binary or non-UTF-8 text, 1009 a message over 4,096 bytes; docs/realtime.md has them all.",
		Parameters: []*huma.Param{
			{Name: "token", In: "query", Description: "JWT, for browsers", Schema: &huma.Schema{Type: "string"}},
			{Name: "since", In: "query", Description: "Resume the user channel after this seq", Schema: &huma.Schema{Type: "integer"}},
			{Name: "epoch", In: "query", Description: "Epoch of since, from the last frame seen", Schema: &huma.Schema{Type: "string"}},
		},
		Responses: map[string]*huma.Response{
			"101": {Description: "Switching to the WebSocket protocol"},
			"400": {Description: "since or epoch malformed, or a Sec-WebSocket-Key that is not 16 bytes in base64"},
			"401": {Description: "Missing or bad token"},
			"426": {Description: "Not a WebSocket upgrade, or a WebSocket version other than 13"},
			"403": {Description: "An API key: sockets are for people"},
			"429": {Description: "Too many upgrades, or the user already holds QL_WS_PER_USER sockets on this node"},
		},
	}, wsAccess)
	api.OpenAPI().AddOperation(&ws)
	metrics := auth.Declare(huma.Operation{
		OperationID: "metrics", Method: http.MethodGet, Path: "/metrics", Tags: []string{"ops"},
		Summary: "Prometheus metrics",
		Responses: map[string]*huma.Response{
			"200": {Description: "Prometheus text exposition", Content: map[string]*huma.MediaType{"text/plain": {}}},
		},
	}, auth.Public)
	api.OpenAPI().AddOperation(&metrics)
	// A goal's target is a json.Number (kept exact), which huma describes
	// as a string; on the wire it is a number.
	if g := api.OpenAPI().Components.Schemas.Map()["RuleGoal"]; g != nil {
		g.Properties["target"] = &huma.Schema{Type: huma.TypeNumber,
			Description: "Progress that meets the goal: a whole number for count and distinct, up to 3 decimals for sum."}
	}
}
