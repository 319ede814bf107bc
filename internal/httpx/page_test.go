package httpx

import (
	"fmt"
	"strconv"
	"testing"
)

func TestPage(t *testing.T) {
	id := func(n int) string { return strconv.Itoa(n) }
	for _, tc := range []struct {
		items      []int
		limit      int
		want, next string
	}{
		{nil, 2, "[]", ""},
		{[]int{1, 2}, 2, "[1 2]", ""},
		{[]int{1, 2, 3}, 2, "[1 2]", "2"},
	} {
		got, next := Page(tc.items, tc.limit, id)
		if fmt.Sprint(got) != tc.want || next != tc.next || got == nil {
			t.Errorf("Page(%v, %d) = %v, %q; want %s, %q", tc.items, tc.limit, got, next, tc.want, tc.next)
		}
	}
}
