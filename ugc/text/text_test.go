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

func TestSimhash(t *testing.T) {
	base := "this moisturiser left my skin soft all day and the scent is light and fresh i will buy it again next month"
	for _, tc := range []struct {
		name  string
		other string
		near  bool
	}{
		{"same", base, true},
		{"one word changed", strings.Replace(base, "month", "week", 1), true},
		{"punctuation and case", "This moisturiser left my skin SOFT all day, and the scent is light and fresh! I will buy it again next month.", true},
		{"unrelated", "the delivery took three weeks and the box arrived crushed so i sent the blender back for a refund", false},
	} {
		d := Distance(Simhash(Normalize(base)), Simhash(Normalize(tc.other)))
		if near := d <= 12; near != tc.near {
			t.Errorf("%s: distance %d, near %v, want %v", tc.name, d, near, tc.near)
		}
	}
}

func TestBands(t *testing.T) {
	h := uint64(0x1111_2222_3333_4444)
	if got := BandsOf(h); got != [4]uint16{0x4444, 0x3333, 0x2222, 0x1111} {
		t.Fatalf("BandsOf = %x", got)
	}
	// Any 3 flipped bits leave one band intact.
	for _, flips := range [][3]int{{0, 16, 32}, {1, 2, 3}, {15, 31, 63}, {47, 48, 49}} {
		o := h
		for _, f := range flips {
			o ^= 1 << f
		}
		a, b := BandsOf(h), BandsOf(o)
		shared := false
		for i := range a {
			shared = shared || a[i] == b[i]
		}
		if !shared || Distance(h, o) != 3 {
			t.Errorf("flips %v: no shared band or distance %d", flips, Distance(h, o))
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
		_ = Simhash(n)
		_ = HasLink(s)
	})
}
