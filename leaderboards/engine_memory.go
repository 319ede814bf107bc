package leaderboards

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryEngine is the in-process Engine of the embedded deployment.
//
// Each board is an order-statistic tree: a B+tree whose inner nodes count
// the members below each child. Insert, delete, rank and rank-indexed access
// all cost O(log n), so a top-100 or around-me read on a million members
// never sorts anything. A map from member to its current score and time
// gives the key to find the member in the tree in O(1).
//
// Why not the skiplist with span counts that Redis uses: at a million members
// a search is bound by memory latency, not arithmetic. A skiplist search
// chases some twenty dependent pointers to nodes scattered over the heap. On
// the 2-core EPYC VM the benchmarks ran on (about 220 ns per cache miss) a
// tuned skiplist (scores cached in the links, levels allocated with their
// node, p = 1/4 or 1/2) managed 100,000–120,000 score updates/s, half the
// target. A B+tree with up to 64 keys per node is four levels deep at a
// million members, its upper levels stay in cache, and a leaf keeps its
// scores in one array, so a search costs a few misses: about 330,000
// updates/s on one core there. Keys that also hold the time (a third array
// per node, read only on score ties) kept 230,000–290,000 on the 2-core
// Xeon VM of the next run, as did the old keys there. See
// engine_bench_test.go.
//
// Locking is two-level: an RWMutex over the maps of boards and trackers,
// taken only to find or create one, and an RWMutex per board, so writes to
// one board never stall reads of another. Lock order is always engine, then
// board, then tracker.
type MemoryEngine struct {
	mu     sync.RWMutex
	boards map[string]*memBoard
	// tracks holds the tracked keys. It is apart from boards because
	// tracking outlives what happens to a board: Replace, expiry, losing
	// the last member.
	tracks map[string]*memTrack
	// created counts boards made since the last sweep of expired ones; a
	// sweep runs once it reaches len(boards), keeping its cost amortised O(1)
	// per creation while bounding how long dead boards can pile up.
	created int
}

// NewMemoryEngine returns an empty in-process engine.
func NewMemoryEngine() *MemoryEngine {
	return &MemoryEngine{
		boards: make(map[string]*memBoard),
		tracks: make(map[string]*memTrack),
	}
}

var _ Engine = (*MemoryEngine)(nil)

// memEntry is a member's current standing: its tree key, less the member.
type memEntry struct {
	score int64
	at    int64 // Unix milliseconds
}

// memBoard is one board period.
type memBoard struct {
	mu      sync.RWMutex
	entries map[string]memEntry // guarded by mu
	tree    btree               // guarded by mu
	// deadline is the expiry in Unix nanoseconds, 0 for none. Atomic so the
	// sweep can skip live boards without taking their locks; written only
	// with mu held.
	deadline atomic.Int64
	// dead is set, with both locks held, when the board is dropped from the
	// engine's map; a writer holding a stale pointer then looks it up again.
	dead bool
}

func newMemBoard() *memBoard {
	return &memBoard{entries: make(map[string]memEntry)}
}

func (b *memBoard) expired(now int64) bool {
	d := b.deadline.Load()
	return d != 0 && now >= d
}

// clear empties the board. An empty board stands for a missing Redis key, so
// it also loses its expiry.
func (b *memBoard) clear() {
	b.entries = make(map[string]memEntry)
	b.tree = btree{}
	b.deadline.Store(0)
}

// memTrack is the journal of one tracked key.
type memTrack struct {
	// deadline is when tracking lapses, in Unix nanoseconds. Atomic so
	// writers and the sweep can test it without mu.
	deadline atomic.Int64
	mu       sync.Mutex
	members  map[string]struct{} // guarded by mu
}

func newMemTrack() *memTrack {
	return &memTrack{members: make(map[string]struct{})}
}

func (tr *memTrack) lapsed(now int64) bool { return now >= tr.deadline.Load() }

// record notes member in the journal. A nil tr, an untracked key, records
// nothing, as does one whose ttl has lapsed.
func (tr *memTrack) record(member string) {
	if tr == nil || tr.lapsed(time.Now().UnixNano()) {
		return
	}
	tr.mu.Lock()
	tr.members[member] = struct{}{}
	tr.mu.Unlock()
}

func memErr(op, key string, err error) error {
	return fmt.Errorf("leaderboards: memory %s %s: %w", op, key, err)
}

// expiryAt returns the Unix nanosecond instant ttl after now, saturating
// rather than overflowing for ttls centuries long.
func expiryAt(now int64, ttl time.Duration) int64 {
	d := now + int64(ttl)
	if d < now {
		return math.MaxInt64
	}
	return d
}

// lookup returns the board under key, or nil.
func (e *MemoryEngine) lookup(key string) *memBoard {
	e.mu.RLock()
	b := e.boards[key]
	e.mu.RUnlock()
	return b
}

// tracker returns key's journal, or nil when key is not tracked.
func (e *MemoryEngine) tracker(key string) *memTrack {
	e.mu.RLock()
	tr := e.tracks[key]
	e.mu.RUnlock()
	return tr
}

// write returns key's board write-locked, creating it when create is set; it
// returns nil when the board does not exist and create is false. An expired
// board is emptied first, so a write after expiry starts a new board, as a
// write to an expired Redis key does.
func (e *MemoryEngine) write(key string, create bool) *memBoard {
	for {
		b := e.lookup(key)
		if b == nil {
			if !create {
				return nil
			}
			e.mu.Lock()
			b = e.boards[key]
			if b == nil {
				// Sweep before adding, or the new, still empty board would
				// be the first thing swept.
				e.created++
				if e.created >= len(e.boards) {
					e.sweepLocked()
				}
				b = newMemBoard()
				e.boards[key] = b
			}
			e.mu.Unlock()
		}
		b.mu.Lock()
		if b.dead {
			b.mu.Unlock()
			continue
		}
		if b.expired(time.Now().UnixNano()) {
			b.clear()
		}
		return b
	}
}

// read calls fn with key's board read-locked, or with nil when the board is
// missing or expired. An expired board is dropped afterwards, which is the
// lazy half of expiry (the sweep in write is the other).
func (e *MemoryEngine) read(key string, fn func(b *memBoard)) {
	b := e.lookup(key)
	if b == nil {
		fn(nil)
		return
	}
	b.mu.RLock()
	if b.expired(time.Now().UnixNano()) {
		b.mu.RUnlock()
		fn(nil)
		e.drop(key, b)
		return
	}
	fn(b)
	b.mu.RUnlock()
}

// drop removes b from the map if it is still key's board and still expired.
func (e *MemoryEngine) drop(key string, b *memBoard) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.boards[key] != b {
		return
	}
	b.mu.Lock()
	if b.expired(time.Now().UnixNano()) {
		b.dead = true
		delete(e.boards, key)
	}
	b.mu.Unlock()
}

// sweepLocked drops expired and empty boards, and lapsed trackers, which a
// crashed rebuild leaves behind. e.mu must be write-locked. Busy boards are
// skipped rather than waited for: the next sweep gets them.
func (e *MemoryEngine) sweepLocked() {
	e.created = 0
	now := time.Now().UnixNano()
	for k, b := range e.boards {
		if !b.mu.TryLock() {
			continue
		}
		if b.expired(now) || b.tree.length == 0 {
			b.dead = true
			delete(e.boards, k)
		}
		b.mu.Unlock()
	}
	maps.DeleteFunc(e.tracks, func(_ string, tr *memTrack) bool { return tr.lapsed(now) })
}

// raiseWins is Raise's join: the higher score, then the earlier time.
func raiseWins(nu, cur memEntry) bool {
	return nu.score > cur.score || nu.score == cur.score && nu.at < cur.at
}

// putWins is Put's join: the later time, then the higher score.
func putWins(nu, cur memEntry) bool {
	return nu.at > cur.at || nu.at == cur.at && nu.score > cur.score
}

// Raise implements Engine.
func (e *MemoryEngine) Raise(ctx context.Context, key, member string, score int64, at time.Time) error {
	return e.set(ctx, "raise", key, member, score, at, raiseWins)
}

// Put implements Engine.
func (e *MemoryEngine) Put(ctx context.Context, key, member string, score int64, at time.Time) error {
	return e.set(ctx, "put", key, member, score, at, putWins)
}

// set stores (score, at) for member unless its current entry wins over it.
// The journal is written under the board's lock: a write that a Replace
// overwrites is then always recorded before the Replace returns, and so
// before the rebuild's next Tracked.
func (e *MemoryEngine) set(ctx context.Context, op, key, member string, score int64, at time.Time, wins func(nu, cur memEntry) bool) error {
	if err := ctx.Err(); err != nil {
		return memErr(op, key, err)
	}
	ms, err := checkEntry(op, key, score, at)
	if err != nil {
		return err
	}
	nu := memEntry{score, ms}
	tr := e.tracker(key)
	b := e.write(key, true)
	defer b.mu.Unlock()
	tr.record(member)
	cur, ok := b.entries[member]
	switch {
	case !ok:
		b.tree.insert(btKey{score, ms, member})
	case wins(nu, cur):
		b.tree.move(btKey{cur.score, cur.at, member}, btKey{score, ms, member})
	default:
		return nil
	}
	b.entries[member] = nu
	return nil
}

// Top implements Engine.
func (e *MemoryEngine) Top(ctx context.Context, key string, offset, limit int) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, memErr("top", key, err)
	}
	start, count, ok := pageBounds(offset, limit)
	if !ok {
		return []Entry{}, nil
	}
	out := []Entry{}
	e.read(key, func(b *memBoard) {
		if b != nil {
			out = b.tree.slice(int64(start)+1, count)
		}
	})
	return out, nil
}

// entry returns member's entry on b, with its rank.
func (b *memBoard) entry(member string) (Entry, bool) {
	cur, ok := b.entries[member]
	if !ok {
		return Entry{}, false
	}
	r := b.tree.rank(btKey{cur.score, cur.at, member})
	return Entry{Member: member, Score: cur.score, At: msTime(cur.at), Rank: r}, true
}

// Rank implements Engine.
func (e *MemoryEngine) Rank(ctx context.Context, key, member string) (Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, memErr("rank", key, err)
	}
	var (
		ent Entry
		ok  bool
	)
	e.read(key, func(b *memBoard) {
		if b != nil {
			ent, ok = b.entry(member)
		}
	})
	return ent, ok, nil
}

// Ranks implements Engine. All ranks come from one read lock, so they
// belong to one state of the board.
func (e *MemoryEngine) Ranks(ctx context.Context, key string, members []string) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, memErr("ranks", key, err)
	}
	out := []Entry{}
	e.read(key, func(b *memBoard) {
		if b == nil {
			return
		}
		for _, m := range members {
			if ent, ok := b.entry(m); ok {
				out = append(out, ent)
			}
		}
	})
	return sortRanks(out), nil
}

// sortRanks puts entries in rank order and drops duplicates, which share a
// rank.
func sortRanks(out []Entry) []Entry {
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.Rank, b.Rank) })
	return slices.CompactFunc(out, func(a, b Entry) bool { return a.Rank == b.Rank })
}

// Around implements Engine.
func (e *MemoryEngine) Around(ctx context.Context, key, member string, n int) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, memErr("around", key, err)
	}
	if n < 0 {
		n = 0
	}
	out := []Entry{}
	e.read(key, func(b *memBoard) {
		if b == nil {
			return
		}
		cur, found := b.entries[member]
		if !found {
			return
		}
		r := b.tree.rank(btKey{cur.score, cur.at, member})
		length := int64(b.tree.length)
		first := max(1, r-int64(n)) // r >= 1, so this cannot overflow
		last := length
		if int64(n) < length-r {
			last = r + int64(n)
		}
		out = b.tree.slice(first, int(last-first+1))
	})
	return out, nil
}

// TopCount implements Engine.
func (e *MemoryEngine) TopCount(ctx context.Context, key string, offset, limit int) ([]Entry, int64, error) {
	out, err := e.Top(ctx, key, offset, limit)
	if err != nil {
		return nil, 0, err
	}
	c, err := e.Count(ctx, key)
	return out, c, err
}

// AroundCount implements Engine.
func (e *MemoryEngine) AroundCount(ctx context.Context, key, member string, n int) ([]Entry, int64, error) {
	out, err := e.Around(ctx, key, member, n)
	if err != nil {
		return nil, 0, err
	}
	c, err := e.Count(ctx, key)
	return out, c, err
}

// Count implements Engine.
func (e *MemoryEngine) Count(ctx context.Context, key string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, memErr("count", key, err)
	}
	var c int64
	e.read(key, func(b *memBoard) {
		if b != nil {
			c = int64(b.tree.length)
		}
	})
	return c, nil
}

// Remove implements Engine.
func (e *MemoryEngine) Remove(ctx context.Context, key, member string) error {
	if err := ctx.Err(); err != nil {
		return memErr("remove", key, err)
	}
	tr := e.tracker(key)
	b := e.write(key, false)
	if b == nil {
		tr.record(member) // no board, so no Replace to race with
		return nil
	}
	defer b.mu.Unlock()
	tr.record(member)
	if cur, ok := b.entries[member]; ok {
		b.tree.delete(btKey{cur.score, cur.at, member})
		delete(b.entries, member)
		if b.tree.length == 0 {
			b.clear()
		}
	}
	return nil
}

// Replace implements Engine. The new board is built without any lock held and
// swapped in under the board's write lock, so readers see the old content or
// the new, and a rebuild of a million members blocks them only for the swap.
// Trackers live apart from boards, so tracking carries on across it.
func (e *MemoryEngine) Replace(ctx context.Context, key string, entries []Entry) error {
	if err := ctx.Err(); err != nil {
		return memErr("replace", key, err)
	}
	byMember := make(map[string]memEntry, len(entries))
	for _, en := range entries {
		ms, err := checkEntry("replace", key, en.Score, en.At)
		if err != nil {
			return err
		}
		byMember[en.Member] = memEntry{en.Score, ms} // listed twice: the last one wins
	}
	if err := ctx.Err(); err != nil {
		return memErr("replace", key, err)
	}
	if len(entries) == 0 {
		b := e.write(key, false)
		if b != nil {
			b.clear()
			b.mu.Unlock()
		}
		return nil
	}
	tree := buildTree(byMember)
	b := e.write(key, true)
	b.entries, b.tree = byMember, tree
	b.deadline.Store(0)
	b.mu.Unlock()
	return nil
}

// Expire implements Engine.
func (e *MemoryEngine) Expire(ctx context.Context, key string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return memErr("expire", key, err)
	}
	b := e.write(key, false)
	if b == nil {
		return nil
	}
	defer b.mu.Unlock()
	switch {
	case b.tree.length == 0:
		// A board that does not exist (or just expired) has nothing to expire.
	case ttl == 0:
		b.deadline.Store(0)
	case ttl < 0:
		b.clear()
	default:
		b.deadline.Store(expiryAt(time.Now().UnixNano(), ttl))
	}
	return nil
}

// Track implements Engine. A lapsed tracker is replaced, not extended: what
// it recorded lapsed with it, as a Redis journal expires with its marker.
func (e *MemoryEngine) Track(ctx context.Context, key string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return memErr("track", key, err)
	}
	if err := checkTrackTTL(key, ttl); err != nil {
		return err
	}
	now := time.Now().UnixNano()
	e.mu.Lock()
	defer e.mu.Unlock()
	tr := e.tracks[key]
	if tr == nil || tr.lapsed(now) {
		tr = newMemTrack()
		e.tracks[key] = tr
	}
	tr.deadline.Store(expiryAt(now, ttl))
	return nil
}

// Tracked implements Engine.
func (e *MemoryEngine) Tracked(ctx context.Context, key string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, memErr("tracked", key, err)
	}
	tr := e.tracker(key)
	if tr == nil {
		return []string{}, nil
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.lapsed(time.Now().UnixNano()) {
		clear(tr.members)
		return []string{}, nil
	}
	out := slices.AppendSeq(make([]string, 0, len(tr.members)), maps.Keys(tr.members))
	// A fresh map, not clear: a rebuild of a busy board may have recorded
	// many members, and clear would keep their buckets.
	tr.members = make(map[string]struct{})
	return out, nil
}

// Untrack implements Engine.
func (e *MemoryEngine) Untrack(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return memErr("untrack", key, err)
	}
	e.mu.Lock()
	delete(e.tracks, key)
	e.mu.Unlock()
	return nil
}

// Ping implements Engine; memory is always there.
func (e *MemoryEngine) Ping(ctx context.Context) error { return nil }

// btree is an order-statistic B+tree holding board keys (score, at,
// member) in board order: score descending, at ascending, member ascending.
// Its zero value is empty.
//
// Leaves hold up to btMax keys, with scores, times and members in separate
// arrays, so a binary search reads the compact score array and touches a
// time or member only on a tie. Leaves are chained in order for page walks.
// An inner node holds up to btMax children, the number of keys under each
// (the counts make rank a sum along the search path, and rank-indexed access
// a descent), and for child i > 0 a separator key: a lower bound of child
// i's keys, above every key of child i-1. A node other than the root has at
// least btMin entries; an underfull node merges with a sibling or borrows
// half of it.
type btree struct {
	root   *btNode
	length int
}

const (
	btMax = 64
	btMin = btMax / 4
)

// btKey is a tree key: a member's place on its board.
type btKey struct {
	score  int64
	at     int64 // Unix milliseconds
	member string
}

// cmp orders keys as boards do: negative when a ranks ahead of b.
func (a btKey) cmp(b btKey) int {
	if a.score != b.score {
		return cmp.Compare(b.score, a.score)
	}
	if a.at != b.at {
		return cmp.Compare(a.at, b.at)
	}
	return strings.Compare(a.member, b.member)
}

// btNode is a leaf or an inner node. In a leaf, scores/ats/members are its
// keys. In an inner node, index i > 0 holds the separator of child i, and
// index 0 a lower bound of the whole node, which its parent reads when the
// node is split off.
type btNode struct {
	n       int // keys in a leaf, children in an inner node
	scores  [btMax]int64
	ats     [btMax]int64
	members [btMax]string
	inner   *btInner // nil for a leaf
	next    *btNode  // leaves: the next leaf in board order
}

type btInner struct {
	child [btMax]*btNode
	count [btMax]int
}

func (n *btNode) key(i int) btKey { return btKey{n.scores[i], n.ats[i], n.members[i]} }

func (n *btNode) setKey(i int, k btKey) {
	n.scores[i], n.ats[i], n.members[i] = k.score, k.at, k.member
}

// cmp is btKey.cmp of key i and k, written out so that it loads a time or a
// member only on a tie: a search then mostly stays in the score array,
// which is what keeps it to a few cache misses.
func (n *btNode) cmp(i int, k btKey) int {
	if s := n.scores[i]; s != k.score {
		return cmp.Compare(k.score, s)
	}
	if a := n.ats[i]; a != k.at {
		return cmp.Compare(a, k.at)
	}
	return strings.Compare(n.members[i], k.member)
}

// size is the number of keys under n. O(btMax); used on splits and merges only.
func (n *btNode) size() int {
	if n.inner == nil {
		return n.n
	}
	t := 0
	for _, c := range n.inner.count[:n.n] {
		t += c
	}
	return t
}

// childIndex picks the child of inner node n whose range holds k: the last
// child whose separator does not rank after k.
func (n *btNode) childIndex(k btKey) int {
	lo, hi := 1, n.n // first i in [1, n) whose separator ranks after k
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if n.cmp(h, k) > 0 {
			hi = h
		} else {
			lo = h + 1
		}
	}
	return lo - 1
}

// search returns the index of the first key of leaf n that does not rank
// ahead of k, and whether that key is k itself.
func (n *btNode) search(k btKey) (int, bool) {
	lo, hi := 0, n.n
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if n.cmp(h, k) < 0 {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo, lo < n.n && n.cmp(lo, k) == 0
}

// insert adds k, which must not be in the tree.
func (t *btree) insert(k btKey) {
	if t.root == nil {
		t.root = &btNode{}
	}
	if right := t.insertAt(t.root, k); right != nil {
		left := t.root
		root := &btNode{n: 2, inner: &btInner{}}
		root.setKey(0, left.key(0))
		root.setKey(1, right.key(0))
		root.inner.child[0], root.inner.child[1] = left, right
		root.inner.count[0], root.inner.count[1] = left.size(), right.size()
		t.root = root
	}
	t.length++
}

// insertAt adds k under n. When n was full it splits, and the new right
// half is returned for the caller to link in.
func (t *btree) insertAt(n *btNode, k btKey) *btNode {
	if n.inner == nil {
		i, _ := n.search(k)
		if n.n < btMax {
			n.insertKey(i, k, nil, 0)
			return nil
		}
		right := n.split()
		if i <= n.n {
			n.insertKey(i, k, nil, 0)
		} else {
			right.insertKey(i-n.n, k, nil, 0)
		}
		return right
	}
	i := n.childIndex(k)
	n.inner.count[i]++
	child := n.inner.child[i]
	cr := t.insertAt(child, k)
	if cr == nil {
		return nil
	}
	n.inner.count[i] = child.size()
	if n.n < btMax {
		n.insertKey(i+1, cr.key(0), cr, cr.size())
		return nil
	}
	right := n.split()
	if i+1 <= n.n {
		n.insertKey(i+1, cr.key(0), cr, cr.size())
	} else {
		right.insertKey(i+1-n.n, cr.key(0), cr, cr.size())
	}
	return right
}

// insertKey puts k (and, in an inner node, its child and count) at index i
// of a node with room.
func (n *btNode) insertKey(i int, k btKey, child *btNode, count int) {
	copy(n.scores[i+1:n.n+1], n.scores[i:n.n])
	copy(n.ats[i+1:n.n+1], n.ats[i:n.n])
	copy(n.members[i+1:n.n+1], n.members[i:n.n])
	n.setKey(i, k)
	if n.inner != nil {
		copy(n.inner.child[i+1:n.n+1], n.inner.child[i:n.n])
		copy(n.inner.count[i+1:n.n+1], n.inner.count[i:n.n])
		n.inner.child[i], n.inner.count[i] = child, count
	}
	n.n++
}

// split moves the upper half of full node n into a new right sibling.
func (n *btNode) split() *btNode {
	h := n.n / 2
	right := &btNode{n: n.n - h}
	copy(right.scores[:], n.scores[h:n.n])
	copy(right.ats[:], n.ats[h:n.n])
	copy(right.members[:], n.members[h:n.n])
	clear(n.members[h:n.n])
	if n.inner != nil {
		right.inner = &btInner{}
		copy(right.inner.child[:], n.inner.child[h:n.n])
		copy(right.inner.count[:], n.inner.count[h:n.n])
		clear(n.inner.child[h:n.n])
	} else {
		right.next, n.next = n.next, right
	}
	n.n = h
	return right
}

// delete removes k and reports whether it was there.
func (t *btree) delete(k btKey) bool {
	if t.root == nil || !t.deleteAt(t.root, k) {
		return false
	}
	t.length--
	if t.root.inner != nil && t.root.n == 1 {
		t.root = t.root.inner.child[0]
	}
	return true
}

func (t *btree) deleteAt(n *btNode, k btKey) bool {
	if n.inner == nil {
		i, found := n.search(k)
		if !found {
			return false
		}
		n.removeKey(i)
		return true
	}
	i := n.childIndex(k)
	child := n.inner.child[i]
	if !t.deleteAt(child, k) {
		return false
	}
	n.inner.count[i]--
	if child.n < btMin {
		n.rebalance(i)
	}
	return true
}

// removeKey drops index i of node n, clearing the vacated slot so the
// node does not keep a removed member's string alive.
func (n *btNode) removeKey(i int) {
	copy(n.scores[i:], n.scores[i+1:n.n])
	copy(n.ats[i:], n.ats[i+1:n.n])
	copy(n.members[i:], n.members[i+1:n.n])
	n.members[n.n-1] = ""
	if n.inner != nil {
		copy(n.inner.child[i:], n.inner.child[i+1:n.n])
		copy(n.inner.count[i:], n.inner.count[i+1:n.n])
		n.inner.child[n.n-1] = nil
	}
	n.n--
}

// rebalance fixes underfull child i of inner node p with a neighbour: the
// two merge when they fit in one node, or else share their entries evenly.
// Going through a buffer of both keeps the rare case simple; it costs
// O(btMax), like the split that is its mirror.
func (p *btNode) rebalance(i int) {
	if p.n < 2 {
		return // only the root can have one child, and delete collapses it
	}
	li := max(i-1, 0)
	l, r := p.inner.child[li], p.inner.child[li+1]
	var (
		keys  [2 * btMax]btKey
		child [2 * btMax]*btNode
		count [2 * btMax]int
	)
	for j := 0; j < l.n; j++ {
		keys[j] = l.key(j)
	}
	for j := 0; j < r.n; j++ {
		keys[l.n+j] = r.key(j)
	}
	if l.inner != nil {
		copy(child[:], l.inner.child[:l.n])
		copy(count[:], l.inner.count[:l.n])
		copy(child[l.n:], r.inner.child[:r.n])
		copy(count[l.n:], r.inner.count[:r.n])
		// r's slot 0 is only a bound; the separator in p is the real one.
		keys[l.n] = p.key(li + 1)
	}
	total := l.n + r.n
	fill := func(n *btNode, from, to int) {
		clear(n.members[:n.n])
		n.n = to - from
		for j, k := range keys[from:to] {
			n.setKey(j, k)
		}
		if n.inner != nil {
			clear(n.inner.child[:])
			copy(n.inner.child[:], child[from:to])
			copy(n.inner.count[:], count[from:to])
		}
	}
	if total <= btMax {
		fill(l, 0, total)
		l.next = r.next
		p.inner.count[li] = l.size()
		p.removeKey(li + 1)
		return
	}
	h := total / 2
	fill(l, 0, h)
	fill(r, h, total)
	p.setKey(li+1, keys[h])
	p.inner.count[li], p.inner.count[li+1] = l.size(), r.size()
}

// move changes a member's key from from to to. When the key stays strictly
// inside its leaf, between the same neighbours, the score and time are
// rewritten in place: no counts or separators change. Otherwise it is a
// delete and an insert, the first of which runs on a path the in-place
// attempt has just brought into cache.
func (t *btree) move(from, to btKey) {
	if n := t.root; n != nil {
		for n.inner != nil {
			n = n.inner.child[n.childIndex(from)]
		}
		if i, found := n.search(from); found && i > 0 && i < n.n-1 &&
			n.cmp(i-1, to) < 0 && n.cmp(i+1, to) > 0 {
			n.scores[i], n.ats[i] = to.score, to.at
			return
		}
	}
	t.delete(from)
	t.insert(to)
}

// rank returns the 1-based rank of k, or 0 when absent.
func (t *btree) rank(k btKey) int64 {
	n := t.root
	if n == nil {
		return 0
	}
	r := 0
	for n.inner != nil {
		i := n.childIndex(k)
		for _, c := range n.inner.count[:i] {
			r += c
		}
		n = n.inner.child[i]
	}
	i, found := n.search(k)
	if !found {
		return 0
	}
	return int64(r + i + 1)
}

// byRank returns the leaf and index of 1-based rank r, or nil when out of range.
func (t *btree) byRank(r int64) (*btNode, int) {
	if r < 1 || r > int64(t.length) {
		return nil, 0
	}
	n, left := t.root, int(r-1)
	for n.inner != nil {
		i := 0
		for ; i < n.n-1 && left >= n.inner.count[i]; i++ {
			left -= n.inner.count[i]
		}
		n = n.inner.child[i]
	}
	return n, left
}

// slice returns up to count entries starting at 1-based rank first.
func (t *btree) slice(first int64, count int) []Entry {
	n, i := t.byRank(first)
	if n == nil || count <= 0 {
		return []Entry{}
	}
	// Size the result by what is there, never by the caller's limit, which
	// may be huge.
	size := int(min(int64(count), int64(t.length)-first+1))
	out := make([]Entry, 0, size)
	for r := first; n != nil && len(out) < size; n, i = n.next, 0 {
		for ; i < n.n && len(out) < size; i++ {
			out = append(out, Entry{Member: n.members[i], Score: n.scores[i], At: msTime(n.ats[i]), Rank: r})
			r++
		}
	}
	return out
}

// btBuildFill is how full buildTree packs nodes: room to grow without an
// immediate wave of splits, dense enough to stay shallow.
const btBuildFill = btMax * 3 / 4

// buildTree bulk-loads a tree from member entries: one sort and a linear
// build, instead of a million searches, which is what makes Replace (and so
// a rebuild) fast.
func buildTree(entries map[string]memEntry) btree {
	if len(entries) == 0 {
		return btree{}
	}
	keys := make([]btKey, 0, len(entries))
	for m, en := range entries {
		keys = append(keys, btKey{en.score, en.at, m})
	}
	slices.SortFunc(keys, btKey.cmp)
	// Leaves, filled evenly so none ends up underfull.
	level := make([]*btNode, 0, len(keys)/btBuildFill+1)
	var prev *btNode
	for _, part := range evenParts(len(keys)) {
		leaf := &btNode{n: part[1] - part[0]}
		for j, k := range keys[part[0]:part[1]] {
			leaf.setKey(j, k)
		}
		if prev != nil {
			prev.next = leaf
		}
		prev = leaf
		level = append(level, leaf)
	}
	// Inner levels until one node is left. Slot 0 of every node is its
	// smallest key, a valid separator for its parent.
	for len(level) > 1 {
		up := make([]*btNode, 0, len(level)/btBuildFill+1)
		for _, part := range evenParts(len(level)) {
			n := &btNode{n: part[1] - part[0], inner: &btInner{}}
			for j, c := range level[part[0]:part[1]] {
				n.setKey(j, c.key(0))
				n.inner.child[j], n.inner.count[j] = c, c.size()
			}
			up = append(up, n)
		}
		level = up
	}
	return btree{root: level[0], length: len(keys)}
}

// evenParts splits n items into [from, to) runs of about btBuildFill each,
// as even as possible, so every run has at least btMin items when n does.
func evenParts(n int) [][2]int {
	k := max(1, (n+btBuildFill-1)/btBuildFill)
	parts := make([][2]int, k)
	from := 0
	for i := range parts {
		size := n / k
		if i < n%k {
			size++
		}
		parts[i] = [2]int{from, from + size}
		from += size
	}
	return parts
}
