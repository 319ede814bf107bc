package loyalty

import (
	"reflect"
	"testing"

	"github.com/questline/questline/loyalty/tier"
)

func TestRewardTiers(t *testing.T) {
	p := tier.Programme{Tiers: []tier.Tier{
		{Name: "silver"}, {Name: "gold", Rewards: []string{"lounge", "gift"}}, {Name: "platinum", Rewards: []string{"gift", "jet"}},
	}}
	want := map[string][]string{
		"lounge": {"gold", "platinum"},
		"gift":   {"gold", "platinum"}, // the lowest tier naming it opens it
		"jet":    {"platinum"},
	}
	if got := rewardTiers(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("reward tiers %v, want %v", got, want)
	}
}
