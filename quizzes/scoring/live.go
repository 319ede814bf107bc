package scoring

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// SpeedPoints is the live-show formula for a right answer given t after
// the question opened, of T to answer: round((1 − (t/T)/2) × max). An
// instant answer earns max, one at the buzzer half of it; t is clamped to
// [0, T]. A wrong or missing answer earns nothing.
func SpeedPoints(max int64, t, T time.Duration) int64 {
	if T <= 0 {
		return max
	}
	f := math.Min(1, math.Max(0, float64(t)/float64(T)))
	return int64(math.Round((1 - f/2) * float64(max)))
}

// StreakBonus is what a streak of right answers in a row adds to the
// answer that extends it: step for each right answer before this one,
// at most capAt steps. The first right answer has no bonus.
func StreakBonus(streak int, step int64, capAt int) int64 {
	if streak <= 1 || step <= 0 {
		return 0
	}
	return int64(min(streak-1, max(capAt, 0))) * step
}

// Standing is a player's place in a live show.
type Standing struct {
	User   string        `json:"user_id"`
	Score  int64         `json:"score"`
	Streak int           `json:"streak"`
	Time   time.Duration `json:"-"` // total time taken by the answers given
	Rank   int           `json:"rank"`
}

// Rank orders standings best first and numbers them: higher score first,
// then the earlier total answer time, then the user id, so every read and
// every node agree. Equal score and time still get distinct ranks.
func Rank(s []Standing) {
	slices.SortFunc(s, func(a, b Standing) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Time, b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.User, b.User)
	})
	for i := range s {
		s[i].Rank = i + 1
	}
}

// NPSScore is the Net Promoter Score of 0..10 ratings given as counts per
// rating: the percentage of promoters (9, 10) minus that of detractors
// (0..6), from −100 to 100; 0 without ratings.
func NPSScore(counts [11]int64) float64 {
	var total, promoters, detractors int64
	for r, n := range counts {
		total += n
		switch {
		case r >= 9:
			promoters += n
		case r <= 6:
			detractors += n
		}
	}
	if total == 0 {
		return 0
	}
	return math.Round(float64(promoters-detractors)*1000/float64(total)) / 10
}
