package main

import (
	"testing"

	"github.com/questline/questline/auth"
)

// TestDeadEventsAPI: the dead-letter list and retry are admins' only,
// tenant-scoped, documented, and the metric is exported. (What makes an
// event dead is tested in package events against a real store.)
func TestDeadEventsAPI(t *testing.T) {
	s := startServer(t, nil)
	admin := s.token("root", "acme", auth.Admin)
	var page struct {
		Events []any `json:"events"`
	}
	s.must(200, req{method: "GET", path: "/v1/ops/dead-events", token: admin}).json(t, &page)
	if page.Events == nil || len(page.Events) != 0 {
		t.Fatalf("dead events of a fresh tenant = %#v", page.Events)
	}
	key := s.apiKey("acme")
	for name, r := range map[string]req{
		"manager": {token: s.token("boss", "acme", auth.Manager)},
		"player":  {token: s.token("alice", "acme")},
		"api key": {header: map[string]string{"X-API-Key": key}},
	} {
		for _, x := range []req{{method: "GET", path: "/v1/ops/dead-events"}, {method: "POST", path: "/v1/ops/dead-events/x/retry"}} {
			x.token, x.header = r.token, r.header
			if resp := s.do(x); resp.Status != 403 {
				t.Errorf("%s %s as %s: %d %s", x.method, x.path, name, resp.Status, resp.Body)
			}
		}
	}
	resp := s.do(req{method: "POST", path: "/v1/ops/dead-events/01a2337f-ce3a-7cbf-90b9-e66ad4fabd26/retry", token: admin})
	if resp.Status != 404 || resp.problemType(t) != "dead-event-not-found" {
		t.Fatalf("retry of an unknown event: %d %s", resp.Status, resp.Body)
	}
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	s.must(200, req{method: "GET", path: "/openapi.json"}).json(t, &doc)
	if doc.Paths["/v1/ops/dead-events"]["get"] == nil || doc.Paths["/v1/ops/dead-events/{id}/retry"]["post"] == nil {
		t.Fatal("OpenAPI lacks the dead-letter routes")
	}
	s.metric("questline_events_dead")
}
