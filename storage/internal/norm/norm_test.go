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
