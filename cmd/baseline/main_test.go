package main

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBaselineAnswersAnEvent(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"event", `{"type":"share","props":{"post":"p1"}}`, 200, `"accepted":true`},
		{"bad json", `{"type":`, 400, ""},
	}
	app := newApp()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/v1/events", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := app.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
				t.Fatalf("got %d %s, want %d containing %q", resp.StatusCode, b, tt.status, tt.want)
			}
		})
	}
}
