package quizzes

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/quizzes/scoring"
)

func TestSpecErrorsNameTheField(t *testing.T) {
	cases := []struct {
		name, json, field string
	}{
		{"no questions", `{"name":"x","questions":[]}`, "body.questions"},
		{"single without key", `{"name":"x","questions":[{"id":"a","type":"single","text":"?","options":[{"id":"1","text":"1"},{"id":"2","text":"2"}]}]}`, "body.questions[0].correct"},
		{"key names no option", `{"name":"x","questions":[{"id":"a","type":"single","text":"?","options":[{"id":"1","text":"1"},{"id":"2","text":"2"}],"correct":["3"]}]}`, "body.questions[0].correct[0]"},
		{"one option", `{"name":"x","questions":[{"id":"a","type":"multiple","text":"?","options":[{"id":"1","text":"1"}],"correct":["1"]}]}`, "body.questions[0].options"},
		{"ordering partial key", `{"name":"x","questions":[{"id":"a","type":"ordering","text":"?","options":[{"id":"1","text":"1"},{"id":"2","text":"2"}],"correct":["1"]}]}`, "body.questions[0].correct"},
		{"text without accepted", `{"name":"x","questions":[{"id":"a","type":"text","text":"?"}]}`, "body.questions[0].accepted"},
		{"numeric without value", `{"name":"x","questions":[{"id":"a","type":"numeric","text":"?"}]}`, "body.questions[0].value"},
		{"duplicate ids", `{"name":"x","questions":[{"id":"a","type":"true_false","text":"?","correct":["true"]},{"id":"a","type":"true_false","text":"?","correct":["true"]}]}`, "body.questions[1].id"},
		{"survey with a key", `{"name":"x","kind":"survey","questions":[{"id":"a","type":"single","text":"?","options":[{"id":"1","text":"1"},{"id":"2","text":"2"}],"correct":["1"]}]}`, "body.questions[0].correct"},
		{"survey type in a quiz", `{"name":"x","questions":[{"id":"a","type":"nps","text":"?"}]}`, "body.questions[0].type"},
		{"pool too small", `{"name":"x","pools":[{"id":"p","draw":2}],"questions":[{"id":"a","type":"true_false","text":"?","correct":["true"],"pool":"p"}]}`, "body.pools[0].draw"},
		{"unknown pool", `{"name":"x","questions":[{"id":"a","type":"true_false","text":"?","correct":["true"],"pool":"p"}]}`, "body.questions[0].pool"},
		{"window backwards", `{"name":"x","starts_at":"2030-01-02T00:00:00Z","ends_at":"2030-01-01T00:00:00Z","questions":[{"id":"a","type":"true_false","text":"?","correct":["true"]}]}`, "body.ends_at"},
		{"bad unlock", `{"name":"x","reward":{"unlock":"a b"},"questions":[{"id":"a","type":"true_false","text":"?","correct":["true"]}]}`, "body.reward.unlock"},
		{"survey on pass", `{"name":"x","kind":"survey","reward_on":"pass","questions":[{"id":"a","type":"nps","text":"?"}]}`, "body.reward_on"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s Spec
			if err := json.Unmarshal([]byte(c.json), &s); err != nil {
				t.Fatal(err)
			}
			e, ok := errs.As(s.normalize())
			if !ok || e.Field != c.field || e.Kind != errs.Unprocessable {
				t.Errorf("error %+v, want 422 on %s", e, c.field)
			}
		})
	}
}

func TestDrawIsSeeded(t *testing.T) {
	var sp Spec
	sp.ShuffleQuestions, sp.ShuffleOptions = true, true
	sp.Pools = []Pool{{ID: "p", Draw: 2}}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		q := Question{ID: id, Type: scoring.Single, Options: []Option{{ID: "1"}, {ID: "2"}, {ID: "3"}}}
		if id != "a" {
			q.Pool = "p"
		}
		sp.Questions = append(sp.Questions, q)
	}
	qs, opts := draw(sp, 7)
	again, opts2 := draw(sp, 7)
	if !slices.Equal(qs, again) || len(qs) != 3 || !slices.Contains(qs, "a") {
		t.Fatalf("draws %v and %v, want the same 3 with a", qs, again)
	}
	for id, o := range opts {
		if !slices.Equal(o, opts2[id]) {
			t.Errorf("option order of %s differs: %v %v", id, o, opts2[id])
		}
	}
	differ := false
	for seed := range uint64(20) {
		if other, _ := draw(sp, seed); !slices.Equal(other, qs) {
			differ = true
		}
	}
	if !differ {
		t.Error("20 seeds drew the same questions")
	}
}

// FuzzDefinition: any JSON a manager sends either defines a quiz or is
// refused with a 422 naming a body field; it never panics.
func FuzzDefinition(f *testing.F) {
	f.Add(`{"name":"x","questions":[{"id":"a","type":"single","text":"?","options":[{"id":"1","text":"1"},{"id":"2","text":"2"}],"correct":["1"]}]}`)
	f.Add(`{"name":"x","pools":[{"id":"p","draw":1}],"questions":[{"id":"a","type":"numeric","text":"?","value":1,"pool":"p"}]}`)
	f.Add(`{"name":"x","kind":"survey","questions":[{"id":"a","type":"nps","text":"?"}],"live":{"winners":[{"unlock":"!"}]}}`)
	f.Fuzz(func(t *testing.T, in string) {
		var s Spec
		if json.Unmarshal([]byte(in), &s) != nil {
			return
		}
		err := s.normalize()
		if err == nil {
			draw(s, 1)
			return
		}
		e, ok := errs.As(err)
		if !ok || e.Kind != errs.Unprocessable || !strings.HasPrefix(e.Field, "body.") {
			t.Fatalf("error %v does not name a body field", err)
		}
	})
}

// FuzzAnswer: any answer to any question is accepted or refused with a
// 422 naming a body field.
func FuzzAnswer(f *testing.F) {
	f.Add("single", "1,2", "", 1.0)
	f.Add("nps", "", "x", 11.0)
	f.Fuzz(func(t *testing.T, kind, choices, text string, n float64) {
		q := Question{ID: "q", Type: scoring.Kind(kind)}
		a := scoring.Answer{Choices: strings.Split(choices, ","), Text: text, Number: &n}
		err := checkAnswer(q, []string{"1", "2", "3"}, a)
		if err == nil {
			return
		}
		if e, ok := errs.As(err); !ok || e.Kind != errs.Unprocessable || !strings.HasPrefix(e.Field, "body.") {
			t.Fatalf("error %v does not name a body field", err)
		}
	})
}
