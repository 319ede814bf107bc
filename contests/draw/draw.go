// Package draw is the verifiable prize draw: a pure, deterministic
// function from a secret seed and a frozen, published entry list to an
// ordered list of winners. Anyone holding the published files can run it
// again (cmd/verify-draw) and check the operator's result. docs/draws.md
// documents the algorithm byte by byte, with a worked example.
//
// The protocol: when a draw opens, the operator draws a 32-byte seed and
// publishes its commitment, SHA-256(seed). Entries are collected; at the
// close they are frozen into the canonical entry list (Lines), published
// with its SHA-256. The draw reveals the seed. Each ticket i of the list
// scores HMAC-SHA256(key = seed, message = SHA-256(list) || uint64be(i));
// tickets in ascending score order, each entrant kept at their best
// ticket, are the draw's order of entrants (Order). The first k entrants
// win; a disqualified winner's place goes to the next entrant of the
// order not yet used (Assign).
//
// Because the list's hash is part of every score, changing, adding,
// removing or reordering one ticket changes every score, and the
// commitment fixes the seed before the entries close, so the operator
// cannot pick a seed after seeing the entries.
package draw

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// SeedSize is the length of a seed in bytes.
const SeedSize = 32

// Version names this algorithm in published draw records, so a later
// change of algorithm cannot be mistaken for this one.
const Version = "questline-draw-v1"

// Ticket is one entry of the list: the entrant's public handle and the
// ticket's number among the entrant's tickets (1, 2, ...).
type Ticket struct {
	Entrant string
	N       int64
}

// NewSeed draws a fresh secret seed from the system's CSPRNG.
func NewSeed() ([]byte, error) {
	seed := make([]byte, SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("draw: seed: %w", err)
	}
	return seed, nil
}

// Commit is the published commitment to seed: hex SHA-256(seed).
func Commit(seed []byte) string {
	h := sha256.Sum256(seed)
	return hex.EncodeToString(h[:])
}

// ParseSeed decodes a revealed seed from hex and checks it against the
// commitment published before the entries closed.
func ParseSeed(hexSeed, commitment string) ([]byte, error) {
	seed, err := hex.DecodeString(hexSeed)
	if err != nil || len(seed) != SeedSize {
		return nil, fmt.Errorf("draw: the seed is not %d bytes of hex", SeedSize)
	}
	if Commit(seed) != strings.ToLower(commitment) {
		return nil, errors.New("draw: SHA-256 of the revealed seed is not the commitment")
	}
	return seed, nil
}

// ValidEntrant reports whether s can be an entrant handle: 1 to 128
// printable ASCII bytes without space, so a line splits one way only.
func ValidEntrant(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// Less is the canonical order of tickets: by entrant (bytewise), then by
// number.
func Less(a, b Ticket) bool {
	if a.Entrant != b.Entrant {
		return a.Entrant < b.Entrant
	}
	return a.N < b.N
}

// List builds the canonical entry list file and its hash incrementally,
// checking that tickets come in canonical order, each once. Feed it the
// whole list with Add, then read Sum and, if kept, Bytes.
type List struct {
	h     hashWriter
	keep  *bytes.Buffer
	last  Ticket
	count int
	line  []byte
}

type hashWriter interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
}

func newHash() hashWriter { return sha256.New() }

// NewList returns an empty list; keep makes it also keep the file's bytes.
func NewList(keep bool) *List {
	l := &List{h: newHash()}
	if keep {
		l.keep = &bytes.Buffer{}
	}
	return l
}

// Add appends one ticket. A ticket out of canonical order, a repeat, a bad
// handle or a number below 1 is an error: the list has exactly one form.
func (l *List) Add(t Ticket) error {
	if !ValidEntrant(t.Entrant) || t.N < 1 {
		return fmt.Errorf("draw: ticket %d (%q, %d): bad entrant or number", l.count, t.Entrant, t.N)
	}
	if l.count > 0 && !Less(l.last, t) {
		return fmt.Errorf("draw: ticket %d (%q, %d) is not after (%q, %d) in canonical order", l.count, t.Entrant, t.N, l.last.Entrant, l.last.N)
	}
	l.line = appendLine(l.line[:0], t)
	_, _ = l.h.Write(l.line) // a hash never fails
	if l.keep != nil {
		l.keep.Write(l.line)
	}
	l.last = t
	l.count++
	return nil
}

// appendLine is a ticket's line of the file: entrant, a tab, the number
// in decimal, a newline.
func appendLine(b []byte, t Ticket) []byte {
	b = append(b, t.Entrant...)
	b = append(b, '\t')
	b = strconv.AppendInt(b, t.N, 10)
	return append(b, '\n')
}

// Len is how many tickets were added.
func (l *List) Len() int { return l.count }

// Sum is SHA-256 of the file.
func (l *List) Sum() [32]byte {
	var out [32]byte
	copy(out[:], l.h.Sum(nil))
	return out
}

// Bytes is the file, when the list was made to keep it.
func (l *List) Bytes() []byte {
	if l.keep == nil {
		return nil
	}
	return l.keep.Bytes()
}

// Parse reads a published entry list file, checking it is canonical.
func Parse(file []byte) ([]Ticket, [32]byte, error) {
	l := NewList(false)
	var out []Ticket
	for n := 1; len(file) > 0; n++ {
		i := bytes.IndexByte(file, '\n')
		if i < 0 {
			return nil, [32]byte{}, fmt.Errorf("draw: line %d has no final newline", n)
		}
		line := string(file[:i])
		file = file[i+1:]
		entrant, num, ok := strings.Cut(line, "\t")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || strconv.FormatInt(v, 10) != num {
			return nil, [32]byte{}, fmt.Errorf("draw: line %d is not <entrant>TAB<number>", n)
		}
		t := Ticket{Entrant: entrant, N: v}
		if err := l.Add(t); err != nil {
			return nil, [32]byte{}, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, t)
	}
	return out, l.Sum(), nil
}

// Score is ticket index i's score: HMAC-SHA256 keyed by the seed over the
// list's hash followed by i as 8 big-endian bytes.
func Score(seed []byte, listHash [32]byte, i int) [32]byte {
	var msg [40]byte
	copy(msg[:], listHash[:])
	binary.BigEndian.PutUint64(msg[32:], uint64(i))
	m := hmac.New(sha256.New, seed)
	m.Write(msg[:])
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

// scored is a ticket index and its score.
type scored struct {
	score [32]byte
	i     uint32
}

// Order is the draw's order of entrants: tickets sorted by ascending score
// (compared as 32-byte big-endian numbers; equal scores, which SHA-256
// makes practically impossible, by index), each entrant at their best
// ticket only. tickets must be the canonical list whose hash is listHash.
func Order(seed []byte, listHash [32]byte, tickets []Ticket) []string {
	if len(tickets) > 1<<32-1 {
		panic("draw: more than 2^32-1 tickets")
	}
	all := make([]scored, len(tickets))
	var msg [40]byte
	copy(msg[:], listHash[:])
	m := hmac.New(sha256.New, seed)
	var sum []byte
	for i := range tickets {
		binary.BigEndian.PutUint64(msg[32:], uint64(i))
		m.Reset()
		m.Write(msg[:])
		sum = m.Sum(sum[:0])
		copy(all[i].score[:], sum)
		all[i].i = uint32(i)
	}
	slices.SortFunc(all, func(a, b scored) int {
		if c := bytes.Compare(a.score[:], b.score[:]); c != 0 {
			return c
		}
		return int(a.i) - int(b.i)
	})
	seen := make(map[string]struct{})
	var out []string
	for _, s := range all {
		e := tickets[s.i].Entrant
		if _, dup := seen[e]; !dup {
			seen[e] = struct{}{}
			out = append(out, e)
		}
	}
	return out
}

// Slot is one prize place: its 1-based position and who holds it now
// ("" when the order ran out). Replaced lists the disqualified entrants
// who held it before, in order.
type Slot struct {
	Position int      `json:"position"`
	Entrant  string   `json:"entrant,omitempty"`
	Replaced []string `json:"replaced,omitempty"`
}

// Assign fills k prize places from order, then applies disqualifications
// in the order given: the disqualified entrant's place goes to the next
// entrant of order after the last one used who is not disqualified, and
// nobody else moves (prizes already handed out stay where they are). A
// disqualified entrant who holds no place is only skipped later.
func Assign(order []string, k int, disqualified []string) []Slot {
	slots := make([]Slot, k)
	out := map[string]bool{}
	next := 0
	fill := func(s *Slot) {
		s.Entrant = ""
		for next < len(order) {
			e := order[next]
			next++
			if !out[e] {
				s.Entrant = e
				return
			}
		}
	}
	for i := range slots {
		slots[i].Position = i + 1
		fill(&slots[i])
	}
	for _, d := range disqualified {
		if out[d] {
			continue
		}
		out[d] = true
		for i := range slots {
			if slots[i].Entrant == d {
				slots[i].Replaced = append(slots[i].Replaced, d)
				fill(&slots[i])
				break
			}
		}
	}
	return slots
}

// Record is a draw as published: everything Verify needs besides the
// entry list file.
type Record struct {
	Algorithm    string `json:"algorithm" doc:"questline-draw-v1"`
	Commitment   string `json:"commitment" doc:"Hex SHA-256 of the seed, published when the draw opened."`
	Seed         string `json:"seed,omitempty" doc:"The revealed seed, hex; empty until the draw."`
	EntriesHash  string `json:"entries_hash,omitempty" doc:"Hex SHA-256 of the entry list file."`
	EntriesCount int    `json:"entries_count"`
	Places       int    `json:"places" doc:"How many prize places the draw fills."`
	// Disqualified are the entrants disqualified after the draw, in the
	// order it happened.
	Disqualified []string `json:"disqualified,omitempty"`
	Winners      []Slot   `json:"winners"`
}

// Derive computes the winners rec's seed and file give: the check of the
// seed against the commitment, of the file against the hash and count,
// then Order and Assign.
func Derive(rec Record, file []byte) ([]Slot, error) {
	if rec.Algorithm != Version {
		return nil, fmt.Errorf("draw: algorithm %q, this verifier knows %s", rec.Algorithm, Version)
	}
	seed, err := ParseSeed(rec.Seed, rec.Commitment)
	if err != nil {
		return nil, err
	}
	tickets, sum, err := Parse(file)
	if err != nil {
		return nil, err
	}
	if got := hex.EncodeToString(sum[:]); got != strings.ToLower(rec.EntriesHash) {
		return nil, fmt.Errorf("draw: the entry list's SHA-256 is %s, the published hash %s", got, rec.EntriesHash)
	}
	if len(tickets) != rec.EntriesCount {
		return nil, fmt.Errorf("draw: the entry list has %d tickets, the record says %d", len(tickets), rec.EntriesCount)
	}
	return Assign(Order(seed, sum, tickets), rec.Places, rec.Disqualified), nil
}

// Verify re-derives rec's winners from the file and reports the first
// difference from the published ones.
func Verify(rec Record, file []byte) error {
	got, err := Derive(rec, file)
	if err != nil {
		return err
	}
	if len(got) != len(rec.Winners) {
		return fmt.Errorf("draw: %d places derived, %d published", len(got), len(rec.Winners))
	}
	for i, w := range got {
		p := rec.Winners[i]
		if p.Position != w.Position || p.Entrant != w.Entrant || !slices.Equal(p.Replaced, w.Replaced) {
			return fmt.Errorf("draw: place %d: derived %q (replacing %v), published %q (replacing %v)",
				w.Position, w.Entrant, w.Replaced, p.Entrant, p.Replaced)
		}
	}
	return nil
}
