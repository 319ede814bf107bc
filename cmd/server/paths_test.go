package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/questline/questline/auth"
)

// TestEncodedUserPaths: a user id in a path is percent-decoded before use,
// so user@example.com is the same user whether or not a client encodes
// the @, and ids intake refuses are refused in paths too (422 naming the
// parameter).
func TestEncodedUserPaths(t *testing.T) {
	s := startServer(t, nil)
	_, board := s.setupSlice("acme")
	mgr := s.token("boss", "acme", auth.Manager)
	const user = "user@example.com"
	enc := url.PathEscape(user)
	enc = strings.ReplaceAll(enc, "@", "%40") // PathEscape keeps @; clients often encode it
	player := s.token(user, "acme")
	for i := range 3 {
		s.must(200, s.shareReq(player, "enc-"+string(rune('a'+i))))
	}

	// The user's rank, read through the encoded id.
	var pg boardPage
	s.must(200, req{method: "GET", path: "/v1/leaderboards/" + board + "/users/" + enc, token: player}).json(t, &pg)
	if len(pg.Entries) != 1 || pg.Entries[0].UserID != user || pg.Entries[0].Score != 50 {
		t.Fatalf("rank of %s = %+v", enc, pg)
	}

	// Attributes set through the encoded id reach the user: a gold-only
	// challenge becomes theirs.
	gold := s.publish(mgr, map[string]any{"name": "Gold only", "event_type": "share", "target": 1,
		"eligibility": map[string]any{"tiers": []string{"gold"}}})
	if p := s.mine(player, gold); p.ID != "" {
		t.Fatalf("not yet gold but sees %+v", p)
	}
	var attrs struct {
		UserID string `json:"user_id"`
	}
	s.must(200, req{method: "PUT", path: "/v1/users/" + enc + "/attributes", token: mgr,
		body: map[string]any{"tier": "gold", "segments": []string{}}}).json(t, &attrs)
	if p := s.mine(player, gold); p.ID != gold {
		t.Fatalf("attributes set through %s did not reach %s: %+v", enc, user, attrs)
	}

	// Reinstating through the encoded id lifts the exclusion.
	s.must(201, req{method: "POST", path: "/v1/leaderboards/" + board + "/exclusions", token: mgr,
		body: map[string]any{"user_id": user, "reason": "test"}})
	s.must(204, req{method: "DELETE", path: "/v1/leaderboards/" + board + "/exclusions/" + enc, token: mgr})
	var ex struct {
		Exclusions []struct {
			UserID string `json:"user_id"`
		} `json:"exclusions"`
	}
	s.must(200, req{method: "GET", path: "/v1/leaderboards/" + board + "/exclusions", token: mgr}).json(t, &ex)
	if len(ex.Exclusions) != 0 {
		t.Fatalf("still excluded after DELETE .../exclusions/%s: %+v", enc, ex)
	}

	// An encoded slash stays inside its segment.
	s.must(200, req{method: "GET", path: "/v1/users/a%2Fb/badges", token: player})

	for _, tc := range []struct {
		name, path string
		status     int
		code, loc  string
	}{
		{"nul", "/v1/users/%00/badges", 422, "bad-user-id", "path.id"},
		{"space", "/v1/users/a%20b/attributes", 422, "bad-user-id", "path.id"},
		{"quote", "/v1/users/%22x%22/profile", 422, "bad-user-id", "path.id"},
		{"operator", "/v1/users/" + url.PathEscape(`{"$ne":null}`) + "/attributes", 422, "bad-user-id", "path.id"},
		{"newline", "/v1/leaderboards/" + board + "/users/a%0Ab", 422, "bad-user-id", "path.uid"},
		{"invalid utf-8", "/v1/leaderboards/" + board + "/exclusions/%FF", 422, "bad-user-id", "path.uid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method, body := "GET", any(nil)
			switch {
			case strings.HasSuffix(tc.path, "/attributes"):
				method, body = "PUT", map[string]any{"tier": "gold", "segments": []string{}}
			case strings.Contains(tc.path, "/exclusions/"):
				method = "DELETE"
			}
			r := s.do(req{method: method, path: tc.path, token: mgr, body: body})
			if r.Status != tc.status || r.problemType(t) != tc.code || !strings.Contains(string(r.Body), `"location":"`+tc.loc+`"`) {
				t.Fatalf("%s %s: %d %s, want %d %s at %s", method, tc.path, r.Status, r.Body, tc.status, tc.code, tc.loc)
			}
		})
	}
	// A malformed escape, which Go's client refuses to send, sent raw.
	if status, body := s.rawGet(t, "/v1/users/%zz/badges", mgr); status != 400 || !strings.Contains(body, "bad-path-escape") {
		t.Fatalf("malformed escape: %d %s", status, body)
	}
	// Bodies naming users follow the same rule.
	r := s.do(req{method: "POST", path: "/v1/leaderboards/" + board + "/exclusions", token: mgr,
		body: map[string]any{"user_id": "a b", "reason": "test"}})
	if r.Status != 422 || r.problemType(t) != "bad-user-id" {
		t.Fatalf("excluding %q: %d %s", "a b", r.Status, r.Body)
	}
}

// TestEveryUserPathChecked walks the OpenAPI document: every path
// parameter that names a user (after /users/ or /exclusions/) refuses an
// id intake refuses, so a route added later cannot skip the rule by
// leaving out its format.
func TestEveryUserPathChecked(t *testing.T) {
	s := startServer(t, nil)
	_, board := s.setupSlice("acme")
	admin := s.token("root", "acme", auth.Admin)
	checked := 0
	for _, op := range s.operations() {
		segs := strings.Split(op.Path, "/")
		var user string
		for i, seg := range segs {
			name, ok := strings.CutPrefix(seg, "{")
			if !ok {
				continue
			}
			name = strings.TrimSuffix(name, "}")
			if prev := segs[i-1]; prev == "users" || prev == "exclusions" {
				segs[i], user = url.PathEscape(`"x"`), name
			} else {
				segs[i] = board // the only other parameter of these routes: a board
			}
		}
		if user == "" {
			continue
		}
		path := strings.Join(segs, "/")
		r := s.do(req{method: op.Method, path: path, token: admin, body: sampleBodies[op.ID]})
		if r.Status != 422 || r.problemType(t) != "bad-user-id" || !strings.Contains(string(r.Body), `"location":"path.`+user+`"`) {
			t.Errorf("%s %s: %d %s, want 422 bad-user-id at path.%s", op.Method, path, r.Status, r.Body, user)
		}
		checked++
	}
	if checked < 15 {
		t.Fatalf("only %d routes naming a user checked", checked)
	}
}

// TestInvalidUTF8Bodies: a JSON body with invalid UTF-8, or an unpaired
// surrogate escape, is refused with 400 before it reaches any handler, so
// no name is ever stored with replacement characters.
func TestInvalidUTF8Bodies(t *testing.T) {
	s := startServer(t, nil)
	mgr := s.token("boss", "acme", auth.Manager)
	admin := s.token("root", "acme", auth.Admin)
	alice := s.token("alice", "acme")
	for _, tc := range []struct {
		name, method, path, token, body string
	}{
		{"challenge name", "POST", "/v1/challenges", mgr, "{\"name\":\"Caf\xe9\",\"event_type\":\"share\",\"target\":1}"},
		{"challenge name, surrogate", "POST", "/v1/challenges", mgr, `{"name":"x\ud800","event_type":"share","target":1}`},
		{"badge name", "POST", "/v1/badges", mgr, "{\"name\":\"\xff\",\"rule\":{\"goals\":[{\"kind\":\"count\",\"event_type\":\"share\",\"target\":1}]}}"},
		{"board name", "POST", "/v1/leaderboards", mgr, "{\"name\":\"\xc3(\",\"window\":\"all_time\"}"},
		{"api key name", "POST", "/v1/api-keys", admin, "{\"name\":\"pos\xfe\",\"scopes\":[\"events:write\"]}"},
		{"profile", "PUT", "/v1/me/profile", alice, `{"name":"\udc00"}`},
		{"attributes", "PUT", "/v1/users/alice/attributes", mgr, "{\"tier\":\"g\xffld\",\"segments\":[]}"},
		{"event prop", "POST", "/v1/events", alice, "{\"type\":\"share\",\"props\":{\"k\":\"\xff\"}}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(req{method: tc.method, path: tc.path, token: tc.token, body: tc.body})
			if r.Status != 400 || r.problemType(t) != "invalid-utf8" {
				t.Fatalf("%s %s: %d %s, want 400 invalid-utf8", tc.method, tc.path, r.Status, r.Body)
			}
		})
	}
	for _, path := range []string{"/v1/challenges", "/v1/badges", "/v1/leaderboards"} {
		if body := string(s.must(200, req{method: "GET", path: path, token: mgr}).Body); strings.Contains(body, `"name"`) {
			t.Errorf("%s stored something: %s", path, body)
		}
	}
	if r := s.do(req{method: "GET", path: "/v1/users/alice/profile", token: alice}); r.Status != 404 {
		t.Errorf("profile stored: %d %s", r.Status, r.Body)
	}
	// Valid text, escapes and pairs included, still passes.
	s.must(201, req{method: "POST", path: "/v1/challenges", token: mgr, body: `{"name":"Caf\u00e9 \ud83d\ude00 Zoë","event_type":"share","target":1}`})
}

// TestHiddenAnswersAsMissing: whatever a player may not see (a draft
// challenge, a draft or secret badge, a draft quiz or an archived one they
// never took, another player's attempt or submissions, a reward out of the
// catalogue) answers every player route exactly as a missing id does: same
// status, same problem type, same message.
func TestHiddenAnswersAsMissing(t *testing.T) {
	s := startServer(t, nil)
	mgr := s.token("boss", "acme", auth.Manager)
	player := s.token("alice", "acme")
	var draft struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/challenges", token: mgr, body: map[string]any{
		"name": "Secret launch", "event_type": "share", "target": 1}}).json(t, &draft)
	var manual struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/challenges", token: mgr, body: map[string]any{
		"name": "Secret manual", "event_type": "share", "target": 1, "claim": "manual", "enrolment": "opt_in"}}).json(t, &manual)
	rule := map[string]any{"goals": []any{map[string]any{"kind": "count", "event_type": "share", "target": 1}}}
	var draftBadge struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/badges", token: mgr, body: map[string]any{"name": "Draft badge", "rule": rule}}).json(t, &draftBadge)
	secretBadge := s.badge(mgr, map[string]any{"name": "Secret badge", "hidden": true, "rule": rule}) // published
	// Quizzes a player cannot take: a draft, an archived one.
	var draftQuiz struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/quizzes", token: mgr, body: matrixQuiz}).json(t, &draftQuiz)
	archivedQuiz := s.quiz(mgr, matrixQuiz)
	s.must(200, req{method: "POST", path: "/v1/quizzes/" + archivedQuiz + "/archive", token: mgr})
	// Another player's attempt and submissions: pending, and rejected.
	bob := s.token("bob", "acme")
	var bobsAttempt struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/quizzes/" + s.quiz(mgr, matrixQuiz) + "/attempts", token: bob}).json(t, &bobsAttempt)
	pending := s.submit(bob, map[string]any{"kind": "review", "product_id": "p-hidden", "rating": 4, "body": "Bob's pending review, long enough to pass."})
	rejected := s.submit(bob, map[string]any{"kind": "review", "product_id": "p-hidden", "rating": 2, "body": "Bob's rejected review, long enough to pass."})
	s.must(200, req{method: "POST", path: "/v1/submissions/" + rejected.ID + "/reject", token: s.token("mod", "acme", auth.Moderator),
		body: map[string]any{"reason": "spam"}})
	// A reward taken out of the catalogue.
	var inactive struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/rewards", token: mgr, body: map[string]any{"name": "Retired", "kind": "generated", "cost": 1, "active": false}}).json(t, &inactive)
	const missing = "01900000-0000-7000-8000-000000000000"
	hidden := map[string][]string{"challenges": {draft.ID, manual.ID}, "badges": {draftBadge.ID, secretBadge},
		"quizzes": {draftQuiz.ID, archivedQuiz}, "attempts": {bobsAttempt.ID},
		"submissions": {pending.ID, rejected.ID}, "me/submissions": {pending.ID, rejected.ID},
		"rewards": {inactive.ID}}

	player1 := auth.Principal{Roles: []auth.Role{auth.Player}}
	checked := 0
	for _, op := range s.operations() {
		coll, _, ok := strings.Cut(strings.TrimPrefix(op.Path, "/v1/"), "/{id}")
		if !ok || !op.Access.Admits(player1) || hidden[coll] == nil {
			continue
		}
		body := sampleBodies[op.ID]
		for _, id := range hidden[coll] {
			want := s.do(req{method: op.Method, path: strings.Replace(op.Path, "{id}", missing, 1), token: player, body: body})
			got := s.do(req{method: op.Method, path: strings.Replace(op.Path, "{id}", id, 1), token: player, body: body})
			if got.Status != want.Status || strings.ReplaceAll(string(got.Body), id, missing) != string(want.Body) {
				t.Errorf("%s %s on hidden %s: %d %s; a missing id: %d %s", op.Method, op.Path, id, got.Status, got.Body, want.Status, want.Body)
			}
			checked++
		}
	}
	t.Logf("%d player routes on hidden objects checked", checked)
	if checked < 23 {
		t.Fatalf("only %d player routes on hidden objects checked", checked)
	}

	// A refused redemption of a hidden reward, repeated with its key, is
	// still refused as a missing id, not as "refused: reward-not-found".
	for range 2 {
		got := s.do(req{method: "POST", path: "/v1/rewards/" + inactive.ID + "/redeem", token: player, header: map[string]string{"Idempotency-Key": "hidden"}})
		want := s.do(req{method: "POST", path: "/v1/rewards/" + missing + "/redeem", token: player, header: map[string]string{"Idempotency-Key": "hidden"}})
		if got.Status != 404 || strings.ReplaceAll(string(got.Body), inactive.ID, missing) != string(want.Body) {
			t.Fatalf("repeated redemption of a hidden reward: %d %s; a missing id: %s", got.Status, got.Body, want.Body)
		}
	}
	// Nor does the refusal show in the player's redemptions, which would
	// give the hidden reward's cost away.
	if body := s.must(200, req{method: "GET", path: "/v1/me/redemptions", token: player}).Body; strings.Contains(string(body), inactive.ID) {
		t.Fatalf("my redemptions list the hidden reward: %s", body)
	}
	// What a player has seen is not hidden: a redemption refused while the
	// reward was in the catalogue keeps its first answer after it leaves,
	// and an archived quiz the player took answers closed.
	var retired struct{ ID string }
	s.must(201, req{method: "POST", path: "/v1/rewards", token: mgr, body: map[string]any{"name": "Dear", "kind": "generated", "cost": 1_000_000}}).json(t, &retired)
	redeem := req{method: "POST", path: "/v1/rewards/" + retired.ID + "/redeem", token: player, header: map[string]string{"Idempotency-Key": "dear"}}
	if typ := s.must(409, redeem).problemType(t); typ != "insufficient-points" {
		t.Fatalf("redemption past the balance: %s", typ)
	}
	s.must(200, req{method: "PATCH", path: "/v1/rewards/" + retired.ID, token: mgr, body: map[string]any{"active": false}})
	if typ := s.must(409, redeem).problemType(t); typ != "insufficient-points" {
		t.Fatalf("repeated redemption after the reward left the catalogue: %s", typ)
	}
	taken := s.quiz(mgr, matrixQuiz)
	s.must(201, req{method: "POST", path: "/v1/quizzes/" + taken + "/attempts", token: player})
	s.must(200, req{method: "POST", path: "/v1/quizzes/" + taken + "/archive", token: mgr})
	if typ := s.must(409, req{method: "POST", path: "/v1/quizzes/" + taken + "/attempts", token: player}).problemType(t); typ != "quiz-closed" {
		t.Fatalf("an archived quiz the player took: %s", typ)
	}
}

// rawGet sends a GET with path exactly as given, bypassing net/url.
func (s *testServer) rawGet(t *testing.T, path, token string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", path, token)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
