package httpx

import "testing"

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
