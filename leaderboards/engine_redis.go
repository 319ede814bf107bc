package leaderboards

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/questline/questline/internal/breaker"
	"github.com/questline/questline/internal/errs"
)

// RedisEngine is the Engine of multi-node deployments.
//
// A board is a sorted set whose scores are the negated board scores and
// whose elements are "<13-digit Unix ms><member>". Redis orders a sorted set
// by score ascending, then element bytewise, so the negation turns score
// descending into its natural order, and the fixed-width time prefix makes
// ties fall to the earlier achiever, then to the member: plain ZRANGE and
// ZRANK are the board order, exactly as in MemoryEngine. (ZREVRANGE would
// not do: it reverses the order of ties too.)
//
// Beside the set, a hash key+":m" maps each member to its stamp: the time
// prefix of its element followed by the negated score, so one HGET finds
// the element and gives the entry a join needs. Writes are Lua scripts that
// read the stamp, apply the join and update set and hash together; while the
// key is tracked they also add the member to the set key+":j", and the
// marker key+":t" (with the tracking ttl) says whether it is. A write that
// moves a member thus costs a ZREM and a ZADD (two skiplist walks, which
// dominate on big boards) plus an HGET and an HSET, in one round trip.
//
// Every helper key is the board key plus a suffix, so it shares the key's
// hash tag and Cluster slot, and every script and MULTI stays in one slot:
// the engine runs unchanged on a standalone server, under Sentinel and on a
// Cluster. Set and hash must live and die together, so the server must not
// evict keys (maxmemory-policy noeviction).
//
// Boards written by an older version (plain members, no hash) do not decode;
// a rebuild (Replace) rewrites them.
type RedisEngine struct {
	c redis.UniversalClient
	// breaker skips Redis for a while after a call timed out; see call.
	breaker *breaker.Breaker
}

// NewRedisEngine returns an engine on client. The caller owns the client and
// closes it. Every read is one command (a script where it needs several),
// so an autopipelining client (redis.Client.AutoPipeline) can batch the
// reads of concurrent callers into one round trip; the server passes one.
func NewRedisEngine(client redis.UniversalClient) *RedisEngine {
	return &RedisEngine{c: client, breaker: breaker.New(time.Second)}
}

// callTimeout bounds one round trip of a request's read or write whose
// context has no earlier deadline (fasthttp never cancels one).
const callTimeout = 2 * time.Second

// call makes one round trip f, bounded by ctx's deadline or callTimeout.
// The autopipelining client the server passes does not abandon a queued
// command at its context's deadline, only at its read timeout, so call
// returns at the deadline itself, and after a timeout it answers at once
// for a second between probes: while Redis hangs, board reads answer 503
// and score writes go to the feed without each waiting out the timeout.
// Every failure says which op on which key failed; see redisErr.
func call[T any](ctx context.Context, r *RedisEngine, op, key string, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	v, err := breaker.Call(ctx, r.breaker, f)
	if err != nil {
		return v, redisErr(op, key, err)
	}
	return v, nil
}

var _ Engine = (*RedisEngine)(nil)

const (
	// replaceBatch is the number of members per ZADD and HSET in Replace.
	// Redis runs one command at a time, so a single huge ZADD would stall
	// every other client of the server; 1,000 members keep each command
	// well under a millisecond.
	replaceBatch = 1000
	// replacePipeline is the number of batches sent per round trip: 10,000
	// members, few enough to bound client memory, many enough that the
	// network is not the bottleneck.
	replacePipeline = 10
	// replaceTempTTL bounds how long the temporary keys of a Replace that
	// died half-way (process crash, lost connection) can linger.
	replaceTempTTL = time.Hour
	// maxAround caps Around's n before it reaches Lua, whose numbers are
	// doubles printed exactly as integers only below 10^14; no board comes
	// near 2^40 members, so the cap changes no answer.
	maxAround = 1 << 40
	// msDigits is the width of an element's time prefix: MaxTime in Unix
	// milliseconds has 13 digits. The scripts spell it out as 13.
	msDigits = 13
)

// redisKeys are the keys of one board: the sorted set, the member hash, the
// tracking marker and the journal. Scripts take them in this order.
type redisKeys struct {
	board, members, marker, journal string
}

func keysFor(key string) redisKeys {
	return redisKeys{
		board:   key,
		members: helperKey(key, ":m"),
		marker:  helperKey(key, ":t"),
		journal: helperKey(key, ":j"),
	}
}

func (k redisKeys) all() []string { return []string{k.board, k.members, k.marker, k.journal} }

// helperKey names a key the engine keeps beside key. It must hash to key's
// slot, or scripts fail with CROSSSLOT on a Cluster: a key with a hash tag
// keeps it as a prefix, so the tag stays the first one; a key without braces
// becomes the tag itself, since Redis hashes only the tag.
func helperKey(key, suffix string) string {
	if strings.ContainsAny(key, "{}") {
		// Keys with braces but no valid tag cannot be wrapped safely; they
		// work everywhere but on a Cluster. Callers use hash tags anyway.
		return key + suffix
	}
	return "{" + key + "}" + suffix
}

// tempKey names a staging key of Replace, unique to the call.
func tempKey(key string) string { return helperKey(key, ":rebuild:"+rand.Text()) }

// redisErr names the operation; an error that says Redis is unreachable
// or not serving becomes errs.Unavailable, so readers get a 503 naming the
// leaderboards and writers know the work is worth retrying later.
func redisErr(op, key string, err error) error {
	if redisDown(err) {
		err = &errs.Error{Kind: errs.Unavailable, Code: "leaderboards-unavailable",
			Message: "the leaderboards backend is unavailable; retry shortly", Err: err}
	}
	if key == "" {
		return fmt.Errorf("leaderboards: redis %s: %w", op, err)
	}
	return fmt.Errorf("leaderboards: redis %s %s: %w", op, key, err)
}

// redisDown reports whether err means Redis cannot serve now: a network
// failure or timeout, a closed or exhausted pool, or a reply saying the
// server is loading, failing over or read-only. A reply that decodes
// wrongly is a bug, not an outage.
func redisDown(err error) bool {
	var ne net.Error
	switch {
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, redis.ErrClosed),
		errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrPoolExhausted),
		errors.Is(err, breaker.ErrOpen):
		return true
	}
	var reply redis.Error
	if !errors.As(err, &reply) {
		return false
	}
	for _, p := range []string{"LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY"} {
		if strings.HasPrefix(reply.Error(), p) {
			return true
		}
	}
	return false
}

// toScore and fromScore convert between board scores and the negated float
// scores stored in Redis. checkScore keeps scores within ±2^53, where the
// conversion is exact.
func toScore(s int64) float64   { return float64(-s) }
func fromScore(f float64) int64 { return int64(-f) }

// msText is the fixed-width time prefix of an element; checkEntry keeps ms
// within 0 and MaxTime, which has msDigits digits.
func msText(ms int64) string {
	var b [msDigits]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + ms%10)
		ms /= 10
	}
	return string(b[:])
}

// stamp is a member's hash value: time prefix, then negated score.
func stamp(ms, score int64) string { return msText(ms) + strconv.FormatInt(-score, 10) }

// decode splits a sorted-set element and its score into an entry.
func decode(elem string, score float64, rank int64) (Entry, error) {
	ms, err := strconv.ParseUint(elem[:min(msDigits, len(elem))], 10, 64)
	if len(elem) < msDigits || err != nil {
		return Entry{}, fmt.Errorf("element %q has no time prefix (a board of an older version? rebuild it)", elem)
	}
	return Entry{Member: elem[msDigits:], Score: fromScore(score), At: msTime(int64(ms)), Rank: rank}, nil
}

// trackLua records ARGV[1] in the journal while the marker lives, and makes
// the journal lapse with the marker.
const trackLua = `
local ttl = redis.call('PTTL', KEYS[3])
if ttl > 0 then
  redis.call('SADD', KEYS[4], ARGV[1])
  redis.call('PEXPIRE', KEYS[4], ttl)
end
`

// setLua is the body of Raise and Put; %s is the join, a Lua expression
// true when the offered entry (s, t) wins over the current one (cs, ct).
// Scores are negated, so the higher score is the lower s. A hash without
// its board is dropped first: it can outlive an expired board by a moment
// (each key's PEXPIRE reads the clock), and must not lend its stale entries
// or its expiry to a new board. EXISTS costs far less than the ZSCORE that
// would otherwise check the stamp against the set.
const setLua = trackLua + `
local m, s, t = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local cur = false
if redis.call('EXISTS', KEYS[1]) == 1 then
  cur = redis.call('HGET', KEYS[2], m)
else
  redis.call('DEL', KEYS[2])
end
if cur then
  local cts = string.sub(cur, 1, 13)
  local ct, cs = tonumber(cts), tonumber(string.sub(cur, 14))
  if not (%s) then
    return 0
  end
  redis.call('ZREM', KEYS[1], cts .. m)
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3] .. m)
redis.call('HSET', KEYS[2], m, ARGV[3] .. ARGV[2])
return 1
`

var (
	// raiseScript keeps the best entry: higher score, then earlier time.
	raiseScript = redis.NewScript(fmt.Sprintf(setLua, "s < cs or (s == cs and t < ct)"))
	// putScript keeps the latest entry: later time, then higher score.
	putScript = redis.NewScript(fmt.Sprintf(setLua, "t > ct or (t == ct and s < cs)"))
	// removeScript takes ARGV[1] off set and hash. Redis deletes a key that
	// loses its last member, so set and hash go together, expiry included.
	removeScript = redis.NewScript(trackLua + `
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur then
  redis.call('ZREM', KEYS[1], string.sub(cur, 1, 13) .. ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 0
`)
	// ranksScript returns member, stamp and 0-based rank of every member
	// in ARGV on the board, flattened. The rank, read from the set, also
	// vouches for the stamp.
	ranksScript = redis.NewScript(`
local out = {}
for _, m in ipairs(ARGV) do
  local cur = redis.call('HGET', KEYS[2], m)
  local r = cur and redis.call('ZRANK', KEYS[1], string.sub(cur, 1, 13) .. m)
  if r then
    out[#out + 1] = m
    out[#out + 1] = cur
    out[#out + 1] = r
  end
end
return out
`)
	// topScript returns the board's size, then the page from ARGV[1] to
	// ARGV[2] (0-based, inclusive; elements and scores).
	topScript = redis.NewScript(`
return {redis.call('ZCARD', KEYS[1]), redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES')}
`)
	// aroundScript returns the board's size, then the 0-based rank of the
	// window's first element and the window (elements and scores) around
	// ARGV[1], ±ARGV[2]; the size alone when the member is not on the board.
	aroundScript = redis.NewScript(`
local c = redis.call('ZCARD', KEYS[1])
local cur = redis.call('HGET', KEYS[2], ARGV[1])
local r = cur and redis.call('ZRANK', KEYS[1], string.sub(cur, 1, 13) .. ARGV[1])
if not r then
  return {c}
end
local n = tonumber(ARGV[2])
local first = math.max(0, r - n)
return {c, first, redis.call('ZRANGE', KEYS[1], first, r + n, 'WITHSCORES')}
`)
)

// Raise implements Engine with raiseScript: the read, the join and the write
// are one atomic step, so concurrent raises converge.
func (r *RedisEngine) Raise(ctx context.Context, key, member string, score int64, at time.Time) error {
	return r.set(ctx, "raise", raiseScript, key, member, score, at)
}

// Put implements Engine with putScript.
func (r *RedisEngine) Put(ctx context.Context, key, member string, score int64, at time.Time) error {
	return r.set(ctx, "put", putScript, key, member, score, at)
}

func (r *RedisEngine) set(ctx context.Context, op string, script *redis.Script, key, member string, score int64, at time.Time) error {
	ms, err := checkEntry(op, key, score, at)
	if err != nil {
		return err
	}
	// -score, not toScore: an integer argument reaches Lua as digits, with
	// no float formatting to reason about.
	_, err = call(ctx, r, op, key, func(ctx context.Context) (any, error) {
		return nil, script.Run(ctx, r.c, keysFor(key).all(), member, -score, msText(ms)).Err()
	})
	return err
}

// Top implements Engine with topScript.
func (r *RedisEngine) Top(ctx context.Context, key string, offset, limit int) ([]Entry, error) {
	if _, _, ok := pageBounds(offset, limit); !ok {
		return []Entry{}, nil
	}
	out, _, err := r.TopCount(ctx, key, offset, limit)
	return out, err
}

// TopCount implements Engine with topScript: ZRANGE … WITHSCORES and
// ZCARD as one command, so that an autopipelining client (see
// NewRedisEngine) sends it in the same batch as other requests' commands,
// which a pipeline of its own would not be.
func (r *RedisEngine) TopCount(ctx context.Context, key string, offset, limit int) ([]Entry, int64, error) {
	start, n, ok := pageBounds(offset, limit)
	if !ok {
		c, err := r.Count(ctx, key)
		return []Entry{}, c, err
	}
	stop := int64(start) + int64(n) - 1
	if stop < int64(start) { // overflow: the caller asked for everything
		stop = -1
	}
	v, err := call(ctx, r, "top", key, func(ctx context.Context) ([]any, error) {
		return topScript.Run(ctx, r.c, []string{key}, start, stop).Slice()
	})
	if err != nil {
		return nil, 0, err
	}
	var total int64
	var page []any
	if len(v) == 2 {
		total, _ = v[0].(int64)
		page, _ = v[1].([]any)
	}
	out, err := decodePage(page, int64(start))
	if err != nil {
		return nil, 0, redisErr("top", key, err)
	}
	return out, total, nil
}

// Rank implements Engine with ranksScript: stamp and rank in one atomic
// round trip, so they always belong together.
func (r *RedisEngine) Rank(ctx context.Context, key, member string) (Entry, bool, error) {
	es, err := r.ranks(ctx, "rank", key, []string{member})
	if err != nil || len(es) == 0 {
		return Entry{}, false, err
	}
	return es[0], true, nil
}

// Ranks implements Engine with one ranksScript call.
func (r *RedisEngine) Ranks(ctx context.Context, key string, members []string) ([]Entry, error) {
	es, err := r.ranks(ctx, "ranks", key, members)
	if err != nil {
		return nil, err
	}
	return sortRanks(es), nil
}

func (r *RedisEngine) ranks(ctx context.Context, op, key string, members []string) ([]Entry, error) {
	if len(members) == 0 {
		return []Entry{}, nil
	}
	args := make([]any, len(members))
	for i, m := range members {
		args[i] = m
	}
	k := keysFor(key)
	v, err := call(ctx, r, op, key, func(ctx context.Context) ([]any, error) {
		return ranksScript.Run(ctx, r.c, []string{k.board, k.members}, args...).Slice()
	})
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(v)/3)
	for i := 0; i+2 < len(v); i += 3 {
		en, err := decodeRank(v[i : i+3])
		if err != nil {
			return nil, redisErr(op, key, err)
		}
		out = append(out, en)
	}
	return out, nil
}

// decodeRank reads one member, stamp, 0-based rank triple of ranksScript.
func decodeRank(v []any) (Entry, error) {
	m, _ := v[0].(string)
	st, _ := v[1].(string)
	rank, _ := v[2].(int64)
	if len(st) <= msDigits {
		return Entry{}, fmt.Errorf("stamp %q of %q has no score", st, m)
	}
	neg, err := strconv.ParseInt(st[msDigits:], 10, 64)
	if err != nil {
		return Entry{}, fmt.Errorf("stamp %q of %q: %w", st, m, err)
	}
	return decode(st[:msDigits]+m, float64(neg), rank+1)
}

// Around implements Engine with aroundScript: finding the member and reading
// its window is one atomic step, so the window always holds it.
func (r *RedisEngine) Around(ctx context.Context, key, member string, n int) ([]Entry, error) {
	out, _, err := r.AroundCount(ctx, key, member, n)
	return out, err
}

// AroundCount implements Engine: aroundScript also counts the board.
func (r *RedisEngine) AroundCount(ctx context.Context, key, member string, n int) ([]Entry, int64, error) {
	n = min(max(n, 0), maxAround)
	k := keysFor(key)
	v, err := call(ctx, r, "around", key, func(ctx context.Context) ([]any, error) {
		return aroundScript.Run(ctx, r.c, []string{k.board, k.members}, member, n).Slice()
	})
	if err != nil {
		return nil, 0, err
	}
	var total int64
	if len(v) > 0 {
		total, _ = v[0].(int64)
	}
	if len(v) != 3 {
		return []Entry{}, total, nil
	}
	first, _ := v[1].(int64)
	page, _ := v[2].([]any)
	out, err := decodePage(page, first)
	if err != nil {
		return nil, 0, redisErr("around", key, err)
	}
	return out, total, nil
}

// decodePage decodes a script's ZRANGE … WITHSCORES reply, a flat list of
// elements and scores (as text) whose first element has 0-based rank first.
func decodePage(page []any, first int64) ([]Entry, error) {
	out := make([]Entry, 0, len(page)/2)
	for i := 0; i+1 < len(page); i += 2 {
		elem, _ := page[i].(string)
		sc, _ := page[i+1].(string)
		score, err := strconv.ParseFloat(sc, 64)
		if err != nil {
			return nil, fmt.Errorf("score %q of %q: %w", sc, elem, err)
		}
		en, err := decode(elem, score, first+int64(len(out))+1)
		if err != nil {
			return nil, err
		}
		out = append(out, en)
	}
	return out, nil
}

// Count implements Engine with ZCARD.
func (r *RedisEngine) Count(ctx context.Context, key string) (int64, error) {
	return call(ctx, r, "count", key, func(ctx context.Context) (int64, error) {
		return r.c.ZCard(ctx, key).Result()
	})
}

// Remove implements Engine with removeScript.
func (r *RedisEngine) Remove(ctx context.Context, key, member string) error {
	_, err := call(ctx, r, "remove", key, func(ctx context.Context) (any, error) {
		return nil, removeScript.Run(ctx, r.c, keysFor(key).all(), member).Err()
	})
	return err
}

// Replace implements Engine. Set and hash are written into temporary keys in
// the same hash slot, in pipelined batches, while readers keep using the old
// board; a MULTI then UNLINKs the old keys, RENAMEs the temporary ones onto
// them and PERSISTs them, so readers switch from the old board to the new in
// one step. UNLINK frees the old keys in the background: RENAME onto an
// existing key would free a million-member set synchronously and stall the
// server. Marker and journal are left alone: tracking goes on.
func (r *RedisEngine) Replace(ctx context.Context, key string, entries []Entry) error {
	zs, fields, err := replaceArgs(key, entries)
	if err != nil {
		return err
	}
	k := keysFor(key)
	if len(zs) == 0 {
		if err := r.c.Unlink(ctx, k.board, k.members).Err(); err != nil {
			return redisErr("replace", key, err)
		}
		return nil
	}
	tmp := tempKey(key)
	tmpMembers := helperKey(tmp, ":m")
	if err := r.fill(ctx, tmp, tmpMembers, zs, fields); err != nil {
		// Best effort: the TTL removes them anyway. A fresh context, because
		// ctx may be the reason fill failed.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = r.c.Unlink(cctx, tmp, tmpMembers).Err()
		cancel()
		return redisErr("replace", key, err)
	}
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Unlink(ctx, k.board, k.members)
		p.Rename(ctx, tmp, k.board)
		p.Rename(ctx, tmpMembers, k.members)
		p.Persist(ctx, k.board)
		p.Persist(ctx, k.members)
		return nil
	})
	if err != nil {
		return redisErr("replace", key, err)
	}
	return nil
}

// replaceArgs checks entries and turns them into sorted-set elements and
// hash member/stamp pairs. A member listed twice keeps its last entry: two
// elements for one member would both stay in the set.
func replaceArgs(key string, entries []Entry) ([]redis.Z, []any, error) {
	seen := make(map[string]struct{}, len(entries))
	zs := make([]redis.Z, 0, len(entries))
	fields := make([]any, 0, 2*len(entries))
	for i := len(entries) - 1; i >= 0; i-- {
		en := entries[i]
		ms, err := checkEntry("replace", key, en.Score, en.At)
		if err != nil {
			return nil, nil, err
		}
		if _, dup := seen[en.Member]; dup {
			continue
		}
		seen[en.Member] = struct{}{}
		zs = append(zs, redis.Z{Score: toScore(en.Score), Member: msText(ms) + en.Member})
		fields = append(fields, en.Member, stamp(ms, en.Score))
	}
	return zs, fields, nil
}

// fill writes the elements zs into set and their hash pairs fields into
// members. Every round trip renews both TTLs, so an interrupted Replace
// leaves nothing behind for long.
func (r *RedisEngine) fill(ctx context.Context, set, members string, zs []redis.Z, fields []any) error {
	for len(zs) > 0 {
		_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := 0; i < replacePipeline && len(zs) > 0; i++ {
				n := min(replaceBatch, len(zs))
				p.ZAdd(ctx, set, zs[:n]...)
				p.HSet(ctx, members, fields[:2*n]...)
				zs, fields = zs[n:], fields[2*n:]
			}
			p.PExpire(ctx, set, replaceTempTTL)
			p.PExpire(ctx, members, replaceTempTTL)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Expire implements Engine on set and hash together, in one MULTI: PEXPIRE,
// PERSIST for ttl 0, and UNLINK for a negative ttl. The ttl is rounded up
// to whole milliseconds, so a board never disappears earlier than asked.
func (r *RedisEngine) Expire(ctx context.Context, key string, ttl time.Duration) error {
	k := keysFor(key)
	var err error
	switch {
	case ttl < 0:
		err = r.c.Unlink(ctx, k.board, k.members).Err()
	case ttl == 0:
		_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Persist(ctx, k.board)
			p.Persist(ctx, k.members)
			return nil
		})
	default:
		ttl = ceilMs(ttl)
		_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.PExpire(ctx, k.board, ttl)
			p.PExpire(ctx, k.members, ttl)
			return nil
		})
	}
	if err != nil {
		return redisErr("expire", key, err)
	}
	return nil
}

// ceilMs rounds a positive ttl up to whole milliseconds, Redis' precision.
func ceilMs(ttl time.Duration) time.Duration {
	if rem := ttl % time.Millisecond; rem != 0 && ttl < math.MaxInt64-time.Millisecond {
		ttl += time.Millisecond - rem
	}
	return ttl
}

// Track implements Engine: SET of the marker with PX, and the same ttl on a
// journal already there, in one MULTI. The write scripts give a journal
// they create the marker's remaining ttl.
func (r *RedisEngine) Track(ctx context.Context, key string, ttl time.Duration) error {
	if err := checkTrackTTL(key, ttl); err != nil {
		return err
	}
	k := keysFor(key)
	ttl = ceilMs(ttl)
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, k.marker, "1", ttl)
		p.PExpire(ctx, k.journal, ttl)
		return nil
	})
	if err != nil {
		return redisErr("track", key, err)
	}
	return nil
}

// Tracked implements Engine: SMEMBERS and UNLINK of the journal in one
// MULTI, so no member recorded in between is lost.
func (r *RedisEngine) Tracked(ctx context.Context, key string) ([]string, error) {
	k := keysFor(key)
	var members *redis.StringSliceCmd
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		members = p.SMembers(ctx, k.journal)
		p.Unlink(ctx, k.journal)
		return nil
	})
	if err != nil {
		return nil, redisErr("tracked", key, err)
	}
	return members.Val(), nil
}

// Untrack implements Engine by deleting marker and journal.
func (r *RedisEngine) Untrack(ctx context.Context, key string) error {
	k := keysFor(key)
	if err := r.c.Del(ctx, k.marker, k.journal).Err(); err != nil {
		return redisErr("untrack", key, err)
	}
	return nil
}

// Ping implements Engine with PING.
func (r *RedisEngine) Ping(ctx context.Context) error {
	_, err := call(ctx, r, "ping", "", func(ctx context.Context) (string, error) {
		return r.c.Ping(ctx).Result()
	})
	return err
}
