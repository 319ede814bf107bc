package leaderboards

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisEngine is the Engine of multi-node deployments: one sorted set per
// board period.
//
// Redis orders equal scores by member ascending, but also orders scores
// ascending. Storing the negated score turns its natural order into the board
// order (score descending, member ascending), so reads are plain ZRANGE and
// ZRANK, and ties come out exactly as in MemoryEngine. ZREVRANGE would not do:
// it reverses the member order of ties too.
//
// It uses only redis.UniversalClient and touches one key per command (plus
// Replace's temporary key in the same hash slot), so it runs unchanged on a
// standalone server, under Sentinel and on a Cluster. ZADD LT needs Redis 6.2
// or newer.
type RedisEngine struct {
	c redis.UniversalClient
}

// NewRedisEngine returns an engine on client. The caller owns the client and
// closes it.
func NewRedisEngine(client redis.UniversalClient) *RedisEngine {
	return &RedisEngine{c: client}
}

var _ Engine = (*RedisEngine)(nil)

const (
	// replaceBatch is the number of members per ZADD in Replace. Redis runs
	// one command at a time, so a single huge ZADD would stall every other
	// client of the server; 1,000 members keep each command well under a
	// millisecond.
	replaceBatch = 1000
	// replacePipeline is the number of ZADDs sent per round trip: 10,000
	// members, few enough to bound client memory, many enough that the
	// network is not the bottleneck.
	replacePipeline = 10
	// replaceTempTTL bounds how long the temporary key of a Replace that
	// died half-way (process crash, lost connection) can linger.
	replaceTempTTL = time.Hour
	// aroundAttempts bounds Around's retries when the member moves between
	// its ZRANK and its ZRANGE.
	aroundAttempts = 3
)

func redisErr(op, key string, err error) error {
	return fmt.Errorf("leaderboards: redis %s %s: %w", op, key, err)
}

// toScore and fromScore convert between board scores and the negated float
// scores stored in Redis. checkScore keeps scores within ±2^53, where the
// conversion is exact.
func toScore(s int64) float64   { return float64(-s) }
func fromScore(f float64) int64 { return int64(-f) }

// Raise implements Engine with ZADD LT: on the negated score "less than" is
// "greater than", and Redis applies it atomically, so concurrent raises leave
// the maximum and replays change nothing.
func (r *RedisEngine) Raise(ctx context.Context, key, member string, score int64) error {
	if err := checkScore("raise", key, score); err != nil {
		return err
	}
	err := r.c.ZAddArgs(ctx, key, redis.ZAddArgs{
		LT:      true,
		Members: []redis.Z{{Score: toScore(score), Member: member}},
	}).Err()
	if err != nil {
		return redisErr("raise", key, err)
	}
	return nil
}

// Incr implements Engine with ZINCRBY of the negated delta.
func (r *RedisEngine) Incr(ctx context.Context, key, member string, delta int64) (int64, error) {
	if err := checkScore("incr", key, delta); err != nil {
		return 0, err
	}
	f, err := r.c.ZIncrBy(ctx, key, toScore(delta), member).Result()
	if err != nil {
		return 0, redisErr("incr", key, err)
	}
	return fromScore(f), nil
}

// Top implements Engine with one ZRANGE … WITHSCORES.
func (r *RedisEngine) Top(ctx context.Context, key string, offset, limit int) ([]Entry, error) {
	start, count, ok := pageBounds(offset, limit)
	if !ok {
		return []Entry{}, nil
	}
	stop := int64(start) + int64(count) - 1
	if stop < int64(start) { // overflow: the caller asked for everything
		stop = -1
	}
	zs, err := r.c.ZRangeWithScores(ctx, key, int64(start), stop).Result()
	if err != nil {
		return nil, redisErr("top", key, err)
	}
	return zEntries(zs, int64(start)+1), nil
}

// zEntries converts a ZRANGE reply whose first element has rank first.
func zEntries(zs []redis.Z, first int64) []Entry {
	out := make([]Entry, len(zs))
	for i, z := range zs {
		m, _ := z.Member.(string)
		out[i] = Entry{Member: m, Score: fromScore(z.Score), Rank: first + int64(i)}
	}
	return out
}

// Rank implements Engine. ZRANK and ZSCORE go in one MULTI: one round trip,
// and no write can slip between them, so rank and score always belong
// together. (ZRANK … WITHSCORE would do it in one command but needs 7.2.)
func (r *RedisEngine) Rank(ctx context.Context, key, member string) (Entry, bool, error) {
	var (
		rank  *redis.IntCmd
		score *redis.FloatCmd
	)
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		rank = p.ZRank(ctx, key, member)
		score = p.ZScore(ctx, key, member)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Entry{}, false, redisErr("rank", key, err)
	}
	rk, err1 := rank.Result()
	sc, err2 := score.Result()
	if errors.Is(err1, redis.Nil) || errors.Is(err2, redis.Nil) {
		return Entry{}, false, nil
	}
	if err := errors.Join(err1, err2); err != nil {
		return Entry{}, false, redisErr("rank", key, err)
	}
	return Entry{Member: member, Score: fromScore(sc), Rank: rk + 1}, true, nil
}

// Around implements Engine: ZRANK for the member's position, then ZRANGE of
// the window around it. A concurrent write can move the member between the
// two; the window then no longer holds it at the expected place, and Around
// asks again. After aroundAttempts it settles for the last window, which is
// still correctly ranked, and on a board that busy no answer stays true for
// long anyway.
func (r *RedisEngine) Around(ctx context.Context, key, member string, n int) ([]Entry, error) {
	if n < 0 {
		n = 0
	}
	var out []Entry
	for attempt := 0; attempt < aroundAttempts; attempt++ {
		rk, err := r.c.ZRank(ctx, key, member).Result()
		if errors.Is(err, redis.Nil) {
			return []Entry{}, nil
		}
		if err != nil {
			return nil, redisErr("around", key, err)
		}
		start := max(0, rk-int64(n)) // rk >= 0, so this cannot overflow
		stop := rk + int64(n)
		if stop < rk {
			stop = -1
		}
		zs, err := r.c.ZRangeWithScores(ctx, key, start, stop).Result()
		if err != nil {
			return nil, redisErr("around", key, err)
		}
		out = zEntries(zs, start+1)
		if i := rk - start; i < int64(len(out)) && out[i].Member == member {
			return out, nil
		}
	}
	return out, nil
}

// Count implements Engine with ZCARD.
func (r *RedisEngine) Count(ctx context.Context, key string) (int64, error) {
	c, err := r.c.ZCard(ctx, key).Result()
	if err != nil {
		return 0, redisErr("count", key, err)
	}
	return c, nil
}

// Remove implements Engine with ZREM. Redis deletes a sorted set that loses
// its last member, expiry included.
func (r *RedisEngine) Remove(ctx context.Context, key, member string) error {
	if err := r.c.ZRem(ctx, key, member).Err(); err != nil {
		return redisErr("remove", key, err)
	}
	return nil
}

// Replace implements Engine. Entries are written into a temporary key in the
// same hash slot, in pipelined batches, while readers keep using the old
// board; a MULTI then UNLINKs the old board, RENAMEs the temporary key onto
// it and PERSISTs it, so readers switch from the old board to the new in one
// step. UNLINK frees the old set in the background: RENAME onto an existing
// key would free a million-member set synchronously and stall the server.
func (r *RedisEngine) Replace(ctx context.Context, key string, entries []Entry) error {
	for _, e := range entries {
		if err := checkScore("replace", key, e.Score); err != nil {
			return err
		}
	}
	if len(entries) == 0 {
		if err := r.c.Unlink(ctx, key).Err(); err != nil {
			return redisErr("replace", key, err)
		}
		return nil
	}
	tmp := tempKey(key)
	if err := r.fill(ctx, tmp, entries); err != nil {
		// Best effort: the TTL removes it anyway. A fresh context, because
		// ctx may be the reason fill failed.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = r.c.Unlink(cctx, tmp).Err()
		cancel()
		return redisErr("replace", key, err)
	}
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Unlink(ctx, key)
		p.Rename(ctx, tmp, key)
		p.Persist(ctx, key)
		return nil
	})
	if err != nil {
		return redisErr("replace", key, err)
	}
	return nil
}

// fill writes entries into tmp. Every round trip renews tmp's TTL, so an
// interrupted Replace leaves nothing behind for long.
func (r *RedisEngine) fill(ctx context.Context, tmp string, entries []Entry) error {
	zs := make([]redis.Z, len(entries))
	for i, e := range entries {
		zs[i] = redis.Z{Score: toScore(e.Score), Member: e.Member}
	}
	for len(zs) > 0 {
		_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := 0; i < replacePipeline && len(zs) > 0; i++ {
				n := min(replaceBatch, len(zs))
				p.ZAdd(ctx, tmp, zs[:n]...)
				zs = zs[n:]
			}
			p.PExpire(ctx, tmp, replaceTempTTL)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// tempKey names Replace's staging key. It must hash to key's slot, or RENAME
// fails on a Cluster: a key with a hash tag keeps it as a prefix, so the tag
// stays the first one; a key without braces becomes the tag itself, since
// Redis hashes only the tag.
func tempKey(key string) string {
	suffix := ":rebuild:" + rand.Text()
	if strings.ContainsAny(key, "{}") {
		// Keys with braces but no valid tag cannot be wrapped safely; they
		// work everywhere but on a Cluster. Callers use hash tags anyway.
		return key + suffix
	}
	return "{" + key + "}" + suffix
}

// Expire implements Engine with PEXPIRE, PERSIST for ttl 0, and UNLINK for
// a negative ttl. The ttl is rounded up to whole milliseconds, so a board
// never disappears earlier than asked.
func (r *RedisEngine) Expire(ctx context.Context, key string, ttl time.Duration) error {
	var err error
	switch {
	case ttl == 0:
		err = r.c.Persist(ctx, key).Err()
	case ttl < 0:
		err = r.c.Unlink(ctx, key).Err()
	default:
		if rem := ttl % time.Millisecond; rem != 0 && ttl < math.MaxInt64-time.Millisecond {
			ttl += time.Millisecond - rem
		}
		err = r.c.PExpire(ctx, key, ttl).Err()
	}
	if err != nil {
		return redisErr("expire", key, err)
	}
	return nil
}

// Ping implements Engine with PING.
func (r *RedisEngine) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("leaderboards: redis ping: %w", err)
	}
	return nil
}
