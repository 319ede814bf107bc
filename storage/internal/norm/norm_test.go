package norm

import (
	"reflect"
	"testing"
	"time"
)

func TestJSONMapMatchesDecode(t *testing.T) {
	for _, m := range []map[string]any{
		{"s": "x", "f": 1.5, "b": true, "n": nil},
		{"nested": map[string]any{"a": []any{"x", 2.0, map[string]any{}}}},
		{"int": 3, "list": []int{1}},
		{"nilmap": map[string]any(nil), "nilslice": []any(nil)},
		{"time": time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)},
	} {
		b, got, err := JSONMap(m)
		if err != nil {
			t.Fatal(err)
		}
		want, err := DecodeMap(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("JSONMap(%#v) = %#v, decoding gives %#v", m, got, want)
		}
	}
	if b, m, err := JSONMap(map[string]any{}); b != nil || m != nil || err != nil {
		t.Errorf("empty map: %q %#v %v", b, m, err)
	}
}

func TestTrunc(t *testing.T) {
	in := time.Date(2025, 1, 2, 3, 4, 5, 6_789_999, time.FixedZone("X", 3600))
	got := Trunc(in)
	want := time.Date(2025, 1, 2, 2, 4, 5, 6_000_000, time.UTC)
	if got != want {
		t.Fatalf("Trunc = %v, want %v", got, want)
	}
	if TruncPtr(nil) != nil {
		t.Fatal("TruncPtr(nil) != nil")
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct {
		prefix, end string
		ok          bool
	}{
		{"", "", false},
		{"challenge:c1:", "challenge:c1;", true},
		{"a\u00bf", "a\u00c0", true}, // the last byte of \u00bf is 0xbf: no byte carry
		{"\u007f", "\u0080", true},   // one byte to two
		{"x\ud7ff", "x\ue000", true}, // over the surrogates
		{"x\U0010ffff", "y", true},
		{"\U0010ffff\U0010ffff", "", false},
	} {
		end, ok := PrefixEnd(tc.prefix)
		if end != tc.end || ok != tc.ok {
			t.Errorf("PrefixEnd(%+q) = %+q, %v; want %+q, %v", tc.prefix, end, ok, tc.end, tc.ok)
		}
	}
	// Every string with the prefix is inside [prefix, end), its neighbours
	// outside.
	const p = "q:\u00e9:"
	end, _ := PrefixEnd(p)
	for _, s := range []string{p, p + "x", p + "\U0010ffff\U0010ffff", p + "\uffff"} {
		if s < p || s >= end {
			t.Errorf("%+q with prefix %+q is outside [prefix, %+q)", s, p, end)
		}
	}
	for _, s := range []string{"q:\u00e9", "q:\u00e9;", "q:\u00ea", "q:\u00e99"} {
		if s >= p && s < end {
			t.Errorf("%+q without prefix %+q is inside [prefix, %+q)", s, p, end)
		}
	}
}
