package quizzes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/questline/questline/internal/errs"
)

// RedisEngine keeps live shows in Redis, so every node serves the same
// show. A show's keys share one hash tag ({tenant|id}), so its scripts
// run on one Cluster slot; every key expires after sessionTTL.
type RedisEngine struct {
	c redis.UniversalClient
}

// NewRedisEngine returns an engine over client.
func NewRedisEngine(client redis.UniversalClient) *RedisEngine { return &RedisEngine{c: client} }

var _ Engine = (*RedisEngine)(nil)

// key names one part of a show: s (the session JSON), v (its version),
// p (players by user), a:{q} (answers by user), scored (scored questions).
func key(tenant, id, part string) string { return "ql:live:{" + tenant + "|" + id + "}:" + part }

// dueKey is the sorted set of every show's open deadline (member
// tenant|id, score unix ms): one key, so one Cluster slot.
const dueKey = "ql:live:due"

// userKey is the set of shows a user joined, for export and erasure.
func userKey(tenant, user string) string { return "ql:liveuser:{" + tenant + "|" + user + "}" }

func codeKey(tenant, code string) string { return "ql:livecode:" + tenant + ":" + code }

var (
	// swapScript: KEYS s, v; ARGV json, version, ttl ms.
	swapScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[2])
if not cur then return -1 end
if tonumber(cur) ~= tonumber(ARGV[2]) - 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
redis.call('SET', KEYS[2], ARGV[2], 'KEEPTTL')
return 1`)
	// unscheduleScript: KEYS due; ARGV member, score: removes it only if
	// its score is still that one.
	unscheduleScript = redis.NewScript(`
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) == tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0`)
	// scoreScript: KEYS p, scored; ARGV q, ttl ms, then user, json pairs.
	scoreScript = redis.NewScript(`
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`)
)

func (r *RedisEngine) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("quizzes: redis %s: %w", op, err)
}

// CreateSession claims the code, then stores the session.
func (r *RedisEngine) CreateSession(ctx context.Context, s Session) error {
	ok, err := r.c.SetNX(ctx, codeKey(s.Tenant, s.Code), s.ID, sessionTTL).Result()
	if err != nil {
		return r.wrap("create session", err)
	}
	if !ok {
		return fmt.Errorf("quizzes: join code %s: %w", s.Code, errs.ErrDuplicate)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("quizzes: encode session: %w", err)
	}
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key(s.Tenant, s.ID, "s"), b, sessionTTL)
		p.Set(ctx, key(s.Tenant, s.ID, "v"), s.Version, sessionTTL)
		return nil
	})
	return r.wrap("create session", err)
}

// SessionByCode returns the session a code names.
func (r *RedisEngine) SessionByCode(ctx context.Context, tenant, code string) (string, error) {
	id, err := r.c.Get(ctx, codeKey(tenant, code)).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("quizzes: join code %s: %w", code, errs.ErrNotFound)
	}
	return id, r.wrap("session by code", err)
}

// GetSession returns a session.
func (r *RedisEngine) GetSession(ctx context.Context, tenant, id string) (Session, error) {
	b, err := r.c.Get(ctx, key(tenant, id, "s")).Bytes()
	if errors.Is(err, redis.Nil) {
		return Session{}, fmt.Errorf("quizzes: live session %s: %w", id, errs.ErrNotFound)
	}
	if err != nil {
		return Session{}, r.wrap("get session", err)
	}
	var s Session
	if err := json.Unmarshal(b, &s); err != nil {
		return Session{}, fmt.Errorf("quizzes: decode session %s: %w", id, err)
	}
	s.Tenant = tenant
	return s, nil
}

// SwapSession replaces a session at the next version.
func (r *RedisEngine) SwapSession(ctx context.Context, s Session) (bool, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return false, fmt.Errorf("quizzes: encode session: %w", err)
	}
	n, err := swapScript.Run(ctx, r.c, []string{key(s.Tenant, s.ID, "s"), key(s.Tenant, s.ID, "v")}, b, s.Version).Int()
	if err == nil && n < 0 {
		return false, fmt.Errorf("quizzes: live session %s: %w", s.ID, errs.ErrNotFound)
	}
	return n == 1, r.wrap("swap session", err)
}

// Join adds a player once.
func (r *RedisEngine) Join(ctx context.Context, tenant, id, user string, at time.Time) (Player, bool, error) {
	if _, err := r.GetSession(ctx, tenant, id); err != nil {
		return Player{}, false, err
	}
	p := Player{User: user, JoinedAt: at}
	b, err := json.Marshal(p)
	if err != nil {
		return Player{}, false, fmt.Errorf("quizzes: encode player: %w", err)
	}
	// Indexed first: a crash between the two leaves an index entry
	// without a player (harmless), never a player its erasure misses.
	// A separate call: the user's key is on another Cluster slot.
	uk := userKey(tenant, user)
	if _, err := r.c.Pipelined(ctx, func(pl redis.Pipeliner) error {
		pl.SAdd(ctx, uk, id)
		pl.PExpire(ctx, uk, sessionTTL)
		return nil
	}); err != nil {
		return Player{}, false, r.wrap("join", err)
	}
	pk := key(tenant, id, "p")
	var added *redis.BoolCmd
	_, err = r.c.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		added = pl.HSetNX(ctx, pk, user, b)
		pl.PExpire(ctx, pk, sessionTTL)
		return nil
	})
	if err != nil {
		return Player{}, false, r.wrap("join", err)
	}
	if added.Val() {
		return p, true, nil
	}
	stored, _, err := r.Player(ctx, tenant, id, user)
	return stored, false, err
}

// Player returns one player.
func (r *RedisEngine) Player(ctx context.Context, tenant, id, user string) (Player, bool, error) {
	b, err := r.c.HGet(ctx, key(tenant, id, "p"), user).Bytes()
	if errors.Is(err, redis.Nil) {
		return Player{}, false, nil
	}
	if err != nil {
		return Player{}, false, r.wrap("player", err)
	}
	var p Player
	if err := json.Unmarshal(b, &p); err != nil {
		return Player{}, false, fmt.Errorf("quizzes: decode player: %w", err)
	}
	return p, true, nil
}

// Players returns every player.
func (r *RedisEngine) Players(ctx context.Context, tenant, id string) ([]Player, error) {
	return hashValues[Player](ctx, r, key(tenant, id, "p"), "players")
}

// PlayerCount counts the players with HLEN.
func (r *RedisEngine) PlayerCount(ctx context.Context, tenant, id string) (int, error) {
	n, err := r.c.HLen(ctx, key(tenant, id, "p")).Result()
	return int(n), r.wrap("player count", err)
}

// hashValues decodes every value of a hash, scanning it in batches so a
// show of 10,000 players never blocks Redis on one reply.
func hashValues[T any](ctx context.Context, r *RedisEngine, k, what string) ([]T, error) {
	var (
		out    []T
		cursor uint64
	)
	for {
		kv, next, err := r.c.HScan(ctx, k, cursor, "*", 1000).Result()
		if err != nil {
			return nil, r.wrap(what, err)
		}
		for i := 1; i < len(kv); i += 2 {
			var v T
			if err := json.Unmarshal([]byte(kv[i]), &v); err != nil {
				return nil, fmt.Errorf("quizzes: decode %s: %w", what, err)
			}
			out = append(out, v)
		}
		if cursor = next; cursor == 0 {
			return out, nil
		}
	}
}

// Answer stores a first answer.
func (r *RedisEngine) Answer(ctx context.Context, tenant, id string, q int, a LiveAnswer) (bool, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return false, fmt.Errorf("quizzes: encode answer: %w", err)
	}
	ak := key(tenant, id, "a:"+strconv.Itoa(q))
	var added *redis.BoolCmd
	_, err = r.c.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		added = pl.HSetNX(ctx, ak, a.User, b)
		pl.PExpire(ctx, ak, sessionTTL)
		return nil
	})
	if err != nil {
		return false, r.wrap("answer", err)
	}
	return added.Val(), nil
}

// Answered reports whether user answered question q, with HEXISTS.
func (r *RedisEngine) Answered(ctx context.Context, tenant, id string, q int, user string) (bool, error) {
	ok, err := r.c.HExists(ctx, key(tenant, id, "a:"+strconv.Itoa(q)), user).Result()
	return ok, r.wrap("answered", err)
}

// Answers returns a question's answers. HSCAN may return an entry twice
// while the hash grows; answers are unique per user, so duplicates are
// dropped.
func (r *RedisEngine) Answers(ctx context.Context, tenant, id string, q int) ([]LiveAnswer, error) {
	all, err := hashValues[LiveAnswer](ctx, r, key(tenant, id, "a:"+strconv.Itoa(q)), "answers")
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(all))
	out := all[:0]
	for _, a := range all {
		if !seen[a.User] {
			seen[a.User] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// Score writes standings once per question, in one script.
func (r *RedisEngine) Score(ctx context.Context, tenant, id string, q int, ps []Player) (bool, error) {
	args := make([]any, 0, 2+2*len(ps))
	args = append(args, q, sessionTTL.Milliseconds())
	for _, p := range ps {
		b, err := json.Marshal(p)
		if err != nil {
			return false, fmt.Errorf("quizzes: encode player: %w", err)
		}
		args = append(args, p.User, b)
	}
	n, err := scoreScript.Run(ctx, r.c, []string{key(tenant, id, "p"), key(tenant, id, "scored")}, args...).Int()
	return n == 1, r.wrap("score", err)
}

// Ping checks Redis answers.
func (r *RedisEngine) Ping(ctx context.Context) error { return r.wrap("ping", r.c.Ping(ctx).Err()) }

// Schedule records the show's deadline in the due set.
func (r *RedisEngine) Schedule(ctx context.Context, tenant, id string, deadline time.Time) error {
	err := r.c.ZAdd(ctx, dueKey, redis.Z{Score: float64(deadline.UnixMilli()), Member: tenant + "|" + id}).Err()
	return r.wrap("schedule", err)
}

// Due reads the passed deadlines from the front of the due set.
func (r *RedisEngine) Due(ctx context.Context, now time.Time, limit int) ([]Deadline, error) {
	zs, err := r.c.ZRangeByScoreWithScores(ctx, dueKey, &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(limit)}).Result()
	if err != nil {
		return nil, r.wrap("due", err)
	}
	out := make([]Deadline, 0, len(zs))
	for _, z := range zs {
		m, _ := z.Member.(string)
		// Tenants and ids hold no '|': the last one splits them.
		i := strings.LastIndexByte(m, '|')
		if i < 0 {
			continue
		}
		out = append(out, Deadline{Tenant: m[:i], ID: m[i+1:], At: time.UnixMilli(int64(z.Score)).UTC()})
	}
	return out, nil
}

// Unschedule drops d unless a newer deadline replaced it.
func (r *RedisEngine) Unschedule(ctx context.Context, d Deadline) error {
	err := unscheduleScript.Run(ctx, r.c, []string{dueKey}, d.Tenant+"|"+d.ID, d.At.UnixMilli()).Err()
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	return r.wrap("unschedule", err)
}

// UserSessions reads the user's set of joined shows.
func (r *RedisEngine) UserSessions(ctx context.Context, tenant, user string) ([]string, error) {
	ids, err := r.c.SMembers(ctx, userKey(tenant, user)).Result()
	if err != nil {
		return nil, r.wrap("user sessions", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// PlayerAnswers reads user's field of each question's answer hash.
func (r *RedisEngine) PlayerAnswers(ctx context.Context, tenant, id, user string, n int) (map[int]LiveAnswer, error) {
	cmds := make([]*redis.StringCmd, n)
	_, err := r.c.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for q := range n {
			cmds[q] = pl.HGet(ctx, key(tenant, id, "a:"+strconv.Itoa(q)), user)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.wrap("player answers", err)
	}
	out := map[int]LiveAnswer{}
	for q, c := range cmds {
		b, err := c.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		var a LiveAnswer
		if err == nil {
			err = json.Unmarshal(b, &a)
		}
		if err != nil {
			return nil, fmt.Errorf("quizzes: player answer %d: %w", q, err)
		}
		out[q] = a
	}
	return out, nil
}

// ErasePlayer deletes user's fields from the show's hashes, then the
// show from the user's set.
func (r *RedisEngine) ErasePlayer(ctx context.Context, tenant, id, user string, n int) error {
	_, err := r.c.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		pl.HDel(ctx, key(tenant, id, "p"), user)
		for q := range n {
			pl.HDel(ctx, key(tenant, id, "a:"+strconv.Itoa(q)), user)
		}
		return nil
	})
	if err == nil {
		err = r.c.SRem(ctx, userKey(tenant, user), id).Err()
	}
	return r.wrap("erase player", err)
}
