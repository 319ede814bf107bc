package scoring

import (
	"strings"
	"testing"
	"time"
)

func num(f float64) *float64 { return &f }

func TestScore(t *testing.T) {
	single := Key{Correct: []string{"b"}}
	multi := Key{Correct: []string{"a", "c"}}
	order := Key{Correct: []string{"x", "y", "z"}}
	text := Key{Accepted: []string{"Crème Brûlée", "creme brulee"}}
	numeric := Key{Value: 3.14, Tolerance: 0.01}
	ten := Rules{Points: 10}
	cases := []struct {
		name string
		kind Kind
		key  Key
		r    Rules
		a    Answer
		took time.Duration
		want Result
	}{
		{"single right", Single, single, ten, Answer{Choices: []string{"b"}}, 0, Result{Points: 10, Correct: true, Credit: 1}},
		{"single wrong", Single, single, ten, Answer{Choices: []string{"a"}}, 0, Result{}},
		{"single two picks", Single, single, ten, Answer{Choices: []string{"b", "a"}}, 0, Result{}},
		{"single none", Single, single, ten, Answer{}, 0, Result{}},
		{"true/false right", TrueFalse, Key{Correct: []string{"false"}}, ten, Answer{Choices: []string{"false"}}, 0, Result{Points: 10, Correct: true, Credit: 1}},
		{"true/false wrong", TrueFalse, Key{Correct: []string{"false"}}, ten, Answer{Choices: []string{"true"}}, 0, Result{}},
		{"multiple exact", Multiple, multi, ten, Answer{Choices: []string{"c", "a"}}, 0, Result{Points: 10, Correct: true, Credit: 1}},
		{"multiple repeat pick", Multiple, multi, ten, Answer{Choices: []string{"c", "a", "a"}}, 0, Result{Points: 10, Correct: true, Credit: 1}},
		{"multiple half, all or nothing", Multiple, multi, ten, Answer{Choices: []string{"a"}}, 0, Result{}},
		{"multiple half, partial", Multiple, multi, Rules{Points: 10, Partial: true}, Answer{Choices: []string{"a"}}, 0, Result{Points: 5, Credit: 0.5}},
		{"multiple right+wrong, partial", Multiple, multi, Rules{Points: 10, Partial: true}, Answer{Choices: []string{"a", "b"}}, 0, Result{}},
		{"multiple every box, partial", Multiple, multi, Rules{Points: 10, Partial: true, Negative: 2}, Answer{Choices: []string{"a", "b", "c", "d"}}, 0, Result{Points: -2}},
		{"ordering right", Ordering, order, ten, Answer{Choices: []string{"x", "y", "z"}}, 0, Result{Points: 10, Correct: true, Credit: 1}},
		{"ordering swapped", Ordering, order, ten, Answer{Choices: []string{"x", "z", "y"}}, 0, Result{}},
		{"ordering swapped, partial", Ordering, order, Rules{Points: 9, Partial: true}, Answer{Choices: []string{"x", "z", "y"}}, 0, Result{Points: 3, Credit: 1.0 / 3}},
		{"ordering too long", Ordering, order, ten, Answer{Choices: []string{"x", "y", "z", "x"}}, 0, Result{}},
		{"text accents and case", Text, text, ten, Answer{Text: "  CRÈME   brûlée "}, 0, Result{Points: 10, Correct: true, Credit: 1}},
		{"text plain", Text, text, ten, Answer{Text: "creme brulee"}, 0, Result{Points: 10, Correct: true, Credit: 1}},
		{"text wrong", Text, text, ten, Answer{Text: "tiramisu"}, 0, Result{}},
		{"text empty", Text, Key{Accepted: []string{""}}, ten, Answer{Text: " "}, 0, Result{}},
		{"numeric exact", Numeric, numeric, ten, Answer{Number: num(3.14)}, 0, Result{Points: 10, Correct: true, Credit: 1}},
		{"numeric at tolerance", Numeric, numeric, ten, Answer{Number: num(3.15)}, 0, Result{Points: 10, Correct: true, Credit: 1}},
		{"numeric outside", Numeric, numeric, ten, Answer{Number: num(3.16)}, 0, Result{}},
		{"numeric missing", Numeric, numeric, ten, Answer{}, 0, Result{}},
		{"negative marking", Single, single, Rules{Points: 10, Negative: 3}, Answer{Choices: []string{"a"}}, 0, Result{Points: -3}},
		{"late scores zero, no penalty", Single, single, Rules{Points: 10, Negative: 3, TimeLimit: 10 * time.Second}, Answer{Choices: []string{"a"}}, 11 * time.Second, Result{Late: true}},
		{"late right answer", Single, single, Rules{Points: 10, TimeLimit: 10 * time.Second}, Answer{Choices: []string{"b"}}, 10*time.Second + 1, Result{Late: true}},
		{"at the limit", Single, single, Rules{Points: 10, TimeLimit: 10 * time.Second}, Answer{Choices: []string{"b"}}, 10 * time.Second, Result{Points: 10, Correct: true, Credit: 1}},
		{"speed bonus instant", Single, single, Rules{Points: 10, TimeLimit: 10 * time.Second, SpeedBonus: 6}, Answer{Choices: []string{"b"}}, 0, Result{Points: 16, Correct: true, Credit: 1}},
		{"speed bonus half", Single, single, Rules{Points: 10, TimeLimit: 10 * time.Second, SpeedBonus: 6}, Answer{Choices: []string{"b"}}, 5 * time.Second, Result{Points: 13, Correct: true, Credit: 1}},
		{"speed bonus needs right", Single, single, Rules{Points: 10, TimeLimit: 10 * time.Second, SpeedBonus: 6}, Answer{Choices: []string{"a"}}, 0, Result{}},
		{"no bonus for partial", Multiple, multi, Rules{Points: 10, Partial: true, TimeLimit: 10 * time.Second, SpeedBonus: 6}, Answer{Choices: []string{"a"}}, 0, Result{Points: 5, Credit: 0.5}},
		{"survey rating scores nothing", Rating, Key{}, ten, Answer{Number: num(5)}, 0, Result{}},
		{"survey nps scores nothing", NPS, Key{}, ten, Answer{Number: num(9)}, 0, Result{}},
		{"survey text scores nothing", OpenText, Key{}, ten, Answer{Text: "great"}, 0, Result{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Score(c.kind, c.key, c.r, c.a, c.took); got != c.want {
				t.Errorf("Score = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestSpeedPoints(t *testing.T) {
	T := 20 * time.Second
	cases := []struct {
		t    time.Duration
		max  int64
		want int64
	}{
		{0, 1000, 1000}, {5 * time.Second, 1000, 875}, {10 * time.Second, 1000, 750},
		{20 * time.Second, 1000, 500}, {25 * time.Second, 1000, 500}, {-time.Second, 1000, 1000},
		{time.Second, 3, 3}, {7 * time.Second, 3, 2},
	}
	for _, c := range cases {
		if got := SpeedPoints(c.max, c.t, T); got != c.want {
			t.Errorf("SpeedPoints(%d, %v, %v) = %d, want %d", c.max, c.t, T, got, c.want)
		}
	}
	if got := SpeedPoints(100, time.Second, 0); got != 100 {
		t.Errorf("no time limit = %d, want 100", got)
	}
}

func TestStreakBonus(t *testing.T) {
	cases := []struct {
		streak int
		step   int64
		cap    int
		want   int64
	}{
		{0, 100, 5, 0}, {1, 100, 5, 0}, {2, 100, 5, 100}, {4, 100, 5, 300},
		{6, 100, 5, 500}, {60, 100, 5, 500}, {3, 0, 5, 0}, {3, 100, 0, 0}, {3, 100, -1, 0},
	}
	for _, c := range cases {
		if got := StreakBonus(c.streak, c.step, c.cap); got != c.want {
			t.Errorf("StreakBonus(%d, %d, %d) = %d, want %d", c.streak, c.step, c.cap, got, c.want)
		}
	}
}

func TestRank(t *testing.T) {
	s := []Standing{
		{User: "slow", Score: 900, Time: 9 * time.Second},
		{User: "fast", Score: 900, Time: 3 * time.Second},
		{User: "top", Score: 1500, Time: 30 * time.Second},
		{User: "b-tie", Score: 100, Time: time.Second},
		{User: "a-tie", Score: 100, Time: time.Second},
		{User: "neg", Score: -5},
	}
	Rank(s)
	want := []string{"top", "fast", "slow", "a-tie", "b-tie", "neg"}
	for i, u := range want {
		if s[i].User != u || s[i].Rank != i+1 {
			t.Errorf("place %d = %s rank %d, want %s rank %d", i, s[i].User, s[i].Rank, u, i+1)
		}
	}
}

func TestNPSScore(t *testing.T) {
	cases := []struct {
		counts [11]int64
		want   float64
	}{
		{[11]int64{}, 0},
		{[11]int64{10: 3}, 100},
		{[11]int64{0: 1, 6: 1}, -100},
		{[11]int64{7: 5, 8: 5}, 0},
		{[11]int64{9: 2, 5: 1}, 33.3},
		{[11]int64{10: 1, 8: 1, 3: 1}, 0},
	}
	for _, c := range cases {
		if got := NPSScore(c.counts); got != c.want {
			t.Errorf("NPSScore(%v) = %v, want %v", c.counts, got, c.want)
		}
	}
}

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"  Crème  Brûlée ": "creme brulee", "ÅNGSTRÖM": "angstrom", "São\tPaulo": "sao paulo", "": "",
	} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzScore checks what must hold for any answer: credit in [0, 1], points
// never above points+bonus nor below −negative, late answers score 0.
func FuzzScore(f *testing.F) {
	f.Add("multiple", "a,c", "a,b", "x", 3.0, 0.5, int64(10), int64(2), int64(5), true, int64(3_000_000_000))
	f.Add("text", "", "", "Crème", 0.0, 0.0, int64(1), int64(0), int64(0), false, int64(0))
	f.Fuzz(func(t *testing.T, kind, correct, picked, text string, value, tol float64, pts, neg, bonus int64, partial bool, took int64) {
		if pts < 0 || neg < 0 || bonus < 0 || pts > 1e9 || neg > 1e9 || bonus > 1e9 {
			return
		}
		key := Key{Correct: strings.Split(correct, ","), Accepted: []string{text}, Value: value, Tolerance: tol}
		r := Rules{Points: pts, Partial: partial, Negative: neg, TimeLimit: 10 * time.Second, SpeedBonus: bonus}
		a := Answer{Choices: strings.Split(picked, ","), Text: text, Number: &value}
		res := Score(Kind(kind), key, r, a, time.Duration(took))
		if res.Credit < 0 || res.Credit > 1 {
			t.Fatalf("credit %v out of range", res.Credit)
		}
		if res.Points > pts+bonus || res.Points < -neg {
			t.Fatalf("points %d outside [-%d, %d]", res.Points, neg, pts+bonus)
		}
		if res.Late && res.Points != 0 {
			t.Fatalf("late answer scored %d", res.Points)
		}
	})
}
