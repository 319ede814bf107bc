// Package config reads Questline's settings from the environment, with flags
// of the same meaning overriding, and validates them once at start. No other
// package reads the environment.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of a Questline server.
type Config struct {
	Addr    string // QL_ADDR
	DataDir string // QL_DATA_DIR
	// SQLiteSync is SQLite's synchronous mode: FULL (every acknowledged
	// write survives power loss) or NORMAL (survives a process crash; the
	// last commits may be lost on power loss).
	SQLiteSync string // QL_SQLITE_SYNC
	MongoURI   string // MONGO_URI
	MongoDB    string // QL_MONGO_DB
	RedisURL   string // REDIS_URL

	JWTSecret    []byte // QL_JWT_SECRET (HS256)
	JWKSURL      string // QL_JWT_JWKS_URL
	JWTPublicKey []byte // contents of QL_JWT_PUBLIC_KEY_FILE (PEM)
	JWTIssuer    string // QL_JWT_ISSUER
	JWTAudience  string // QL_JWT_AUDIENCE
	// JWTTenantClaim and JWTRolesClaim name the claims holding the tenant
	// and the roles, for identity providers that namespace their own
	// (checked by auth.NewVerifier at start).
	JWTTenantClaim string // QL_JWT_TENANT_CLAIM
	JWTRolesClaim  string // QL_JWT_ROLES_CLAIM
	// Tenant, when set, is the tenant of every token: a single-brand
	// deployment whose identity provider issues no tenant claim.
	Tenant string // QL_TENANT
	// TrustedProxies are the load balancers whose X-Forwarded-For names
	// the client; without them the client is the connection's peer.
	TrustedProxies []netip.Prefix // QL_TRUSTED_PROXIES (comma-separated CIDRs or addresses)
	// AuthFailRate is each client address's sustained rate of requests
	// that fail authentication, per second, with bursts of ten times it.
	AuthFailRate int // QL_AUTH_FAIL_RATE

	LogLevel slog.Level // QL_LOG_LEVEL
	// BodyLimit caps request bodies; larger ones get 413.
	BodyLimit int // QL_BODY_LIMIT (bytes)
	// ShutdownTimeout bounds how long in-flight requests may take to finish.
	ShutdownTimeout time.Duration // QL_SHUTDOWN_TIMEOUT
	// SweepInterval is how often unprocessed events are retried.
	SweepInterval time.Duration // QL_SWEEP_INTERVAL
	// PruneInterval is how often each node prunes records past the
	// tenants' retention (package retention).
	PruneInterval time.Duration // QL_PRUNE_INTERVAL
	// EventRate is each player's sustained event rate limit per second.
	EventRate int // QL_EVENT_RATE
	// WSPerUser caps one user's open WebSocket connections per node.
	WSPerUser int // QL_WS_PER_USER
	// WSHistorySize and WSHistoryTTL bound each realtime channel's
	// history, which is how far back a reconnecting client can resume.
	WSHistorySize int           // QL_WS_HISTORY_SIZE (messages)
	WSHistoryTTL  time.Duration // QL_WS_HISTORY_TTL
	// WSDrain is the period over which a stopping node closes its
	// WebSockets with 1012 (reconnect elsewhere), so its clients do not
	// all reconnect in the same second. It must fit in ShutdownTimeout.
	WSDrain time.Duration // QL_WS_DRAIN
	// PprofAddr, when set, serves net/http/pprof on this loopback
	// address, apart from the public listener; "" (the default) serves
	// no profiles. See PprofAddress for why only loopback.
	PprofAddr string // QL_PPROF_ADDR
	// WebhookPrivateTenants may register webhook endpoints on private,
	// loopback or link-local addresses (and plain http to loopback): "*"
	// for every tenant, for development. An operator's setting, since a
	// tenant allowing itself would defeat the SSRF guard.
	WebhookPrivateTenants []string // QL_WEBHOOK_PRIVATE_TENANTS (comma-separated)
	// DrawSettle is how long after a prize draw's close entries may still
	// be written, and so how long its draw waits.
	DrawSettle time.Duration // QL_DRAW_SETTLE
}

// WebhooksMayReachPrivate reports whether tenant's webhooks may reach
// private addresses.
func (c Config) WebhooksMayReachPrivate(tenant string) bool {
	for _, t := range c.WebhookPrivateTenants {
		if t == "*" || t == tenant {
			return true
		}
	}
	return false
}

// Embedded reports whether the server runs on the embedded SQLite store.
func (c Config) Embedded() bool { return c.MongoURI == "" }

// SQLitePath is where the embedded database lives.
func (c Config) SQLitePath() string { return filepath.Join(c.DataDir, "questline.db") }

// Load builds a Config from getenv, then flags in args (without the program
// and subcommand names). It returns flag.ErrHelp after printing usage to out
// when asked for help.
func Load(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(out)
	var c Config
	var secret, pubKeyFile, level, limit, shutdown, sweep, prune, rate, wsPerUser string
	fs.StringVar(&c.Addr, "addr", env("QL_ADDR", ":8080"), "listen address (QL_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", env("QL_DATA_DIR", "./data"), "embedded SQLite file and development secret (QL_DATA_DIR)")
	fs.StringVar(&c.SQLiteSync, "sqlite-sync", env("QL_SQLITE_SYNC", "FULL"), "SQLite synchronous mode, FULL or NORMAL (QL_SQLITE_SYNC)")
	// Settings that may hold a secret (the HS256 key, passwords in URLs)
	// have no flag default: flag.PrintDefaults would print it on --help.
	// They are read from the environment after parsing instead.
	fromEnv := map[*string]string{&secret: "QL_JWT_SECRET", &c.MongoURI: "MONGO_URI", &c.RedisURL: "REDIS_URL"}
	fs.StringVar(&c.MongoURI, "mongo-uri", "", "MongoDB instead of SQLite (MONGO_URI)")
	fs.StringVar(&c.MongoDB, "mongo-db", env("QL_MONGO_DB", "questline"), "MongoDB database name (QL_MONGO_DB)")
	fs.StringVar(&c.RedisURL, "redis-url", "", "Redis engines instead of in-process ones (REDIS_URL)")
	fs.StringVar(&secret, "jwt-secret", "", "HS256 secret (QL_JWT_SECRET)")
	fs.StringVar(&c.JWKSURL, "jwt-jwks-url", env("QL_JWT_JWKS_URL", ""), "JWKS URL of an identity provider (QL_JWT_JWKS_URL)")
	fs.StringVar(&pubKeyFile, "jwt-public-key-file", env("QL_JWT_PUBLIC_KEY_FILE", ""), "PEM public key for RS256/ES256/EdDSA (QL_JWT_PUBLIC_KEY_FILE)")
	fs.StringVar(&c.JWTIssuer, "jwt-issuer", env("QL_JWT_ISSUER", ""), "required token issuer (QL_JWT_ISSUER)")
	fs.StringVar(&c.JWTAudience, "jwt-audience", env("QL_JWT_AUDIENCE", ""), "required token audience (QL_JWT_AUDIENCE)")
	fs.StringVar(&c.JWTTenantClaim, "jwt-tenant-claim", env("QL_JWT_TENANT_CLAIM", "tid"), "claim holding the tenant id, e.g. https://questline.dev/tenant (QL_JWT_TENANT_CLAIM)")
	fs.StringVar(&c.JWTRolesClaim, "jwt-roles-claim", env("QL_JWT_ROLES_CLAIM", "roles"), "claim holding the roles, e.g. cognito:groups (QL_JWT_ROLES_CLAIM)")
	fs.StringVar(&c.Tenant, "tenant", env("QL_TENANT", ""), "the one tenant of a single-brand deployment (QL_TENANT)")
	var proxies, authFail string
	fs.StringVar(&proxies, "trusted-proxies", env("QL_TRUSTED_PROXIES", ""), "comma-separated CIDRs of load balancers whose X-Forwarded-For is believed (QL_TRUSTED_PROXIES)")
	fs.StringVar(&authFail, "auth-fail-rate", env("QL_AUTH_FAIL_RATE", "10"), "failed authentications per second one client address may send, bursts of 10x (QL_AUTH_FAIL_RATE)")
	fs.StringVar(&level, "log-level", env("QL_LOG_LEVEL", "info"), "debug, info, warn or error (QL_LOG_LEVEL)")
	fs.StringVar(&limit, "body-limit", env("QL_BODY_LIMIT", "65536"), "largest request body in bytes (QL_BODY_LIMIT)")
	fs.StringVar(&shutdown, "shutdown-timeout", env("QL_SHUTDOWN_TIMEOUT", "15s"), "grace period for in-flight requests (QL_SHUTDOWN_TIMEOUT)")
	fs.StringVar(&sweep, "sweep-interval", env("QL_SWEEP_INTERVAL", "10s"), "how often unfinished events are retried (QL_SWEEP_INTERVAL)")
	fs.StringVar(&prune, "prune-interval", env("QL_PRUNE_INTERVAL", "24h"), "how often records past the tenants' retention are pruned (QL_PRUNE_INTERVAL)")
	fs.StringVar(&rate, "event-rate", env("QL_EVENT_RATE", "20"), "events per second a player may send (QL_EVENT_RATE)")
	fs.StringVar(&wsPerUser, "ws-per-user", env("QL_WS_PER_USER", "10"), "WebSocket connections one user may hold per node (QL_WS_PER_USER)")
	var drawSettle string
	fs.StringVar(&drawSettle, "draw-settle", env("QL_DRAW_SETTLE", "10s"), "how long after a prize draw's close entries in flight may land; the draw waits this long (QL_DRAW_SETTLE)")
	var wsHistSize, wsHistTTL, wsDrain string
	fs.StringVar(&wsHistSize, "ws-history-size", env("QL_WS_HISTORY_SIZE", "100"), "messages kept per realtime channel for resume (QL_WS_HISTORY_SIZE)")
	fs.StringVar(&wsHistTTL, "ws-history-ttl", env("QL_WS_HISTORY_TTL", "10m"), "how long a realtime channel's history is kept after its last message (QL_WS_HISTORY_TTL)")
	fs.StringVar(&wsDrain, "ws-drain", env("QL_WS_DRAIN", "5s"), "period over which a stopping node sends its WebSockets elsewhere (QL_WS_DRAIN)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", env("QL_PPROF_ADDR", ""), "loopback address for Go profiles, e.g. 127.0.0.1:6060; off when empty (QL_PPROF_ADDR)")
	var privateHooks string
	fs.StringVar(&privateHooks, "webhook-private-tenants", env("QL_WEBHOOK_PRIVATE_TENANTS", ""), "comma-separated tenants (or *) whose webhooks may reach private and loopback addresses (QL_WEBHOOK_PRIVATE_TENANTS)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	for _, t := range strings.Split(privateHooks, ",") {
		if t = strings.TrimSpace(t); t != "" {
			c.WebhookPrivateTenants = append(c.WebhookPrivateTenants, t)
		}
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for v, key := range fromEnv {
		if *v == "" {
			*v = getenv(key)
		}
	}
	c.JWTSecret = []byte(secret)
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return Config{}, fmt.Errorf("QL_LOG_LEVEL: %q is not one of debug, info, warn, error", level)
	}
	var err error
	if c.BodyLimit, err = positiveInt("QL_BODY_LIMIT", limit); err != nil {
		return Config{}, err
	}
	if c.EventRate, err = positiveInt("QL_EVENT_RATE", rate); err != nil {
		return Config{}, err
	}
	if c.WSPerUser, err = positiveInt("QL_WS_PER_USER", wsPerUser); err != nil {
		return Config{}, err
	}
	if c.ShutdownTimeout, err = duration("QL_SHUTDOWN_TIMEOUT", shutdown); err != nil {
		return Config{}, err
	}
	if err := c.loadWS(wsHistSize, wsHistTTL, wsDrain); err != nil {
		return Config{}, err
	}
	if c.SweepInterval, err = duration("QL_SWEEP_INTERVAL", sweep); err != nil {
		return Config{}, err
	}
	if c.PruneInterval, err = duration("QL_PRUNE_INTERVAL", prune); err != nil {
		return Config{}, err
	}
	if c.DrawSettle, err = duration("QL_DRAW_SETTLE", drawSettle); err != nil {
		return Config{}, err
	}
	if c.TrustedProxies, err = prefixes("QL_TRUSTED_PROXIES", proxies); err != nil {
		return Config{}, err
	}
	if c.AuthFailRate, err = positiveInt("QL_AUTH_FAIL_RATE", authFail); err != nil {
		return Config{}, err
	}
	if pubKeyFile != "" {
		if c.JWTPublicKey, err = os.ReadFile(pubKeyFile); err != nil {
			return Config{}, fmt.Errorf("QL_JWT_PUBLIC_KEY_FILE: %w", err)
		}
	}
	if c.SQLiteSync = strings.ToUpper(c.SQLiteSync); c.SQLiteSync != "FULL" && c.SQLiteSync != "NORMAL" {
		return Config{}, fmt.Errorf("QL_SQLITE_SYNC: %q is not FULL or NORMAL", c.SQLiteSync)
	}
	if c.RedisURL != "" {
		if _, err := RedisOptions(c.RedisURL); err != nil {
			return Config{}, fmt.Errorf("REDIS_URL: %w", err)
		}
	}
	if c.MongoURI != "" && !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		return Config{}, errors.New("MONGO_URI: must start with mongodb:// or mongodb+srv://")
	}
	if c.MongoURI != "" && c.MongoDB == "" {
		return Config{}, errors.New("QL_MONGO_DB: must not be empty")
	}
	if err := PprofAddress(c.PprofAddr, c.Addr); err != nil {
		return Config{}, fmt.Errorf("QL_PPROF_ADDR: %w", err)
	}
	return c, nil
}

// loadWS parses the realtime settings; the drain must leave a second of
// the shutdown grace for the rest of the shutdown.
func (c *Config) loadWS(histSize, histTTL, drain string) (err error) {
	if c.WSHistorySize, err = positiveInt("QL_WS_HISTORY_SIZE", histSize); err != nil {
		return err
	}
	if c.WSHistoryTTL, err = duration("QL_WS_HISTORY_TTL", histTTL); err != nil {
		return err
	}
	if c.WSDrain, err = time.ParseDuration(drain); err != nil || c.WSDrain < 0 {
		return fmt.Errorf("QL_WS_DRAIN: %q is not a duration such as 5s (0 closes every socket at once)", drain)
	}
	if c.WSDrain > c.ShutdownTimeout-time.Second {
		return fmt.Errorf("QL_WS_DRAIN: %s does not fit in QL_SHUTDOWN_TIMEOUT %s less a second", c.WSDrain, c.ShutdownTimeout)
	}
	return nil
}

// EnsureSecret makes sure some way to verify tokens is configured. On the
// embedded default a missing HS256 secret is generated once into the data
// directory, so a newcomer needs no settings; in production mode (MongoDB)
// a missing secret is an error, because nodes must agree on it.
func (c *Config) EnsureSecret() (generated bool, err error) {
	if len(c.JWTSecret) > 0 || c.JWKSURL != "" || len(c.JWTPublicKey) > 0 {
		return false, nil
	}
	if !c.Embedded() {
		return false, errors.New("QL_JWT_SECRET: required when MONGO_URI is set (or set QL_JWT_JWKS_URL / QL_JWT_PUBLIC_KEY_FILE)")
	}
	path := filepath.Join(c.DataDir, "jwt-secret")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		c.JWTSecret = []byte(strings.TrimSpace(string(b)))
		return false, nil
	}
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return false, fmt.Errorf("QL_DATA_DIR: %w", err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return false, fmt.Errorf("generate secret: %w", err)
	}
	secret := hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return false, fmt.Errorf("QL_DATA_DIR: write secret: %w", err)
	}
	c.JWTSecret = []byte(secret)
	return true, nil
}

// prefixes parses a comma-separated list of CIDRs; a bare address is a
// prefix of its full length.
func prefixes(name, s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("%s: %q is not a CIDR such as 10.0.0.0/8 or an address", name, f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// PprofAddress checks a profiling address: empty, or host:port where
// the host is a loopback IP or "localhost", and not the public address.
// Profiles show the code, the heap and what every goroutine is doing, and
// the CPU profile costs while it runs, so they are never served where
// clients reach; there is deliberately no override. Operators profile
// remotely through an SSH tunnel or a port-forward to the loopback port.
func PprofAddress(addr, public string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%q is not a loopback address such as 127.0.0.1:6060: profiles are never served beyond the machine", addr)
	}
	if addr == public {
		return fmt.Errorf("%q is the public address QL_ADDR", addr)
	}
	return nil
}

func positiveInt(name, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive whole number", name, s)
	}
	return n, nil
}

func duration(name, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive duration such as 10s", name, s)
	}
	return d, nil
}
