package text

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Great  product!!", "great product"},
		{"  Café au LAIT\t\n", "cafe au lait"},
		{"ｆｕｌｌ width", "full width"},
		{"5 stars - would buy again.", "5 stars would buy again"},
		{"", ""},
		{"!!!", ""},
	} {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHash(t *testing.T) {
	if Hash(Normalize("Great product!")) != Hash(Normalize("great   PRODUCT")) {
		t.Error("equal normalised texts hash differently")
	}
	if Hash("a") == Hash("b") {
		t.Error("different texts hash alike")
	}
}

func TestSignature(t *testing.T) {
	base := "This serum absorbed quickly and my skin felt calm all week long. I used it every morning under sunscreen and the redness on my cheeks faded by the third day."
	for _, tc := range []struct {
		name  string
		other string
		near  bool
	}{
		{"same", base, true},
		{"a word added", base + " Recommended.", true},
		{"a word changed", strings.Replace(base, "third", "second", 1), true},
		{"a sentence added", "Honestly I was sceptical. " + base, true},
		{"case and punctuation", strings.ToUpper(strings.ReplaceAll(base, ".", "!")), true},
		{"unrelated", "The delivery took three weeks and the box arrived crushed so I sent the blender back for a refund.", false},
		{"same topic, other words", "My skin felt dry after a week of this serum and the smell was too strong under sunscreen.", false},
	} {
		a, b := Signature(Normalize(base)), Signature(Normalize(tc.other))
		sim := Similarity(a, b)
		shared := false
		for i, k := range Bands(a) {
			shared = shared || Bands(b)[i] == k
		}
		if near := sim >= 0.6; near != tc.near || shared != tc.near {
			t.Errorf("%s: similarity %.2f, band shared %v, want near %v", tc.name, sim, shared, tc.near)
		}
	}
	if Signature("") != nil || Bands(nil) != nil || Similarity(nil, nil) != 0 {
		t.Error("empty text has a signature")
	}
	if s := Signature("one"); len(s) != SignatureSize || Similarity(s, Signature("one")) != 1 {
		t.Error("one word has no stable signature")
	}
	for _, b := range Bands(Signature("one two three")) {
		if b < 0 || b >= 1<<53 {
			t.Errorf("band %d outside 53 bits", b)
		}
	}
}

func TestHasLink(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"see https://example.com/x", true},
		{"visit www.shop.test now", true},
		{"buy at cheapstuff.com", true},
		{"I love it. Great value", false},
		{"version 2.0 is better", false},
	} {
		if got := HasLink(tc.in); got != tc.want {
			t.Errorf("HasLink(%q) = %v", tc.in, got)
		}
	}
}

func TestBannedWord(t *testing.T) {
	banned := []string{"scam", "Free Money"}
	for _, tc := range []struct{ in, want string }{
		{"total scam!", "scam"},
		{"this is FREE money", "Free Money"},
		{"scamper away", ""},
		{"fine", ""},
	} {
		if got := BannedWord(Normalize(tc.in), banned); got != tc.want {
			t.Errorf("BannedWord(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"Great product!", "ｆｕｌｌ", "é\u0301", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if Normalize(n) != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, Normalize(n))
		}
		_ = Bands(Signature(n))
		_ = HasLink(s)
	})
}
