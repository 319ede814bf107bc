package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/mongo"
	"github.com/questline/questline/storage/sqlite"
	"github.com/questline/questline/users"
)

// userExport is GET /v1/users/{id}/export as a client decodes it.
type userExport struct {
	UserID   string `json:"user_id"`
	Sections struct {
		Events []json.RawMessage `json:"events"`
		Points struct {
			Wallet     wallet            `json:"wallet"`
			Entries    []json.RawMessage `json:"entries"`
			EarnedDays []json.RawMessage `json:"earned_days"`
		} `json:"points"`
		Challenges struct {
			Progress    []json.RawMessage `json:"progress"`
			Completions []json.RawMessage `json:"completions"`
			Enrolments  []json.RawMessage `json:"enrolments"`
			Unlocks     []json.RawMessage `json:"unlocks"`
		} `json:"challenges"`
		Badges struct {
			Badges []json.RawMessage `json:"badges"`
		} `json:"badges"`
		Leaderboards struct {
			Standings  []json.RawMessage `json:"standings"`
			Scores     []json.RawMessage `json:"scores"`
			Exclusions []json.RawMessage `json:"exclusions"`
		} `json:"leaderboards"`
		Profiles struct {
			Profile    json.RawMessage `json:"profile"`
			Attributes json.RawMessage `json:"attributes"`
		} `json:"profiles"`
		Audit struct {
			Entries []json.RawMessage `json:"entries"`
		} `json:"audit"`
	} `json:"sections"`
}

// counts summarises an export: how many records each section holds.
func (e userExport) counts() string {
	x := e.Sections
	present := func(r json.RawMessage) int {
		if len(r) == 0 || string(r) == "null" {
			return 0
		}
		return 1
	}
	return fmt.Sprintf("events=%d wallet=%d entries=%d days=%d progress=%d completions=%d enrolments=%d unlocks=%d badges=%d "+
		"standings=%d scores=%d exclusions=%d profile=%d attributes=%d audit=%d",
		len(x.Events), x.Points.Wallet.Balance, len(x.Points.Entries), len(x.Points.EarnedDays), len(x.Challenges.Progress), len(x.Challenges.Completions),
		len(x.Challenges.Enrolments), len(x.Challenges.Unlocks), len(x.Badges.Badges), len(x.Leaderboards.Standings),
		len(x.Leaderboards.Scores), len(x.Leaderboards.Exclusions), present(x.Profiles.Profile), present(x.Profiles.Attributes),
		len(x.Audit.Entries))
}

// ledgerTotal sums the tenant's whole ledger from the durable record.
func (s *testServer) ledgerTotal(tenant string) (total int64, lines int) {
	s.t.Helper()
	for _, amount := range s.ledgerLines(tenant) {
		total += amount
		lines++
	}
	return total, lines
}

// ledgerLines is the tenant's whole ledger from the durable record: each
// line's amount by its key.
func (s *testServer) ledgerLines(tenant string) map[string]int64 {
	s.t.Helper()
	var st interface {
		ScanEntries(ctx context.Context, tenant string, fn func(points.Entry) error) error
		Close() error
	}
	var err error
	if uri := s.env["MONGO_URI"]; uri != "" {
		st, err = mongo.Open(context.Background(), uri, s.env["QL_MONGO_DB"])
	} else {
		st, err = sqlite.Open(context.Background(), filepath.Join(s.dataDir, "questline.db"))
	}
	if err != nil {
		s.t.Fatal(err)
	}
	defer st.Close()
	out := map[string]int64{}
	err = st.ScanEntries(context.Background(), tenant, func(e points.Entry) error {
		if _, dup := out[e.Key]; dup {
			s.t.Fatalf("two ledger lines under key %s", e.Key)
		}
		out[e.Key] = e.Amount
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// withoutCountdown is a view's JSON without seconds_left, which counts
// down between two reads.
func withoutCountdown(raw []byte) string {
	return countdown.ReplaceAllString(string(raw), "")
}

var countdown = regexp.MustCompile(`"seconds_left":\d+,?`)

// TestUserViews: staff read what a player sees of themselves, every read
// is in the audit log, players and bad ids are refused.
func TestUserViews(t *testing.T) {
	s := startServer(t, nil)
	_, board := s.setupSlice("acme")
	mgr, admin := s.token("boss", "acme", auth.Manager), s.token("root", "acme", auth.Admin)
	ann := s.token("ann", "acme")
	for i := range 3 {
		s.event(ann, fmt.Sprint(i), map[string]any{"type": "share"})
	}
	for _, path := range []string{"wallet", "ledger", "challenges", "unlocks", "badges/progress", "leaderboards"} {
		mine := s.must(200, req{method: "GET", path: "/v1/me/" + strings.TrimSuffix(path, "/progress"), token: ann}).Body
		for _, tok := range []string{mgr, admin} {
			theirs := s.must(200, req{method: "GET", path: "/v1/users/ann/" + path, token: tok}).Body
			if a, b := withoutCountdown(theirs), withoutCountdown(mine); a != b {
				t.Errorf("%s: staff see %s, the player %s", path, a, b)
			}
		}
		for _, bad := range []req{
			{method: "GET", path: "/v1/users/ann/" + path, token: ann},
			{method: "GET", path: "/v1/users/ann/" + path, token: s.token("mod", "acme", auth.Moderator)},
		} {
			if r := s.do(bad); r.Status != 403 {
				t.Errorf("%s by a non-manager: %d %s", path, r.Status, r.Body)
			}
		}
		for _, id := range []string{"bob%20smith", "%22x%22", auth.Pseudonym("acme", "ann")} {
			if r := s.do(req{method: "GET", path: "/v1/users/" + id + "/" + path, token: mgr}); r.Status != 422 || r.problemType(t) != "bad-user-id" {
				t.Errorf("%s of user %q: %d %s", path, id, r.Status, r.Body)
			}
		}
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	s.must(200, req{method: "GET", path: "/openapi.json"}).json(t, &doc)
	for _, path := range []string{"wallet", "ledger", "challenges", "unlocks", "badges/progress", "leaderboards", "export"} {
		if _, ok := doc.Paths["/v1/users/{id}/"+path]["get"]; !ok {
			t.Errorf("GET /v1/users/{id}/%s is not in the OpenAPI document", path)
		}
	}
	if _, ok := doc.Paths["/v1/users/{id}/erase"]["post"]; !ok {
		t.Error("POST /v1/users/{id}/erase is not in the OpenAPI document")
	}
	var st struct {
		Standings []struct {
			Board struct{ ID string } `json:"board"`
			Rank  int64               `json:"rank"`
			Score int64               `json:"score"`
		} `json:"standings"`
	}
	s.must(200, req{method: "GET", path: "/v1/users/ann/leaderboards", token: mgr}).json(t, &st)
	if len(st.Standings) != 1 || st.Standings[0].Board.ID != board || st.Standings[0].Rank != 1 || st.Standings[0].Score != 50 {
		t.Fatalf("ann's standings = %+v", st)
	}
	var log struct {
		Entries []struct{ Actor, Action, Subject string }
	}
	s.must(200, req{method: "GET", path: "/v1/audit?limit=100", token: mgr}).json(t, &log)
	reads := map[string]int{}
	for _, e := range log.Entries {
		if e.Action == "user.read" && e.Subject == "user:ann" {
			reads[e.Actor]++
		}
	}
	// Six views each, plus the standings read above for boss.
	if reads["boss"] != 7 || reads["root"] != 6 || len(reads) != 2 {
		t.Fatalf("audited reads = %v", reads)
	}
}

// TestUserErasure: a user with points, a completed challenge, a badge, a
// board rank, event-board scores, a profile and attributes is exported
// whole, then erased: every read is empty, the tenant's ledger total is
// unchanged, no board (rebuilt or created afterwards) brings the user
// back, another user keeps everything, and a retry is harmless.
func TestUserErasure(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			s := startServer(t, d.env(t))
			_, board := s.setupSlice("acme")
			mgr, admin := s.token("boss", "acme", auth.Manager), s.token("root", "acme", auth.Admin)
			s.badge(mgr, map[string]any{"name": "First challenge", "rule": map[string]any{"goals": []any{
				map[string]any{"kind": "count", "event_type": "challenge.completed", "target": 1}}}})
			shares := s.board(mgr, map[string]any{"name": "Shares", "source": "event", "event_type": "share", "aggregation": "sum"})
			for _, u := range []string{"ann", "bob"} {
				tok := s.token(u, "acme")
				s.must(200, req{method: "PUT", path: "/v1/me/profile", token: tok, body: map[string]any{"name": "Name of " + u}})
				s.must(200, req{method: "PUT", path: "/v1/users/" + u + "/attributes", token: mgr, body: map[string]any{"tier": "gold", "segments": []string{"vip"}}})
				for i := range 3 {
					s.event(tok, fmt.Sprint(i), map[string]any{"type": "share"})
				}
			}
			export := func(user string) userExport {
				var e userExport
				s.must(200, req{method: "GET", path: "/v1/users/" + user + "/export", token: mgr}).json(t, &e)
				return e
			}
			// Three shares and the system events they raised (challenge.completed,
			// points.earned, badge.unlocked); the audit section holds the
			// manager's setting of the user's attributes.
			const full = "events=6 wallet=50 entries=1 days=1 progress=1 completions=1 enrolments=0 unlocks=0 badges=1 " +
				"standings=2 scores=3 exclusions=0 profile=1 attributes=1 audit=1"
			if got := export("ann").counts(); got != full {
				t.Fatalf("export before erasure:\n got %s\nwant %s", got, full)
			}
			if r := s.do(req{method: "POST", path: "/v1/users/ann/erase", token: mgr}); r.Status != 403 {
				t.Fatalf("erase by a manager: %d %s", r.Status, r.Body)
			}
			total, lines := s.ledgerTotal("acme")
			if total != 100 || lines != 2 {
				t.Fatalf("ledger before erasure: %d in %d lines", total, lines)
			}
			var erased struct {
				UserID    string `json:"user_id"`
				Pseudonym string `json:"pseudonym"`
			}
			for i := range 2 { // the second is a retry
				s.must(200, req{method: "POST", path: "/v1/users/ann/erase", token: admin}).json(t, &erased)
				if erased.UserID != "ann" || erased.Pseudonym != auth.Pseudonym("acme", "ann") {
					t.Fatalf("erasure = %+v", erased)
				}
				const empty = "events=0 wallet=0 entries=0 days=0 progress=0 completions=0 enrolments=0 unlocks=0 badges=0 " +
					"standings=0 scores=0 exclusions=0 profile=0 attributes=0 audit=0"
				if got := export("ann").counts(); got != empty {
					t.Fatalf("export after erasure:\n got %s\nwant %s", got, empty)
				}
				// bob's audit section also holds the exports of bob read before.
				if got, want := export("bob").counts(), strings.Replace(full, "audit=1", fmt.Sprintf("audit=%d", 1+i), 1); got != want {
					t.Fatalf("bob's export after ann's erasure:\n got %s\nwant %s", got, want)
				}
				if t2, l2 := s.ledgerTotal("acme"); t2 != total || l2 != lines {
					t.Fatalf("ledger after erasure: %d in %d lines, want %d in %d", t2, l2, total, lines)
				}
				for _, b := range []string{board, shares} {
					if p := s.top(mgr, b); p.Total != 1 || p.Entries[0].UserID != "bob" {
						t.Fatalf("board %s after erasure = %+v", b, p)
					}
				}
				if w := s.wallet(s.token("ann", "acme")); w != (wallet{}) {
					t.Fatalf("ann's wallet after erasure = %+v", w)
				}
			}
			// A board created now is filled from the ledger, which holds
			// ann's anonymised lines: they must count on no board.
			fresh := s.board(mgr, map[string]any{"name": "Points again", "window": "all_time"})
			s.built(mgr, fresh)
			if p := s.top(mgr, fresh); p.Total != 1 || p.Entries[0].UserID != "bob" || p.Entries[0].Score != 50 {
				t.Fatalf("board created after erasure = %+v", p)
			}
			if d.name != "embedded" {
				var out strings.Builder
				if code := run(context.Background(), []string{"server", "rebuild"}, s.getenv, &out); code != 0 {
					t.Fatalf("rebuild exited %d: %s", code, out.String())
				}
				if p := s.top(mgr, board); p.Total != 1 || p.Entries[0].UserID != "bob" {
					t.Fatalf("board after rebuild = %+v", p)
				}
			}
			// The same id sending events again is a new user: its old
			// completion (anonymised) and this node's shortcuts for it must
			// not stop the challenge from counting afresh.
			ann := s.token("ann", "acme")
			for i := range 3 {
				s.event(ann, fmt.Sprint(i), map[string]any{"type": "share"})
			}
			if w := s.wallet(ann); w.Balance != 50 {
				t.Fatalf("ann's wallet as a new user = %+v", w)
			}
			if t2, _ := s.ledgerTotal("acme"); t2 != total+50 {
				t.Fatalf("ledger total after ann's return = %d, want %d", t2, total+50)
			}
			// Reads after an erasure name the id staff asked for; one more
			// erasure anonymises them too (and ann's second life).
			s.must(200, req{method: "POST", path: "/v1/users/ann/erase", token: admin})
			var log struct {
				Entries []struct{ Actor, Action, Subject string }
			}
			s.must(200, req{method: "GET", path: "/v1/audit?limit=100", token: mgr}).json(t, &log)
			var trail []string
			for _, e := range log.Entries {
				if strings.Contains(e.Subject, "ann") {
					t.Errorf("audit entry still names ann: %+v", e)
				}
				if strings.HasPrefix(e.Action, "user.") && strings.HasSuffix(e.Subject, erased.Pseudonym) {
					trail = append(trail, e.Actor+" "+e.Action)
				}
			}
			// Newest first: each erasure, and the export of ann before it.
			want := strings.Repeat("root user.erase,boss user.export,", 3)
			want = want[:len(want)-1]
			if got := strings.Join(trail, ","); got != want {
				t.Fatalf("audit trail of ann = %s, want %s", got, want)
			}
		})
	}
}

// everySection is the export's section of every domain registered in
// cmd/server (TestEveryDomainTakesPart keeps it honest).
var everySection = []string{"analytics", "audit", "badges", "challenges", "contests", "events", "leaderboards", "loyalty",
	"points", "profiles", "quizzes", "realtime", "ugc", "webhook_deliveries"}

// holds reports where a decoded JSON value holds data: the paths of its
// leaves that are not zero (0, "", false, null, [] and {} are).
func holds(path string, v any) []string {
	switch x := v.(type) {
	case map[string]any:
		var out []string
		for k, e := range x {
			out = append(out, holds(path+"."+k, e)...)
		}
		return out
	case []any:
		var out []string
		for i, e := range x {
			out = append(out, holds(fmt.Sprintf("%s[%d]", path, i), e)...)
		}
		return out
	case nil:
		return nil
	}
	if v == false || v == "" || v == float64(0) {
		return nil
	}
	return []string{path}
}

// TestUserExportEveryDomain: a user active in every domain (events,
// points, a challenge, a badge, boards, a profile, attributes, a review,
// earn marks, a tier, referrals both ways, a contest entry, a quiz
// attempt, a webhook delivery, analytics, pushes) has a section per
// domain in their export, each holding data and naming them; after their
// erasure every section is empty and none names them, the tenant's
// ledger sums are unchanged, and a referral they made no longer pays
// anyone under their id.
func TestUserExportEveryDomain(t *testing.T) {
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			env := d.env(t)
			env["QL_WEBHOOK_PRIVATE_TENANTS"] = "acme"
			s := startServer(t, env)
			s.setupSlice("acme")
			mgr, admin := s.token("boss", "acme", auth.Manager), s.token("root", "acme", auth.Admin)
			key, _ := s.newKey("acme", auth.ScopeEventsWrite)
			ann, bob, erin := s.token("ann", "acme"), s.token("bob", "acme"), s.token("erin", "acme")
			rc := newHookReceiver(t)
			var hook struct{ ID, Secret string }
			s.must(201, req{method: "POST", path: "/v1/webhooks", token: mgr,
				body: map[string]any{"url": rc.srv.URL, "event_types": []string{"share"}}}).json(t, &hook)
			rc.mu.Lock()
			rc.secret = hook.Secret
			rc.mu.Unlock()
			s.badge(mgr, map[string]any{"name": "First challenge", "rule": map[string]any{"goals": []any{
				map[string]any{"kind": "count", "event_type": "challenge.completed", "target": 1}}}})
			s.must(200, req{method: "PUT", path: "/v1/tiers", token: mgr, body: map[string]any{"version": 0, "basis": "lifetime_points",
				"review": map[string]any{"mode": "calendar"},
				"tiers":  []any{map[string]any{"name": "silver", "threshold": 0}, map[string]any{"name": "gold", "threshold": 100}}}})
			s.earnRule(mgr, map[string]any{"name": "5 a purchase", "rule": map[string]any{"kind": "fixed", "event_type": "purchase", "points": 5}})
			s.must(200, req{method: "PUT", path: "/v1/referral-programme", token: mgr, body: map[string]any{"version": 0,
				"qualifying_event": "purchase", "referrer_points": 100, "referee_points": 50}})
			var contest struct{ ID string }
			s.must(201, req{method: "POST", path: "/v1/contests", token: mgr, body: map[string]any{
				"name": "Share draw", "kind": "draw", "starts_at": time.Now().Add(-time.Minute), "ends_at": time.Now().Add(time.Hour),
				"prizes": []any{map[string]any{"description": "A mug", "quantity": 1}},
				"earn":   []any{map[string]any{"event_type": "share"}},
			}}).json(t, &contest)
			quiz := s.quiz(mgr, map[string]any{"name": "One", "questions": []map[string]any{
				{"id": "q", "type": "text", "text": "Your secret?", "accepted": []string{"x"}}}})

			code := func(tok string) string {
				var r struct{ Code string }
				s.must(200, req{method: "GET", path: "/v1/me/referral", token: tok}).json(t, &r)
				return r.Code
			}
			s.must(200, req{method: "POST", path: "/v1/referrals/claim", token: ann, body: map[string]any{"code": code(bob)}})
			s.must(200, req{method: "POST", path: "/v1/referrals/claim", token: erin, body: map[string]any{"code": code(ann)}})
			s.must(200, req{method: "PUT", path: "/v1/me/profile", token: ann, body: map[string]any{"name": "Ann Example"}})
			s.must(200, req{method: "PUT", path: "/v1/users/ann/attributes", token: mgr, body: map[string]any{"segments": []string{"vip"}}})
			for i := range 3 {
				s.event(ann, fmt.Sprint(i), map[string]any{"type": "share"})
			}
			s.purchase(key, "ann-order-1", "ann", map[string]any{"amount": 12})
			s.approvedReview("acme", "ann", "sku-1", "Lovely cream, rich and smooth, and a little goes a long way.")
			var a attemptView
			s.must(201, req{method: "POST", path: "/v1/quizzes/" + quiz + "/attempts", token: ann}).json(t, &a)
			s.must(200, req{method: "POST", path: "/v1/attempts/" + a.ID + "/answers", token: ann,
				body: map[string]any{"question_id": "q", "text": "my private words"}})
			rc.wait(t, "ann's shares", func(m map[string]int) bool { return m["share"] == 3 })

			export := func() (map[string]any, string) {
				t.Helper()
				r := s.must(200, req{method: "GET", path: "/v1/users/ann/export", token: mgr})
				var e struct{ Sections map[string]any }
				r.json(t, &e)
				return e.Sections, string(r.Body)
			}
			sections, _ := export()
			if got := slices.Sorted(maps.Keys(sections)); !slices.Equal(got, everySection) {
				t.Fatalf("export sections = %v, want %v", got, everySection)
			}
			for _, name := range everySection {
				if len(holds(name, sections[name])) == 0 {
					t.Errorf("section %s holds nothing of a user active in it: %v", name, sections[name])
				}
			}
			before := s.ledgerLines("acme")
			total, _ := s.ledgerTotal("acme")

			pn := auth.Pseudonym("acme", "ann")
			for range 2 { // the second is a retry
				s.must(200, req{method: "POST", path: "/v1/users/ann/erase", token: admin})
				sections, _ := export()
				raw, _ := json.Marshal(sections)
				body := string(raw)
				for _, name := range everySection {
					if left := holds(name, sections[name]); len(left) > 0 {
						t.Errorf("section %s after erasure still holds %v: %v", name, left, sections[name])
					}
				}
				for _, secret := range []string{`"ann"`, "Ann Example", "my private words", "rich and smooth", pn} {
					if strings.Contains(body, secret) {
						t.Errorf("export after erasure contains %s: %s", secret, body)
					}
				}
				// No line goes or changes; the only new ones take back what
				// ann's review earned (its content is deleted), under the
				// reversal key of each of its credits.
				after := s.ledgerLines("acme")
				reversed := int64(0)
				for k, amount := range after {
					if was, ok := before[k]; ok {
						if amount != was {
							t.Errorf("ledger line %s: %d after erasure, %d before", k, amount, was)
						}
						continue
					}
					credit, ok := strings.CutSuffix(k, points.ReversalKey(""))
					if !ok || !strings.HasPrefix(credit, "ugc:") || before[credit] != -amount {
						t.Errorf("new ledger line %s (%d) after erasure is not a reversal of a review's credit", k, amount)
					}
					reversed += amount
				}
				if len(after) != len(before)+2 || reversed >= 0 {
					t.Errorf("ledger after erasure: %d lines (%d before), reversed %d: %v", len(after), len(before), reversed, after)
				}
				total = 0
				for _, amount := range after {
					total += amount
				}
			}
			// erin, whom ann referred, qualifies now: she is welcomed, and
			// nobody is paid for referring her.
			s.purchase(key, "erin-order-1", "erin", map[string]any{"amount": 12})
			if w := s.wallet(erin); w.Balance != 55 {
				t.Fatalf("erin's wallet = %+v, want 50 welcome + 5", w)
			}
			if t2, _ := s.ledgerTotal("acme"); t2 != total+55 {
				t.Fatalf("ledger total after erin's purchase = %d, want %d (nothing for the erased referrer)", t2, total+55)
			}
		})
	}
}

// notParticipants are the services of app, from domain packages, that
// hold no user's records of their own, and why. Every other one must be
// registered in users.NewService.
var notParticipants = map[string]string{
	"users":     "it is the export and erasure",
	"retention": "tenant retention settings and the prune job; it deletes records, holds none",
	"types":     "the tenant's event type catalogue",
	"engine":    "the leaderboards' engine: leaderboards.Service exports and erases what it ranks",
	"broker":    "the realtime broker: the hub exports and erases the user's channel",
}

// TestEveryDomainTakesPart: every domain service the node wires either
// takes part in export and erasure (its section is in every export) or
// is listed in notParticipants with the reason, so a new domain cannot
// be wired in and forgotten; everySection is the sections they give.
func TestEveryDomainTakesPart(t *testing.T) {
	ctx := context.Background()
	a := embeddedApp(t)
	e, err := a.users.Export(ctx, auth.Principal{Tenant: "acme", Subject: "boss"}, "nobody")
	if err != nil {
		t.Fatal(err)
	}
	exported := slices.Sorted(maps.Keys(e.Sections))
	if !slices.Equal(exported, everySection) {
		t.Errorf("export sections = %v, want %v", exported, everySection)
	}
	// app's fields are unexported: read them through their addresses.
	v := reflect.ValueOf(a).Elem()
	var given []string
	for i := range v.NumField() {
		f := v.Type().Field(i)
		val := reflect.NewAt(f.Type, unsafe.Pointer(v.Field(i).UnsafeAddr())).Elem()
		if val.Kind() == reflect.Interface {
			val = val.Elem()
		}
		if !val.IsValid() || val.Kind() != reflect.Pointer || val.IsNil() {
			continue
		}
		pkg := strings.TrimPrefix(val.Type().Elem().PkgPath(), "github.com/questline/questline/")
		if pkg == val.Type().Elem().PkgPath() || strings.HasPrefix(pkg, "internal/") || strings.HasPrefix(pkg, "storage/") || pkg == "auth" {
			continue // not a domain package
		}
		p, ok := val.Interface().(users.Participant)
		if _, exempt := notParticipants[f.Name]; exempt {
			if ok && f.Name != "users" {
				t.Errorf("app.%s (%s) is a users.Participant but listed as not taking part", f.Name, val.Type())
			}
			continue
		}
		if !ok {
			t.Errorf("app.%s (%s) neither takes part in export and erasure nor says why in notParticipants", f.Name, val.Type())
			continue
		}
		name, _, err := p.Export(ctx, "acme", "nobody")
		if err != nil {
			t.Fatal(err)
		}
		given = append(given, name)
	}
	slices.Sort(given)
	if !slices.Equal(slices.Compact(given), exported) {
		t.Errorf("the domains' own sections %v are not the export's %v: one is not registered in users.NewService", given, exported)
	}
}
