package httpx

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidJSONText(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{`{"name":"Zoë"}`, true},
		{`{"name":"\u00e9\n\\u0041"}`, true},
		{`{"name":"\ud83d\ude00"}`, true}, // a pair: 😀
		{`{"name":"\\ud800"}`, true},      // an escaped backslash, then text
		{`{"name":"\u12"}`, true},         // malformed: the decoder refuses it
		{`{"name":"a\`, true},
		{"{\"name\":\"\xff\"}", false},
		{"{\"name\":\"\xc3\"}", false},
		{`{"name":"\ud800"}`, false},
		{`{"name":"\ud800x"}`, false},
		{`{"name":"\ud800\u0041"}`, false},
		{`{"name":"\udc00"}`, false},
		{`{"name":"\uDBFF\uDFFF","x":"\uD800"}`, false},
	}
	for _, tc := range tests {
		if got := ValidJSONText([]byte(tc.body)); got != tc.want {
			t.Errorf("ValidJSONText(%s) = %v, want %v", tc.body, got, tc.want)
		}
	}
}

// FuzzValidJSONText holds ValidJSONText to what encoding/json does: a
// valid JSON document it accepts decodes without a U+FFFD the sender did
// not write, and one it refuses decodes with one.
func FuzzValidJSONText(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `["\ud800"]`, `["\ud83d\ude00"]`, "[\"\xff\"]", `["\\ud800"]`, `{"\udc00":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) || bytes.Contains(bytes.ToLower(b), []byte("fffd")) || bytes.ContainsRune(b, utf8.RuneError) {
			return // not JSON, or the sender wrote U+FFFD themselves
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber() // 1e700 is valid JSON but no float64
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("json.Valid but Decode: %v", err)
		}
		replaced := hasReplacement(v)
		if ok := ValidJSONText(b); ok == replaced {
			t.Fatalf("ValidJSONText(%q) = %v, but decoding gives U+FFFD: %v", b, ok, replaced)
		}
	})
}

// hasReplacement reports whether a decoded JSON value holds U+FFFD.
func hasReplacement(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, utf8.RuneError)
	case []any:
		return slices.ContainsFunc(v, hasReplacement)
	case map[string]any:
		for k, e := range v {
			if strings.ContainsRune(k, utf8.RuneError) || hasReplacement(e) {
				return true
			}
		}
	}
	return false
}
