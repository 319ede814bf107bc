package storagetest

import (
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/webhooks"
)

// RunWebhooks runs the webhook store's cases against stores made by open
// (fresh and empty, closed by t.Cleanup).
func RunWebhooks(t *testing.T, open func(t *testing.T) webhooks.Store) {
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, s webhooks.Store)
	}{
		{"Endpoints", testEndpoints},
		{"EndpointVersions", testEndpointVersions},
		{"EndpointFailures", testEndpointFailures},
		{"DeliveryOnce", testDeliveryOnce},
		{"DeliveryOnceConcurrent", testDeliveryOnceConcurrent},
		{"ClaimLease", testClaimLease},
		{"ClaimShares", testClaimShares},
		{"ClaimConcurrent", testClaimConcurrent},
		{"DeliveryLog", testDeliveryLog},
		{"Replay", testReplay},
		{"UserDeliveries", testUserDeliveries},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

func endpoint(tn string) webhooks.Endpoint {
	until := base.Add(time.Hour)
	return webhooks.Endpoint{Tenant: tn, ID: id(), URL: "https://hooks.example.com/q", Description: "d",
		EventTypes: []string{"badge.unlocked", "share"}, Secret: "whsec_a", PreviousSecret: "whsec_b",
		PreviousUntil: &until, CreatedAt: base, UpdatedAt: base, Version: 1}
}

// storedEndpoint is e as a store returns it.
func storedEndpoint(e webhooks.Endpoint) webhooks.Endpoint {
	e.CreatedAt, e.UpdatedAt = ms(e.CreatedAt), ms(e.UpdatedAt)
	for _, p := range []**time.Time{&e.PreviousUntil, &e.DisabledAt, &e.FailingSince} {
		if *p != nil {
			*p = msp(**p)
		}
	}
	return e
}

func delivery(tn, endpoint, event, user string, due time.Time) webhooks.Delivery {
	return webhooks.Delivery{Tenant: tn, ID: id(), EndpointID: endpoint, EventID: event, EventType: "share", User: user,
		Payload: json.RawMessage(`{"type":"share","data":{"user_id":"` + user + `"}}`), Status: webhooks.Pending,
		NextAt: due, GiveUpAt: due.Add(24 * time.Hour), CreatedAt: due}
}

func storedDelivery(d webhooks.Delivery) webhooks.Delivery {
	d.NextAt, d.GiveUpAt, d.CreatedAt = ms(d.NextAt), ms(d.GiveUpAt), ms(d.CreatedAt)
	return d
}

func testEndpoints(t *testing.T, s webhooks.Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	var made []webhooks.Endpoint
	for range 3 {
		e := endpoint(a)
		must(t, s.CreateEndpoint(c, e))
		made = append(made, storedEndpoint(e))
	}
	dup := made[0]
	mustIs(t, s.CreateEndpoint(c, dup), errs.ErrDuplicate)
	got, err := s.GetEndpoint(c, a, made[1].ID)
	must(t, err)
	eq(t, "get", got, made[1])
	_, err = s.GetEndpoint(c, b, made[1].ID)
	mustIs(t, err, errs.ErrNotFound)
	page, err := s.ListEndpoints(c, a, "", 2)
	must(t, err)
	eq(t, "page 1", page, made[:2])
	page, err = s.ListEndpoints(c, a, made[1].ID, 2)
	must(t, err)
	eq(t, "page 2", page, made[2:])
	none, err := s.ListEndpoints(c, b, "", 10)
	must(t, err)
	eq(t, "other tenant", len(none), 0)

	d := delivery(a, made[0].ID, id(), "u1", base)
	_, err = s.InsertDelivery(c, d)
	must(t, err)
	mustIs(t, s.DeleteEndpoint(c, b, made[0].ID), errs.ErrNotFound)
	must(t, s.DeleteEndpoint(c, a, made[0].ID))
	mustIs(t, s.DeleteEndpoint(c, a, made[0].ID), errs.ErrNotFound)
	_, err = s.GetDelivery(c, a, d.ID)
	mustIs(t, err, errs.ErrNotFound)
}

func testEndpointVersions(t *testing.T, s webhooks.Store) {
	c := ctx(t)
	a := tenant(t, "a")
	e := endpoint(a)
	must(t, s.CreateEndpoint(c, e))
	next := e
	next.Version, next.URL, next.EventTypes = 2, "https://other.example.com", []string{"visit"}
	next.Disabled, next.DisabledReason, next.DisabledAt = true, "by hand", msp(base)
	next.PreviousSecret, next.PreviousUntil = "", nil
	next.UpdatedAt = base.Add(time.Minute)
	must(t, s.UpdateEndpoint(c, next))
	mustIs(t, s.UpdateEndpoint(c, next), errs.ErrDuplicate)
	got, err := s.GetEndpoint(c, a, e.ID)
	must(t, err)
	eq(t, "updated", got, storedEndpoint(next))
	missing := next
	missing.ID = id()
	mustIs(t, s.UpdateEndpoint(c, missing), errs.ErrNotFound)
	other := next
	other.Tenant, other.Version = tenant(t, "b"), 3
	mustIs(t, s.UpdateEndpoint(c, other), errs.ErrNotFound)
}

func testEndpointFailures(t *testing.T, s webhooks.Store) {
	c := ctx(t)
	a := tenant(t, "a")
	e := endpoint(a)
	must(t, s.CreateEndpoint(c, e))
	for i := range 3 {
		got, err := s.RecordFailure(c, a, e.ID, base.Add(time.Duration(i)*time.Minute))
		must(t, err)
		if got.Failures != i+1 || got.FailingSince == nil || !got.FailingSince.Equal(ms(base)) {
			t.Fatalf("after failure %d: %d since %v", i+1, got.Failures, got.FailingSince)
		}
	}
	_, err := s.RecordFailure(c, tenant(t, "b"), e.ID, base)
	mustIs(t, err, errs.ErrNotFound)
	must(t, s.RecordSuccess(c, a, e.ID))
	got, err := s.GetEndpoint(c, a, e.ID)
	must(t, err)
	if got.Failures != 0 || got.FailingSince != nil || got.Version != 1 {
		t.Fatalf("after success: %+v", got)
	}
	must(t, s.DisableEndpoint(c, a, e.ID, "failing", base))
	must(t, s.DisableEndpoint(c, a, e.ID, "again", base.Add(time.Hour)))
	got, err = s.GetEndpoint(c, a, e.ID)
	must(t, err)
	if !got.Disabled || got.DisabledReason != "failing" || !got.DisabledAt.Equal(ms(base)) || got.Version != 2 {
		t.Fatalf("disabled: %+v", got)
	}
}

func testDeliveryOnce(t *testing.T, s webhooks.Store) {
	c := ctx(t)
	a, b := tenant(t, "a"), tenant(t, "b")
	ep, ev := id(), id()
	d := delivery(a, ep, ev, "u1", base)
	ok, err := s.InsertDelivery(c, d)
	must(t, err)
	eq(t, "first", ok, true)
	again := delivery(a, ep, ev, "u1", base.Add(time.Minute))
	ok, err = s.InsertDelivery(c, again)
	must(t, err)
	eq(t, "repeat", ok, false)
	ok, err = s.InsertDelivery(c, delivery(a, id(), ev, "u1", base))
	must(t, err)
	eq(t, "other endpoint", ok, true)
	got, err := s.GetDelivery(c, a, d.ID)
	must(t, err)
	eq(t, "stored", got, storedDelivery(d))
	_, err = s.GetDelivery(c, b, d.ID)
	mustIs(t, err, errs.ErrNotFound)
	_, err = s.GetDelivery(c, a, again.ID)
	mustIs(t, err, errs.ErrNotFound)
}

func testDeliveryOnceConcurrent(t *testing.T, s webhooks.Store) {
	c := ctx(t)
	a, ep, ev := tenant(t, "a"), id(), id()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ok, err := s.InsertDelivery(c, delivery(a, ep, ev, "u1", base))
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	eq(t, "winners", wins.Load(), int32(1))
}

func testClaimLease(t *testing.T, s webhooks.Store) {
	c := ctx(t)
	a := tenant(t, "a")
	ep := id()
	due := delivery(a, ep, id(), "u1", base)
	later := delivery(a, ep, id(), "u1", base.Add(time.Hour))
	for _, d := range []webhooks.Delivery{due, later} {
		_, err := s.InsertDelivery(c, d)
		must(t, err)
	}
	now := base.Add(time.Second)
	got, err := s.ClaimDeliveries(c, "n1", now, now.Add(time.Minute), 10, 10, nil)
	must(t, err)
	if len(got) != 1 || got[0].ID != due.ID || got[0].Owner != "n1" {
		t.Fatalf("claimed %+v, want %s", got, due.ID)
	}
	leased := got[0]
	again, err := s.ClaimDeliveries(c, "n2", now, now.Add(time.Minute), 10, 10, nil)
	must(t, err)
	eq(t, "claimed while leased", len(again), 0)

	// The lease ran out: another node takes it, and the first one's
	// record no longer counts.
	expired := now.Add(2 * time.Minute)
	again, err = s.ClaimDeliveries(c, "n2", expired, expired.Add(time.Minute), 10, 10, nil)
	must(t, err)
	if len(again) != 1 || again[0].Gen == leased.Gen {
		t.Fatalf("reclaimed %+v", again)
	}
	o := webhooks.Outcome{Tenant: a, ID: due.ID, Owner: leased.Owner, Gen: leased.Gen, Status: webhooks.Delivered,
		Attempts: 1, At: expired}
	ok, err := s.FinishAttempt(c, o)
	must(t, err)
	eq(t, "stale lease finishes", ok, false)
	o.Owner, o.Gen = "n2", again[0].Gen
	o.Status, o.NextAt, o.HTTPStatus, o.Error = webhooks.Pending, expired.Add(time.Minute), 503, "HTTP 503"
	ok, err = s.FinishAttempt(c, o)
	must(t, err)
	eq(t, "holder finishes", ok, true)
	ok, err = s.FinishAttempt(c, o)
	must(t, err)
	eq(t, "finish twice", ok, false)
	stored, err := s.GetDelivery(c, a, due.ID)
	must(t, err)
	if stored.Status != webhooks.Pending || stored.Attempts != 1 || stored.LastStatus != 503 || stored.LastError != "HTTP 503" ||
		!stored.NextAt.Equal(ms(o.NextAt)) || stored.LastAttemptAt == nil || !stored.LastAttemptAt.Equal(ms(expired)) {
		t.Fatalf("after failure: %+v", stored)
	}
	// Due again at NextAt; delivered ones are never claimed.
	got, err = s.ClaimDeliveries(c, "n1", o.NextAt, o.NextAt.Add(time.Minute), 10, 10, nil)
	must(t, err)
	if len(got) != 1 || got[0].ID != due.ID {
		t.Fatalf("retry claimed %+v", got)
	}
	ok, err = s.FinishAttempt(c, webhooks.Outcome{Tenant: a, ID: due.ID, Owner: "n1", Gen: got[0].Gen,
		Status: webhooks.Delivered, Attempts: 2, At: o.NextAt, HTTPStatus: 204})
	must(t, err)
	eq(t, "delivered", ok, true)
	stored, err = s.GetDelivery(c, a, due.ID)
	must(t, err)
	if stored.Status != webhooks.Delivered || stored.DeliveredAt == nil || stored.Owner != "" {
		t.Fatalf("delivered: %+v", stored)
	}
	far := base.Add(48 * time.Hour)
	got, err = s.ClaimDeliveries(c, "n1", far, far.Add(time.Minute), 10, 10, nil)
	must(t, err)
	if len(got) != 1 || got[0].ID != later.ID {
		t.Fatalf("only the later one is due: %+v", got)
	}
}

// testClaimShares: a claim takes at most perEndpoint deliveries of one
// endpoint and none of the skipped ones, so a backlog on one endpoint
// does not hide the others.
func testClaimShares(t *testing.T, s webhooks.Store) {
	c := ctx(t)
	a := tenant(t, "a")
	slow, fast, other := id(), id(), id()
	for i := range 20 {
		_, err := s.InsertDelivery(c, delivery(a, slow, id(), "u1", base.Add(time.Duration(i)*time.Millisecond)))
		must(t, err)
	}
	for _, ep := range []string{fast, other} {
		_, err := s.InsertDelivery(c, delivery(a, ep, id(), "u1", base.Add(time.Second)))
		must(t, err)
	}
	now := base.Add(time.Minute)
	got, err := s.ClaimDeliveries(c, "n1", now, now.Add(time.Minute), 3, 2, nil)
	must(t, err)
	if n := countFor(got, slow); len(got) != 2 || n != 2 {
		t.Fatalf("claimed %d, %d of the slow endpoint; want 2 of it (the scan window is its)", len(got), n)
	}
	got, err = s.ClaimDeliveries(c, "n1", now, now.Add(time.Minute), 10, 2, []string{slow})
	must(t, err)
	if len(got) != 2 || countFor(got, slow) != 0 {
		t.Fatalf("claimed %+v while skipping the slow endpoint", got)
	}
}

func countFor(ds []webhooks.Delivery, endpoint string) int {
	n := 0
	for _, d := range ds {
		if d.EndpointID == endpoint {
			n++
		}
	}
	return n
}

// testClaimConcurrent: nodes claiming at once never share a delivery.
func testClaimConcurrent(t *testing.T, s webhooks.Store) {
	c := ctx(t)
	a := tenant(t, "a")
	const n = 40
	for i := range n {
		_, err := s.InsertDelivery(c, delivery(a, id(), id(), "u1", base.Add(time.Duration(i)*time.Millisecond)))
		must(t, err)
	}
	now := base.Add(time.Minute)
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for node := range 4 {
		owner := string(rune('a' + node))
		wg.Go(func() {
			for range 10 {
				got, err := s.ClaimDeliveries(c, owner, now, now.Add(time.Minute), 3, 3, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, d := range got {
					if prev, ok := seen[d.ID]; ok {
						t.Errorf("%s claimed by %s and %s", d.ID, prev, owner)
					}
					seen[d.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	eq(t, "claimed", len(seen), n)
}

func testDeliveryLog(t *testing.T, s webhooks.Store) {
	c := ctx(t)
	a := tenant(t, "a")
	ep := id()
	var made []webhooks.Delivery
	for range 5 {
		d := delivery(a, ep, id(), "u1", base)
		_, err := s.InsertDelivery(c, d)
		must(t, err)
		made = append(made, storedDelivery(d))
	}
	_, err := s.InsertDelivery(c, delivery(a, id(), id(), "u1", base))
	must(t, err)
	slices.Reverse(made)
	page, err := s.ListDeliveries(c, a, ep, "", 3)
	must(t, err)
	eq(t, "page 1", page, made[:3])
	page, err = s.ListDeliveries(c, a, ep, made[2].ID, 3)
	must(t, err)
	eq(t, "page 2", page, made[3:])
	page, err = s.ListDeliveries(c, tenant(t, "b"), ep, "", 3)
	must(t, err)
	eq(t, "other tenant", len(page), 0)
}

func testReplay(t *testing.T, s webhooks.Store) {
	c := ctx(t)
	a := tenant(t, "a")
	ep := id()
	d := delivery(a, ep, id(), "u1", base)
	_, err := s.InsertDelivery(c, d)
	must(t, err)
	got, err := s.ClaimDeliveries(c, "n1", base, base.Add(time.Minute), 1, 1, nil)
	must(t, err)
	ok, err := s.FinishAttempt(c, webhooks.Outcome{Tenant: a, ID: d.ID, Owner: "n1", Gen: got[0].Gen, Status: webhooks.Failed,
		Attempts: 7, At: base, HTTPStatus: 500, Error: "HTTP 500"})
	must(t, err)
	eq(t, "failed", ok, true)
	now := base.Add(48 * time.Hour)
	_, err = s.ReplayDelivery(c, a, id(), d.ID, now, now.Add(24*time.Hour))
	mustIs(t, err, errs.ErrNotFound)
	_, err = s.ReplayDelivery(c, tenant(t, "b"), ep, d.ID, now, now.Add(24*time.Hour))
	mustIs(t, err, errs.ErrNotFound)
	r, err := s.ReplayDelivery(c, a, ep, d.ID, now, now.Add(24*time.Hour))
	must(t, err)
	if r.Status != webhooks.Pending || r.Attempts != 0 || !r.NextAt.Equal(ms(now)) || !r.GiveUpAt.Equal(ms(now.Add(24*time.Hour))) ||
		r.LastStatus != 500 {
		t.Fatalf("replayed: %+v", r)
	}
	got, err = s.ClaimDeliveries(c, "n2", now, now.Add(time.Minute), 1, 1, nil)
	must(t, err)
	eq(t, "claimable again", len(got), 1)
	// A replay while a node holds the lease takes the lease away.
	_, err = s.ReplayDelivery(c, a, ep, d.ID, now, now.Add(24*time.Hour))
	must(t, err)
	ok, err = s.FinishAttempt(c, webhooks.Outcome{Tenant: a, ID: d.ID, Owner: "n2", Gen: got[0].Gen, Status: webhooks.Delivered, At: now})
	must(t, err)
	eq(t, "finish after replay", ok, false)
}

func testUserDeliveries(t *testing.T, s webhooks.Store) {
	c := ctx(t)
	a := tenant(t, "a")
	ep := id()
	var mine []webhooks.Delivery
	for range 3 {
		d := delivery(a, ep, id(), "u1", base)
		_, err := s.InsertDelivery(c, d)
		must(t, err)
		mine = append(mine, storedDelivery(d))
	}
	theirs := delivery(a, ep, id(), "u2", base)
	_, err := s.InsertDelivery(c, theirs)
	must(t, err)
	page, err := s.UserDeliveries(c, a, "u1", "", 2)
	must(t, err)
	eq(t, "page 1", page, mine[:2])
	page, err = s.UserDeliveries(c, a, "u1", mine[1].ID, 2)
	must(t, err)
	eq(t, "page 2", page, mine[2:])
	redacted := []byte(`{"redacted":true}`)
	must(t, s.RedactUserDeliveries(c, a, "u1", redacted))
	must(t, s.RedactUserDeliveries(c, a, "u1", redacted))
	page, err = s.UserDeliveries(c, a, "u1", "", 10)
	must(t, err)
	eq(t, "after erasure", len(page), 0)
	got, err := s.GetDelivery(c, a, mine[0].ID)
	must(t, err)
	if string(got.Payload) != string(redacted) || got.User != "" {
		t.Fatalf("redacted: %+v", got)
	}
	got, err = s.GetDelivery(c, a, theirs.ID)
	must(t, err)
	eq(t, "another user's", got, storedDelivery(theirs))
}
