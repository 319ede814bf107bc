// Package users is what staff see and do about one user across every
// domain: the manager's view of a user (wallet, ledger, challenges,
// badges, ranks), and the user's data export and erasure. Every domain
// takes part in export and erasure through Participant; every read and
// erasure by staff is recorded in the audit log.
package users

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/auth"
)

// Participant is one domain's part in a user's export and erasure. A new
// domain joins both by implementing it and being registered in
// cmd/server.
type Participant interface {
	// Export returns the domain's section of the user's export: its name
	// (unique among participants) and a value encoding/json can encode.
	// After Erase it must hold none of the user's data.
	Export(ctx context.Context, tenant, user string) (section string, data any, err error)
	// Erase deletes the user's data in the domain, or anonymises it under
	// auth.Pseudonym where totals depend on it. Repeating it, also after a
	// partial failure, must be harmless.
	Erase(ctx context.Context, tenant, user string) error
}

// Auditor records staff actions.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) error
}

// Service exports and erases users and records staff reads.
type Service struct {
	participants []Participant
	auditor      Auditor
	now          func() time.Time
}

// NewService returns a service over the participants, erased in the
// order given.
func NewService(auditor Auditor, participants ...Participant) *Service {
	return &Service{participants: participants, auditor: auditor, now: time.Now}
}

// Export is a user's data: one section per domain.
type Export struct {
	UserID     string         `json:"user_id"`
	ExportedAt time.Time      `json:"exported_at"`
	Sections   map[string]any `json:"sections" doc:"One section per domain: events, points, challenges, badges, leaderboards, profiles, ugc, loyalty, contests, quizzes, webhook_deliveries, analytics, realtime, audit."`
}

// Export collects every participant's section of the user's data and
// records who read it.
func (s *Service) Export(ctx context.Context, p auth.Principal, user string) (Export, error) {
	out := Export{UserID: user, ExportedAt: s.clock(), Sections: map[string]any{}}
	for _, pt := range s.participants {
		name, data, err := pt.Export(ctx, p.Tenant, user)
		if err != nil {
			return Export{}, fmt.Errorf("users: export %s: %w", user, err)
		}
		if _, dup := out.Sections[name]; dup {
			return Export{}, fmt.Errorf("users: export %s: two participants export section %q", user, name)
		}
		out.Sections[name] = data
	}
	// Recorded after the reads, so the audit section never holds this
	// export itself (an erased user's export stays empty), and before the
	// answer, so no read goes unrecorded.
	if err := s.record(ctx, p, "user.export", "user:"+user, nil); err != nil {
		return Export{}, err
	}
	return out, nil
}

// Erasure reports an erasure.
type Erasure struct {
	UserID    string    `json:"user_id"`
	Pseudonym string    `json:"pseudonym" doc:"What the user's anonymised records (ledger lines, awards, completions, audit entries) carry instead of the user id."`
	ErasedAt  time.Time `json:"erased_at"`
}

// Erase erases the user from every participant, in order. It is recorded
// first, under the pseudonym (the log must not name an erased user), so
// even an erasure that fails halfway is on record; repeating it finishes
// the work and changes nothing more.
func (s *Service) Erase(ctx context.Context, p auth.Principal, user string) (Erasure, error) {
	pn := auth.Pseudonym(p.Tenant, user)
	if err := s.record(ctx, p, "user.erase", "user:"+pn, nil); err != nil {
		return Erasure{}, err
	}
	out := Erasure{UserID: user, Pseudonym: pn}
	for _, pt := range s.participants {
		if err := pt.Erase(ctx, p.Tenant, user); err != nil {
			return Erasure{}, fmt.Errorf("users: erase %s: %w", user, err)
		}
	}
	out.ErasedAt = s.clock()
	return out, nil
}

// Read records that staff read one view of a user's data.
func (s *Service) Read(ctx context.Context, p auth.Principal, user, view string) error {
	return s.record(ctx, p, "user.read", "user:"+user, map[string]string{"view": view})
}

func (s *Service) record(ctx context.Context, p auth.Principal, action, subject string, detail map[string]string) error {
	e := audit.Entry{
		ID: uuid.Must(uuid.NewV7()).String(), Tenant: p.Tenant, Actor: p.Subject,
		Action: action, Subject: subject, Detail: detail, At: s.clock(),
	}
	if err := s.auditor.Append(ctx, e); err != nil {
		return fmt.Errorf("users: audit %s: %w", action, err)
	}
	return nil
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }
