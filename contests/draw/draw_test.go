package draw

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
)

// exampleSeed is the seed of docs/draws.md's worked example.
var exampleSeed = bytes.Repeat([]byte{0x01}, SeedSize)

var exampleTickets = []Ticket{{"alice", 1}, {"alice", 2}, {"bob", 1}, {"carol", 1}, {"dave", 1}, {"dave", 2}, {"dave", 3}}

func build(t testing.TB, ts []Ticket) (*List, [32]byte) {
	t.Helper()
	l := NewList(true)
	for _, x := range ts {
		if err := l.Add(x); err != nil {
			t.Fatal(err)
		}
	}
	return l, l.Sum()
}

// TestWorkedExample pins the figures docs/draws.md shows, so the document
// cannot drift from the code.
func TestWorkedExample(t *testing.T) {
	l, sum := build(t, exampleTickets)
	if got := string(l.Bytes()); got != "alice\t1\nalice\t2\nbob\t1\ncarol\t1\ndave\t1\ndave\t2\ndave\t3\n" {
		t.Fatalf("file %q", got)
	}
	checks := []struct{ name, got, want string }{
		{"commitment", Commit(exampleSeed), "72cd6e8422c407fb6d098690f1130b7ded7ec2f7f5e1d30bd9d521f015363793"},
		{"list hash", hex.EncodeToString(sum[:]), "b7030d74c4d1df0a005c840a620061e74c52087058ded40981cea15924425a34"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
	for i := range exampleTickets {
		s := Score(exampleSeed, sum, i)
		t.Logf("ticket %d %v score %x", i, exampleTickets[i], s[:8])
	}
	order := Order(exampleSeed, sum, exampleTickets)
	t.Logf("order %v", order)
	if want := []string{"dave", "alice", "carol", "bob"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
}

func TestScoreMatchesOrder(t *testing.T) {
	_, sum := build(t, exampleTickets)
	order := Order(exampleSeed, sum, exampleTickets)
	best := map[string][32]byte{}
	for i, x := range exampleTickets {
		s := Score(exampleSeed, sum, i)
		if b, ok := best[x.Entrant]; !ok || bytes.Compare(s[:], b[:]) < 0 {
			best[x.Entrant] = s
		}
	}
	for i := 1; i < len(order); i++ {
		a, b := best[order[i-1]], best[order[i]]
		if bytes.Compare(a[:], b[:]) >= 0 {
			t.Fatalf("order %v is not by best score", order)
		}
	}
	if len(order) != 4 {
		t.Fatalf("order %v: want each entrant once", order)
	}
}

func TestListIsCanonical(t *testing.T) {
	for _, c := range []struct {
		name string
		ts   []Ticket
	}{
		{"out of order", []Ticket{{"bob", 1}, {"alice", 1}}},
		{"repeat", []Ticket{{"bob", 1}, {"bob", 1}}},
		{"numbers out of order", []Ticket{{"bob", 2}, {"bob", 1}}},
		{"zero number", []Ticket{{"bob", 0}}},
		{"space in handle", []Ticket{{"b b", 1}}},
		{"empty handle", []Ticket{{"", 1}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := NewList(false)
			var err error
			for _, x := range c.ts {
				if err = l.Add(x); err != nil {
					break
				}
			}
			if err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestParse(t *testing.T) {
	l, sum := build(t, exampleTickets)
	ts, got, err := Parse(l.Bytes())
	if err != nil || got != sum || !slices.Equal(ts, exampleTickets) {
		t.Fatalf("parse: %v %x %v", ts, got, err)
	}
	for _, bad := range []string{"alice\t1", "alice 1\n", "alice\t01\n", "alice\t+1\n", "bob\t1\nalice\t1\n", "\t1\n", "alice\t1\t2\n"} {
		if _, _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("parse %q: accepted", bad)
		}
	}
}

func TestParseSeed(t *testing.T) {
	c := Commit(exampleSeed)
	if _, err := ParseSeed(hex.EncodeToString(exampleSeed), c); err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte{2}, SeedSize)
	for _, s := range []string{hex.EncodeToString(other), "zz", "0101"} {
		if _, err := ParseSeed(s, c); err == nil {
			t.Errorf("seed %q accepted", s)
		}
	}
}

// TestAnyChangeChangesOutcome: one ticket, the seed or the order changed
// gives another list hash or seed, and over a list of 200 tickets another
// order of entrants.
func TestAnyChangeChangesOutcome(t *testing.T) {
	var ts []Ticket
	for i := range 200 {
		ts = append(ts, Ticket{fmt.Sprintf("u%03d", i), 1})
	}
	_, sum := build(t, ts)
	base := Order(exampleSeed, sum, ts)

	changed := slices.Clone(ts)
	changed[57].Entrant = "u057x"
	_, sumChanged := build(t, changed)
	swapped := slices.Clone(ts)
	swapped[3], swapped[4] = swapped[4], swapped[3]
	cases := []struct {
		name string
		seed []byte
		sum  [32]byte
		ts   []Ticket
	}{
		{"one entry", exampleSeed, sumChanged, changed},
		{"seed", bytes.Repeat([]byte{2}, SeedSize), sum, ts},
		// the swapped list is not canonical (Parse refuses it); scored
		// under its own hash it gives another order too
		{"order", exampleSeed, hashOf(swapped), swapped},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Order(c.seed, c.sum, c.ts); slices.Equal(got[:10], base[:10]) {
				t.Fatalf("same top 10 %v", got[:10])
			}
		})
	}
	if _, _, err := Parse(fileOf(swapped)); err == nil {
		t.Fatal("a reordered list parses as canonical")
	}
}

func hashOf(ts []Ticket) [32]byte {
	var b []byte
	for _, x := range ts {
		b = appendLine(b, x)
	}
	return sha256Sum(b)
}

func fileOf(ts []Ticket) []byte {
	var b []byte
	for _, x := range ts {
		b = appendLine(b, x)
	}
	return b
}

func TestAssign(t *testing.T) {
	order := []string{"a", "b", "c", "d", "e", "f"}
	for _, c := range []struct {
		name string
		k    int
		dq   []string
		want []string
	}{
		{"plain", 3, nil, []string{"a", "b", "c"}},
		{"first replaced by next unused", 3, []string{"a"}, []string{"d", "b", "c"}},
		{"two in turn", 3, []string{"b", "d"}, []string{"a", "e", "c"}},
		{"a replacement replaced", 2, []string{"a", "c"}, []string{"d", "b"}},
		{"non-winner skipped later", 2, []string{"c", "a"}, []string{"d", "b"}},
		{"repeat is no change", 2, []string{"a", "a"}, []string{"c", "b"}},
		{"order runs out", 5, []string{"a", "b"}, []string{"f", "", "c", "d", "e"}},
		{"more places than entrants", 8, nil, []string{"a", "b", "c", "d", "e", "f", "", ""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Assign(order, c.k, c.dq)
			var who []string
			for i, s := range got {
				if s.Position != i+1 {
					t.Fatalf("position %d at %d", s.Position, i)
				}
				who = append(who, s.Entrant)
			}
			if !slices.Equal(who, c.want) {
				t.Fatalf("got %v, want %v", who, c.want)
			}
		})
	}
}

func tickets(n int) []Ticket {
	ts := make([]Ticket, n)
	for i := range ts {
		// 4 tickets per entrant, handles in canonical order
		ts[i] = Ticket{fmt.Sprintf("e%08d", i/4), int64(i%4 + 1)}
	}
	return ts
}

// BenchmarkDraw1M is the whole draw over 1,000,000 tickets: the list's
// hash, every score, the sort and the order of entrants.
func BenchmarkDraw1M(b *testing.B) {
	ts := tickets(1_000_000)
	b.ResetTimer()
	for b.Loop() {
		l := NewList(false)
		for _, x := range ts {
			if err := l.Add(x); err != nil {
				b.Fatal(err)
			}
		}
		order := Order(exampleSeed, l.Sum(), ts)
		_ = Assign(order, 10, nil)
	}
}

func sha256Sum(b []byte) [32]byte {
	l := &List{h: newHash()}
	_, _ = l.h.Write(b)
	return l.Sum()
}

func TestVerify(t *testing.T) {
	var ts []Ticket
	for i := range 50 {
		ts = append(ts, Ticket{fmt.Sprintf("u%03d", i), 1}, Ticket{fmt.Sprintf("u%03d", i), 2})
	}
	l, sum := build(t, ts)
	file := l.Bytes()
	order := Order(exampleSeed, sum, ts)
	rec := Record{
		Algorithm: Version, Commitment: Commit(exampleSeed), Seed: hex.EncodeToString(exampleSeed),
		EntriesHash: hex.EncodeToString(sum[:]), EntriesCount: len(ts), Places: 3,
		Disqualified: []string{order[1]},
	}
	rec.Winners = Assign(order, 3, rec.Disqualified)
	if err := Verify(rec, file); err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte{9}, SeedSize)
	forged := slices.Clone(rec.Winners)
	forged[0].Entrant = order[5]
	for _, c := range []struct {
		name string
		edit func(*Record, []byte) []byte
	}{
		{"one entry changed", func(_ *Record, f []byte) []byte { return bytes.Replace(f, []byte("u007\t2"), []byte("u007\t3"), 1) }},
		{"one entry removed", func(_ *Record, f []byte) []byte { return bytes.Replace(f, []byte("u007\t2\n"), nil, 1) }},
		{"order changed", func(_ *Record, f []byte) []byte {
			return bytes.Replace(f, []byte("u007\t1\nu007\t2\n"), []byte("u007\t2\nu007\t1\n"), 1)
		}},
		{"another seed", func(r *Record, f []byte) []byte { r.Seed = hex.EncodeToString(other); return f }},
		{"another seed and its commitment", func(r *Record, f []byte) []byte {
			r.Seed, r.Commitment = hex.EncodeToString(other), Commit(other)
			return f
		}},
		{"the list and its hash replaced", func(r *Record, f []byte) []byte {
			f = bytes.Replace(f, []byte("u007\t2\n"), nil, 1)
			_, s, _ := Parse(f)
			r.EntriesHash, r.EntriesCount = hex.EncodeToString(s[:]), r.EntriesCount-1
			return f
		}},
		{"a forged winner", func(r *Record, f []byte) []byte { r.Winners = forged; return f }},
		{"a disqualification left out", func(r *Record, f []byte) []byte { r.Disqualified = nil; return f }},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rec
			f := c.edit(&r, slices.Clone(file))
			if err := Verify(r, f); err == nil {
				t.Fatal("verified")
			} else {
				t.Log(err)
			}
		})
	}
}
