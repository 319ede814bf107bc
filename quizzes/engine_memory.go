package quizzes

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/questline/questline/internal/errs"
)

// MemoryEngine keeps live shows in this process: the embedded default.
type MemoryEngine struct {
	mu       sync.Mutex
	sessions map[string]*memShow // tenant|id
	codes    map[string]string   // tenant|code -> id
	due      map[[2]string]time.Time
	joined   map[[2]string]map[string]bool // tenant, user -> session ids
}

type memShow struct {
	s       Session
	players map[string]Player
	answers map[int]map[string]LiveAnswer
	scored  map[int]bool
	expires time.Time
}

// NewMemoryEngine returns an empty engine.
func NewMemoryEngine() *MemoryEngine {
	return &MemoryEngine{sessions: map[string]*memShow{}, codes: map[string]string{}, due: map[[2]string]time.Time{},
		joined: map[[2]string]map[string]bool{}}
}

var _ Engine = (*MemoryEngine)(nil)

// show returns a live session; m.mu is held. Expired shows are dropped
// when met, as Redis drops their keys.
func (m *MemoryEngine) show(tenant, id string) (*memShow, error) {
	sh, ok := m.sessions[tenant+"|"+id]
	if ok && time.Now().After(sh.expires) {
		delete(m.sessions, tenant+"|"+id)
		delete(m.codes, tenant+"|"+sh.s.Code)
		ok = false
	}
	if !ok {
		return nil, fmt.Errorf("quizzes: live session %s: %w", id, errs.ErrNotFound)
	}
	return sh, nil
}

// CreateSession stores s and claims its code.
func (m *MemoryEngine) CreateSession(_ context.Context, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	code := s.Tenant + "|" + s.Code
	if id, ok := m.codes[code]; ok {
		if _, err := m.show(s.Tenant, id); err == nil {
			return fmt.Errorf("quizzes: join code %s: %w", s.Code, errs.ErrDuplicate)
		}
	}
	m.codes[code] = s.ID
	m.sessions[s.Tenant+"|"+s.ID] = &memShow{s: s, players: map[string]Player{}, answers: map[int]map[string]LiveAnswer{},
		scored: map[int]bool{}, expires: time.Now().Add(sessionTTL)}
	return nil
}

// SessionByCode returns the session a code names.
func (m *MemoryEngine) SessionByCode(_ context.Context, tenant, code string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.codes[tenant+"|"+code]
	if !ok {
		return "", fmt.Errorf("quizzes: join code %s: %w", code, errs.ErrNotFound)
	}
	if _, err := m.show(tenant, id); err != nil {
		return "", err
	}
	return id, nil
}

// GetSession returns a session.
func (m *MemoryEngine) GetSession(_ context.Context, tenant, id string) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh, err := m.show(tenant, id)
	if err != nil {
		return Session{}, err
	}
	return sh.s, nil
}

// SwapSession replaces a session at the next version.
func (m *MemoryEngine) SwapSession(_ context.Context, s Session) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh, err := m.show(s.Tenant, s.ID)
	if err != nil {
		return false, err
	}
	if sh.s.Version != s.Version-1 {
		return false, nil
	}
	sh.s = s
	return true, nil
}

// Join adds a player once.
func (m *MemoryEngine) Join(_ context.Context, tenant, id, user string, at time.Time) (Player, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh, err := m.show(tenant, id)
	if err != nil {
		return Player{}, false, err
	}
	if p, ok := sh.players[user]; ok {
		return p, false, nil
	}
	p := Player{User: user, JoinedAt: at}
	sh.players[user] = p
	k := [2]string{tenant, user}
	if m.joined[k] == nil {
		m.joined[k] = map[string]bool{}
	}
	m.joined[k][id] = true
	return p, true, nil
}

// UserSessions lists the live shows user joined.
func (m *MemoryEngine) UserSessions(_ context.Context, tenant, user string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for id := range m.joined[[2]string{tenant, user}] {
		if _, err := m.show(tenant, id); err == nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// PlayerAnswers returns user's answers by question.
func (m *MemoryEngine) PlayerAnswers(_ context.Context, tenant, id, user string, n int) (map[int]LiveAnswer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh, err := m.show(tenant, id)
	if err != nil {
		return nil, err
	}
	out := map[int]LiveAnswer{}
	for q := range n {
		if a, ok := sh.answers[q][user]; ok {
			out[q] = a
		}
	}
	return out, nil
}

// ErasePlayer forgets user in the show.
func (m *MemoryEngine) ErasePlayer(_ context.Context, tenant, id, user string, _ int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sh, err := m.show(tenant, id); err == nil {
		delete(sh.players, user)
		for _, as := range sh.answers {
			delete(as, user)
		}
	}
	k := [2]string{tenant, user}
	delete(m.joined[k], id)
	if len(m.joined[k]) == 0 {
		delete(m.joined, k)
	}
	return nil
}

// Player returns one player.
func (m *MemoryEngine) Player(_ context.Context, tenant, id, user string) (Player, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh, err := m.show(tenant, id)
	if err != nil {
		return Player{}, false, err
	}
	p, ok := sh.players[user]
	return p, ok, nil
}

// Players returns every player.
func (m *MemoryEngine) Players(_ context.Context, tenant, id string) ([]Player, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh, err := m.show(tenant, id)
	if err != nil {
		return nil, err
	}
	out := make([]Player, 0, len(sh.players))
	for _, p := range sh.players {
		out = append(out, p)
	}
	return out, nil
}

// PlayerCount counts the players.
func (m *MemoryEngine) PlayerCount(_ context.Context, tenant, id string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh, err := m.show(tenant, id)
	if err != nil {
		return 0, err
	}
	return len(sh.players), nil
}

// Answer stores a first answer.
func (m *MemoryEngine) Answer(_ context.Context, tenant, id string, q int, a LiveAnswer) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh, err := m.show(tenant, id)
	if err != nil {
		return false, err
	}
	as := sh.answers[q]
	if as == nil {
		as = map[string]LiveAnswer{}
		sh.answers[q] = as
	}
	if _, ok := as[a.User]; ok {
		return false, nil
	}
	as[a.User] = a
	return true, nil
}

// Answered reports whether user answered question q.
func (m *MemoryEngine) Answered(_ context.Context, tenant, id string, q int, user string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh, err := m.show(tenant, id)
	if err != nil {
		return false, err
	}
	_, ok := sh.answers[q][user]
	return ok, nil
}

// Answers returns a question's answers.
func (m *MemoryEngine) Answers(_ context.Context, tenant, id string, q int) ([]LiveAnswer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh, err := m.show(tenant, id)
	if err != nil {
		return nil, err
	}
	out := make([]LiveAnswer, 0, len(sh.answers[q]))
	for _, a := range sh.answers[q] {
		out = append(out, a)
	}
	return out, nil
}

// Score writes standings once per question.
func (m *MemoryEngine) Score(_ context.Context, tenant, id string, q int, ps []Player) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh, err := m.show(tenant, id)
	if err != nil {
		return false, err
	}
	if sh.scored[q] {
		return false, nil
	}
	sh.scored[q] = true
	for _, p := range ps {
		sh.players[p.User] = p
	}
	return true, nil
}

// Ping always answers.
func (m *MemoryEngine) Ping(context.Context) error { return nil }

// Schedule records the show's deadline.
func (m *MemoryEngine) Schedule(_ context.Context, tenant, id string, deadline time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.due[[2]string{tenant, id}] = deadline
	return nil
}

// Due lists the deadlines passed at now. Few shows run on one node at
// once, so a scan is cheaper than keeping a heap in order.
func (m *MemoryEngine) Due(_ context.Context, now time.Time, limit int) ([]Deadline, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Deadline
	for k, at := range m.due {
		if !at.After(now) {
			out = append(out, Deadline{Tenant: k[0], ID: k[1], At: at})
		}
	}
	slices.SortFunc(out, func(a, b Deadline) int { return a.At.Compare(b.At) })
	return out[:min(len(out), limit)], nil
}

// Unschedule drops d unless a newer deadline replaced it.
func (m *MemoryEngine) Unschedule(_ context.Context, d Deadline) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{d.Tenant, d.ID}
	if at, ok := m.due[k]; ok && at.Equal(d.At) {
		delete(m.due, k)
	}
	return nil
}
