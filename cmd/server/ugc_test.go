package main

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/auth"
)

type ugcSubmission struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Verified bool   `json:"verified"`
	Reason   string `json:"reason"`
	Helpful  int64  `json:"helpful"`
}

type ugcFeed struct {
	Summary struct {
		Count        int64    `json:"count"`
		Average      float64  `json:"average"`
		Distribution [5]int64 `json:"distribution"`
	} `json:"summary"`
	Reviews []struct {
		ID     string `json:"id"`
		Rating int    `json:"rating"`
		Body   string `json:"body"`
	} `json:"reviews"`
	NextCursor string `json:"next_cursor"`
}

func (s *testServer) submit(token string, body map[string]any) ugcSubmission {
	s.t.Helper()
	var sub ugcSubmission
	s.must(201, req{method: "POST", path: "/v1/submissions", token: token, body: body}).json(s.t, &sub)
	return sub
}

func (s *testServer) feed(token, product, query string) ugcFeed {
	s.t.Helper()
	var f ugcFeed
	s.must(200, req{method: "GET", path: "/v1/products/" + product + "/reviews" + query, token: token}).json(s.t, &f)
	return f
}

// approvedReview posts a review by user and approves it; it returns its id.
func (s *testServer) approvedReview(tenant, user, product, body string) string {
	s.t.Helper()
	sub := s.submit(s.token(user, tenant), map[string]any{"kind": "review", "product_id": product, "rating": 4, "body": body})
	s.must(200, req{method: "POST", path: "/v1/submissions/" + sub.ID + "/approve", token: s.token("mod", tenant, auth.Moderator),
		body: map[string]any{"reason": "ok"}})
	return sub.ID
}

// TestUGC: a verified review with photos passes the checks, is claimed
// and approved by a moderator (a second moderator is refused during the
// lease; two approving at once pay once), pays its points once, emits
// ugc.approved (a badge counts it), pushes the decision live, shows in
// the feed with an exact summary; votes count once per user; reports send
// it back to the queue; the author's erasure takes it out of the summary
// and leaves an audit record without the content.
func TestUGC(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			const tenant = "acme"
			mgr := s.token("boss", tenant, auth.Manager)
			mod1, mod2 := s.token("mod1", tenant, auth.Moderator), s.token("mod2", tenant, auth.Moderator)
			alice, bob := s.token("alice", tenant), s.token("bob", tenant)
			badge := s.badge(mgr, map[string]any{"name": "Reviewer", "rule": map[string]any{"goals": []any{
				map[string]any{"kind": "count", "event_type": "ugc.approved", "target": 1}}}})
			s.trusted(s.apiKey(tenant), "alice", "buy-1", map[string]any{"type": "purchase", "props": map[string]any{"product_id": "sku-1", "amount": 30}})
			ws := s.dial(alice, "")

			body := "This serum absorbed quickly and my skin felt calm all week long. I used it every morning under sunscreen " +
				"and the redness on my cheeks faded by the third day."
			review := map[string]any{"kind": "review", "product_id": "sku-1", "rating": 5, "title": "Calm skin", "body": body,
				"media": []string{"https://img.example/serum.jpg"}}
			sub := s.submit(alice, review)
			if sub.Status != "pending" || !sub.Verified {
				t.Fatalf("submitted %+v, want pending and verified", sub)
			}
			for _, tc := range []struct {
				name  string
				token string
				body  map[string]any
				want  string
			}{
				{"too short", bob, map[string]any{"kind": "review", "product_id": "sku-1", "rating": 3, "body": "meh"}, "too-short"},
				{"duplicate", bob, map[string]any{"kind": "review", "product_id": "sku-2", "rating": 3, "body": strings.ToUpper(body)}, "duplicate"},
				{"near duplicate", bob, map[string]any{"kind": "review", "product_id": "sku-2", "rating": 3, "title": "Copied",
					"body": body + " Recommended."}, "near-duplicate"},
				{"link", bob, map[string]any{"kind": "review", "product_id": "sku-2", "rating": 3, "body": "buy it cheaper at https://spam.example/now"}, "link-not-allowed"},
				{"http media", bob, map[string]any{"kind": "photo", "media": []string{"http://img.example/a.jpg"}}, "bad-media-url"},
				{"no rating", bob, map[string]any{"kind": "review", "product_id": "sku-2", "body": "a long enough body for a review"}, "bad-rating"},
			} {
				r := s.do(req{method: "POST", path: "/v1/submissions", token: tc.token, body: tc.body})
				if r.Status != 422 || r.problemType(t) != tc.want {
					t.Errorf("%s: %d %s, want 422 %s", tc.name, r.Status, r.Body, tc.want)
				}
			}

			var claimed struct {
				Items []struct {
					ID        string `json:"id"`
					ClaimedBy string `json:"claimed_by"`
				}
			}
			s.must(200, req{method: "POST", path: "/v1/moderation/claims", token: mod1, body: map[string]any{"kind": "review", "limit": 5}}).json(t, &claimed)
			if len(claimed.Items) != 1 || claimed.Items[0].ID != sub.ID || claimed.Items[0].ClaimedBy != "mod1" {
				t.Fatalf("claimed %+v", claimed)
			}
			var queue struct{ Items []struct{ ID string } }
			s.must(200, req{method: "GET", path: "/v1/moderation/queue", token: mod2}).json(t, &queue)
			if len(queue.Items) != 0 {
				t.Fatalf("mod2 was handed mod1's claim: %+v", queue)
			}
			if r := s.do(req{method: "POST", path: "/v1/submissions/" + sub.ID + "/approve", token: mod2, body: map[string]any{"reason": "ok"}}); r.Status != 409 {
				t.Fatalf("approve during another's lease: %d %s", r.Status, r.Body)
			}
			s.must(200, req{method: "POST", path: "/v1/submissions/" + sub.ID + "/approve", token: mod1, body: map[string]any{"reason": "ok", "note": "private note"}})
			if f := readFrames(t, ws, 1, "ugc.approved")[0]; !strings.Contains(string(f.Data), sub.ID) {
				t.Errorf("push %s", f.Data)
			}
			// photo review 40 + verified 10 + first review of sku-1 10.
			if w := s.wallet(alice); w.Balance != 60 {
				t.Fatalf("wallet after approval = %+v, want 60", w)
			}
			if b := s.myBadges(alice)[badge]; len(b.Awards) != 1 {
				t.Errorf("ugc.approved badge not awarded: %+v", b)
			}

			// Two moderators approving a second item at once pay once.
			second := s.submit(bob, map[string]any{"kind": "tutorial", "title": "Layering", "body": "How I layer serum under sunscreen.",
				"steps": []string{"Cleanse", "Serum", "Sunscreen"}})
			var wg sync.WaitGroup
			for _, tok := range []string{mod1, mod2} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if r := s.do(req{method: "POST", path: "/v1/submissions/" + second.ID + "/approve", token: tok, body: map[string]any{"reason": "ok"}}); r.Status != 200 {
						t.Errorf("concurrent approve: %d %s", r.Status, r.Body)
					}
				}()
			}
			wg.Wait()
			if w := s.wallet(bob); w.Balance != 50 {
				t.Fatalf("bob's wallet after two approvals = %+v, want 50 once", w)
			}

			f := s.feed(bob, "sku-1", "?sort=helpful")
			if f.Summary.Count != 1 || f.Summary.Average != 5 || f.Summary.Distribution != [5]int64{0, 0, 0, 0, 1} || len(f.Reviews) != 1 {
				t.Fatalf("feed %+v", f)
			}
			raw := s.must(200, req{method: "GET", path: "/v1/products/sku-1/reviews", token: bob})
			for _, private := range []string{"private note", "mod1", "lease", "reports"} {
				if strings.Contains(string(raw.Body), private) {
					t.Errorf("feed shows %q: %s", private, raw.Body)
				}
			}
			// 50 concurrent helpful votes by one user count once.
			for range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s.must(200, req{method: "POST", path: "/v1/submissions/" + sub.ID + "/votes", token: bob, body: map[string]any{"helpful": true}})
				}()
			}
			wg.Wait()
			var mine struct{ Submissions []ugcSubmission }
			s.must(200, req{method: "GET", path: "/v1/me/submissions", token: alice}).json(t, &mine)
			if len(mine.Submissions) != 1 || mine.Submissions[0].Helpful != 1 || mine.Submissions[0].Status != "approved" {
				t.Fatalf("my submissions %+v", mine)
			}

			// An edit goes back to moderation while the approved version stays.
			s.must(200, req{method: "PATCH", path: "/v1/submissions/" + sub.ID, token: alice, body: map[string]any{"rating": 2}})
			if f := s.feed(bob, "sku-1", ""); f.Summary.Distribution != [5]int64{0, 0, 0, 0, 1} || f.Reviews[0].Rating != 5 {
				t.Fatalf("feed during a pending edit %+v", f)
			}
			s.must(200, req{method: "POST", path: "/v1/submissions/" + sub.ID + "/approve", token: mod1, body: map[string]any{"reason": "ok"}})
			if f := s.feed(bob, "sku-1", ""); f.Summary.Distribution != [5]int64{0, 1, 0, 0, 0} || f.Reviews[0].Rating != 2 {
				t.Fatalf("feed after the edit's approval %+v", f)
			}
			if w := s.wallet(alice); w.Balance != 60 {
				t.Fatalf("re-approval paid again: %+v", w)
			}

			// Three reports (the default threshold) send it back to the queue.
			for _, u := range []string{"r1", "r1", "r2", "r3"} { // a repeat counts once
				s.must(200, req{method: "POST", path: "/v1/submissions/" + sub.ID + "/reports", token: s.token(u, tenant), body: map[string]any{"reason": "spam"}})
			}
			if f := s.feed(bob, "sku-1", ""); f.Summary.Count != 0 || len(f.Reviews) != 0 {
				t.Fatalf("reported review still listed %+v", f)
			}
			s.must(200, req{method: "GET", path: "/v1/moderation/queue?flag=reported", token: mod2}).json(t, &queue)
			if len(queue.Items) != 1 || queue.Items[0].ID != sub.ID {
				t.Fatalf("reported queue %+v", queue)
			}
			s.must(200, req{method: "POST", path: "/v1/submissions/" + sub.ID + "/approve", token: mod2, body: map[string]any{"reason": "ok"}})

			// The author's erasure: out of the feed and summary, audited without the content.
			s.must(204, req{method: "DELETE", path: "/v1/me/submissions/" + sub.ID, token: alice})
			if f := s.feed(bob, "sku-1", ""); f.Summary.Count != 0 || len(f.Reviews) != 0 {
				t.Fatalf("erased review still listed %+v", f)
			}
			s.must(404, req{method: "POST", path: "/v1/submissions/" + sub.ID + "/votes", token: bob, body: map[string]any{"helpful": true}})
			logRaw := s.must(200, req{method: "GET", path: "/v1/audit?limit=100", token: s.token("root", tenant, auth.Admin)})
			var log struct {
				Entries []struct{ Action, Actor, Subject string } `json:"entries"`
			}
			logRaw.json(t, &log)
			actions := map[string]int{}
			for _, e := range log.Entries {
				if strings.HasPrefix(e.Subject, "submission:") {
					actions[e.Action]++
				}
			}
			if actions["ugc.approved"] < 4 || actions["ugc.erased"] != 1 || strings.Contains(string(logRaw.Body), "serum") {
				t.Errorf("audit %v: %s", actions, logRaw.Body)
			}
		})
	}
}

// TestUGCBadInput: every malformed payload, queue filter and cursor is a
// 4xx problem naming what is wrong, never a 500.
func TestUGCBadInput(t *testing.T) {
	s := startServer(t, nil)
	alice, mod := s.token("alice", "acme"), s.token("mod", "acme", auth.Moderator)
	for _, tc := range []struct {
		method, path, token string
		body                any
		status              int
	}{
		{"POST", "/v1/submissions", alice, map[string]any{"kind": "essay"}, 422},
		{"POST", "/v1/submissions", alice, map[string]any{"kind": "review", "product_id": "bad id!", "rating": 3, "body": "x"}, 422},
		{"POST", "/v1/submissions", alice, map[string]any{"kind": "review", "product_id": "p", "rating": 9, "body": "x"}, 422},
		{"POST", "/v1/submissions", alice, map[string]any{"kind": "social_post", "link": "javascript:alert(1)"}, 422},
		{"POST", "/v1/submissions", alice, map[string]any{"kind": "photo", "media": []string{"https://" + strings.Repeat("a", 3000)}}, 422},
		{"POST", "/v1/submissions", alice, `{"kind":`, 400},
		{"GET", "/v1/moderation/queue?kind=essay", mod, nil, 422},
		{"GET", "/v1/moderation/queue?older_than=-1", mod, nil, 422},
		{"GET", "/v1/moderation/queue?product_id=a%20b", mod, nil, 422},
		{"GET", "/v1/moderation/queue?limit=1000", mod, nil, 422},
		{"GET", "/v1/products/sku-1/reviews?sort=best", alice, nil, 422},
		{"GET", "/v1/products/sku-1/reviews?cursor=zzz", alice, nil, 400},
		{"GET", "/v1/products/sku-1/reviews?rating=7", alice, nil, 422},
		{"POST", "/v1/submissions/nope/approve", mod, map[string]any{"reason": "Not A Code"}, 422},
		{"POST", "/v1/submissions/nope/approve", mod, map[string]any{"reason": "ok"}, 404},
		{"POST", "/v1/moderation/bulk", mod, map[string]any{"action": "approve", "ids": []string{}, "reason": "ok"}, 422},
		{"PUT", "/v1/ugc/settings", s.token("boss", "acme", auth.Manager), map[string]any{"lease_seconds": 1}, 422},
	} {
		r := s.do(req{method: tc.method, path: tc.path, token: tc.token, body: tc.body})
		if r.Status != tc.status {
			t.Errorf("%s %s %v: %d %s, want %d", tc.method, tc.path, tc.body, r.Status, r.Body, tc.status)
			continue
		}
		var p struct {
			Detail string `json:"detail"`
			Errors []struct {
				Location string `json:"location"`
			} `json:"errors"`
		}
		r.json(t, &p)
		if tc.status == 422 && len(p.Errors) == 0 && !strings.Contains(p.Detail, "body") && !strings.Contains(p.Detail, "must") {
			t.Errorf("%s %s: no field named: %s", tc.method, tc.path, r.Body)
		}
	}
}

// TestUGCUserErasure: a user's export holds their submissions; the
// erase-user action removes them and their votes, and the summaries and
// counters they were part of follow.
func TestUGCUserErasure(t *testing.T) {
	s := startServer(t, nil)
	const tenant = "acme"
	admin := s.token("root", tenant, auth.Admin)
	gone := s.approvedReview(tenant, "gone", "sku-1", "The cap broke in a week but the cream itself is lovely and rich.")
	stays := s.approvedReview(tenant, "stays", "sku-1", "Rich cream, a little goes a long way, and it smells of nothing.")
	s.must(200, req{method: "POST", path: "/v1/submissions/" + stays + "/votes", token: s.token("gone", tenant), body: map[string]any{"helpful": true}})
	export := s.must(200, req{method: "GET", path: "/v1/users/gone/export", token: admin})
	if !strings.Contains(string(export.Body), gone) || !strings.Contains(string(export.Body), `"ugc"`) {
		t.Fatalf("export has no ugc section with the review: %s", export.Body)
	}
	s.must(200, req{method: "POST", path: "/v1/users/gone/erase", token: admin})
	f := s.feed(s.token("reader", tenant), "sku-1", "?sort=helpful")
	if f.Summary.Count != 1 || len(f.Reviews) != 1 || f.Reviews[0].ID != stays {
		t.Fatalf("feed after erasure %+v", f)
	}
	var mine struct{ Submissions []ugcSubmission }
	s.must(200, req{method: "GET", path: "/v1/me/submissions", token: s.token("stays", tenant)}).json(t, &mine)
	if mine.Submissions[0].Helpful != 0 {
		t.Errorf("the erased user's vote still counts: %+v", mine)
	}
	// A recount agrees with the summary kept on the write path.
	var rebuilt struct{ Count int64 }
	s.must(200, req{method: "POST", path: "/v1/products/sku-1/reviews/summary/rebuild", token: s.token("boss", tenant, auth.Manager)}).json(t, &rebuilt)
	if rebuilt.Count != f.Summary.Count {
		t.Errorf("rebuilt count %d, kept %d", rebuilt.Count, f.Summary.Count)
	}
	// So does a recount of the counters; a player may not run one.
	var counters struct{ Helpful, Reports int64 }
	s.must(200, req{method: "POST", path: "/v1/submissions/" + stays + "/counters/rebuild", token: s.token("boss", tenant, auth.Manager)}).json(t, &counters)
	if counters.Helpful != 0 || counters.Reports != 0 {
		t.Errorf("recounted counters %+v, want none after the erasure", counters)
	}
	s.must(403, req{method: "POST", path: "/v1/submissions/" + stays + "/counters/rebuild", token: s.token("stays", tenant)})
	s.must(404, req{method: "POST", path: "/v1/submissions/nope/counters/rebuild", token: s.token("boss", tenant, auth.Manager)})
}

// eventually polls the board until user's score is want.
func (s *testServer) eventuallyScore(token, board, user string, want int64) {
	s.t.Helper()
	var got int64
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = 0
		for _, e := range s.top(token, board).Entries {
			if e.UserID == user {
				got = e.Score
			}
		}
		if got == want {
			return
		}
	}
	s.t.Fatalf("board score of %s = %d, want %d", user, got, want)
}

// TestUGCReversal: points follow the content. A moderator's take-down,
// reported content rejected, and the author's erasure each reverse what
// approval paid, once; the author is told why and the points board drops
// the points.
func TestUGCReversal(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			const tenant = "acme"
			mgr, mod := s.token("boss", tenant, auth.Manager), s.token("mod", tenant, auth.Moderator)
			board := s.board(mgr, map[string]any{"name": "Points", "window": "all_time"})
			s.built(mgr, board)
			alice := s.token("alice", tenant)
			ws := s.dial(alice, "")
			decide := func(id, action, reason string) {
				s.must(200, req{method: "POST", path: "/v1/submissions/" + id + "/" + action, token: mod, body: map[string]any{"reason": reason}})
			}
			// A review (20 + first review 10) and a tutorial (50).
			review := s.approvedReview(tenant, "alice", "sku-1", "Soft, light and unscented: exactly what my dry skin needed.")
			tut := s.submit(alice, map[string]any{"kind": "tutorial", "title": "Night routine", "body": "The order I apply things in at night.",
				"steps": []string{"Cleanse", "Serum", "Cream"}})
			decide(tut.ID, "approve", "ok")
			if w := s.wallet(alice); w.Balance != 80 {
				t.Fatalf("wallet %+v, want 80", w)
			}
			s.eventuallyScore(mgr, board, "alice", 80)

			for range 2 { // a repeated take-down reverses once
				decide(review, "remove", "off-topic")
			}
			if f := readFrames(t, ws, 1, "ugc.reversed")[0]; !strings.Contains(string(f.Data), "off-topic") || !strings.Contains(string(f.Data), review) {
				t.Errorf("reversal push %s", f.Data)
			}
			if w := s.wallet(alice); w.Balance != 50 {
				t.Fatalf("wallet after the take-down %+v, want 50", w)
			}
			s.eventuallyScore(mgr, board, "alice", 50)
			if f := s.feed(alice, "sku-1", ""); f.Summary.Count != 0 {
				t.Fatalf("removed review still counted %+v", f.Summary)
			}

			// The author's erasure of approved content reverses its points.
			s.must(204, req{method: "DELETE", path: "/v1/me/submissions/" + tut.ID, token: alice})
			if w := s.wallet(alice); w.Balance != 0 {
				t.Fatalf("wallet after erasing the tutorial %+v, want 0", w)
			}
			s.eventuallyScore(mgr, board, "alice", 0)

			// Reported content a moderator then rejects is reversed too.
			bob := s.token("bob", tenant)
			r2 := s.approvedReview(tenant, "bob", "sku-2", "Fine for the price, though the tube is hard to squeeze out.")
			for _, u := range []string{"r1", "r2", "r3"} {
				s.must(200, req{method: "POST", path: "/v1/submissions/" + r2 + "/reports", token: s.token(u, tenant), body: map[string]any{"reason": "spam"}})
			}
			decide(r2, "reject", "spam")
			if w := s.wallet(bob); w.Balance != 0 {
				t.Fatalf("bob's wallet after the rejection of his reported review %+v, want 0", w)
			}
		})
	}
}
