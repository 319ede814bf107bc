package mongo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/ugc"
)

// TestUGCHealFolds: a save whose summary fold a crash cut short (the
// fold is recorded on the submission but not applied) is healed by
// HealFolds once; a fold applied but not yet pulled is not applied twice.
func TestUGCHealFolds(t *testing.T) {
	s, _ := openFolding(t)
	ctx := context.Background()
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	sum := func(want [5]int64, when string) {
		t.Helper()
		got, err := s.Summary(ctx, "a", "p1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Distribution != want {
			t.Fatalf("%s: summary %v, want %v", when, got.Distribution, want)
		}
	}
	heal := func(want int, when string) {
		t.Helper()
		n, err := s.HealFolds(ctx, time.Now(), 100)
		if err != nil || n != want {
			t.Fatalf("%s: healed %d (%v), want %d", when, n, err, want)
		}
	}
	listed := func(i, rating int) (ugc.Submission, ugc.Submission) {
		sub := ugc.Submission{ID: fmt.Sprintf("s%d", i), Tenant: "a", User: fmt.Sprintf("u%d", i), Kind: ugc.Review, ProductID: "p1",
			Status: ugc.Pending, Content: ugc.Content{Rating: rating, Body: "b"}, CreatedAt: at, UpdatedAt: at, QueuedAt: at, Version: 1}
		if _, _, err := s.CreateSubmission(ctx, sub); err != nil {
			t.Fatal(err)
		}
		next := sub
		c := sub.Content
		next.Status, next.Public, next.ApprovedAt, next.Version = ugc.Approved, &c, &at, 2
		return sub, next
	}
	prev, next := listed(1, 4)
	if err := s.SaveSubmission(ctx, prev, next); err != nil {
		t.Fatal(err)
	}
	sum([5]int64{0, 0, 0, 1, 0}, "a save and its fold")
	heal(0, "nothing owed")

	// Crash between the save and the fold: the save records the fold only.
	_, next = listed(2, 5)
	f := ugcFold{Token: "s2:2", Product: "p1", From: 0, To: 5}
	update := bson.D{{Key: "$set", Value: ugcDefOf(next)}, {Key: "$push", Value: bson.D{{Key: "folds_owed", Value: f}}}}
	if err := updateVersioned(ctx, s.revisions, s.ugc.subs, "a", "s2", 2, update, "submission"); err != nil {
		t.Fatal(err)
	}
	sum([5]int64{0, 0, 0, 1, 0}, "after the cut-short save")
	heal(1, "heal")
	sum([5]int64{0, 0, 0, 1, 1}, "healed")
	heal(0, "healed twice")

	// Crash after the fold, before its pull: healing applies nothing more.
	if _, err := s.ugc.subs.UpdateOne(ctx, tenantID("a", "s2"), bson.D{{Key: "$push", Value: bson.D{{Key: "folds_owed", Value: f}}}}); err != nil {
		t.Fatal(err)
	}
	heal(1, "heal an applied fold")
	sum([5]int64{0, 0, 0, 1, 1}, "an applied fold healed again")
	got, err := s.RebuildSummary(ctx, "a", "p1")
	if err != nil || got.Distribution != [5]int64{0, 0, 0, 1, 1} {
		t.Fatalf("recount %v (%v) disagrees with the folds", got.Distribution, err)
	}
}

// TestUGCHealMarks: a vote or report whose counter move a crash cut short
// (the mark and the vote are stored, the counter is not moved) is counted
// by HealFolds once its mark is older than the grace; a recount clears the
// mark, and votes after it keep the counter exact.
func TestUGCHealMarks(t *testing.T) {
	for _, atomic := range []bool{true, false} {
		t.Run(fmt.Sprint("atomic=", atomic), func(t *testing.T) {
			s, _ := openFolding(t)
			s.atomicUpdates = atomic
			ctx := context.Background()
			at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
			sub := ugc.Submission{ID: "s1", Tenant: "a", User: "author", Kind: ugc.Review, ProductID: "p1",
				Status: ugc.Pending, Content: ugc.Content{Rating: 4, Body: "b"}, CreatedAt: at, UpdatedAt: at, QueuedAt: at, Version: 1}
			if _, _, err := s.CreateSubmission(ctx, sub); err != nil {
				t.Fatal(err)
			}
			counters := func(wantHelpful, wantReports int64, when string) {
				t.Helper()
				got, err := s.GetSubmission(ctx, "a", "s1")
				if err != nil || got.Helpful != wantHelpful || got.Reports != wantReports {
					t.Fatalf("%s: helpful %d, reports %d (%v), want %d, %d", when, got.Helpful, got.Reports, err, wantHelpful, wantReports)
				}
			}
			if _, err := s.Vote(ctx, "a", "s1", "u1", true); err != nil {
				t.Fatal(err)
			}
			// The crash: u2's vote and u3's report are stored after the
			// mark, their counter moves never happen.
			if err := s.dirtyMarks(ctx, "a", "s1"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ugc.votes.InsertOne(ctx, bson.D{{Key: "tenant", Value: "a"}, {Key: "submission_id", Value: "s1"},
				{Key: "user_id", Value: "u2"}, {Key: "helpful", Value: true}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ugc.reports.InsertOne(ctx, bson.D{{Key: "tenant", Value: "a"}, {Key: "submission_id", Value: "s1"},
				{Key: "user_id", Value: "u3"}, {Key: "reason", Value: "spam"}, {Key: "at", Value: at}}); err != nil {
				t.Fatal(err)
			}
			counters(1, 0, "after the crash")
			if n, err := s.healMarks(ctx, time.Now().Add(-time.Minute), 100); err != nil || n != 0 {
				t.Fatalf("recounted %d (%v) within the grace", n, err)
			}
			if n, err := s.HealFolds(ctx, time.Now().Add(time.Second), 100); err != nil || n != 1 {
				t.Fatalf("healed %d (%v), want the one recount", n, err)
			}
			counters(2, 1, "healed")
			if n, err := s.healMarks(ctx, time.Now().Add(time.Second), 100); err != nil || n != 0 {
				t.Fatalf("recounted %d (%v) after the mark was cleared", n, err)
			}
			if _, err := s.Vote(ctx, "a", "s1", "u2", false); err != nil { // u2 takes the vote back
				t.Fatal(err)
			}
			counters(1, 1, "after a change of vote")
			if _, err := s.HealFolds(ctx, time.Now().Add(time.Second), 100); err != nil {
				t.Fatal(err)
			}
			counters(1, 1, "healed again")
			if _, err := s.Vote(ctx, "a", "missing", "u1", true); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("vote on a missing submission: %v", err)
			}
		})
	}
}
