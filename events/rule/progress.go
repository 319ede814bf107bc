package rule

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"
)

// Threshold is the progress at which g is met, in g's progress unit:
// events for count, distinct values for distinct, thousandths for sum. A
// target that does not validate gives math.MaxInt64, which is never met.
func (g Goal) Threshold() int64 {
	v, ok := parseScaled(string(g.Target))
	switch {
	case !ok || v <= 0:
		return math.MaxInt64
	case g.Kind == Sum:
		return v
	case v%Scale != 0:
		return math.MaxInt64
	}
	return v / Scale
}

// Met reports whether progress reaches g's target.
func (g Goal) Met(progress int64) bool { return progress >= g.Threshold() }

// Met reports whether every goal is met, given progress by goal id.
func (r Rule) Met(progress map[string]int64) bool {
	for _, g := range r.Goals {
		if !g.Met(progress[g.ID]) {
			return false
		}
	}
	return true
}

// Counting returns the ids of the goals an incoming event may advance,
// given which goals are met: every goal of an unordered rule, and for an
// ordered rule only the first goal not yet met (none once all are).
func (r Rule) Counting(met map[string]bool) []string {
	var ids []string
	for _, g := range r.Goals {
		if r.Ordered && met[g.ID] {
			continue
		}
		ids = append(ids, g.ID)
		if r.Ordered {
			break
		}
	}
	return ids
}

// EventTypes returns the distinct event types r's goals count, in goal
// order: what to index r by.
func (r Rule) EventTypes() []string {
	var types []string
	for _, g := range r.Goals {
		if !slices.Contains(types, g.EventType) {
			types = append(types, g.EventType)
		}
	}
	return types
}

// Fold adds up contributions to a goal of the given kind: the sum of the
// amounts for count and sum, the number of distinct keys for distinct. A
// sum that would overflow stays at math.MaxInt64.
func Fold(kind Kind, cs []Contribution) int64 {
	t := newTally(kind)
	for _, c := range cs {
		t.add(c)
	}
	return t.n
}

// Progress returns each goal's progress from its contributions, keyed by
// goal id, in any order. Unordered goals fold everything they are given.
// An ordered rule is replayed by occurred_at, so late and out-of-order
// events come out as if they had arrived in order: a step counts only
// contributions that occurred strictly after the previous step was met,
// and stops at the contribution that meets it. Callers pass the
// contributions of one period (or, for a rolling window, those after
// RollingFrom).
func (r Rule) Progress(cs map[string][]Contribution) map[string]int64 {
	progress := make(map[string]int64, len(r.Goals))
	var after time.Time // when the previous step was met
	open := true        // every step before this one is met
	for i, g := range r.Goals {
		switch {
		case !r.Ordered:
			progress[g.ID] = Fold(g.Kind, cs[g.ID])
		case open:
			progress[g.ID], after, open = step(g, cs[g.ID], after, i == 0)
		default:
			progress[g.ID] = 0
		}
	}
	return progress
}

// step replays one ordered step's contributions in occurred_at order,
// skipping those not after the previous step was met (unless it is the
// first step) and stopping at the one that meets it, whose time it returns.
func step(g Goal, cs []Contribution, after time.Time, first bool) (n int64, metAt time.Time, met bool) {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, byTime)
	t := newTally(g.Kind)
	for _, c := range cs {
		if !first && !c.At.After(after) {
			continue
		}
		t.add(c)
		if g.Met(t.n) {
			return t.n, c.At, true
		}
	}
	return t.n, time.Time{}, false
}

// byTime orders contributions by occurred_at, breaking ties by their
// content so that the order they arrived in never matters.
func byTime(a, b Contribution) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	if c := strings.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	return cmp.Compare(a.Amount, b.Amount)
}

// tally accumulates one goal's progress.
type tally struct {
	kind Kind
	n    int64
	seen map[string]bool // distinct keys so far
}

func newTally(kind Kind) *tally {
	t := &tally{kind: kind}
	if kind == Distinct {
		t.seen = make(map[string]bool)
	}
	return t
}

func (t *tally) add(c Contribution) {
	if t.kind == Distinct {
		if !t.seen[c.Key] {
			t.seen[c.Key] = true
			t.n++
		}
		return
	}
	if c.Amount > 0 && t.n > math.MaxInt64-c.Amount {
		t.n = math.MaxInt64
		return
	}
	t.n += c.Amount
}
