package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/ugc"
)

// caller is one kind of principal of the access matrix.
type caller struct {
	name   string
	tenant string
	token  string // a JWT, or
	key    string // an API key, or neither (anonymous)
	p      auth.Principal
}

func (c caller) req(method, path string, body any) req {
	r := req{method: method, path: path, token: c.token, body: body}
	if c.key != "" {
		r.header = map[string]string{"X-API-Key": c.key}
	}
	return r
}

// newKey creates an API key of tenant with scopes; it returns the key and
// its id.
func (s *testServer) newKey(tenant string, scopes ...string) (key, id string) {
	s.t.Helper()
	var k struct{ Key, ID string }
	s.must(201, req{method: "POST", path: "/v1/api-keys", token: s.token("root", tenant, auth.Admin),
		body: map[string]any{"name": "matrix " + strings.Join(scopes, "+"), "scopes": scopes}}).json(s.t, &k)
	return k.Key, k.ID
}

// callers returns every kind of principal of tenant.
func (s *testServer) callers(tenant string) []caller {
	cs := []caller{}
	for _, r := range []auth.Role{auth.Player, auth.Moderator, auth.Manager, auth.Admin} {
		cs = append(cs, caller{name: tenant + " " + string(r), tenant: tenant, token: s.token("alice", tenant, r),
			p: auth.Principal{Tenant: tenant, Subject: "alice", Roles: []auth.Role{r}}})
	}
	for _, sc := range auth.Scopes() {
		key, id := s.newKey(tenant, sc)
		cs = append(cs, caller{name: tenant + " key " + sc, tenant: tenant, key: key,
			p: auth.Principal{Tenant: tenant, Subject: "key:" + id, APIKey: true, Scopes: []string{sc}}})
	}
	return cs
}

// openAPIOp is one operation of the served OpenAPI document.
type openAPIOp struct {
	Method, Path string
	ID           string      `json:"operationId"`
	Summary      string      `json:"summary"`
	Access       auth.Access `json:"x-questline-access"`
	Body         *struct{}   `json:"requestBody"`
}

// operations reads every operation from /openapi.json: the route table the
// matrix walks, so a new route cannot be left out (TestRouteTableDocumented
// holds the document to every route the server serves).
func (s *testServer) operations() []openAPIOp {
	s.t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	s.must(200, req{method: "GET", path: "/openapi.json"}).json(s.t, &doc)
	var ops []openAPIOp
	for path, item := range doc.Paths {
		for method, raw := range item {
			var op openAPIOp
			if err := json.Unmarshal(raw, &op); err != nil {
				s.t.Fatalf("%s %s: %v", method, path, err)
			}
			if !strings.Contains(string(raw), auth.AccessExtension) {
				s.t.Errorf("%s %s declares no access in its OpenAPI text", method, path)
			}
			op.Method, op.Path = strings.ToUpper(method), path
			ops = append(ops, op)
		}
	}
	slices.SortFunc(ops, func(a, b openAPIOp) int { return strings.Compare(a.Path+a.Method, b.Path+b.Method) })
	if len(ops) < 40 {
		s.t.Fatalf("only %d operations in the OpenAPI document", len(ops))
	}
	return ops
}

// sampleBodies are valid request bodies by operation id, so admitted calls
// do what they say; an operation with a body missing here gets {} (a 422
// still shows the caller was admitted).
var sampleBodies = map[string]any{
	"send-event":               map[string]any{"type": "share"},
	"create-challenge":         map[string]any{"name": "Matrix", "event_type": "share", "target": 1},
	"update-challenge":         map[string]any{"name": "Matrix renamed"},
	"create-badge":             map[string]any{"name": "Matrix", "rule": map[string]any{"goals": []any{map[string]any{"kind": "count", "event_type": "share", "target": 1}}}},
	"update-badge":             map[string]any{"name": "Matrix renamed"},
	"put-retention":            map[string]any{"days": 400},
	"create-leaderboard":       map[string]any{"name": "Matrix", "window": "all_time"},
	"rank-leaderboard-cohort":  map[string]any{"user_ids": []string{"alice"}},
	"exclude-from-leaderboard": map[string]any{"user_id": "alice", "reason": "matrix"},
	"put-my-profile":           map[string]any{"name": "Matrix"},
	"put-user-attributes":      map[string]any{"tier": "gold", "segments": []string{}},
	"create-api-key":           map[string]any{"name": "matrix", "scopes": []string{"events:write"}},
	"create-webhook":           map[string]any{"url": "https://hooks.example.com/matrix", "event_types": []string{"share"}},
	"update-webhook":           map[string]any{"description": "Matrix renamed"},
	"rotate-webhook-secret":    map[string]any{"overlap_seconds": 60},
	"put-event-types":          map[string]any{"version": 0, "types": []any{map[string]any{"name": "store_visit", "senders": "players"}}},
	"create-earn-rule":         map[string]any{"name": "Matrix", "rule": map[string]any{"kind": "fixed", "event_type": "share", "points": 1}},
	"update-earn-rule":         map[string]any{"name": "Matrix renamed"},
	"put-tiers": map[string]any{"version": 0, "basis": "lifetime_points", "review": map[string]any{"mode": "calendar"},
		"tiers": []any{map[string]any{"name": "silver", "threshold": 0}, map[string]any{"name": "gold", "threshold": 100}}},
	"assign-user-tier":       map[string]any{"tier": "gold"},
	"put-referral-programme": map[string]any{"version": 0, "qualifying_event": "purchase", "referrer_points": 10, "referee_points": 5},
	"create-contest": map[string]any{"name": "Matrix", "kind": "draw", "starts_at": time.Now().Add(-time.Hour), "ends_at": time.Now().Add(100 * 24 * time.Hour),
		"prizes": []any{map[string]any{"description": "A mug", "quantity": 1}}, "earn": []any{map[string]any{"event_type": "visit"}}},
	"update-contest":            map[string]any{"name": "Matrix renamed"},
	"enter-contest":             map[string]any{"opt_in": true},
	"extend-contest":            map[string]any{"reason": "matrix", "ends_at": time.Now().Add(200 * 24 * time.Hour)},
	"end-contest":               map[string]any{"reason": "matrix"},
	"disqualify-contest-winner": map[string]any{"user_id": "alice", "reason": "matrix"},
	"create-submission":         map[string]any{"kind": "review", "product_id": "p-matrix", "rating": 4, "body": "Matrix review, long enough to pass the checks."},
	"update-submission":         map[string]any{"rating": 3},
	"claim-moderation-items":    map[string]any{"limit": 5},
	"approve-submission":        map[string]any{"reason": "ok"},
	"reject-submission":         map[string]any{"reason": "spam"},
	"remove-submission":         map[string]any{"reason": "abusive"},
	"bulk-moderate":             map[string]any{"action": "reject", "ids": []string{"01900000-0000-7000-8000-00000000dead"}, "reason": "spam"},
	"vote-submission":           map[string]any{"helpful": true},
	"report-submission":         map[string]any{"reason": "spam"},
	"reply-to-submission":       map[string]any{"body": "Thanks from the brand"},
	"put-ugc-settings":          ugc.DefaultSettings(),
	"create-quiz":               matrixQuiz,
	"update-quiz":               map[string]any{"name": "Matrix renamed"},
	"answer-question":           map[string]any{"question_id": "q", "choices": []string{"true"}},
	"answer-live-quiz":          map[string]any{"question_id": "q", "choices": []string{"true"}},
	"put-points-policy":         map[string]any{"pending_days": 0, "expiry": "never", "expiry_n": 0, "time_zone": "", "notice_days": 0},
	"create-reward":             map[string]any{"name": "Matrix", "kind": "generated", "cost": 1},
	"update-reward":             map[string]any{"description": "Matrix"},
	"set-analytics-settings":    map[string]any{"currency": "EUR", "point_value": 0.01},
	"backtest-challenge":        map[string]any{"days": 7},
	"backtest-badge":            map[string]any{"days": 7},
	"backtest-earn-rule":        map[string]any{"days": 7},
	"backtest-leaderboard":      map[string]any{"name": "Matrix", "source": "event", "event_type": "share", "window": "daily"},
}

// matrixQuiz is a one-question quiz for the matrix.
var matrixQuiz = map[string]any{"name": "Matrix", "questions": []map[string]any{
	{"id": "q", "type": "true_false", "text": "?", "correct": []string{"true"}}}}

// doRetrying does r, waiting out 429s: the matrix is about who is let in,
// not how often.
func (s *testServer) doRetrying(r req) response {
	for range 20 {
		resp := s.do(r)
		if resp.Status != http.StatusTooManyRequests {
			return resp
		}
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		time.Sleep(time.Duration(max(wait, 1)) * time.Second)
	}
	s.t.Fatalf("%s %s: still rate limited", r.method, r.path)
	return response{}
}

// TestAccessMatrix: every operation of the OpenAPI document × every kind
// of principal (anonymous, player, moderator, manager, admin, an API key of
// each scope, and another tenant's of each). A caller the operation's
// declared access admits is never refused (401/403); any other gets
// exactly 403 (401 without a credential). Another tenant's principal sees
// this tenant's objects exactly as missing ids (same status and body)
// and never reads them.
func TestAccessMatrix(t *testing.T) {
	s := startServer(t, nil)
	const tenant, other = "acme", "globex"
	mgr := s.token("boss", tenant, auth.Manager)
	ch := s.publish(mgr, map[string]any{"name": "Acme secret challenge", "event_type": "share", "target": 1, "reward_points": 5})
	badge := s.badge(mgr, map[string]any{"name": "Acme secret badge", "rule": map[string]any{"goals": []any{
		map[string]any{"kind": "count", "event_type": "share", "target": 1}}}}) // published
	board := s.board(mgr, map[string]any{"name": "Acme secret board", "window": "all_time"})
	earnRule := s.earnRule(mgr, map[string]any{"name": "Acme secret earn rule", "rule": map[string]any{"kind": "fixed", "event_type": "visit", "points": 1}})
	var contest struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/contests", token: mgr, body: sampleBodies["create-contest"]}).json(t, &contest)
	_, spareKey := s.newKey(tenant, auth.ScopeEventsWrite)
	alice := s.token("alice", tenant)
	s.must(200, req{method: "PUT", path: "/v1/me/profile", token: alice, body: map[string]any{"name": "Acme secret Alice"}})
	s.event(alice, "matrix-1", map[string]any{"type": "share"})
	var hook struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/webhooks", token: mgr, body: map[string]any{
		"url": "https://hooks.example.com/acme", "description": "Acme secret hook", "event_types": []string{"share"}}}).json(t, &hook)
	review := s.approvedReview(tenant, "bob", "p-matrix", "Acme secret review of the matrix product, approved.")
	quiz := s.quiz(mgr, map[string]any{"name": "Acme secret quiz", "questions": matrixQuiz["questions"]})
	var attempt struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/quizzes/" + quiz + "/attempts", token: alice}).json(t, &attempt)
	var live struct {
		SessionID string `json:"session_id"`
		Code      string `json:"code"`
	}
	s.must(201, req{method: "POST", path: "/v1/quizzes/" + quiz + "/live", token: mgr}).json(t, &live)
	sampleBodies["join-live-quiz"] = map[string]any{"code": live.Code}
	var reward, redemption struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/rewards", token: mgr, body: map[string]any{"name": "Acme secret reward", "kind": "generated", "cost": 1}}).json(t, &reward)
	s.must(200, req{method: "POST", path: "/v1/rewards/" + reward.ID + "/redeem", token: alice, header: map[string]string{"Idempotency-Key": "matrix"}}).json(t, &redemption)
	var backtest struct{ ID string }
	s.must(202, req{method: "POST", path: "/v1/leaderboards/backtest", token: mgr, body: sampleBodies["backtest-leaderboard"]}).json(t, &backtest)
	secrets := []string{ch, badge, board, spareKey, backtest.ID, hook.ID, earnRule, contest.ID, review, quiz, attempt.ID, live.SessionID, live.Code,
		reward.ID, redemption.ID, "Acme secret"}
	objects := map[string]string{"challenges": ch, "badges": badge, "leaderboards": board, "api-keys": spareKey,
		"webhooks": hook.ID, "earn-rules": earnRule, "contests": contest.ID, "submissions": review,
		"quizzes": quiz, "attempts": attempt.ID, "live": live.SessionID, "rewards": reward.ID, "redemptions": redemption.ID,
		"backtests": backtest.ID}

	// The same paths with a missing id in place of every object, for
	// what another tenant's caller must get instead.
	missing := map[string]string{}
	for coll := range objects {
		missing[coll] = missingID
	}

	own, others := s.callers(tenant), s.callers(other)
	anon := caller{name: "anonymous"}
	ops := s.operations()
	checkDeclarations(t, ops)
	for _, op := range ops {
		path, tenantObject := fillPath(t, op.Path, objects)
		missingPath, _ := fillPath(t, op.Path, missing)
		body := sampleBodies[op.ID]
		if op.Body != nil && body == nil {
			body = map[string]any{}
		}
		t.Run(op.Method+" "+op.Path, func(t *testing.T) {
			r := s.doRetrying(anon.req(op.Method, path, body))
			if want := http.StatusUnauthorized; !op.Access.Public && r.Status != want {
				t.Errorf("anonymous: %d, want %d: %s", r.Status, want, r.Body)
			} else if op.Access.Public && refused(r.Status) {
				t.Errorf("anonymous refused on a public route: %d %s", r.Status, r.Body)
			}
			for _, c := range append(slices.Clone(own), others...) {
				r := s.doRetrying(c.req(op.Method, path, body))
				admitted := op.Access.Admits(c.p)
				switch {
				case admitted && refused(r.Status):
					t.Errorf("%s admitted by %+v but refused: %d %s", c.name, op.Access, r.Status, r.Body)
				case !admitted && r.Status != http.StatusForbidden:
					t.Errorf("%s not admitted by %+v but got %d, want 403: %s", c.name, op.Access, r.Status, r.Body)
				case !admitted && r.problemType(t) != "forbidden":
					t.Errorf("%s: refusal type %s", c.name, r.Body)
				}
				if c.tenant != other || !admitted {
					continue
				}
				if tenantObject && r.Status != http.StatusNotFound && !(op.Body != nil && sampleBodies[op.ID] == nil && r.Status == 422) {
					t.Errorf("%s reached another tenant's object: %d %s", c.name, r.Status, r.Body)
				}
				if tenantObject {
					// Exactly as a missing id: same status, type and
					// message, so an id's existence in another tenant
					// cannot be probed.
					want := s.doRetrying(c.req(op.Method, missingPath, body))
					got := string(r.Body)
					for _, id := range objects {
						got = strings.ReplaceAll(got, id, missingID)
					}
					if r.Status != want.Status || got != string(want.Body) {
						t.Errorf("%s on another tenant's object: %d %s; on a missing id: %d %s", c.name, r.Status, r.Body, want.Status, want.Body)
					}
				}
				if r.Status < 300 {
					for _, sec := range secrets {
						if strings.Contains(string(r.Body), sec) {
							t.Errorf("%s read another tenant's %q: %s", c.name, sec, r.Body)
						}
					}
				}
			}
		})
	}
}

// missingID is an object id no tenant has.
const missingID = "01900000-0000-7000-8000-00000000dead"

// refused reports whether status says the caller was not let in.
func refused(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden
}

// fillPath puts real ids in a route's path parameters: the tenant's object
// of the route's collection for {id}, a user for user ids. tenantObject
// says whether the path names an object of the tenant (not a user).
func fillPath(t *testing.T, pattern string, objects map[string]string) (path string, tenantObject bool) {
	t.Helper()
	segs := strings.Split(pattern, "/")
	for i, seg := range segs {
		if !strings.HasPrefix(seg, "{") {
			continue
		}
		if seg == "{uid}" || (i > 0 && segs[i-1] == "users") {
			segs[i] = "alice"
			continue
		}
		if i > 0 && segs[i-1] == "products" {
			// A product id is the brand's name for a product, not an
			// object of the tenant: another tenant's feed of it is its
			// own (empty) feed, checked for leaks with the secrets.
			segs[i] = "p-matrix"
			continue
		}
		id, ok := objects[segs[i-1]]
		if !ok {
			// Admission is still checked (a missing id is a 404, not a
			// 401/403), but add a real object to the matrix when one can
			// be made.
			t.Logf("%s: no object for %s; using a missing id", pattern, seg)
			id = missingID
		}
		segs[i], tenantObject = id, true
	}
	return strings.Join(segs, "/"), tenantObject
}

// checkDeclarations holds the declarations to the policy: events:write keys
// only send events, manage keys do everything a manager does (admins alone
// manage API keys), and players get nothing a manager route offers.
func checkDeclarations(t *testing.T, ops []openAPIOp) {
	t.Helper()
	manager := auth.Principal{Roles: []auth.Role{auth.Manager}}
	player := auth.Principal{Roles: []auth.Role{auth.Player}}
	events := auth.Principal{APIKey: true, Scopes: []string{auth.ScopeEventsWrite}}
	manage := auth.Principal{APIKey: true, Scopes: []string{auth.ScopeManage}}
	for _, op := range ops {
		name := fmt.Sprintf("%s %s", op.Method, op.Path)
		if op.Access.Admits(events) && !op.Access.Public && !strings.HasPrefix(op.Path, "/v1/events") {
			t.Errorf("%s admits events:write keys", name)
		}
		if op.Access.Admits(manager) != op.Access.Admits(manage) && !op.Access.People {
			t.Errorf("%s: manager and manage key differ", name)
		}
		if strings.Contains(op.Path, "/api-keys") && (op.Access.Admits(manager) || op.Access.Admits(manage)) {
			t.Errorf("%s: only admins manage API keys", name)
		}
		if strings.HasSuffix(op.Summary, "(manager)") && op.Access.Admits(player) {
			t.Errorf("%s is a manager route open to players", name)
		}
	}
}

// huma's own document routes: the API's description, served to anyone,
// not operations of the API.
var docRoutes = []string{"GET /openapi.json", "GET /openapi-3.0.json", "GET /openapi.yaml", "GET /openapi-3.0.yaml",
	"GET /docs", "GET /schemas/:schema"}

// TestRouteTableDocumented: every route the node's Fiber app serves, huma
// operations and raw Fiber routes (the WebSocket, /metrics) alike, is an
// operation of its OpenAPI document, and the document names no route the
// app does not serve. The access matrix walks the document, so a route
// added to the app without a declaration fails here, and one declared in
// the document is checked there.
func TestRouteTableDocumented(t *testing.T) {
	f := embeddedApp(t).handler()

	served := map[string]bool{}
	for _, r := range f.GetRoutes(true) {
		served[r.Method+" "+r.Path] = true
	}
	resp, err := f.Test(httptest.NewRequest(http.MethodGet, "/openapi.json", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			documented[strings.ToUpper(method)+" "+param.ReplaceAllString(path, ":$1")] = true
		}
	}
	for _, r := range docRoutes {
		documented[r] = true
	}
	for r := range served {
		method, path, _ := strings.Cut(r, " ")
		if method == http.MethodHead && served["GET "+path] {
			continue // Fiber serves HEAD beside every GET it routes itself
		}
		if !documented[r] {
			t.Errorf("%s is served but not in the OpenAPI document, so no access matrix checks it: register it with auth.Register, or document a raw route in documentRaw with auth.Declare", r)
		}
	}
	for r := range documented {
		if !served[r] {
			t.Errorf("%s is in the OpenAPI document but not served", r)
		}
	}
	if len(served) < 170 {
		t.Fatalf("only %d routes served", len(served))
	}
}
