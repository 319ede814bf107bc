package ugc

import (
	"strings"
	"testing"
	"time"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/ugc/text"
)

func code(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errs.As(err); ok {
		return e.Code
	}
	return "internal: " + err.Error()
}

func TestTextChecks(t *testing.T) {
	c := DefaultSettings().Checks
	c.BannedWords = []string{"scam"}
	long := strings.Repeat("word ", 3000)
	for _, tc := range []struct {
		name    string
		checks  func(*Checks)
		kind    Kind
		content Content
		want    string
	}{
		{"fine", nil, Review, Content{Body: "A perfectly fine review body."}, ""},
		{"too short", nil, Review, Content{Body: "short"}, CheckTooShort},
		{"title counts", nil, Review, Content{Title: "A title that is long", Body: "short"}, ""},
		{"photo without words", nil, Photo, Content{Media: []string{"https://x.example/a.jpg"}}, ""},
		{"too long", nil, Review, Content{Body: long}, CheckTooLong},
		{"banned", nil, Review, Content{Body: "This is a total SCAM, avoid it."}, CheckBanned},
		{"banned inside a word is fine", nil, Review, Content{Body: "Scampi recipe, really quite nice."}, ""},
		{"link", nil, Tutorial, Content{Body: "Read more at www.example.com for details."}, CheckLink},
		{"link allowed", func(c *Checks) { c.LinksAllowed = true }, Tutorial, Content{Body: "Read more at www.example.com for details."}, ""},
	} {
		cc := c
		if tc.checks != nil {
			tc.checks(&cc)
		}
		if got := code(textChecks(cc, tc.kind, tc.content)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDuplicateOf(t *testing.T) {
	body := "This serum absorbed quickly and my skin felt calm all week long, no redness at all."
	fp := func(s string) Submission {
		n := text.Normalize(s)
		return Submission{TextHash: text.Hash(n), Signature: text.Signature(n)}
	}
	orig := fp(body)
	for _, tc := range []struct {
		name   string
		checks func(*Checks)
		other  string
		want   string
	}{
		{"exact after normalising", nil, strings.ToUpper(body) + "!!", CheckDuplicate},
		{"near", nil, "Honestly, " + body, CheckNear},
		{"unrelated", nil, "The box arrived crushed and the pump did not work, so I sent it back.", ""},
		{"near, check off", func(c *Checks) { c.NearSimilarity = 0 }, "Honestly, " + body, ""},
		{"short texts are checked exactly only", func(c *Checks) { c.MinNearWords = 100 }, "Honestly, " + body, ""},
		{"duplicates off", func(c *Checks) { c.Duplicates = false }, body, ""},
	} {
		c := DefaultSettings().Checks
		if tc.checks != nil {
			tc.checks(&c)
		}
		o := fp(tc.other)
		words := len(text.Words(text.Normalize(tc.other)))
		if got := code(duplicateOf(c, o.TextHash, o.Signature, words, []Submission{orig})); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRateWindows(t *testing.T) {
	hour, day := rateWindows(time.Date(2026, 5, 1, 22, 59, 59, 0, time.FixedZone("x", 3600)))
	if want := time.Date(2026, 5, 1, 21, 0, 0, 0, time.UTC); !hour.Equal(want) {
		t.Errorf("hour %v, want %v", hour, want)
	}
	if want := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC); !day.Equal(want) {
		t.Errorf("day %v, want %v", day, want)
	}
	if err := dayFull(Checks{PerDay: 5}, day); code(err) != CheckDailyCap || !strings.Contains(err.Error(), "2026-05-02T00:00:00Z") {
		t.Errorf("cap error does not say when it resets: %v", err)
	}
	if err := hourFull(Checks{PerHour: 2}); code(err) != CheckRate {
		t.Errorf("hour error %v", err)
	}
}

func TestValidate(t *testing.T) {
	ok := "https://img.example/a.jpg"
	for _, tc := range []struct {
		name    string
		kind    Kind
		product string
		tags    []string
		c       Content
		want    string
	}{
		{"review", Review, "sku-1", nil, Content{Rating: 5, Body: "b"}, ""},
		{"review without product", Review, "", nil, Content{Rating: 5, Body: "b"}, "product-required"},
		{"review rating 0", Review, "sku-1", nil, Content{Body: "b"}, "bad-rating"},
		{"review rating 6", Review, "sku-1", nil, Content{Rating: 6, Body: "b"}, "bad-rating"},
		{"review without body", Review, "sku-1", nil, Content{Rating: 3, Body: "  "}, "body-required"},
		{"bad product", Photo, "a b", nil, Content{Media: []string{ok}}, "bad-product-id"},
		{"bad tag", Photo, "", []string{"ok", "no way"}, Content{Media: []string{ok}}, "bad-tag"},
		{"http media", Photo, "", nil, Content{Media: []string{"http://img.example/a.jpg"}}, "bad-media-url"},
		{"media with credentials", Photo, "", nil, Content{Media: []string{"https://u:p@img.example/a.jpg"}}, "bad-media-url"},
		{"photo without media", Photo, "", nil, Content{}, "media-required"},
		{"video", Video, "", nil, Content{Media: []string{"https://video.example/v"}}, ""},
		{"tutorial without steps", Tutorial, "", nil, Content{Title: "t", Body: "b"}, "tutorial-incomplete"},
		{"empty step", Tutorial, "", nil, Content{Title: "t", Body: "b", Steps: []string{" "}}, "bad-step"},
		{"post", SocialPost, "", nil, Content{Link: "https://social.example/p/1"}, ""},
		{"post without link", SocialPost, "", nil, Content{}, "bad-link"},
		{"rating on a photo", Photo, "", nil, Content{Rating: 3, Media: []string{ok}}, "rating-not-allowed"},
		{"link on a review", Review, "sku-1", nil, Content{Rating: 3, Body: "b", Link: "https://x.example"}, "link-not-allowed"},
		{"unknown kind", "essay", "", nil, Content{}, "bad-kind"},
	} {
		if got := code(validate(tc.kind, tc.product, tc.tags, tc.c)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestPayouts(t *testing.T) {
	p := DefaultSettings().Points
	s := &Service{}
	keys := func(sub Submission) map[string]int64 {
		out := map[string]int64{}
		for _, x := range s.payouts(p, sub) {
			out[x.key+" "+x.reason] = x.amount
		}
		return out
	}
	photos := Content{Rating: 5, Body: "b", Media: []string{"https://x.example/a.jpg"}}
	for _, tc := range []struct {
		name string
		sub  Submission
		want map[string]int64
	}{
		{"review", Submission{ID: "r", Kind: Review, ProductID: "p", Content: Content{Rating: 4}},
			map[string]int64{"ugc:r:base ugc.review": 20, "ugc:first:p ugc.first_review": 10}},
		{"verified photo review", Submission{ID: "r", Kind: Review, ProductID: "p", Verified: true, Content: photos},
			map[string]int64{"ugc:r:base ugc.photo_review": 40, "ugc:r:verified ugc.verified": 10, "ugc:first:p ugc.first_review": 10}},
		{"public version decides", Submission{ID: "r", Kind: Review, ProductID: "p", Content: Content{Rating: 1}, Public: &photos},
			map[string]int64{"ugc:r:base ugc.photo_review": 40, "ugc:first:p ugc.first_review": 10}},
		{"tutorial", Submission{ID: "t", Kind: Tutorial}, map[string]int64{"ugc:t:base ugc.tutorial": 50}},
		{"post", Submission{ID: "s", Kind: SocialPost}, map[string]int64{"ugc:s:base ugc.social_post": 10}},
	} {
		if got := keys(tc.sub); !equalMaps(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	p.FirstReview = 0
	if got := keys(Submission{ID: "r", Kind: Review, ProductID: "p"}); len(got) != 1 {
		t.Errorf("a zero rule pays: %v", got)
	}
}

func equalMaps(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSummaryAverage(t *testing.T) {
	for _, tc := range []struct {
		dist  [5]int64
		count int64
		avg   float64
	}{
		{[5]int64{}, 0, 0},
		{[5]int64{0, 0, 0, 0, 1}, 1, 5},
		{[5]int64{1, 0, 0, 0, 1}, 2, 3},
		{[5]int64{0, 0, 1, 1, 1}, 3, 4},
		{[5]int64{0, 0, 0, 2, 1}, 3, 4.33},
		{[5]int64{0, 0, 0, 1, 2}, 3, 4.67},
	} {
		got := Summary{Distribution: tc.dist}.WithAverage()
		if got.Count != tc.count || got.Average != tc.avg {
			t.Errorf("%v: count %d average %v, want %d %v", tc.dist, got.Count, got.Average, tc.count, tc.avg)
		}
	}
}

func TestCursor(t *testing.T) {
	c := Cursor{Key: 7, ID: "01900000-0000-7000-8000-000000000001"}
	got, err := ParseCursor(c.Encode(Helpful), Helpful)
	if err != nil || *got != c {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, bad := range []string{c.Encode(Newest), "%%%", "aGVscGZ1bHx4fHk", "aGVscGZ1bHwxfA"} {
		if _, err := ParseCursor(bad, Helpful); code(err) != "bad-cursor" {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if got, err := ParseCursor("", Newest); got != nil || err != nil {
		t.Errorf("empty cursor: %v %v", got, err)
	}
}
