package challenges

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/questline/questline/events/rule"
)

// sliceStore serves contributions from memory, with Tally folded from them
// as the stores' contract says (storagetest checks the stores against it).
type sliceStore struct {
	Store
	all []Contribution // in (At, EventID, Goal) order
}

func (m *sliceStore) Contributions(_ context.Context, _, _, _, _ string) ([]Contribution, error) {
	return m.all, nil
}

func (m *sliceStore) ContributionsBetween(_ context.Context, _, _, _, _ string, from, to time.Time) ([]Contribution, error) {
	var out []Contribution
	for _, x := range m.all {
		if !x.At.Before(from) && x.At.Before(to) {
			out = append(out, x)
		}
	}
	return out, nil
}

func (m *sliceStore) Contribution(_ context.Context, _, _, _, _, goal, eventID string) (Contribution, bool, error) {
	i := slices.IndexFunc(m.all, func(x Contribution) bool { return x.Goal == goal && x.EventID == eventID })
	if i < 0 {
		return Contribution{}, false, nil
	}
	return m.all[i], true, nil
}

func (m *sliceStore) Tally(_ context.Context, _, _, _, _, goal string, from, to time.Time) (int64, error) {
	var n int64
	for _, x := range m.all {
		if b := TallyBucket(x.At); x.Goal == goal && !b.Before(from) && b.Before(to) {
			n += x.Amount
		}
	}
	return n, nil
}

// TestTalliedMatchesFold checks that progress read from tallies equals
// progress folded from every contribution, over random histories spread
// across many buckets, random reading times (edges inside buckets, on
// bucket starts, before and after the data) and completions whose event
// falls inside, before or after the window.
func TestTalliedMatchesFold(t *testing.T) {
	base := time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC)
	goals := []rule.Goal{
		{ID: "visits", Kind: rule.Count, EventType: "checkin", Target: json.Number("1000000")},
		{ID: "spend", Kind: rule.Sum, EventType: "purchase", Prop: "amount", Target: json.Number("1000000")},
	}
	for _, win := range []rule.Window{{Rolling: "7d"}, {Rolling: "90m"}, {Rolling: "1h"}, {}} {
		c := Challenge{Tenant: "t", ID: "c", Rule: rule.Rule{Goals: goals, Window: win}}
		if !tallied(c) {
			t.Fatalf("%+v is not tallied", win)
		}
		// The same semantics through the contributions' path: a zero
		// interval limit changes nothing but the path.
		ref := c
		ref.Limits = &Limits{MinInterval: "0s"}
		for seed := range uint64(40) {
			r := rand.New(rand.NewPCG(seed, 7))
			st := &sliceStore{}
			for i := range 1 + r.IntN(300) {
				at := base.Add(time.Duration(r.Int64N(int64(10*24*time.Hour))) / time.Minute * time.Minute)
				if r.IntN(4) == 0 {
					at = TallyBucket(at) // exactly on a bucket start
				}
				g := goals[r.IntN(2)]
				st.all = append(st.all, Contribution{Goal: g.ID, EventID: fmt.Sprintf("e%04d", i), Amount: 1 + r.Int64N(5000), At: at})
			}
			slices.SortFunc(st.all, func(a, b Contribution) int {
				if c := a.At.Compare(b.At); c != 0 {
					return c
				}
				return strings.Compare(a.EventID+a.Goal, b.EventID+b.Goal)
			})
			s := NewService(Config{Store: st})
			for range 30 {
				at := base.Add(time.Duration(r.Int64N(int64(12*24*time.Hour))) - 24*time.Hour)
				switch r.IntN(3) {
				case 0:
					at = TallyBucket(at)
				case 1:
					at = st.all[r.IntN(len(st.all))].At
				}
				var comps []Completion
				if r.IntN(2) == 0 {
					comps = []Completion{{EventID: st.all[r.IntN(len(st.all))].EventID}}
				}
				got, err := s.state(context.Background(), c, "u", "", at, comps)
				if err != nil {
					t.Fatal(err)
				}
				want, err := s.state(context.Background(), ref, "u", "", at, comps)
				if err != nil {
					t.Fatal(err)
				}
				for _, g := range goals {
					if got[g.ID] != want[g.ID] {
						t.Fatalf("window %+v seed %d at %s comps %v: %s = %d, folded %d", win, seed, at, comps, g.ID, got[g.ID], want[g.ID])
					}
				}
			}
		}
	}
}
