package storagetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/ugc"
	"github.com/questline/questline/ugc/text"
)

// UGCStore is what the UGC cases need.
type UGCStore interface {
	ugc.Store
}

// RunUGC runs the user-generated content cases against stores made by
// open (see Run).
func RunUGC(t *testing.T, open func(t *testing.T) UGCStore) {
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, s UGCStore)
	}{
		{"RoundTrip", testUGCRoundTrip},
		{"OneReviewPerProduct", testUGCOneReview},
		{"SaveVersioned", testUGCSave},
		{"Summary", testUGCSummary},
		{"Feed", testUGCFeed},
		{"Queue", testUGCQueue},
		{"SimilarTexts", testUGCSimilar},
		{"UserSubmissions", testUGCUserSubmissions},
		{"RateSlots", testUGCRateSlots},
		{"Owed", testUGCOwed},
		{"RecountMarks", testUGCRecountMarks},
		{"Votes", testUGCVotes},
		{"VotesConcurrent", testUGCVotesConcurrent},
		{"Reports", testUGCReports},
		{"SettingsAndPurchases", testUGCSettings},
		{"Erasure", testUGCErasure},
		{"CountByStatus", testUGCCountByStatus},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

// review returns a pending review of product by user, created at.
func review(tn, user, product string, rating int, body string, at time.Time) ugc.Submission {
	n := text.Normalize(body)
	return ugc.Submission{
		ID: id(), Tenant: tn, User: user, Kind: ugc.Review, ProductID: product, Status: ugc.Pending,
		Content:   ugc.Content{Rating: rating, Title: "Title", Body: body},
		CreatedAt: ms(at), UpdatedAt: ms(at), QueuedAt: ms(at), TextHash: text.Hash(n), Signature: text.Signature(n), Version: 1,
	}
}

// publish returns sub approved (listed) at its next version.
func publish(sub ugc.Submission) ugc.Submission {
	c := sub.Content
	sub.Status, sub.Public, sub.ApprovedAt, sub.Version = ugc.Approved, &c, msp(sub.CreatedAt), sub.Version+1
	return sub
}

// createListed stores sub and approves it.
func createListed(t *testing.T, s UGCStore, sub ugc.Submission) ugc.Submission {
	t.Helper()
	c := ctx(t)
	_, ok, err := s.CreateSubmission(c, sub)
	must(t, err)
	if !ok {
		t.Fatal("not inserted")
	}
	next := publish(sub)
	must(t, s.SaveSubmission(c, sub, next))
	return next
}

func testUGCRoundTrip(t *testing.T, s UGCStore) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	for _, tc := range []struct {
		name string
		edit func(*ugc.Submission)
	}{
		{"review", func(*ugc.Submission) {}},
		{"every field", func(x *ugc.Submission) {
			x.Tags, x.Verified, x.Flags, x.Paid = []string{"skin", "summer"}, true, []string{ugc.FlagEdited}, []string{"ugc:x:base", "ugc:first:p"}
			x.Content.Media = []string{"https://img.example/1.jpg"}
			x.Public = &ugc.Content{Rating: 2, Body: "older version"}
			x.Reason, x.Note, x.Reply = "ok", "looked fine", &ugc.Reply{Body: "Thanks!", At: ms(base)}
			x.LeaseBy, x.LeaseUntil, x.ApprovedAt = "mod", ms(base.Add(time.Minute)), msp(base)
			x.Signature = []uint32{1 << 31, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, ^uint32(0)}
		}},
		{"tutorial", func(x *ugc.Submission) {
			x.Kind, x.ProductID, x.Content = ugc.Tutorial, "", ugc.Content{Title: "How to", Body: "Do this", Steps: []string{"one", "two"}}
		}},
	} {
		sub := review(a, "u1", "p-"+tc.name, 4, "a fine product for the price", base)
		tc.edit(&sub)
		got, ok, err := s.CreateSubmission(c, sub)
		must(t, err)
		if !ok {
			t.Fatalf("%s: not inserted", tc.name)
		}
		eq(t, tc.name+" created", got, sub)
		got, err = s.GetSubmission(c, a, sub.ID)
		must(t, err)
		eq(t, tc.name, got, sub)
		_, err = s.GetSubmission(c, b, sub.ID)
		mustIs(t, err, errs.ErrNotFound)
	}
	_, err := s.GetSubmission(c, a, id())
	mustIs(t, err, errs.ErrNotFound)
}

func testUGCOneReview(t *testing.T, s UGCStore) {
	c := ctx(t)
	a := tenant(t, "a")
	first := review(a, "u1", "p1", 5, "first words of a review", base)
	_, ok, err := s.CreateSubmission(c, first)
	must(t, err)
	if !ok {
		t.Fatal("first not inserted")
	}
	got, ok, err := s.CreateSubmission(c, review(a, "u1", "p1", 1, "second words", base))
	must(t, err)
	if ok || got.ID != first.ID {
		t.Fatalf("second review of p1: inserted %v, id %s; want the first (%s)", ok, got.ID, first.ID)
	}
	byUser, err := s.UserReview(c, a, "u1", "p1")
	must(t, err)
	eq(t, "user review", byUser.ID, first.ID)
	_, err = s.UserReview(c, a, "u2", "p1")
	mustIs(t, err, errs.ErrNotFound)
	// Concurrent first reviews of another product: exactly one is stored.
	subs := make([]ugc.Submission, 20)
	for i := range subs {
		subs[i] = review(a, "u1", "p2", 3, "concurrent", base)
	}
	res := parallel(20, func(i int) error {
		_, ok, err := s.CreateSubmission(c, subs[i])
		if err == nil && ok {
			return nil
		}
		if err == nil {
			return errs.ErrDuplicate
		}
		return err
	})
	wins := 0
	for _, err := range res {
		if err == nil {
			wins++
		} else if err != errs.ErrDuplicate {
			t.Fatal(err)
		}
	}
	eq(t, "concurrent first reviews stored", wins, 1)
	// Other kinds have no such key.
	for range 2 {
		p := review(a, "u1", "p1", 0, "a photo", base)
		p.Kind = ugc.Photo
		_, ok, err := s.CreateSubmission(c, p)
		must(t, err)
		if !ok {
			t.Fatal("a second photo of a product was refused")
		}
	}
}

func testUGCSave(t *testing.T, s UGCStore) {
	c := ctx(t)
	a := tenant(t, "a")
	sub := review(a, "u1", "p1", 4, "body", base)
	_, _, err := s.CreateSubmission(c, sub)
	must(t, err)
	next := publish(sub)
	next.Flags, next.Reply = []string{ugc.FlagReported}, &ugc.Reply{Body: "hi", At: ms(base)}
	must(t, s.SaveSubmission(c, sub, next))
	got, err := s.GetSubmission(c, a, sub.ID)
	must(t, err)
	eq(t, "saved", got, next)
	mustIs(t, s.SaveSubmission(c, sub, next), errs.ErrDuplicate)
	missing := review(a, "u1", "p9", 4, "body", base)
	mustIs(t, s.SaveSubmission(c, missing, publish(missing)), errs.ErrNotFound)
	oneWins(t, func(i int) error {
		n := next
		n.Version++
		n.Note = "edit " + string(rune('a'+i))
		return s.SaveSubmission(c, next, n)
	})
	sum, err := s.Summary(c, a, "p1")
	must(t, err)
	eq(t, "summary after one approval and racing edits", sum.Distribution, [5]int64{0, 0, 0, 1, 0})
}

func testUGCSummary(t *testing.T, s UGCStore) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	dist := func(tn, product string) [5]int64 {
		t.Helper()
		sum, err := s.Summary(c, tn, product)
		must(t, err)
		return sum.Distribution
	}
	eq(t, "empty", dist(a, "p1"), [5]int64{})
	r1 := createListed(t, s, review(a, "u1", "p1", 5, "great", base))
	r2 := createListed(t, s, review(a, "u2", "p1", 3, "okay", base))
	createListed(t, s, review(b, "u1", "p1", 1, "other tenant", base))
	eq(t, "two listed", dist(a, "p1"), [5]int64{0, 0, 1, 0, 1})
	// An edit approved moves the rating; pending edits do not.
	edited := r1
	edited.Content.Rating, edited.Status, edited.Version = 2, ugc.Pending, r1.Version+1
	must(t, s.SaveSubmission(c, r1, edited))
	eq(t, "pending edit", dist(a, "p1"), [5]int64{0, 0, 1, 0, 1})
	approved := publish(edited)
	must(t, s.SaveSubmission(c, edited, approved))
	eq(t, "approved edit", dist(a, "p1"), [5]int64{0, 1, 1, 0, 0})
	removed := r2
	removed.Public, removed.Status, removed.Version = nil, ugc.Removed, r2.Version+1
	must(t, s.SaveSubmission(c, r2, removed))
	eq(t, "removed", dist(a, "p1"), [5]int64{0, 1, 0, 0, 0})
	must(t, s.DeleteSubmission(c, a, r1.ID))
	eq(t, "erased", dist(a, "p1"), [5]int64{})
	mustIs(t, s.DeleteSubmission(c, a, r1.ID), errs.ErrNotFound)
	eq(t, "other tenant", dist(b, "p1"), [5]int64{1, 0, 0, 0, 0})
	createListed(t, s, review(a, "u3", "p1", 4, "after", base))
	createListed(t, s, review(a, "u4", "p1", 4, "after too", base))
	rebuilt, err := s.RebuildSummary(c, a, "p1")
	must(t, err)
	eq(t, "rebuilt", rebuilt.Distribution, [5]int64{0, 0, 0, 2, 0})
	eq(t, "after the rebuild", dist(a, "p1"), [5]int64{0, 0, 0, 2, 0})
	rebuilt, err = s.RebuildSummary(c, a, "none")
	must(t, err)
	eq(t, "rebuilt empty", rebuilt.Distribution, [5]int64{})
}

func testUGCFeed(t *testing.T, s UGCStore) {
	c := ctx(t)
	a := tenant(t, "a")
	var subs []ugc.Submission
	for i, rating := range []int{5, 3, 4, 3, 1} {
		sub := review(a, "u"+string(rune('0'+i)), "p1", rating, "review", base.Add(time.Duration(i)*time.Second))
		sub.Verified = i%2 == 0
		if i == 1 {
			sub.Content.Media = []string{"https://img.example/x.jpg"}
		}
		subs = append(subs, createListed(t, s, sub))
	}
	_, _, err := s.CreateSubmission(c, review(a, "pending", "p1", 5, "not listed", base))
	must(t, err)
	for i, n := range []int{3, 0, 1, 0, 2} { // helpful votes
		for v := range n {
			_, err := s.Vote(c, a, subs[i].ID, "voter"+string(rune('a'+v)), true)
			must(t, err)
		}
	}
	order := func(q ugc.FeedQuery) []string {
		t.Helper()
		var out []string
		q.Limit = 2
		for {
			page, err := s.Feed(c, a, "p1", q)
			must(t, err)
			for _, p := range page {
				out = append(out, p.ID)
			}
			if len(page) < 2 {
				return out
			}
			last := page[len(page)-1]
			if last.Helpful != map[string]int64{subs[0].ID: 3, subs[2].ID: 1, subs[4].ID: 2}[last.ID] {
				t.Fatalf("helpful of %s = %d", last.ID, last.Helpful)
			}
			q.After = &ugc.Cursor{Key: ugc.SortKey(last, q.Sort), ID: last.ID}
		}
	}
	ids := func(is ...int) []string {
		var out []string
		for _, i := range is {
			out = append(out, subs[i].ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    ugc.FeedQuery
		want []string
	}{
		{"newest", ugc.FeedQuery{Sort: ugc.Newest}, ids(4, 3, 2, 1, 0)},
		{"helpful", ugc.FeedQuery{Sort: ugc.Helpful}, ids(0, 4, 2, 3, 1)},
		{"rating high", ugc.FeedQuery{Sort: ugc.RatingHigh}, ids(0, 2, 3, 1, 4)},
		{"rating low", ugc.FeedQuery{Sort: ugc.RatingLow}, ids(4, 1, 3, 2, 0)},
		{"rating 3", ugc.FeedQuery{Sort: ugc.Newest, Rating: 3}, ids(3, 1)},
		{"verified", ugc.FeedQuery{Sort: ugc.Helpful, Verified: true}, ids(0, 4, 2)},
		{"photos", ugc.FeedQuery{Sort: ugc.RatingHigh, WithPhotos: true}, ids(1)},
	} {
		eq(t, tc.name, order(tc.q), tc.want)
	}
	page, err := s.Feed(c, a, "p2", ugc.FeedQuery{Sort: ugc.Newest})
	must(t, err)
	eq(t, "other product", len(page), 0)
}

func testUGCQueue(t *testing.T, s UGCStore) {
	c := ctx(t)
	a := tenant(t, "a")
	now := base.Add(time.Hour)
	var subs []ugc.Submission
	for i := range 4 {
		sub := review(a, "u"+string(rune('0'+i)), "p"+string(rune('0'+i%2)), 4, "queued", base.Add(time.Duration(i)*time.Minute))
		if i == 3 {
			sub.Kind, sub.Flags = ugc.Photo, []string{ugc.FlagReported}
		}
		_, _, err := s.CreateSubmission(c, sub)
		must(t, err)
		subs = append(subs, sub)
	}
	createListed(t, s, review(a, "u9", "p0", 5, "approved, not queued", base))
	leased := subs[1]
	leased.LeaseBy, leased.LeaseUntil, leased.Version = "mod1", ms(now.Add(time.Minute)), 2
	must(t, s.SaveSubmission(c, subs[1], leased))
	ids := func(q ugc.QueueQuery) []string {
		t.Helper()
		if q.Now.IsZero() {
			q.Now = now
		}
		got, err := s.Queue(c, a, q)
		must(t, err)
		var out []string
		for _, g := range got {
			out = append(out, g.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    ugc.QueueQuery
		want []string
	}{
		{"others' lease hides", ugc.QueueQuery{Moderator: "mod2"}, []string{subs[0].ID, subs[2].ID, subs[3].ID}},
		{"own lease shows", ugc.QueueQuery{Moderator: "mod1"}, []string{subs[0].ID, subs[1].ID, subs[2].ID, subs[3].ID}},
		{"expired lease shows", ugc.QueueQuery{Moderator: "mod2", Now: now.Add(2 * time.Minute)}, []string{subs[0].ID, subs[1].ID, subs[2].ID, subs[3].ID}},
		{"limit", ugc.QueueQuery{Moderator: "mod2", Limit: 1}, []string{subs[0].ID}},
		{"kind", ugc.QueueQuery{Moderator: "mod2", Kind: ugc.Photo}, []string{subs[3].ID}},
		{"product", ugc.QueueQuery{Moderator: "mod1", ProductID: "p1"}, []string{subs[1].ID, subs[3].ID}},
		{"flag", ugc.QueueQuery{Moderator: "mod2", Flag: ugc.FlagReported}, []string{subs[3].ID}},
		{"age", ugc.QueueQuery{Moderator: "mod2", Before: base.Add(90 * time.Second)}, []string{subs[0].ID}},
	} {
		eq(t, tc.name, ids(tc.q), tc.want)
	}
	other, err := s.Queue(c, tenant(t, "b"), ugc.QueueQuery{Now: now})
	must(t, err)
	eq(t, "other tenant", len(other), 0)
}

func testUGCSimilar(t *testing.T, s UGCStore) {
	c := ctx(t)
	a := tenant(t, "a")
	body := "this moisturiser left my skin soft all day and the scent is light"
	orig := review(a, "u1", "p1", 5, body, base)
	_, _, err := s.CreateSubmission(c, orig)
	must(t, err)
	rejected := review(a, "u2", "p1", 5, "rejected words here entirely different", base)
	rejected.Status = ugc.Rejected
	_, _, err = s.CreateSubmission(c, rejected)
	must(t, err)
	find := func(tn, hash string, sig []uint32, exclude string) []string {
		t.Helper()
		got, err := s.SimilarTexts(c, tn, hash, text.Bands(sig), exclude, 10)
		must(t, err)
		var out []string
		for _, g := range got {
			out = append(out, g.ID)
		}
		return out
	}
	other := text.Signature(text.Normalize("nothing in common with the review at all"))
	oneBand := append([]uint32(nil), other...)
	copy(oneBand[6:8], orig.Signature[6:8]) // band 3 only
	eq(t, "same hash", find(a, orig.TextHash, other, ""), []string{orig.ID})
	eq(t, "shared band", find(a, "nohash", oneBand, ""), []string{orig.ID})
	eq(t, "no shared band", find(a, "nohash", other, ""), []string(nil))
	eq(t, "no words", find(a, "nohash", nil, ""), []string(nil))
	eq(t, "excluded self", find(a, orig.TextHash, orig.Signature, orig.ID), []string(nil))
	eq(t, "rejected is nobody's duplicate", find(a, rejected.TextHash, rejected.Signature, ""), []string(nil))
	eq(t, "other tenant", find(tenant(t, "b"), orig.TextHash, orig.Signature, ""), []string(nil))
}

func testUGCUserSubmissions(t *testing.T, s UGCStore) {
	c := ctx(t)
	a := tenant(t, "a")
	var want []string
	for i := range 5 {
		sub := review(a, "u1", "p"+string(rune('0'+i)), 4, "mine", base.Add(time.Duration(i)*time.Hour))
		_, _, err := s.CreateSubmission(c, sub)
		must(t, err)
		want = append([]string{sub.ID}, want...)
	}
	_, _, err := s.CreateSubmission(c, review(a, "u2", "p1", 4, "theirs", base))
	must(t, err)
	var got []string
	before := ""
	for {
		page, err := s.UserSubmissions(c, a, "u1", before, 2)
		must(t, err)
		for _, p := range page {
			got = append(got, p.ID)
		}
		if len(page) < 2 {
			break
		}
		before = page[len(page)-1].ID
	}
	eq(t, "newest first, paged", got, want)
}

// testUGCRateSlots: 50 concurrent takers of a window with 5 slots get
// exactly 5; another window, user or tenant has its own; erasure frees
// the user's slots.
func testUGCRateSlots(t *testing.T, s UGCStore) {
	c := ctx(t)
	a := tenant(t, "a")
	var mu sync.Mutex
	taken := 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.TakeSlot(c, a, "u1", "d20260501", 5)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				taken++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	eq(t, "concurrent takers of 5 slots", taken, 5)
	take := func(tenant, user, window string) bool {
		t.Helper()
		ok, err := s.TakeSlot(c, tenant, user, window, 5)
		must(t, err)
		return ok
	}
	eq(t, "full window", take(a, "u1", "d20260501"), false)
	eq(t, "next day", take(a, "u1", "d20260502"), true)
	eq(t, "hour window", take(a, "u1", "h2026050210"), true)
	eq(t, "other user", take(a, "u2", "d20260501"), true)
	eq(t, "other tenant", take(tenant(t, "b"), "u1", "d20260501"), true)
	for range 4 {
		take(a, "u1", "d20260502")
	}
	eq(t, "next day full", take(a, "u1", "d20260502"), false)
	must(t, s.EraseUGCUser(c, a, "u1"))
	eq(t, "after erasure", take(a, "u1", "d20260502"), true)
}

func testUGCVotes(t *testing.T, s UGCStore) {
	c := ctx(t)
	a := tenant(t, "a")
	sub := createListed(t, s, review(a, "author", "p1", 4, "votes", base))
	for _, step := range []struct {
		user    string
		helpful bool
		want    int64
	}{
		{"v1", true, 1}, {"v1", true, 1}, {"v2", true, 2}, {"v1", false, 1}, {"v3", false, 1}, {"v1", true, 2},
	} {
		n, err := s.Vote(c, a, sub.ID, step.user, step.helpful)
		must(t, err)
		eq(t, step.user, n, step.want)
	}
	got, err := s.GetSubmission(c, a, sub.ID)
	must(t, err)
	eq(t, "stored counter", got.Helpful, int64(2))
	// A save of the submission leaves its counters alone.
	next := got
	next.Version, next.Helpful, next.Note = got.Version+1, 0, "saved"
	must(t, s.SaveSubmission(c, got, next))
	got, err = s.GetSubmission(c, a, sub.ID)
	must(t, err)
	eq(t, "counter after save", got.Helpful, int64(2))
	_, err = s.Vote(c, a, id(), "v1", true)
	mustIs(t, err, errs.ErrNotFound)
}

func testUGCVotesConcurrent(t *testing.T, s UGCStore) {
	c := ctx(t)
	a := tenant(t, "a")
	sub := createListed(t, s, review(a, "author", "p1", 4, "votes", base))
	for _, err := range parallel(50, func(int) error { _, err := s.Vote(c, a, sub.ID, "v1", true); return err }) {
		must(t, err)
	}
	got, err := s.GetSubmission(c, a, sub.ID)
	must(t, err)
	eq(t, "50 concurrent votes of one user", got.Helpful, int64(1))
}

func testUGCReports(t *testing.T, s UGCStore) {
	c := ctx(t)
	a := tenant(t, "a")
	sub := createListed(t, s, review(a, "author", "p1", 4, "reported", base))
	for _, step := range []struct {
		user  string
		fresh bool
		n     int64
	}{{"r1", true, 1}, {"r1", false, 1}, {"r2", true, 2}} {
		fresh, n, err := s.Report(c, a, sub.ID, step.user, "spam")
		must(t, err)
		eq(t, step.user, [2]any{fresh, n}, [2]any{step.fresh, step.n})
	}
}

func testUGCSettings(t *testing.T, s UGCStore) {
	c := ctx(t)
	a := tenant(t, "a")
	_, ok, err := s.GetSettings(c, a)
	must(t, err)
	eq(t, "none saved", ok, false)
	want := ugc.DefaultSettings()
	want.Checks.BannedWords = []string{"scam"}
	for range 2 {
		must(t, s.PutSettings(c, a, want))
		want.ReportThreshold++
	}
	want.ReportThreshold--
	got, ok, err := s.GetSettings(c, a)
	must(t, err)
	eq(t, "saved", [2]any{ok, got}, [2]any{true, want})
	for range 2 {
		must(t, s.AddPurchase(c, a, "u1", "p1"))
	}
	for _, tc := range []struct {
		tn, user, product string
		want              bool
	}{{a, "u1", "p1", true}, {a, "u1", "p2", false}, {a, "u2", "p1", false}, {tenant(t, "b"), "u1", "p1", false}} {
		got, err := s.Purchased(c, tc.tn, tc.user, tc.product)
		must(t, err)
		eq(t, tc.user+"/"+tc.product, got, tc.want)
	}
}

func testUGCErasure(t *testing.T, s UGCStore) {
	c := ctx(t)
	a := tenant(t, "a")
	gone := createListed(t, s, review(a, "gone", "p1", 5, "mine", base))
	_, _, err := s.CreateSubmission(c, review(a, "gone", "p2", 2, "pending", base))
	must(t, err)
	other := createListed(t, s, review(a, "stays", "p1", 3, "theirs", base))
	for _, voter := range []string{"gone", "v2"} {
		_, err := s.Vote(c, a, other.ID, voter, true)
		must(t, err)
	}
	_, err = s.Vote(c, a, gone.ID, "v2", true)
	must(t, err)
	_, _, err = s.Report(c, a, other.ID, "gone", "spam")
	must(t, err)
	must(t, s.AddPurchase(c, a, "gone", "p1"))
	for range 2 { // erasing twice is harmless
		must(t, s.EraseUGCUser(c, a, "gone"))
	}
	mine, err := s.UserSubmissions(c, a, "gone", "", 0)
	must(t, err)
	eq(t, "submissions left", len(mine), 0)
	got, err := s.GetSubmission(c, a, other.ID)
	must(t, err)
	eq(t, "helpful of the other's review", got.Helpful, int64(1))
	sum, err := s.Summary(c, a, "p1")
	must(t, err)
	eq(t, "summary", sum.Distribution, [5]int64{0, 0, 1, 0, 0})
	bought, err := s.Purchased(c, a, "gone", "p1")
	must(t, err)
	eq(t, "purchase left", bought, false)
	fresh, n, err := s.Report(c, a, other.ID, "gone", "spam")
	must(t, err)
	eq(t, "report after erasure", [2]any{fresh, n}, [2]any{true, int64(1)})
}

// testUGCOwed: a save marking a submission owed lists it for the sweep
// (across tenants, oldest first, only before the given time); the save
// clearing the mark, and a deletion, unlist it.
func testUGCOwed(t *testing.T, s UGCStore) {
	c := ctx(t)
	var subs []ugc.Submission
	for i, tn := range []string{tenant(t, "a"), tenant(t, "b")} {
		sub := review(tn, "u1", "p1", 4, "owed", base)
		_, _, err := s.CreateSubmission(c, sub)
		must(t, err)
		next := sub
		next.Status, next.Owed, next.Version = ugc.Approved, ugc.OwePay, 2
		next.UpdatedAt = base.Add(time.Duration(i+1) * time.Minute)
		must(t, s.SaveSubmission(c, sub, next))
		subs = append(subs, next)
	}
	owed := func(before time.Time) []string {
		t.Helper()
		var ids []string
		got, err := s.Owed(c, before, 10)
		must(t, err)
		for _, g := range got {
			if g.Tenant == subs[0].Tenant || g.Tenant == subs[1].Tenant {
				ids = append(ids, g.ID+"/"+g.Owed)
			}
		}
		return ids
	}
	eq(t, "both, oldest first", owed(base.Add(time.Hour)), []string{subs[0].ID + "/pay", subs[1].ID + "/pay"})
	eq(t, "before the second", owed(base.Add(90*time.Second)), []string{subs[0].ID + "/pay"})
	done := subs[0]
	done.Owed, done.Version = "", 3
	must(t, s.SaveSubmission(c, subs[0], done))
	must(t, s.DeleteSubmission(c, subs[1].Tenant, subs[1].ID))
	eq(t, "settled and deleted", owed(base.Add(time.Hour)), []string(nil))
}

// testUGCRecountMarks: the recount of a submission's counters agrees with
// its votes and reports; a missing one is not found.
func testUGCRecountMarks(t *testing.T, s UGCStore) {
	c := ctx(t)
	a := tenant(t, "a")
	sub := createListed(t, s, review(a, "author", "p1", 4, "marks", base))
	for i, helpful := range []bool{true, true, false} {
		_, err := s.Vote(c, a, sub.ID, fmt.Sprintf("v%d", i), helpful)
		must(t, err)
	}
	for i := range 2 {
		_, _, err := s.Report(c, a, sub.ID, fmt.Sprintf("r%d", i), "spam")
		must(t, err)
	}
	h, r, err := s.RecountMarks(c, a, sub.ID)
	must(t, err)
	eq(t, "recounted", [2]int64{h, r}, [2]int64{2, 2})
	got, err := s.GetSubmission(c, a, sub.ID)
	must(t, err)
	eq(t, "stored", [2]int64{got.Helpful, got.Reports}, [2]int64{2, 2})
	_, _, err = s.RecountMarks(c, a, "missing")
	mustIs(t, err, errs.ErrNotFound)
}

// testUGCCountByStatus counts a tenant's submissions as their saves move
// them between statuses; another tenant's never count.
func testUGCCountByStatus(t *testing.T, s UGCStore) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	count := func(tn string) ugc.StatusCounts {
		got, err := s.CountByStatus(c, tn)
		must(t, err)
		return got
	}
	eq(t, "empty", count(a), ugc.StatusCounts{})
	var subs []ugc.Submission
	for i := range 5 {
		sub := review(a, fmt.Sprintf("u%d", i), "p1", 4, fmt.Sprintf("review number %d", i), base)
		_, _, err := s.CreateSubmission(c, sub)
		must(t, err)
		subs = append(subs, sub)
	}
	_, _, err := s.CreateSubmission(c, review(b, "u0", "p1", 4, "another tenant", base))
	must(t, err)
	eq(t, "created", count(a), ugc.StatusCounts{Pending: 5})
	decide := func(prev ugc.Submission, st ugc.Status) ugc.Submission {
		next := prev
		if st == ugc.Approved {
			next = publish(prev)
		} else {
			next.Status, next.Version = st, prev.Version+1
			if st == ugc.Removed {
				next.Public = nil
			}
		}
		must(t, s.SaveSubmission(c, prev, next))
		return next
	}
	decide(subs[0], ugc.Approved)
	decide(subs[1], ugc.Rejected)
	decide(decide(subs[2], ugc.Approved), ugc.Removed)
	decide(subs[3], ugc.Approved)
	eq(t, "decided", count(a), ugc.StatusCounts{Pending: 1, Approved: 2, Rejected: 1, Removed: 1})
	eq(t, "other tenant", count(b), ugc.StatusCounts{Pending: 1})
}
