// Package scoring judges quiz answers: every question type, partial
// credit, tolerance, time limits, negative marking, speed bonuses, streaks
// and the ranking of players. It is pure (no clock, no I/O): the caller
// passes the server-measured time an answer took, so a phone can never
// influence its own score.
package scoring

import (
	"math"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Kind is a question type.
type Kind string

// Question types. Rating, NPS and open text are for surveys: they have no
// correct answer and score nothing.
const (
	Single    Kind = "single"     // one option is right
	Multiple  Kind = "multiple"   // a set of options is right
	TrueFalse Kind = "true_false" // options "true" and "false"
	Text      Kind = "text"       // free text against accepted answers
	Numeric   Kind = "numeric"    // a number within a tolerance
	Ordering  Kind = "ordering"   // options put in the right order
	Rating    Kind = "rating"     // survey: 1..5
	NPS       Kind = "nps"        // survey: 0..10
	OpenText  Kind = "open_text"  // survey: free text
)

// Scored reports whether k has correct answers.
func (k Kind) Scored() bool {
	switch k {
	case Single, Multiple, TrueFalse, Text, Numeric, Ordering:
		return true
	}
	return false
}

// Key is what makes an answer right; it never leaves the server before
// the player's attempt ends.
type Key struct {
	Correct   []string `json:"correct,omitempty"`   // single, true_false: one id; multiple: the set; ordering: the order
	Accepted  []string `json:"accepted,omitempty"`  // text: accepted answers
	Value     float64  `json:"value,omitempty"`     // numeric
	Tolerance float64  `json:"tolerance,omitempty"` // numeric: |answer − value| ≤ tolerance is right
}

// Rules are how a question pays.
type Rules struct {
	Points int64 // for a fully right answer
	// Partial gives multiple-choice and ordering answers credit in
	// proportion to how right they are, instead of all or nothing.
	Partial bool
	// Negative is taken off for a wrong answer (not for a late or missing
	// one): negative marking.
	Negative int64
	// TimeLimit, when set, makes an answer that took longer score zero.
	TimeLimit time.Duration
	// SpeedBonus, with a time limit, adds up to this much to a right
	// answer, in proportion to the time left.
	SpeedBonus int64
}

// Answer is what a player sent.
type Answer struct {
	Choices []string `json:"choices,omitempty" maxItems:"20" doc:"Option ids: choice and true/false questions, or every option in your order for ordering."`
	Text    string   `json:"text,omitempty" maxLength:"2000" doc:"text and open_text questions."`
	Number  *float64 `json:"number,omitempty" doc:"numeric, rating (1-5) and nps (0-10) questions."`
}

// Result is the verdict on one answer.
type Result struct {
	Points  int64   `json:"points"`
	Correct bool    `json:"correct"`
	Credit  float64 `json:"credit"` // 0..1: how right the answer was
	Late    bool    `json:"late,omitempty"`
}

// Score judges a on a question of kind k with key and rules, given the
// time the answer took as the server measured it.
func Score(k Kind, key Key, r Rules, a Answer, took time.Duration) Result {
	if !k.Scored() {
		return Result{}
	}
	if r.TimeLimit > 0 && took > r.TimeLimit {
		return Result{Late: true}
	}
	credit := Credit(k, key, r.Partial, a)
	res := Result{Credit: credit, Correct: credit == 1}
	switch {
	case credit == 0:
		res.Points = -r.Negative
	default:
		res.Points = int64(math.Round(credit * float64(r.Points)))
		if res.Correct && r.SpeedBonus > 0 && r.TimeLimit > 0 {
			left := 1 - float64(took)/float64(r.TimeLimit)
			res.Points += int64(math.Round(math.Max(0, left) * float64(r.SpeedBonus)))
		}
	}
	return res
}

// Credit is how right a is, from 0 to 1.
func Credit(k Kind, key Key, partial bool, a Answer) float64 {
	switch k {
	case Single, TrueFalse:
		return boolCredit(len(a.Choices) == 1 && len(key.Correct) == 1 && a.Choices[0] == key.Correct[0])
	case Multiple:
		return setCredit(key.Correct, a.Choices, partial)
	case Ordering:
		return orderCredit(key.Correct, a.Choices, partial)
	case Text:
		got := Fold(a.Text)
		return boolCredit(got != "" && slices.ContainsFunc(key.Accepted, func(s string) bool { return Fold(s) == got }))
	case Numeric:
		return boolCredit(a.Number != nil && math.Abs(*a.Number-key.Value) <= key.Tolerance+1e-9*math.Max(1, math.Abs(key.Value)))
	}
	return 0
}

func boolCredit(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}

// setCredit: all or nothing, or (right picks − wrong picks) / right ones,
// never below 0, so ticking every box earns nothing.
func setCredit(correct, picked []string, partial bool) float64 {
	if len(correct) == 0 {
		return 0
	}
	var right, wrong int
	for _, p := range dedup(picked) {
		if slices.Contains(correct, p) {
			right++
		} else {
			wrong++
		}
	}
	if right == len(correct) && wrong == 0 {
		return 1
	}
	if !partial {
		return 0
	}
	return math.Max(0, float64(right-wrong)/float64(len(correct)))
}

// orderCredit: all or nothing, or the share of positions that are right.
func orderCredit(correct, got []string, partial bool) float64 {
	if len(correct) == 0 {
		return 0
	}
	var right int
	for i, id := range correct {
		if i < len(got) && got[i] == id {
			right++
		}
	}
	if right == len(correct) && len(got) == len(correct) {
		return 1
	}
	if !partial {
		return 0
	}
	return float64(right) / float64(len(correct))
}

func dedup(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

// Fold is the form free-text answers compare in: trimmed, inner spaces
// collapsed, case and accents ignored ("  Crème Brûlée " = "creme brulee").
func Fold(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(r)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
