package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/questline/questline/analytics"
	"github.com/questline/questline/audit"
	"github.com/questline/questline/auth"
	"github.com/questline/questline/badges"
	"github.com/questline/questline/challenges"
	"github.com/questline/questline/contests"
	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/bus"
	"github.com/questline/questline/internal/config"
	"github.com/questline/questline/internal/httpx"
	"github.com/questline/questline/internal/ratelimit"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/loyalty"
	"github.com/questline/questline/loyalty/earn"
	"github.com/questline/questline/points"
	"github.com/questline/questline/profiles"
	"github.com/questline/questline/quizzes"
	"github.com/questline/questline/realtime"
	"github.com/questline/questline/retention"
	"github.com/questline/questline/storage/mongo"
	"github.com/questline/questline/storage/sqlite"
	"github.com/questline/questline/ugc"
	"github.com/questline/questline/users"
	"github.com/questline/questline/webhooks"
)

// store is every domain store one backend provides.
type store interface {
	events.Store
	challenges.Store
	badges.Store
	points.Store
	leaderboards.Store
	auth.KeyStore
	audit.Store
	profiles.Store
	webhooks.Store
	retention.Store
	events.TypeStore
	loyalty.Store
	contests.Store
	ugc.Store
	quizzes.Store
	analytics.Store
	analytics.EventScanner
	Ping(context.Context) error
	Close() error
}

// app is one wired Questline node.
type app struct {
	cfg     config.Config
	logger  *slog.Logger
	reg     *prometheus.Registry
	store   store
	redis   redis.UniversalClient // nil on the in-process engines
	engine  leaderboards.Engine
	broker  realtime.Broker
	limiter ratelimit.Limiter
	bus     bus.Bus                         // drops other nodes' cached definitions
	runBus  func(ctx context.Context) error // delivers the bus's messages; nil for the one-node bus

	verifier *auth.Verifier
	keys     *auth.Keys
	// guard limits failed authentications per client, clientIP names the
	// client behind the trusted proxies.
	guard    *ratelimit.Guard
	clientIP func(*fiber.Ctx) netip.Addr
	hub      *realtime.Hub

	events       *events.Service
	challenges   *challenges.Service
	badges       *badges.Service
	points       *points.Service
	leaderboards *leaderboards.Service
	profiles     *profiles.Service
	audit        *audit.Log
	users        *users.Service
	webhooks     *webhooks.Service
	retention    *retention.Service
	types        *events.Types
	loyalty      *loyalty.Service
	contests     *contests.Service
	ugc          *ugc.Service
	quizzes      *quizzes.Service
	analytics    *analytics.Service

	closers []func() error
}

// newApp connects the backends cfg names and wires the services. Any
// unreachable backend or bad setting fails here, at start.
func newApp(ctx context.Context, cfg config.Config, logger *slog.Logger) (_ *app, err error) {
	a := &app{cfg: cfg, logger: logger, reg: newRegistry()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if err := a.openStore(ctx); err != nil {
		return nil, err
	}
	if err := a.openEngines(ctx); err != nil {
		return nil, err
	}
	if err := a.wire(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// newRegistry is the node's own Prometheus registry (no global state), with
// the Go runtime and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// wire builds the services over the opened backends.
func (a *app) wire(ctx context.Context) (err error) {
	if a.verifier, err = auth.NewVerifier(ctx, auth.JWTConfig{
		Secret: a.cfg.JWTSecret, JWKSURL: a.cfg.JWKSURL, PublicKeyPEM: a.cfg.JWTPublicKey,
		Issuer: a.cfg.JWTIssuer, Audience: a.cfg.JWTAudience,
		TenantClaim: a.cfg.JWTTenantClaim, RolesClaim: a.cfg.JWTRolesClaim, Tenant: a.cfg.Tenant,
	}); err != nil {
		return fmt.Errorf("JWT settings: %w", err)
	}
	if a.redis != nil {
		// Front denies a key Redis has just denied without another round trip.
		a.limiter = ratelimit.NewFront(a.limiter)
	}
	a.guard = ratelimit.NewGuard(a.limiter, authFailLimit(a.cfg.AuthFailRate), a.logger)
	a.clientIP = httpx.ClientIP(a.cfg.TrustedProxies)
	a.keys = auth.NewKeys(a.store)
	a.hub = realtime.NewHub(a.broker, realtime.HubOptions{
		Logger: a.logger, MaxUserConnections: a.cfg.WSPerUser, DrainPeriod: a.cfg.WSDrain,
		CanSubscribe: a.canSubscribe,
	})
	a.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "questline_websocket_connections", Help: "Open WebSocket connections on this node.",
	}, func() float64 { return float64(a.hub.Connections()) }))

	// The ledger feeds the boards; challenges pay through the ledger; the
	// event service runs challenges, badges and event boards as rule
	// handlers; challenges award badges.
	a.audit = audit.NewLog(a.store)
	a.profiles = profiles.NewService(a.store)
	a.profiles.SetBus(a.bus)
	a.types = events.NewTypes(a.store, a.bus)
	var lbLedger ledgerProxy
	var pageTTL time.Duration
	if a.redis != nil {
		pageTTL = redisPageTTL
	}
	a.leaderboards = leaderboards.NewService(leaderboards.Config{
		Store: a.store, Engine: a.engine, Ledger: &lbLedger,
		Publisher: a.hub, Directory: a.profiles, Auditor: a.audit, Logger: a.logger, Bus: a.bus, Types: a.types,
		PageTTL: pageTTL,
	})
	var tiers tierProxy
	// The quizzes, contests and UGC services are built later (they pay
	// through points, which reports to analytics): analytics read them
	// through proxies set once they exist.
	var (
		quizzesProxy  struct{ *quizzes.Service }
		contestsProxy struct{ *contests.Service }
		ugcProxy      struct{ *ugc.Service }
	)
	// Analytics fold every credit and every event once, keyed by id.
	a.analytics = analytics.NewService(analytics.Config{Store: a.store, Events: a.store, Boards: a.leaderboards, Logger: a.logger,
		Challenges: func(ctx context.Context, tenant, id string) (challenges.Challenge, error) {
			return a.challenges.Get(ctx, tenant, id)
		},
		Badges: func(ctx context.Context, tenant, id string) (badges.Badge, error) {
			return a.badges.Get(ctx, tenant, id)
		},
		Quizzes: &quizzesProxy, Contests: &contestsProxy, UGC: &ugcProxy,
		Drafts: analytics.Drafts{
			EarnRules: func(ctx context.Context, tenant, id string) (earn.Rule, error) {
				r, err := a.loyalty.Get(ctx, tenant, id)
				return r.Rule, err
			},
			Members: func(ctx context.Context, tenant, user string, r earn.Rule) (earn.Member, error) {
				return a.loyalty.Member(ctx, tenant, user, r)
			},
			Ledger: &lbLedger, Boards: a.leaderboards,
		},
	})
	a.points = points.NewService(a.store, a.hub, a.leaderboards, &tiers, a.analytics)
	a.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "questline_board_feed_pending", Help: "Board refreshes waiting for the leaderboard engine (all nodes).",
	}, func() float64 { n, _ := a.leaderboards.FeedBacklog(); return float64(n) }))
	a.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "questline_board_feed_lag_seconds", Help: "How long the oldest waiting board refresh has waited.",
	}, func() float64 { _, lag := a.leaderboards.FeedBacklog(); return lag.Seconds() }))
	lbLedger.Service = a.points
	a.badges = badges.NewService(a.store, a.hub)
	a.badges.SetBus(a.bus)
	a.badges.SetTypes(a.types)
	var emitter emitterProxy
	a.challenges = challenges.NewService(challenges.Config{
		Store: a.store, Payer: a.points, Notifier: a.hub, Awarder: a.badges, Attributes: a.profiles, Emitter: &emitter,
		Bus: a.bus, Types: a.types,
	})
	a.webhooks = webhooks.NewService(webhooks.Config{Store: a.store, Logger: a.logger, Bus: a.bus,
		AllowPrivate: a.cfg.WebhooksMayReachPrivate, Registerer: a.reg, Types: a.types})
	a.loyalty = loyalty.NewService(loyalty.Config{Store: a.store, Ledger: a.points, Attributes: a.profiles, Types: a.types,
		Reverser: a.points, Bus: a.bus})
	a.loyalty.SetTiers(loyalty.TierConfig{Wallets: a.points, Attributes: a.profiles, Emitter: &emitter, Notifier: a.hub, Logger: a.logger})
	tiers.Service = a.loyalty
	a.points.SetTiers(&tiers)
	a.points.SetBus(a.bus)
	a.types.Report(a.challenges, a.badges, a.leaderboards, a.loyalty)
	a.contests = contests.NewService(contests.Config{
		Store: a.store, Boards: a.leaderboards, Payer: a.points, Spender: a.points, Reverser: a.points, Rewarder: a.points, Awarder: a.badges, Emitter: &emitter,
		Publisher: a.hub, Attributes: a.profiles, Auditor: a.audit, Logger: a.logger, Bus: a.bus,
		Settle: a.cfg.DrawSettle,
	})
	// UGC pays through the ledger, emits ugc.approved and records the
	// purchases that verify reviews as a rule handler.
	a.ugc = ugc.NewService(ugc.Config{Store: a.store, Payer: a.points, Emitter: &emitter, Notifier: a.hub, Auditor: a.audit, Logger: a.logger})
	a.events = events.NewService(a.store, a.logger, a.reg, a.challenges, a.badges, a.leaderboards, a.loyalty, a.contests, a.ugc, a.webhooks, a.analytics)
	a.events.SetTypes(a.types)
	emitter.Service = a.events
	var liveEngine quizzes.Engine = quizzes.NewMemoryEngine()
	if a.redis != nil {
		liveEngine = quizzes.NewRedisEngine(a.redis)
	}
	a.quizzes = quizzes.NewService(quizzes.Config{
		Store: a.store, Payer: a.points, Awarder: a.badges, Unlocker: a.store, Attributes: a.profiles,
		Emitter: a.events, Publisher: a.hub, Engine: liveEngine, Logger: a.logger, Bus: a.bus,
		Limiter: a.limiter,
	})
	a.closers = append(a.closers, func() error { a.quizzes.Close(); return nil })
	quizzesProxy.Service, contestsProxy.Service, ugcProxy.Service = a.quizzes, a.contests, a.ugc
	a.points.SetEmitter(a.events)
	a.points.SetAttributes(a.profiles)
	// A user's export has a section per domain; erasure runs in this
	// order: UGC reverses what the user's content earned while the ledger
	// is still theirs, the ledger is anonymised before boards drop the
	// user, and the audit log last, after every entry about the user is
	// written. The hub's part is the history of the user's own channel.
	a.users = users.NewService(a.audit, a.ugc, a.points, a.leaderboards, a.challenges, a.badges, a.events, a.profiles, a.loyalty, a.contests, a.quizzes, a.webhooks, a.analytics, a.hub, a.audit)
	a.closers = append(a.closers, func() error { a.events.Close(); return nil })
	a.retention = retention.NewService(a.store, a.logger, a.challenges, a.badges, a.leaderboards)
	return nil
}

// canSubscribe is the hub's channel policy: leaderboards and contests for
// everyone in the tenant (the hub keeps channels per tenant; other users'
// channels are refused before it is asked); a live quiz's channel for the
// players who joined the show and for the tenant's managers (the host's
// screen).
func (a *app) canSubscribe(id realtime.Identity, ch string) bool {
	if strings.HasPrefix(ch, "leaderboard:") || strings.HasPrefix(ch, "contest:") {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	manager := slices.ContainsFunc(id.Roles, func(r string) bool { return r == string(auth.Manager) || r == string(auth.Admin) })
	return a.quizzes.CanSubscribe(ctx, id.Tenant, id.User, manager, ch)
}

// emitterProxy breaks the construction cycle between the event service
// (which runs challenges) and challenges (whose claims emit events).
type emitterProxy struct{ *events.Service }

// tierProxy breaks the construction cycle between the ledger (whose
// credits raise tiers) and loyalty (which pays through the ledger).
type tierProxy struct{ *loyalty.Service }

// ledgerProxy breaks the construction cycle between the ledger (which
// tells boards of credits) and the boards (which read the ledger).
type ledgerProxy struct{ *points.Service }

func (a *app) openStore(ctx context.Context) error {
	if a.cfg.Embedded() {
		s, err := sqlite.OpenWith(ctx, a.cfg.SQLitePath(), sqlite.Options{Synchronous: a.cfg.SQLiteSync})
		if err != nil {
			return fmt.Errorf("SQLite at %s: %w", a.cfg.SQLitePath(), err)
		}
		a.store = s
		a.logger.Info("storage: embedded SQLite", "path", a.cfg.SQLitePath(), "synchronous", a.cfg.SQLiteSync)
	} else {
		// An unreachable server fails within the driver's server selection
		// timeout (5 s); the bound here covers creating the indexes, which a
		// busy server may take longer over.
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		s, err := mongo.Open(cctx, a.cfg.MongoURI, a.cfg.MongoDB)
		if err != nil {
			return fmt.Errorf("MONGO_URI: %w", err)
		}
		a.store = s
		a.logger.Info("storage: MongoDB", "database", a.cfg.MongoDB)
		if loose := mongo.Overridden(a.cfg.MongoURI); len(loose) > 0 {
			// Pinned on purpose (see mongo.clientOptions); said aloud so an
			// operator who set them knows they are not in effect.
			a.logger.Warn("MONGO_URI: ignoring settings that would loosen consistency: reads go to the primary, writes wait for a majority",
				"ignored", strings.Join(loose, ","))
		}
	}
	a.closers = append(a.closers, a.store.Close)
	return nil
}

// redisPageTTL is how long each node serves a board's top page from memory
// in Redis mode, where every board read is a round trip and a busy board's
// top is the same page for every player. Another node's writes (or a
// `server rebuild`, or a FLUSHALL) show that much later; this node's own at
// once. The in-process engine needs no cache.
const redisPageTTL = 100 * time.Millisecond

func (a *app) openEngines(ctx context.Context) error {
	if a.cfg.RedisURL == "" {
		a.engine = leaderboards.NewMemoryEngine()
		a.broker = realtime.NewMemoryBroker(a.brokerOptions())
		a.closers = append(a.closers, a.broker.Close)
		a.bus = bus.NewMemory()
		mem := ratelimit.NewMemory()
		a.limiter = mem
		a.closers = append(a.closers, func() error { mem.Close(); return nil })
		a.logger.Info("engines: in-process (one node)")
		return nil
	}
	opts, err := config.RedisOptions(a.cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	opts.DialTimeout = 3 * time.Second
	// go-redis retries a failed dial five times, 100ms apart, on each of a
	// command's four tries: two seconds per command while Redis is down.
	// Intake and board reads must learn of an outage at once (they queue
	// the work or answer 503), so a refused dial fails its try.
	opts.DialerRetries = 1
	// A Redis that holds its connections and never answers (stuck in a
	// long command, a lost network path) must cost a request little. Every
	// Questline command is small, so a healthy server answers in
	// milliseconds and one second is generous; a timed-out command is
	// tried once more (a dropped connection after a restart is then
	// invisible), so a command gives up within about two seconds instead
	// of the default four tries of five seconds each. Callers' deadlines
	// (the hub's publishes, readiness checks) bound the plain client's
	// commands too; the autopipelined ones ignore them (see below).
	opts.ReadTimeout, opts.WriteTimeout = time.Second, time.Second
	opts.MaxRetries = 1
	opts.ContextTimeoutEnabled = true
	// Every request touches Redis (its rate limit) and many publish a push:
	// go-redis' default pool (10 per CPU) queues requests behind each other
	// long before Redis itself is busy.
	opts.PoolSize = 256
	a.redis = redis.NewUniversalClient(opts)
	a.closers = append(a.closers, a.redis.Close)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.redis.Ping(pctx).Err(); err != nil {
		return fmt.Errorf("REDIS_URL: cannot reach Redis: %w", err)
	}
	// Every API request makes a rate-limit call and a board read one more,
	// each a single small command. go-redis' autopipeliner (its blocking
	// face: each call still waits for its own reply) sends the commands of
	// concurrent requests down one connection as one pipeline, one write
	// and one read per batch instead of per command, on both sides: at 64
	// requests in flight Redis read about 33 commands per socket read
	// instead of 1, and Redis-mode board reads gained 13-80% in alternated
	// runs (issue 9). A caller's own commands stay in order. A queued
	// command is not abandoned at its context's deadline, only at the read
	// and write timeouts above; the engine and the rate limiter return at
	// their own deadlines anyway (leaderboards' call, ratelimit's allow).
	// The API is marked experimental upstream, so the engine and limiter
	// conformance suites run through it. Pub/sub (broker, bus) and the
	// quiz engine keep the plain client.
	ap, err := a.redis.AutoPipeline()
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	a.engine = leaderboards.NewRedisEngine(ap)
	a.broker = realtime.NewRedisBroker(a.redis, a.brokerOptions())
	a.closers = append(a.closers, a.broker.Close) // before the client it uses
	a.limiter = ratelimit.NewRedis(ap)
	rb := bus.NewRedis(a.redis, a.logger)
	a.bus, a.runBus = rb, rb.Run
	a.logger.Info("engines: Redis", "addrs", opts.Addrs)
	return nil
}

// brokerOptions bound the realtime history, which is how far back a
// client can resume.
func (a *app) brokerOptions() realtime.BrokerOptions {
	return realtime.BrokerOptions{HistorySize: a.cfg.WSHistorySize, HistoryTTL: a.cfg.WSHistoryTTL}
}

// close releases backends in reverse order of opening.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil && !errors.Is(err, context.Canceled) {
			a.logger.Warn("close", "err", err)
		}
	}
	a.closers = nil
}
