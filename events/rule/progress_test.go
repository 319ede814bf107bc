package rule

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestFold(t *testing.T) {
	amounts := func(vs ...int64) []Contribution {
		var cs []Contribution
		for _, v := range vs {
			cs = append(cs, Contribution{Amount: v})
		}
		return cs
	}
	keys := func(ks ...string) []Contribution {
		var cs []Contribution
		for _, k := range ks {
			cs = append(cs, Contribution{Amount: 1, Key: k})
		}
		return cs
	}
	tests := []struct {
		name string
		kind Kind
		cs   []Contribution
		want int64
	}{
		{"count none", Count, nil, 0},
		{"count", Count, amounts(1, 1, 1), 3},
		{"sum", Sum, amounts(42500, 100, 1), 42601},
		{"sum saturates", Sum, amounts(math.MaxInt64-1, 2, 5), math.MaxInt64},
		{"distinct", Distinct, keys("s:a", "s:b", "s:a", "n:3", "s:3", "n:3"), 4},
		{"distinct none", Distinct, nil, 0},
	}
	for _, tt := range tests {
		if got := Fold(tt.kind, tt.cs); got != tt.want {
			t.Errorf("%s: Fold = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestExactSums adds decimals that float64 gets wrong and checks that the
// goal is met exactly at its target.
func TestExactSums(t *testing.T) {
	tests := []struct {
		target string
		props  []any
		met    bool
	}{
		{"0.3", []any{0.1, 0.2}, true},
		{"0.3", []any{0.1, 0.1}, false},
		{"1", []any{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}, true},
		{"100", []any{33.33, 33.33, 33.33}, false}, // 99.99
		{"99.99", []any{33.33, 33.33, 33.33}, true},
		{"42.5", []any{"42.50"}, false}, // strings are not numbers
		{"0.001", []any{0.0001, 0.0009}, false},
		{"1000000000000", []any{999999999999.999, 0.001}, true},
	}
	for _, tt := range tests {
		g := Goal{ID: "g1", Kind: Sum, EventType: "purchase", Prop: "amount", Target: json.Number(tt.target)}
		var cs []Contribution
		for _, v := range tt.props {
			if c, ok := g.Match(Event{Type: "purchase", Props: map[string]any{"amount": v}}); ok {
				cs = append(cs, c)
			}
		}
		if got := g.Met(Fold(Sum, cs)); got != tt.met {
			t.Errorf("target %s, props %v: met = %v, want %v (progress %s)", tt.target, tt.props, got, tt.met, FormatScaled(Fold(Sum, cs)))
		}
	}
}

func TestThreshold(t *testing.T) {
	tests := []struct {
		kind   Kind
		target string
		want   int64
	}{
		{Count, "5", 5},
		{Distinct, "3", 3},
		{Sum, "100", 100000},
		{Sum, "0.5", 500},
		{Count, "1.5", math.MaxInt64},
		{Count, "0", math.MaxInt64},
		{Sum, "-1", math.MaxInt64},
		{Sum, "", math.MaxInt64},
		{Sum, "0.0001", math.MaxInt64},
	}
	for _, tt := range tests {
		if got := (Goal{Kind: tt.kind, Target: json.Number(tt.target)}).Threshold(); got != tt.want {
			t.Errorf("%s %q: Threshold = %d, want %d", tt.kind, tt.target, got, tt.want)
		}
	}
}

func twoSteps(ordered bool) Rule {
	return Rule{Ordered: ordered, Goals: []Goal{
		{ID: "signup", Kind: Count, EventType: "signup", Target: "1"},
		{ID: "shop", Kind: Sum, EventType: "purchase", Prop: "amount", Target: "50"},
		{ID: "stores", Kind: Distinct, EventType: "visit", Prop: "store", Target: "2"},
	}}
}

func TestMet(t *testing.T) {
	r := twoSteps(false)
	tests := []struct {
		progress map[string]int64
		want     bool
	}{
		{map[string]int64{"signup": 1, "shop": 50000, "stores": 2}, true},
		{map[string]int64{"signup": 3, "shop": 90000, "stores": 5}, true},
		{map[string]int64{"signup": 1, "shop": 49999, "stores": 2}, false},
		{map[string]int64{"signup": 1, "shop": 50000}, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := r.Met(tt.progress); got != tt.want {
			t.Errorf("Met(%v) = %v, want %v", tt.progress, got, tt.want)
		}
	}
}

func TestCounting(t *testing.T) {
	tests := []struct {
		ordered bool
		met     map[string]bool
		want    []string
	}{
		{false, nil, []string{"signup", "shop", "stores"}},
		{false, map[string]bool{"signup": true}, []string{"signup", "shop", "stores"}},
		{true, nil, []string{"signup"}},
		{true, map[string]bool{"signup": true}, []string{"shop"}},
		{true, map[string]bool{"shop": true}, []string{"signup"}},
		{true, map[string]bool{"signup": true, "shop": true}, []string{"stores"}},
		{true, map[string]bool{"signup": true, "shop": true, "stores": true}, nil},
	}
	for _, tt := range tests {
		if got := twoSteps(tt.ordered).Counting(tt.met); !slices.Equal(got, tt.want) {
			t.Errorf("ordered=%v Counting(%v) = %v, want %v", tt.ordered, tt.met, got, tt.want)
		}
	}
}

func TestProgress(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2026, 11, 23, 10, min, 0, 0, time.UTC) }
	events := []Event{
		{Type: "purchase", Props: map[string]any{"amount": 30.0}, OccurredAt: at(0)}, // before signup: not a step yet
		{Type: "visit", Props: map[string]any{"store": "a"}, OccurredAt: at(1)},
		{Type: "signup", OccurredAt: at(2)},
		{Type: "signup", OccurredAt: at(3)},
		{Type: "purchase", Props: map[string]any{"amount": 30.0}, OccurredAt: at(4)},
		{Type: "visit", Props: map[string]any{"store": "b"}, OccurredAt: at(5)},
		{Type: "purchase", Props: map[string]any{"amount": 25.5}, OccurredAt: at(6)}, // meets shop at 55.5
		{Type: "purchase", Props: map[string]any{"amount": 10.0}, OccurredAt: at(7)}, // shop is done
		{Type: "visit", Props: map[string]any{"store": "b"}, OccurredAt: at(8)},
		{Type: "visit", Props: map[string]any{"store": "c"}, OccurredAt: at(9)},
	}
	tests := []struct {
		name string
		r    Rule
		upTo int // events considered
		want map[string]int64
		met  bool
	}{
		{"unordered counts everything", twoSteps(false), 10, map[string]int64{"signup": 2, "shop": 95500, "stores": 3}, true},
		{"ordered steps", twoSteps(true), 10, map[string]int64{"signup": 1, "shop": 55500, "stores": 2}, true},
		{"ordered, third step not met", twoSteps(true), 9, map[string]int64{"signup": 1, "shop": 55500, "stores": 1}, false},
		{"ordered, second step open", twoSteps(true), 6, map[string]int64{"signup": 1, "shop": 30000, "stores": 0}, false},
		{"ordered, nothing met", twoSteps(true), 2, map[string]int64{"signup": 0, "shop": 0, "stores": 0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := events[:tt.upTo]
			want := tt.r.Progress(contributions(tt.r, evs))
			if !equalMaps(want, tt.want) {
				t.Fatalf("Progress = %v, want %v", want, tt.want)
			}
			if got := tt.r.Met(want); got != tt.met {
				t.Errorf("Met = %v, want %v", got, tt.met)
			}
			for range 20 { // arrival order does not matter
				shuffled := slices.Clone(evs)
				rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				if got := tt.r.Progress(contributions(tt.r, shuffled)); !equalMaps(got, want) {
					t.Fatalf("shuffled: Progress = %v, want %v", got, want)
				}
			}
		})
	}
}

// TestProgressSameInstant: a step counts only what occurred strictly after
// the previous step was met, so one event cannot complete two steps, and
// ties are broken by content, not arrival.
func TestProgressSameInstant(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	r := Rule{Ordered: true, Goals: []Goal{
		{ID: "a", Kind: Sum, EventType: "purchase", Prop: "amount", Target: "70"},
		{ID: "b", Kind: Count, EventType: "purchase", Target: "1"},
	}}
	cs := map[string][]Contribution{
		"a": {{Amount: 80000, At: at}, {Amount: 50000, At: at}},
		"b": {{Amount: 1, At: at}, {Amount: 1, At: at}},
	}
	want := map[string]int64{"a": 50000 + 80000, "b": 0}
	if got := r.Progress(cs); !equalMaps(got, want) {
		t.Errorf("Progress = %v, want %v", got, want)
	}
	slices.Reverse(cs["a"])
	if got := r.Progress(cs); !equalMaps(got, want) {
		t.Errorf("reversed: Progress = %v, want %v", got, want)
	}

	stores := Rule{Ordered: true, Goals: []Goal{{ID: "a", Kind: Distinct, EventType: "visit", Prop: "store", Target: "2"}}}
	visits := map[string][]Contribution{"a": {{Amount: 1, Key: "s:b", At: at}, {Amount: 1, Key: "s:a", At: at}, {Amount: 1, Key: "s:b", At: at}}}
	if got := stores.Progress(visits); got["a"] != 2 {
		t.Errorf("distinct at one instant: Progress = %v, want 2", got)
	}
}

// TestCountingMatchesProgress feeds events in order through the
// incremental path (Counting, Match, Fold) and checks it agrees with
// Progress.
func TestCountingMatchesProgress(t *testing.T) {
	r := twoSteps(true)
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	types := []string{"signup", "purchase", "visit"}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		var evs []Event
		for i := range 12 {
			evs = append(evs, Event{
				Type:       types[rng.IntN(3)],
				Props:      map[string]any{"amount": float64(rng.IntN(40)), "store": string(rune('a' + rng.IntN(3)))},
				OccurredAt: base.Add(time.Duration(i) * time.Minute),
			})
		}
		cs := map[string][]Contribution{}
		met := map[string]bool{}
		for _, e := range evs {
			for _, id := range r.Counting(met) {
				g := r.Goals[slices.IndexFunc(r.Goals, func(g Goal) bool { return g.ID == id })]
				if c, ok := g.Match(e); ok {
					cs[id] = append(cs[id], c)
					met[id] = g.Met(Fold(g.Kind, cs[id]))
				}
			}
		}
		incremental := map[string]int64{}
		for _, g := range r.Goals {
			incremental[g.ID] = Fold(g.Kind, cs[g.ID])
		}
		if want := r.Progress(contributions(r, evs)); !equalMaps(incremental, want) {
			t.Fatalf("trial %d: incremental %v, Progress %v", trial, incremental, want)
		}
	}
}

// contributions matches every event against every goal, as a store of
// contributions would hold them.
func contributions(r Rule, evs []Event) map[string][]Contribution {
	cs := map[string][]Contribution{}
	for _, e := range evs {
		for _, g := range r.Goals {
			if c, ok := g.Match(e); ok {
				cs[g.ID] = append(cs[g.ID], c)
			}
		}
	}
	return cs
}

func TestEventTypesAndIndex(t *testing.T) {
	r := twoSteps(false)
	r.Goals = append(r.Goals, Goal{ID: "more", Kind: Count, EventType: "signup", Target: "2"})
	if got, want := r.EventTypes(), []string{"signup", "purchase", "visit"}; !slices.Equal(got, want) {
		t.Errorf("EventTypes = %v, want %v", got, want)
	}
	type challenge struct {
		id   string
		rule Rule
	}
	shares := Rule{Goals: []Goal{{ID: "g1", Kind: Count, EventType: "share", Target: "3"}}}
	ix := NewIndex([]challenge{{"c1", r}, {"c2", shares}, {"c3", r}}, func(c challenge) []string { return c.rule.EventTypes() })
	ids := func(cs []challenge) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.id)
		}
		return out
	}
	for typ, want := range map[string][]string{"signup": {"c1", "c3"}, "visit": {"c1", "c3"}, "share": {"c2"}, "like": nil} {
		if got := ids(ix.For(typ)); !slices.Equal(got, want) {
			t.Errorf("For(%q) = %v, want %v", typ, got, want)
		}
	}
}
