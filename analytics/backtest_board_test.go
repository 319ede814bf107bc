package analytics

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/questline/questline/events"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
)

func draftBoard(t *testing.T, in leaderboards.CreateInput) leaderboards.Board {
	t.Helper()
	b, err := leaderboards.NewService(leaderboards.Config{}).Draft(context.Background(), "t", in)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// periods renders a result as "period:participants:user=score,..." lines.
func periods(res BoardResult) string {
	var lines []string
	for _, p := range res.Periods {
		var top []string
		for _, e := range p.Top {
			top = append(top, e.User+"="+strconv.FormatInt(e.Score, 10))
		}
		lines = append(lines, fmt.Sprintf("%s:%d:%s", p.Period, p.Participants, strings.Join(top, ",")))
	}
	return strings.Join(lines, " ")
}

// TestReplayBoard replays events into a draft board's periods in its time
// zone, with its aggregation, max_per_event, scope and late grace.
func TestReplayBoard(t *testing.T) {
	// 14:00 UTC is 23:00 in Tokyo: 16:00 UTC is already the next local day.
	d0 := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	var s stream
	steps := func(n any) map[string]any { return map[string]any{"steps": n, "quiz_id": "q1"} }
	s.now("ann", "checkin", steps(50), d0)
	s.now("bob", "checkin", steps(500), d0.Add(time.Minute)) // capped at 100 where max_per_event is
	s.now("ann", "checkin", steps(70), d0.Add(2*time.Hour))
	s.now("cy", "checkin", steps(2.5), d0.Add(2*time.Hour)) // not an integer: no score
	s.now("bob", "checkin", map[string]any{"steps": 30}, d0.Add(3*time.Hour))
	s.add("dee", "checkin", steps(20), d0.Add(30*time.Minute), d0.Add(20*time.Hour)) // late, within the grace
	s.add("cy", "checkin", steps(40), d0, d0.Add(36*time.Hour))                      // late past a day's grace: only periods without an end take it
	s.now("ann", "visit", steps(9), d0)
	in := func(mod func(*leaderboards.CreateInput)) leaderboards.CreateInput {
		c := leaderboards.CreateInput{Name: "Steps", Source: leaderboards.FromEvents, EventType: "checkin", Prop: "steps", Window: leaderboards.Daily, TimeZone: "Asia/Tokyo"}
		mod(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		in   leaderboards.CreateInput
		want string
	}{
		{"daily sum in Tokyo", in(func(*leaderboards.CreateInput) {}),
			"2026-03-02:3:bob=500,ann=50,dee=20 2026-03-03:2:ann=70,bob=30"},
		{"max_per_event", in(func(c *leaderboards.CreateInput) { c.MaxPerEvent = 100 }),
			"2026-03-02:3:bob=100,ann=50,dee=20 2026-03-03:2:ann=70,bob=30"},
		{"daily in UTC", in(func(c *leaderboards.CreateInput) { c.TimeZone = "UTC" }),
			"2026-03-02:3:bob=530,ann=120,dee=20"},
		{"best, all time", in(func(c *leaderboards.CreateInput) { c.Window, c.Aggregation = leaderboards.AllTime, leaderboards.Best }),
			"all:4:bob=500,ann=70,cy=40,dee=20"},
		{"latest, all time", in(func(c *leaderboards.CreateInput) { c.Window, c.Aggregation = leaderboards.AllTime, leaderboards.Latest }),
			"all:4:ann=70,cy=40,bob=30,dee=20"},
		{"counted, scoped to a quiz", in(func(c *leaderboards.CreateInput) {
			c.Prop, c.Window, c.Scope = "", leaderboards.Weekly, &leaderboards.Scope{Type: "quiz", ID: "q1"}
		}), "2026-W10:4:ann=2,cy=2,bob=1,dee=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := NewService(Config{Events: s.evs})
			svc.now = func() time.Time { return d0.Add(48 * time.Hour) }
			res, err := svc.ReplayBoard(context.Background(), draftBoard(t, tc.in), d0.Add(-time.Hour), func(int64, time.Time) {})
			if err != nil {
				t.Fatal(err)
			}
			if got := periods(res); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			if res.Current == nil {
				t.Fatal("no current period")
			}
		})
	}
}

// ledgerEntries is a LedgerScanner over a fixed ledger.
type ledgerEntries []points.Entry

func (l ledgerEntries) ScanEarnings(_ context.Context, _ string, fn func(points.Entry) error) error {
	for _, e := range l {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// TestReplayPointsBoard replays the ledger's credits: a board's scope is
// a key prefix, a reversal lowers its credit's period while that period
// is open, and credits before the span do not count.
func TestReplayPointsBoard(t *testing.T) {
	d0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	credit := func(user string, n int64, key string, at time.Time) points.Entry {
		return points.Entry{Tenant: "t", User: user, Amount: n, Key: key, CreatedAt: at}
	}
	l := ledgerEntries{
		credit("old", 100, "earn:r:e0", d0.Add(-48*time.Hour)),
		credit("ann", 10, "challenge:c1:x", d0),
		credit("bob", 20, "earn:r:e1", d0.Add(time.Hour)),
		credit("ann", 5, "earn:r:e2", d0.Add(24*time.Hour)),
		credit("bob", -20, "earn:r:e1", d0.Add(time.Hour)), // reversed within the day's grace
		credit("cy", 7, "earn:r:e3", d0.Add(72*time.Hour)),
		credit("ann", -10, "challenge:c1:x", d0), // too late: 2 March has closed
	}
	for _, tc := range []struct {
		name string
		in   leaderboards.CreateInput
		want string
	}{
		{"daily", leaderboards.CreateInput{Name: "P", Window: leaderboards.Daily},
			"2026-03-02:2:ann=10,bob=0 2026-03-03:1:ann=5 2026-03-05:1:cy=7"},
		{"scoped", leaderboards.CreateInput{Name: "P", Window: leaderboards.Daily, Scope: &leaderboards.Scope{Type: "challenge", ID: "c1"}},
			"2026-03-02:1:ann=10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := NewService(Config{Drafts: Drafts{Ledger: l}})
			svc.now = func() time.Time { return d0.Add(96 * time.Hour) }
			res, err := svc.ReplayBoard(context.Background(), draftBoard(t, tc.in), d0.Add(-time.Hour), func(int64, time.Time) {})
			if err != nil {
				t.Fatal(err)
			}
			if got := periods(res); got != tc.want || res.Current == nil || res.Current.Period != "2026-03-06" || res.Current.Participants != 0 {
				t.Fatalf("got  %s (current %+v)\nwant %s", got, res.Current, tc.want)
			}
		})
	}
}

// TestBoardTop ranks as boards do: score, then the earlier achiever, then
// user id; ten members are listed, all are counted.
func TestBoardTop(t *testing.T) {
	d0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	var s stream
	for i := range 12 {
		at := d0
		if i == 9 {
			at = d0.Add(-time.Minute) // reached 10 first
		}
		s.now(fmt.Sprintf("u%02d", i), "checkin", map[string]any{"steps": 10 - i/6}, at)
	}
	svc := NewService(Config{Events: s.evs})
	res, err := svc.ReplayBoard(context.Background(), draftBoard(t, leaderboards.CreateInput{Name: "S", Source: leaderboards.FromEvents,
		EventType: "checkin", Prop: "steps"}), d0.Add(-time.Hour), func(int64, time.Time) {})
	if err != nil {
		t.Fatal(err)
	}
	want := "all:12:u00=10,u01=10,u02=10,u03=10,u04=10,u05=10,u09=9,u06=9,u07=9,u08=9"
	if got := periods(res); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestBoardMemory: a period is summed up and forgotten once nothing more
// can score in it, so a daily board over two months holds about two days.
func TestBoardMemory(t *testing.T) {
	f := newBoardFold(draftBoard(t, leaderboards.CreateInput{Name: "S", Source: leaderboards.FromEvents, EventType: "checkin", Window: leaderboards.Daily}))
	d0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	most := 0
	for i := range 24 * 60 {
		at := d0.Add(time.Duration(i) * time.Hour)
		f.event(events.Event{User: "u" + strconv.Itoa(i%50), Type: "checkin", OccurredAt: at, ReceivedAt: at})
		most = max(most, len(f.open))
	}
	if most > 3 || len(f.summed) < 58 {
		t.Fatalf("%d periods open at most, %d summed up", most, len(f.summed))
	}
}
