package rule

import (
	"encoding/json"
	"math"
	"testing"
)

func TestParseScaled(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"-0", 0, true},
		{"1", 1000, true},
		{"42.5", 42500, true},
		{"42.50", 42500, true},
		{"0.001", 1, true},
		{"-0.001", -1, true},
		{"0.1", 100, true},
		{"1.50000000000000000000000", 1500, true},
		{"0.0010", 1, true},
		{"1e3", 1000000, true},
		{"1E+3", 1000000, true},
		{"1.2345e3", 1234500, true},
		{"12345e-3", 12345, true},
		{"1e-3", 1, true},
		{"0e999999999999", 0, true},
		{"1000000000000", 1e15, true},
		{"-1000000000000", -1e15, true},
		{"999999999999.999", 999999999999999, true},
		{"1e12", 1e15, true},

		{"0.0001", 0, false},
		{"1.0001", 0, false},
		{"1e-4", 0, false},
		{"1000000000000.001", 0, false},
		{"1e13", 0, false},
		{"1e999999999999", 0, false},
		{"123456789012345678901234567890", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"+1", 0, false},
		{"01", 0, false},
		{".5", 0, false},
		{"5.", 0, false},
		{"1e", 0, false},
		{"1e+", 0, false},
		{"1.5x", 0, false},
		{"NaN", 0, false},
		{"Infinity", 0, false},
		{" 1", 0, false},
		{"0x10", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseScaled(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseScaled(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFormatScaled(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0"},
		{1, "0.001"},
		{10, "0.01"},
		{100, "0.1"},
		{1000, "1"},
		{42500, "42.5"},
		{42050, "42.05"},
		{-1, "-0.001"},
		{-1500, "-1.5"},
		{1e15, "1000000000000"},
		{math.MaxInt64, "9223372036854775.807"},
		{math.MinInt64, "-9223372036854775.808"},
	}
	for _, tt := range tests {
		if got := FormatScaled(tt.in); got != tt.want {
			t.Errorf("FormatScaled(%d) = %q, want %q", tt.in, got, tt.want)
		}
		if v, ok := parseScaled(FormatScaled(tt.in)); ok && v != tt.in {
			t.Errorf("parseScaled(FormatScaled(%d)) = %d", tt.in, v)
		}
	}
}

// TestScaled covers every Go type a prop can arrive as.
func TestScaled(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want int64
		ok   bool
	}{
		{"float", 42.5, 42500, true},
		{"float 0.1", 0.1, 100, true},
		{"float 0.3", 0.3, 300, true},
		{"float integral", 100.0, 100000, true},
		{"float zero", 0.0, 0, true},
		{"float negative zero", math.Copysign(0, -1), 0, true},
		{"float max", 1e12, 1e15, true},
		{"float 3 decimals near max", 999999999999.999, 999999999999999, true},
		{"float too precise", 0.0005, 0, false},
		{"float 4 decimals", 1.2345, 0, false},
		{"float64 0.1+0.2", 0.30000000000000004, 0, false}, // what float addition gives: not 0.3
		{"float tiny", 1e-300, 0, false},
		{"float beyond max", 1e12 + 1, 0, false},
		{"float huge", 1e300, 0, false},
		{"float NaN", math.NaN(), 0, false},
		{"float +Inf", math.Inf(1), 0, false},
		{"float -Inf", math.Inf(-1), 0, false},
		{"json.Number", json.Number("42.50"), 42500, true},
		{"json.Number exponent", json.Number("4.25e1"), 42500, true},
		{"json.Number too precise", json.Number("0.30000000000000004"), 0, false},
		{"json.Number invalid", json.Number("4x"), 0, false},
		{"int", 42, 42000, true},
		{"int64", int64(-42), -42000, true},
		{"int64 beyond max", int64(1e12 + 1), 0, false},
		{"int64 min", int64(math.MinInt64), 0, false},
		{"string number", "42.50", 0, false},
		{"bool", true, 0, false},
		{"nil", nil, 0, false},
		{"array", []any{1.0}, 0, false},
		{"object", map[string]any{"v": 1.0}, 0, false},
		{"other number type", int32(4), 0, false},
	}
	for _, tt := range tests {
		got, ok := scaled(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: scaled(%v) = %d, %v; want %d, %v", tt.name, tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
