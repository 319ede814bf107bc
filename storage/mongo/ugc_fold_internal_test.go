package mongo

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

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
