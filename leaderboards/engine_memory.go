package leaderboards

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryEngine is the in-process Engine of the embedded deployment.
//
// Each board is an order-statistic tree: a B+tree whose inner nodes count
// the members below each child. Insert, delete, rank and rank-indexed access
// all cost O(log n), so a top-100 or around-me read on a million members
// never sorts anything. A map from member to score gives the member's current
// score in O(1) and the key to find it in the tree.
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
// updates/s on one core. See engine_bench_test.go.
//
// Locking is two-level: an RWMutex over the map of boards, taken only to find
// or create a board, and an RWMutex per board, so writes to one board never
// stall reads of another. Lock order is always engine, then board.
type MemoryEngine struct {
	mu     sync.RWMutex
	boards map[string]*memBoard
	// created counts boards made since the last sweep of expired ones; a
	// sweep runs once it reaches len(boards), keeping its cost amortised O(1)
	// per creation while bounding how long dead boards can pile up.
	created int
}

// NewMemoryEngine returns an empty in-process engine.
func NewMemoryEngine() *MemoryEngine {
	return &MemoryEngine{boards: make(map[string]*memBoard)}
}

var _ Engine = (*MemoryEngine)(nil)

// memBoard is one board period.
type memBoard struct {
	mu     sync.RWMutex
	scores map[string]int64 // guarded by mu
	tree   btree            // guarded by mu
	// deadline is the expiry in Unix nanoseconds, 0 for none. Atomic so the
	// sweep can skip live boards without taking their locks; written only
	// with mu held.
	deadline atomic.Int64
	// dead is set, with both locks held, when the board is dropped from the
	// engine's map; a writer holding a stale pointer then looks it up again.
	dead bool
}

func newMemBoard() *memBoard {
	return &memBoard{scores: make(map[string]int64)}
}

func (b *memBoard) expired(now int64) bool {
	d := b.deadline.Load()
	return d != 0 && now >= d
}

// clear empties the board. An empty board stands for a missing Redis key, so
// it also loses its expiry.
func (b *memBoard) clear() {
	b.scores = make(map[string]int64)
	b.tree = btree{}
	b.deadline.Store(0)
}

func memErr(op, key string, err error) error {
	return fmt.Errorf("leaderboards: memory %s %s: %w", op, key, err)
}

// lookup returns the board under key, or nil.
func (e *MemoryEngine) lookup(key string) *memBoard {
	e.mu.RLock()
	b := e.boards[key]
	e.mu.RUnlock()
	return b
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

// sweepLocked drops expired and empty boards. e.mu must be write-locked.
// Busy boards are skipped rather than waited for: the next sweep gets them.
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
}

// Raise implements Engine.
func (e *MemoryEngine) Raise(ctx context.Context, key, member string, score int64) error {
	if err := ctx.Err(); err != nil {
		return memErr("raise", key, err)
	}
	if err := checkScore("raise", key, score); err != nil {
		return err
	}
	b := e.write(key, true)
	defer b.mu.Unlock()
	cur, ok := b.scores[member]
	switch {
	case !ok:
		b.tree.insert(score, member)
	case cur < score:
		b.tree.move(cur, score, member)
	default:
		return nil
	}
	b.scores[member] = score
	return nil
}

// Incr implements Engine.
func (e *MemoryEngine) Incr(ctx context.Context, key, member string, delta int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, memErr("incr", key, err)
	}
	if err := checkScore("incr", key, delta); err != nil {
		return 0, err
	}
	b := e.write(key, true)
	defer b.mu.Unlock()
	cur, ok := b.scores[member]
	switch {
	case !ok:
		b.tree.insert(delta, member)
	case delta != 0:
		b.tree.move(cur, cur+delta, member)
	}
	b.scores[member] = cur + delta
	return cur + delta, nil
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
		if b == nil {
			return
		}
		if s, found := b.scores[member]; found {
			ent = Entry{Member: member, Score: s, Rank: b.tree.rank(s, member)}
			ok = true
		}
	})
	return ent, ok, nil
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
		s, found := b.scores[member]
		if !found {
			return
		}
		r := b.tree.rank(s, member)
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
	b := e.write(key, false)
	if b == nil {
		return nil
	}
	defer b.mu.Unlock()
	if s, ok := b.scores[member]; ok {
		b.tree.delete(s, member)
		delete(b.scores, member)
		if b.tree.length == 0 {
			b.clear()
		}
	}
	return nil
}

// Replace implements Engine. The new board is built without any lock held and
// swapped in under the board's write lock, so readers see the old content or
// the new, and a rebuild of a million members blocks them only for the swap.
func (e *MemoryEngine) Replace(ctx context.Context, key string, entries []Entry) error {
	if err := ctx.Err(); err != nil {
		return memErr("replace", key, err)
	}
	for _, en := range entries {
		if err := checkScore("replace", key, en.Score); err != nil {
			return err
		}
	}
	scores := make(map[string]int64, len(entries))
	for _, en := range entries {
		scores[en.Member] = en.Score // listed twice: the last one wins
	}
	if err := ctx.Err(); err != nil {
		return memErr("replace", key, err)
	}
	tree := buildTree(scores)
	if len(entries) == 0 {
		b := e.write(key, false)
		if b != nil {
			b.clear()
			b.mu.Unlock()
		}
		return nil
	}
	b := e.write(key, true)
	b.scores, b.tree = scores, tree
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
		now := time.Now().UnixNano()
		d := now + int64(ttl)
		if d < now { // so far ahead it overflows: never
			d = math.MaxInt64
		}
		b.deadline.Store(d)
	}
	return nil
}

// Ping implements Engine; memory is always there.
func (e *MemoryEngine) Ping(ctx context.Context) error { return nil }

// btree is an order-statistic B+tree holding (score, member) keys in board
// order: score descending, then member ascending. Its zero value is empty.
//
// Leaves hold up to btMax keys, scores and members in separate arrays so a
// binary search reads the compact score array and touches a member only on
// a score tie. Leaves are chained in order for page walks. An inner node
// holds up to btMax children, the number of keys under each (the counts make
// rank a sum along the search path, and rank-indexed access a descent), and
// for child i > 0 a separator key: a lower bound of child i's keys, above
// every key of child i-1. A node other than the root has at least btMin
// entries; an underfull node merges with a sibling or borrows half of it.
type btree struct {
	root   *btNode
	length int
}

const (
	btMax = 64
	btMin = btMax / 4
)

// btNode is a leaf or an inner node. In a leaf, scores/members are its keys.
// In an inner node, index i > 0 holds the separator of child i, and index 0
// a lower bound of the whole node, which its parent reads when the node is
// split off.
type btNode struct {
	n       int // keys in a leaf, children in an inner node
	scores  [btMax]int64
	members [btMax]string
	inner   *btInner // nil for a leaf
	next    *btNode  // leaves: the next leaf in board order
}

type btInner struct {
	child [btMax]*btNode
	count [btMax]int
}

// btAhead reports whether key a ranks ahead of key b.
func btAhead(as int64, am string, bs int64, bm string) bool {
	return as > bs || (as == bs && am < bm)
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

// childIndex picks the child of inner node n whose range holds (s, m): the
// last child whose separator does not rank after the key.
func (n *btNode) childIndex(s int64, m string) int {
	lo, hi := 1, n.n // first i in [1, n) whose separator ranks after the key
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if btAhead(s, m, n.scores[h], n.members[h]) {
			hi = h
		} else {
			lo = h + 1
		}
	}
	return lo - 1
}

// search returns the index of the first key of leaf n that does not rank
// ahead of (s, m), and whether that key is (s, m) itself.
func (n *btNode) search(s int64, m string) (int, bool) {
	lo, hi := 0, n.n
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if btAhead(n.scores[h], n.members[h], s, m) {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo, lo < n.n && n.scores[lo] == s && n.members[lo] == m
}

// insert adds (s, m), which must not be in the tree.
func (t *btree) insert(s int64, m string) {
	if t.root == nil {
		t.root = &btNode{}
	}
	if right := t.insertAt(t.root, s, m); right != nil {
		left := t.root
		root := &btNode{n: 2, inner: &btInner{}}
		root.scores[0], root.members[0] = left.scores[0], left.members[0]
		root.scores[1], root.members[1] = right.scores[0], right.members[0]
		root.inner.child[0], root.inner.child[1] = left, right
		root.inner.count[0], root.inner.count[1] = left.size(), right.size()
		t.root = root
	}
	t.length++
}

// insertAt adds (s, m) under n. When n was full it splits, and the new right
// half is returned for the caller to link in.
func (t *btree) insertAt(n *btNode, s int64, m string) *btNode {
	if n.inner == nil {
		i, _ := n.search(s, m)
		if n.n < btMax {
			n.insertKey(i, s, m, nil, 0)
			return nil
		}
		right := n.split()
		if i <= n.n {
			n.insertKey(i, s, m, nil, 0)
		} else {
			right.insertKey(i-n.n, s, m, nil, 0)
		}
		return right
	}
	i := n.childIndex(s, m)
	n.inner.count[i]++
	child := n.inner.child[i]
	cr := t.insertAt(child, s, m)
	if cr == nil {
		return nil
	}
	n.inner.count[i] = child.size()
	if n.n < btMax {
		n.insertKey(i+1, cr.scores[0], cr.members[0], cr, cr.size())
		return nil
	}
	right := n.split()
	if i+1 <= n.n {
		n.insertKey(i+1, cr.scores[0], cr.members[0], cr, cr.size())
	} else {
		right.insertKey(i+1-n.n, cr.scores[0], cr.members[0], cr, cr.size())
	}
	return right
}

// insertKey puts a key (and, in an inner node, its child and count) at
// index i of a node with room.
func (n *btNode) insertKey(i int, s int64, m string, child *btNode, count int) {
	copy(n.scores[i+1:n.n+1], n.scores[i:n.n])
	copy(n.members[i+1:n.n+1], n.members[i:n.n])
	n.scores[i], n.members[i] = s, m
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

// delete removes (s, m) and reports whether it was there.
func (t *btree) delete(s int64, m string) bool {
	if t.root == nil || !t.deleteAt(t.root, s, m) {
		return false
	}
	t.length--
	if t.root.inner != nil && t.root.n == 1 {
		t.root = t.root.inner.child[0]
	}
	return true
}

func (t *btree) deleteAt(n *btNode, s int64, m string) bool {
	if n.inner == nil {
		i, found := n.search(s, m)
		if !found {
			return false
		}
		n.removeKey(i)
		return true
	}
	i := n.childIndex(s, m)
	child := n.inner.child[i]
	if !t.deleteAt(child, s, m) {
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
		scores  [2 * btMax]int64
		members [2 * btMax]string
		child   [2 * btMax]*btNode
		count   [2 * btMax]int
	)
	total := copy(scores[:], l.scores[:l.n])
	copy(members[:], l.members[:l.n])
	copy(scores[total:], r.scores[:r.n])
	copy(members[total:], r.members[:r.n])
	if l.inner != nil {
		copy(child[:], l.inner.child[:l.n])
		copy(count[:], l.inner.count[:l.n])
		copy(child[total:], r.inner.child[:r.n])
		copy(count[total:], r.inner.count[:r.n])
		// r's slot 0 is only a bound; the separator in p is the real one.
		scores[total], members[total] = p.scores[li+1], p.members[li+1]
	}
	total += r.n
	fill := func(n *btNode, from, to int) {
		clear(n.members[:n.n])
		n.n = copy(n.scores[:], scores[from:to])
		copy(n.members[:], members[from:to])
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
	p.scores[li+1], p.members[li+1] = scores[h], members[h]
	p.inner.count[li], p.inner.count[li+1] = l.size(), r.size()
}

// move changes member m's key from score from to score to. When the key
// stays strictly inside its leaf, between the same neighbours, the score is
// rewritten in place: no counts or separators change. Otherwise it is a
// delete and an insert, the first of which runs on a path the in-place
// attempt has just brought into cache.
func (t *btree) move(from, to int64, m string) {
	if n := t.root; n != nil {
		for n.inner != nil {
			n = n.inner.child[n.childIndex(from, m)]
		}
		if i, found := n.search(from, m); found && i > 0 && i < n.n-1 &&
			btAhead(n.scores[i-1], n.members[i-1], to, m) && btAhead(to, m, n.scores[i+1], n.members[i+1]) {
			n.scores[i] = to
			return
		}
	}
	t.delete(from, m)
	t.insert(to, m)
}

// rank returns the 1-based rank of (s, m), or 0 when absent.
func (t *btree) rank(s int64, m string) int64 {
	n := t.root
	if n == nil {
		return 0
	}
	r := 0
	for n.inner != nil {
		i := n.childIndex(s, m)
		for _, c := range n.inner.count[:i] {
			r += c
		}
		n = n.inner.child[i]
	}
	i, found := n.search(s, m)
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
			out = append(out, Entry{Member: n.members[i], Score: n.scores[i], Rank: r})
			r++
		}
	}
	return out
}

// btBuildFill is how full buildTree packs nodes: room to grow without an
// immediate wave of splits, dense enough to stay shallow.
const btBuildFill = btMax * 3 / 4

// buildTree bulk-loads a tree from member scores: one sort and a linear
// build, instead of a million searches, which is what makes Replace (and so
// a rebuild) fast.
func buildTree(scores map[string]int64) btree {
	if len(scores) == 0 {
		return btree{}
	}
	type key struct {
		score  int64
		member string
	}
	keys := make([]key, 0, len(scores))
	for m, s := range scores {
		keys = append(keys, key{s, m})
	}
	slices.SortFunc(keys, func(a, b key) int {
		if btAhead(a.score, a.member, b.score, b.member) {
			return -1
		}
		return 1 // members are distinct, so never equal
	})
	// Leaves, filled evenly so none ends up underfull.
	level := make([]*btNode, 0, len(keys)/btBuildFill+1)
	var prev *btNode
	for _, part := range evenParts(len(keys)) {
		leaf := &btNode{n: part[1] - part[0]}
		for j, k := range keys[part[0]:part[1]] {
			leaf.scores[j], leaf.members[j] = k.score, k.member
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
				n.scores[j], n.members[j] = c.scores[0], c.members[0]
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
