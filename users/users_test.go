package users

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/auth"
)

// journal records what the participants and the auditor were asked, in
// order.
type journal struct {
	calls    []string
	auditErr error
}

func (j *journal) Append(_ context.Context, e audit.Entry) error {
	j.calls = append(j.calls, "audit "+e.Action+" "+e.Subject+" by "+e.Actor)
	return j.auditErr
}

type part struct {
	j        *journal
	name     string
	eraseErr error
}

func (p part) Export(_ context.Context, tenant, user string) (string, any, error) {
	p.j.calls = append(p.j.calls, "export "+p.name+" "+tenant+"/"+user)
	return p.name, []string{user}, nil
}

func (p part) Erase(_ context.Context, tenant, user string) error {
	p.j.calls = append(p.j.calls, "erase "+p.name+" "+tenant+"/"+user)
	return p.eraseErr
}

var boss = auth.Principal{Tenant: "acme", Subject: "boss", Roles: []auth.Role{auth.Admin}}

func TestExport(t *testing.T) {
	tests := []struct {
		name      string
		parts     []string
		auditErr  error
		wantErr   string
		wantCalls []string
	}{
		{name: "a section per participant, recorded after the reads", parts: []string{"points", "badges"},
			wantCalls: []string{"export points acme/ann", "export badges acme/ann", "audit user.export user:ann by boss"}},
		{name: "two participants under one name", parts: []string{"points", "points"}, wantErr: `two participants export section "points"`,
			wantCalls: []string{"export points acme/ann", "export points acme/ann"}},
		{name: "an unrecorded read is refused", parts: []string{"points"}, auditErr: errors.New("log down"), wantErr: "log down",
			wantCalls: []string{"export points acme/ann", "audit user.export user:ann by boss"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := &journal{auditErr: tc.auditErr}
			var ps []Participant
			for _, n := range tc.parts {
				ps = append(ps, part{j: j, name: n})
			}
			e, err := NewService(j, ps...).Export(context.Background(), boss, "ann")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || e.Sections != nil {
					t.Fatalf("Export = %+v, %v; want error %q and no data", e, err, tc.wantErr)
				}
			} else if err != nil || e.UserID != "ann" || len(e.Sections) != len(tc.parts) {
				t.Fatalf("Export = %+v, %v", e, err)
			}
			if !slices.Equal(j.calls, tc.wantCalls) {
				t.Fatalf("calls = %q\nwant %q", j.calls, tc.wantCalls)
			}
		})
	}
}

// TestErase: the erasure is recorded first, under the pseudonym, then
// runs the participants in order; a failure stops it, and a retry runs
// every participant again.
func TestErase(t *testing.T) {
	j := &journal{}
	pn := auth.Pseudonym("acme", "ann")
	failing := part{j: j, name: "badges", eraseErr: errors.New("disk full")}
	s := NewService(j, part{j: j, name: "points"}, failing, part{j: j, name: "audit"})
	if _, err := s.Erase(context.Background(), boss, "ann"); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Erase with a failing participant = %v", err)
	}
	s.participants[1] = part{j: j, name: "badges"}
	got, err := s.Erase(context.Background(), boss, "ann")
	if err != nil || got.UserID != "ann" || got.Pseudonym != pn || got.ErasedAt.IsZero() {
		t.Fatalf("Erase = %+v, %v", got, err)
	}
	want := []string{
		"audit user.erase user:" + pn + " by boss", "erase points acme/ann", "erase badges acme/ann",
		"audit user.erase user:" + pn + " by boss", "erase points acme/ann", "erase badges acme/ann", "erase audit acme/ann",
	}
	if !slices.Equal(j.calls, want) {
		t.Fatalf("calls = %q\nwant %q", j.calls, want)
	}
	j.calls, j.auditErr = nil, errors.New("log down")
	if _, err := s.Erase(context.Background(), boss, "ann"); err == nil || len(j.calls) != 1 {
		t.Fatalf("Erase with the audit log down = %v after %q; want an error before any participant", err, j.calls)
	}
}
