package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RedisOptions turns REDIS_URL into options for redis.NewUniversalClient,
// which picks the client kind from them:
//
//	redis://[:pass@]host:6379/0            one server (rediss:// for TLS)
//	redis://h1:7000,redis://h2:7001,...     Cluster seeds (a comma list)
//	redis+sentinel://[:pass@]h1:26379,h2:26379/mymaster[/db]   Sentinel
func RedisOptions(raw string) (*redis.UniversalOptions, error) {
	raw = strings.TrimSpace(raw)
	switch {
	case strings.HasPrefix(raw, "redis+sentinel://"):
		return sentinelOptions(strings.TrimPrefix(raw, "redis+sentinel://"))
	case strings.Contains(raw, ","):
		return clusterOptions(raw)
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return &redis.UniversalOptions{
		Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig,
	}, nil
}

func clusterOptions(raw string) (*redis.UniversalOptions, error) {
	u := &redis.UniversalOptions{}
	for _, seed := range strings.Split(raw, ",") {
		seed = strings.TrimSpace(seed)
		if !strings.Contains(seed, "://") {
			seed = "redis://" + seed
		}
		o, err := redis.ParseURL(seed)
		if err != nil {
			return nil, fmt.Errorf("cluster seed %q: %w", seed, err)
		}
		u.Addrs = append(u.Addrs, o.Addr)
		u.Username, u.Password, u.TLSConfig = o.Username, o.Password, o.TLSConfig
	}
	return u, nil
}

func sentinelOptions(rest string) (*redis.UniversalOptions, error) {
	var creds *url.Userinfo
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		u, err := url.Parse("redis://" + rest[:at+1] + "x")
		if err != nil {
			return nil, fmt.Errorf("sentinel credentials: %w", err)
		}
		creds, rest = u.User, rest[at+1:]
	}
	hosts, path, _ := strings.Cut(rest, "/")
	parts := strings.Split(path, "/")
	if hosts == "" || parts[0] == "" {
		return nil, errors.New("sentinel URL needs hosts and a master name: redis+sentinel://h1:26379,h2:26379/mymaster")
	}
	u := &redis.UniversalOptions{MasterName: parts[0]}
	for _, h := range strings.Split(hosts, ",") {
		u.Addrs = append(u.Addrs, strings.TrimSpace(h))
	}
	if len(parts) > 1 && parts[1] != "" {
		db, err := strconv.Atoi(parts[1])
		if err != nil {
			return nil, fmt.Errorf("sentinel db %q: not a number", parts[1])
		}
		u.DB = db
	}
	if creds != nil {
		u.Username = creds.Username()
		u.Password, _ = creds.Password()
	}
	return u, nil
}
