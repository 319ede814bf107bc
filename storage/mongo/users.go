package mongo

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/points"
	"github.com/questline/questline/storage/internal/norm"
)

// A user's export and erasure (package users). Documents keyed by
// (tenant, owner, user, ...) are reached through the tenant's owners
// (challenges, badges, boards) with $in, so the queries use those keys'
// indexes instead of scanning the tenant. Each erasure step updates or
// deletes the user's documents (see moveUser for those with a unique
// key): no transaction, and a step repeated after a failure finds only
// what is left.

// ownerIDs lists the ids of the tenant's documents in col.
func ownerIDs(ctx context.Context, col *mdb.Collection, tenant string) ([]string, error) {
	cur, err := col.Find(ctx, bson.D{{Key: "tenant", Value: tenant}}, options.Find().SetProjection(bson.D{{Key: "id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	var docs []struct {
		ID string `bson:"id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids, nil
}

// ofOwners matches the user's documents under any of the tenant's owners
// in col (field owner).
func (s *Store) ofOwners(ctx context.Context, col *mdb.Collection, owner, tenant, user string) (bson.D, error) {
	ids, err := ownerIDs(ctx, col, tenant)
	if err != nil {
		return nil, err
	}
	return bson.D{{Key: "tenant", Value: tenant}, {Key: owner, Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "user", Value: user}}, nil
}

// setFields is an update that sets fields.
func setFields(fields ...bson.E) bson.D { return bson.D{{Key: "$set", Value: bson.D(fields)}} }

// moveUser moves the documents filter matches to pseudonym with update,
// one at a time: a document that would collide on its unique key (the
// fields uniq, with user) with one an earlier erasure moved there (the
// user id came back and did the same again) is deleted instead, since the
// earlier one already counts it. The collision is looked up first rather
// than caught, because FerretDB reports it as an internal error, not as
// MongoDB's duplicate key.
func moveUser(ctx context.Context, col *mdb.Collection, filter bson.D, pseudonym string, update bson.D, uniq ...string) error {
	cur, err := col.Find(ctx, filter)
	if err != nil {
		return err
	}
	var docs []bson.M
	if err := cur.All(ctx, &docs); err != nil {
		return err
	}
	for _, d := range docs {
		// Guarded by the user and never matching d itself, so an erasure
		// racing this one cannot make it delete what that one moved.
		mine := bson.D{{Key: "_id", Value: d["_id"]}, {Key: "user", Value: d["user"]}}
		taken := bson.D{{Key: "_id", Value: bson.D{{Key: "$ne", Value: d["_id"]}}},
			{Key: "tenant", Value: d["tenant"]}, {Key: "user", Value: pseudonym}}
		for _, f := range uniq {
			taken = append(taken, bson.E{Key: f, Value: d[f]})
		}
		n, err := col.CountDocuments(ctx, taken, options.Count().SetLimit(1))
		if err != nil {
			return err
		}
		if n > 0 {
			_, err = col.DeleteOne(ctx, mine)
		} else {
			_, err = col.UpdateOne(ctx, mine, update)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// UserEvents pages a user's events in id order after the id after.
func (s *Store) UserEvents(ctx context.Context, tenant, user, after string, limit int) ([]events.Event, error) {
	filter := bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}, {Key: "id", Value: bson.D{{Key: "$gt", Value: after}}}}
	out, err := findAll(ctx, s.events, filter,
		options.Find().SetSort(bson.D{{Key: "id", Value: 1}}).SetLimit(int64(norm.Limit(limit, DefaultLimit))), eventDoc.event)
	if err != nil {
		return nil, fmt.Errorf("mongo: user events: %w", err)
	}
	return out, nil
}

// DeleteUserEvents deletes every event of the user.
func (s *Store) DeleteUserEvents(ctx context.Context, tenant, user string) error {
	if _, err := s.events.DeleteMany(ctx, userKey(tenant, user)); err != nil {
		return fmt.Errorf("mongo: erase events: %w", err)
	}
	return nil
}

// UserMemberships lists the challenges the user joined, in challenge order.
func (s *Store) UserMemberships(ctx context.Context, tenant, user string) ([]challenges.Membership, error) {
	filter, err := s.ofOwners(ctx, s.challenges, "challenge", tenant, user)
	if err != nil {
		return nil, fmt.Errorf("mongo: user memberships: %w", err)
	}
	out, err := findAll(ctx, s.enrolments, filter, options.Find().SetSort(bson.D{{Key: "challenge", Value: 1}}), enrolmentDoc.enrolment)
	if err != nil {
		return nil, fmt.Errorf("mongo: user memberships: %w", err)
	}
	return out, nil
}

// EraseChallengeUser deletes the user's contributions, their tallies and
// unlocks and
// moves their completions and enrolments to pseudonym.
func (s *Store) EraseChallengeUser(ctx context.Context, tenant, user, pseudonym string) error {
	owned, err := s.ofOwners(ctx, s.challenges, "challenge", tenant, user)
	if err != nil {
		return fmt.Errorf("mongo: erase challenges: %w", err)
	}
	for _, col := range []*mdb.Collection{s.contributions, s.tallies, s.dayTallies} {
		if _, err := col.DeleteMany(ctx, owned); err != nil {
			return fmt.Errorf("mongo: erase %s: %w", col.Name(), err)
		}
	}
	if _, err := s.unlocks.DeleteMany(ctx, userKey(tenant, user)); err != nil {
		return fmt.Errorf("mongo: erase unlocks: %w", err)
	}
	if err := moveUser(ctx, s.completions, userKey(tenant, user), pseudonym,
		setFields(bson.E{Key: "user", Value: pseudonym}, bson.E{Key: "event_id", Value: ""}), "challenge", "period"); err != nil {
		return fmt.Errorf("mongo: erase completions: %w", err)
	}
	if err := moveUser(ctx, s.enrolments, owned, pseudonym, setFields(bson.E{Key: "user", Value: pseudonym}), "challenge"); err != nil {
		return fmt.Errorf("mongo: erase enrolments: %w", err)
	}
	return nil
}

// EraseBadgeUser deletes the user's badge contributions and moves their
// awards to pseudonym.
func (s *Store) EraseBadgeUser(ctx context.Context, tenant, user, pseudonym string) error {
	owned, err := s.ofOwners(ctx, s.badges, "badge", tenant, user)
	if err != nil {
		return fmt.Errorf("mongo: erase badges: %w", err)
	}
	if _, err := s.badgeContributions.DeleteMany(ctx, owned); err != nil {
		return fmt.Errorf("mongo: erase badge contributions: %w", err)
	}
	if err := moveUser(ctx, s.awards, userKey(tenant, user), pseudonym,
		setFields(bson.E{Key: "user", Value: pseudonym}, bson.E{Key: "event_id", Value: ""}), "badge", "tier", "period"); err != nil {
		return fmt.Errorf("mongo: erase awards: %w", err)
	}
	return nil
}

// AnonymiseEntries moves the user's ledger entries to pseudonym and deletes
// their day sums (see points.UserData).
func (s *Store) AnonymiseEntries(ctx context.Context, tenant, user, pseudonym string) error {
	_, err := s.ledger.UpdateMany(ctx, userKey(tenant, user), setFields(bson.E{Key: "user", Value: pseudonym},
		bson.E{Key: "reason", Value: points.ErasedReason}, bson.E{Key: "event_id", Value: ""}))
	if err != nil {
		return fmt.Errorf("mongo: erase ledger: %w", err)
	}
	for _, col := range []*mdb.Collection{s.wallets.days, s.wallets.months} {
		if _, err := col.DeleteMany(ctx, userKey(tenant, user)); err != nil {
			return fmt.Errorf("mongo: erase %s: %w", col.Name(), err)
		}
	}
	return nil
}

// UserScores lists the user's event-board scores in (board, event) order.
func (s *Store) UserScores(ctx context.Context, tenant, user string) ([]leaderboards.Score, error) {
	filter, err := s.ofOwners(ctx, s.boards, "board", tenant, user)
	if err != nil {
		return nil, fmt.Errorf("mongo: user scores: %w", err)
	}
	out, err := findAll(ctx, s.scores, filter,
		options.Find().SetSort(bson.D{{Key: "board", Value: 1}, {Key: "event_id", Value: 1}}),
		func(d scoreDoc) (leaderboards.Score, error) { return d.score(), nil })
	if err != nil {
		return nil, fmt.Errorf("mongo: user scores: %w", err)
	}
	return out, nil
}

// EraseBoardUser deletes the user's event-board scores, their totals and
// exclusions.
func (s *Store) EraseBoardUser(ctx context.Context, tenant, user string) error {
	owned, err := s.ofOwners(ctx, s.boards, "board", tenant, user)
	if err != nil {
		return fmt.Errorf("mongo: erase boards: %w", err)
	}
	for _, col := range []*mdb.Collection{s.scores, s.totals} {
		if _, err := col.DeleteMany(ctx, owned); err != nil {
			return fmt.Errorf("mongo: erase %s: %w", col.Name(), err)
		}
	}
	if _, err := s.exclusions.DeleteMany(ctx, owned); err != nil {
		return fmt.Errorf("mongo: erase exclusions: %w", err)
	}
	return nil
}

// DeleteUser deletes the user's profile and attributes.
func (s *Store) DeleteUser(ctx context.Context, tenant, user string) error {
	for _, col := range []*mdb.Collection{s.profiles, s.attributes} {
		if _, err := col.DeleteMany(ctx, userKey(tenant, user)); err != nil {
			return fmt.Errorf("mongo: erase %s: %w", col.Name(), err)
		}
	}
	return nil
}

// auditAbout matches the tenant's entries about or by the user.
func auditAbout(tenant, user string) bson.D {
	return bson.D{{Key: "tenant", Value: tenant}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "actor", Value: user}},
		bson.D{{Key: "subject", Value: "user:" + user}},
		bson.D{{Key: "subject", Value: bson.D{{Key: "$regex", Value: "/user:" + regexp.QuoteMeta(user) + "$"}}}},
	}}}
}

// AuditAbout lists the entries about or by the user, newest first.
func (s *Store) AuditAbout(ctx context.Context, tenant, user string) ([]audit.Entry, error) {
	out, err := findAll(ctx, s.audit, auditAbout(tenant, user), options.Find().SetSort(bson.D{{Key: "id", Value: -1}}), auditDoc.entry)
	if err != nil {
		return nil, fmt.Errorf("mongo: audit about: %w", err)
	}
	return out, nil
}

// AnonymiseAudit replaces the user's id by pseudonym in the entries about
// or by the user, one entry at a time: the new subject depends on the old.
func (s *Store) AnonymiseAudit(ctx context.Context, tenant, user, pseudonym string) error {
	es, err := s.AuditAbout(ctx, tenant, user)
	if err != nil {
		return fmt.Errorf("mongo: erase audit: %w", err)
	}
	for _, e := range es {
		actor := e.Actor
		if actor == user {
			actor = pseudonym
		}
		subject := e.Subject
		if rest, ok := strings.CutSuffix(subject, "user:"+user); ok && (rest == "" || strings.HasSuffix(rest, "/")) {
			subject = rest + "user:" + pseudonym
		}
		_, err := s.audit.UpdateOne(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "id", Value: e.ID}},
			setFields(bson.E{Key: "actor", Value: actor}, bson.E{Key: "subject", Value: subject}))
		if err != nil {
			return fmt.Errorf("mongo: erase audit: %w", err)
		}
	}
	return nil
}
