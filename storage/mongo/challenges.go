package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/challenges"
	"github.com/questline/questline/events/rule"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/storage/internal/norm"
)

// challengeDef is what UpdateChallenge replaces: every field of a
// challenge but its key and creation time. The rule is a subdocument
// built from its JSON (see jsonToRaw).
type challengeDef struct {
	Name        string             `bson:"name"`
	Description string             `bson:"description"`
	Status      string             `bson:"status"`
	Rule        bson.Raw           `bson:"rule,omitempty"`
	Spec        norm.ChallengeSpec `bson:",inline"`
	UpdatedAt   time.Time          `bson:"updated_at"`
	Version     int64              `bson:"version"`
}

// challengeDoc is a challenge as stored. Documents of the first release
// have the fields of norm.LegacyChallenge instead of a rule and spec; they
// read as the SQLite store converts its version 1 rows, and an update
// replaces those fields with a rule (see legacyChallengeFields).
type challengeDoc struct {
	Tenant    string               `bson:"tenant"`
	ID        string               `bson:"id"`
	CreatedAt time.Time            `bson:"created_at"`
	Def       challengeDef         `bson:",inline"`
	Legacy    norm.LegacyChallenge `bson:",inline"`
}

// legacyChallengeFields unsets the fields of norm.LegacyChallenge.
var legacyChallengeFields = bson.D{{Key: "event_type", Value: ""}, {Key: "filter", Value: ""}, {Key: "target", Value: ""},
	{Key: "reward_points", Value: ""}, {Key: "starts_at", Value: ""}, {Key: "ends_at", Value: ""}}

// ruleToRaw stores a rule as a subdocument with its JSON field names.
func ruleToRaw(r rule.Rule) (bson.Raw, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode rule: %w", err)
	}
	return jsonToRaw(b)
}

// rawToRule reads a rule stored by ruleToRaw, normalized (norm.DecodeRule)
// so that it reads as from SQLite although BSON keeps numbers as doubles.
func rawToRule(raw bson.Raw) (rule.Rule, error) {
	m, err := rawToMap(raw)
	if err != nil {
		return rule.Rule{}, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return rule.Rule{}, err
	}
	return norm.DecodeRule(b)
}

func toChallengeDoc(c challenges.Challenge) (challengeDoc, error) {
	r, err := ruleToRaw(c.Rule)
	if err != nil {
		return challengeDoc{}, err
	}
	return challengeDoc{
		Tenant: c.Tenant, ID: c.ID, CreatedAt: norm.NowIfZero(c.CreatedAt),
		Def: challengeDef{
			Name: c.Name, Description: c.Description, Status: string(c.Status), Rule: r,
			Spec: norm.ChallengeSpecOf(c), UpdatedAt: norm.NowIfZero(c.UpdatedAt), Version: c.Version,
		},
	}, nil
}

func (d challengeDoc) challenge() (challenges.Challenge, error) {
	c := challenges.Challenge{
		ID: d.ID, Tenant: d.Tenant, Name: d.Def.Name, Description: d.Def.Description,
		Status: challenges.Status(d.Def.Status), CreatedAt: norm.Trunc(d.CreatedAt),
		UpdatedAt: norm.Trunc(d.Def.UpdatedAt), Version: d.Def.Version,
	}
	if len(d.Def.Rule) == 0 {
		d.Legacy.Upgrade(&c)
		return c, nil
	}
	d.Def.Spec.Apply(&c)
	var err error
	if c.Rule, err = rawToRule(d.Def.Rule); err != nil {
		return challenges.Challenge{}, fmt.Errorf("decode rule of challenge %s: %w", d.ID, err)
	}
	return c, nil
}

func tenantID(tenant, id string) bson.D {
	return bson.D{{Key: "tenant", Value: tenant}, {Key: "id", Value: id}}
}

// CreateChallenge stores a new challenge; an existing (tenant, id) is an
// errs.ErrDuplicate. Zero CreatedAt/UpdatedAt become now.
func (s *Store) CreateChallenge(ctx context.Context, c challenges.Challenge) error {
	if c.ID == "" {
		return errors.New("mongo: create challenge: empty id")
	}
	d, err := toChallengeDoc(c)
	if err != nil {
		return fmt.Errorf("mongo: create challenge: %w", err)
	}
	if err := insertNew(ctx, s.challenges, d, "challenge "+c.ID); err != nil {
		return fmt.Errorf("mongo: create challenge: %w", err)
	}
	return nil
}

// UpdateChallenge replaces the stored challenge if its version is
// c.Version-1, exactly one of concurrent edits winning (see
// updateVersioned); a different version is an
// errs.ErrDuplicate, a missing challenge an errs.ErrNotFound. CreatedAt is
// immutable and kept from the stored document.
func (s *Store) UpdateChallenge(ctx context.Context, c challenges.Challenge) error {
	d, err := toChallengeDoc(c)
	if err != nil {
		return fmt.Errorf("mongo: update challenge: %w", err)
	}
	update := bson.D{{Key: "$set", Value: d.Def}, {Key: "$unset", Value: legacyChallengeFields}}
	if err := updateVersioned(ctx, s.revisions, s.challenges, c.Tenant, c.ID, c.Version, update, "challenge"); err != nil {
		return fmt.Errorf("mongo: update challenge: %w", err)
	}
	return nil
}

// GetChallenge returns one challenge of tenant.
func (s *Store) GetChallenge(ctx context.Context, tenant, id string) (challenges.Challenge, error) {
	var d challengeDoc
	if err := s.challenges.FindOne(ctx, tenantID(tenant, id)).Decode(&d); err != nil {
		if errors.Is(err, mdb.ErrNoDocuments) {
			return challenges.Challenge{}, fmt.Errorf("mongo: get challenge: challenge %s: %w", id, errs.ErrNotFound)
		}
		return challenges.Challenge{}, fmt.Errorf("mongo: get challenge: %w", err)
	}
	c, err := d.challenge()
	if err != nil {
		return challenges.Challenge{}, fmt.Errorf("mongo: get challenge: %w", err)
	}
	return c, nil
}

// ListChallenges pages a tenant's challenges by id, after the given id;
// status "" lists every status.
func (s *Store) ListChallenges(ctx context.Context, tenant string, status challenges.Status, after string, limit int) ([]challenges.Challenge, error) {
	out, err := findAll(ctx, s.challenges, pageFilter(tenant, string(status), after),
		options.Find().SetSort(bson.D{{Key: "id", Value: 1}}).SetLimit(int64(norm.Limit(limit, DefaultLimit))),
		challengeDoc.challenge)
	if err != nil {
		return nil, fmt.Errorf("mongo: list challenges: %w", err)
	}
	return out, nil
}

// pageFilter selects a tenant's definitions with an id after after and,
// unless status is "", that status.
func pageFilter(tenant, status, after string) bson.D {
	filter := bson.D{{Key: "tenant", Value: tenant}}
	if status != "" {
		filter = append(filter, bson.E{Key: "status", Value: status})
	}
	return append(filter, bson.E{Key: "id", Value: bson.D{{Key: "$gt", Value: after}}})
}

// contributionDoc is one event counted towards one goal; unique per
// (tenant, challenge, user, period, goal, event_id).
type contributionDoc struct {
	Tenant    string    `bson:"tenant"`
	Challenge string    `bson:"challenge"`
	User      string    `bson:"user"`
	Period    string    `bson:"period"`
	Goal      string    `bson:"goal"`
	EventID   string    `bson:"event_id"`
	Amount    int64     `bson:"amount"`
	Key       string    `bson:"key"`
	At        time.Time `bson:"at"`
}

func (d contributionDoc) contribution() (challenges.Contribution, error) {
	return challenges.Contribution{
		Tenant: d.Tenant, ChallengeID: d.Challenge, User: d.User, Period: d.Period,
		Goal: d.Goal, EventID: d.EventID, Amount: d.Amount, Key: d.Key, At: norm.Trunc(d.At),
	}, nil
}

// AddContribution stores c once; inserted is false for a repeat of the same
// (tenant, challenge, user, period, goal, event). A zero At becomes now.
//
// Without multi-document transactions the contribution and its tally are
// two writes, and a crash may fall between them. So the tally write is
// idempotent on its own and runs on every call, a repeat included: it adds
// the amount only if the bucket's applied list lacks the event, and
// appends the event in the same atomic update (see fold and foldDoc). A
// replay thus finishes what a crash left and never adds twice. The list is
// never trimmed, which is what makes the guard exact. It is bounded by
// what one user sends towards one goal in one TallyWidth bucket, not by
// their history.
func (s *Store) AddContribution(ctx context.Context, c challenges.Contribution) (bool, error) {
	d := contributionDoc{
		Tenant: c.Tenant, Challenge: c.ChallengeID, User: c.User, Period: c.Period,
		Goal: c.Goal, EventID: c.EventID, Amount: c.Amount, Key: c.Key, At: norm.NowIfZero(c.At),
	}
	inserted, err := insertIgnore(ctx, s.contributions, d)
	if err != nil {
		return false, fmt.Errorf("mongo: add contribution: %w", err)
	}
	if !s.atomicUpdates {
		return inserted, nil
	}
	if !inserted {
		// Fold what is stored: a repeat may carry another amount or time.
		if err := s.contributions.FindOne(ctx, contributionKey(d)).Decode(&d); err != nil {
			return false, fmt.Errorf("mongo: add contribution: %w", err)
		}
	}
	if err := s.fold(ctx, d); err != nil {
		return false, fmt.Errorf("mongo: add contribution: %w", err)
	}
	return inserted, nil
}

func contributionKey(d contributionDoc) bson.D {
	return bson.D{{Key: "tenant", Value: d.Tenant}, {Key: "challenge", Value: d.Challenge},
		{Key: "user", Value: d.User}, {Key: "period", Value: d.Period},
		{Key: "goal", Value: d.Goal}, {Key: "event_id", Value: d.EventID}}
}

// nextBucket returns the first tally bucket start at or after t.
func nextBucket(t time.Time) time.Time {
	b := challenges.TallyBucket(t)
	if b.Before(t) {
		b = b.Add(challenges.TallyWidth)
	}
	return b
}

// tallyDoc is one goal's bucket of folded amounts. Its _id is the
// bucket's key as a document; the same fields stand beside it for the
// index Tally ranges over.
type tallyDoc struct {
	ID        bson.D    `bson:"_id"`
	Tenant    string    `bson:"tenant"`
	Challenge string    `bson:"challenge"`
	User      string    `bson:"user"`
	Period    string    `bson:"period"`
	Goal      string    `bson:"goal"`
	Bucket    time.Time `bson:"bucket"`
	Amount    int64     `bson:"amount"`
	Applied   []string  `bson:"applied"` // the events folded in
}

// fold adds d's amount to its hour and day tally buckets unless they have
// it: in each, the filter's $ne and the $push are one atomic update (see
// foldDoc). A day bucket's applied list holds one user's events on one
// goal in one day.
func (s *Store) fold(ctx context.Context, d contributionDoc) error {
	for _, t := range []struct {
		col    *mdb.Collection
		bucket time.Time
	}{{s.tallies, challenges.TallyBucket(d.At)}, {s.dayTallies, challenges.DayBucket(d.At)}} {
		id := bson.D{{Key: "t", Value: d.Tenant}, {Key: "c", Value: d.Challenge}, {Key: "u", Value: d.User},
			{Key: "p", Value: d.Period}, {Key: "g", Value: d.Goal}, {Key: "b", Value: t.bucket}}
		err := foldDoc(ctx, t.col,
			bson.D{{Key: "_id", Value: id}, {Key: "applied", Value: bson.D{{Key: "$ne", Value: d.EventID}}}},
			bson.D{
				{Key: "$inc", Value: bson.D{{Key: "amount", Value: d.Amount}}},
				{Key: "$push", Value: bson.D{{Key: "applied", Value: d.EventID}}},
			},
			tallyDoc{ID: id, Tenant: d.Tenant, Challenge: d.Challenge, User: d.User, Period: d.Period, Goal: d.Goal,
				Bucket: t.bucket, Amount: d.Amount, Applied: []string{d.EventID}})
		if err != nil {
			return err
		}
	}
	return nil
}

// foldDoc applies update to the document filter names (by _id) if filter
// matches it, or creates the document as first, which must be the result
// of the update on nothing. It is not an upsert, because an upsert that
// finds the document but not the filter's condition fails with a
// duplicate key that could also mean a lost race. An insert under the
// _id decides the race instead. Once the document exists, matching
// nothing means it holds this fold already (a guarded Sum), or that the
// fold would not change it (Best, Latest).
func foldDoc(ctx context.Context, col *mdb.Collection, filter, update bson.D, first any) error {
	r, err := col.UpdateOne(ctx, filter, update)
	if err != nil || r.MatchedCount > 0 {
		return err
	}
	inserted, err := insertIgnore(ctx, col, first)
	if err != nil || inserted {
		return err
	}
	_, err = col.UpdateOne(ctx, filter, update)
	return err
}

// Contributions returns a user's contributions to one period of a
// challenge, every goal, in (At, EventID, Goal) order.
func (s *Store) Contributions(ctx context.Context, tenant, challengeID, user, period string) ([]challenges.Contribution, error) {
	out, err := findAll(ctx, s.contributions, userPeriod(tenant, challengeID, user, period),
		options.Find().SetSort(contributionOrder), contributionDoc.contribution)
	if err != nil {
		return nil, fmt.Errorf("mongo: contributions: %w", err)
	}
	return out, nil
}

func userPeriod(tenant, challengeID, user, period string) bson.D {
	return bson.D{{Key: "tenant", Value: tenant}, {Key: "challenge", Value: challengeID},
		{Key: "user", Value: user}, {Key: "period", Value: period}}
}

// ContributionsBetween is Contributions limited to At in [from, to).
func (s *Store) ContributionsBetween(ctx context.Context, tenant, challengeID, user, period string, from, to time.Time) ([]challenges.Contribution, error) {
	filter := append(userPeriod(tenant, challengeID, user, period),
		bson.E{Key: "at", Value: bson.D{{Key: "$gte", Value: norm.Trunc(from)}, {Key: "$lt", Value: norm.Trunc(to)}}})
	out, err := findAll(ctx, s.contributions, filter,
		options.Find().SetSort(contributionOrder), contributionDoc.contribution)
	if err != nil {
		return nil, fmt.Errorf("mongo: contributions between: %w", err)
	}
	return out, nil
}

// Contribution returns the contribution of one event to one goal.
func (s *Store) Contribution(ctx context.Context, tenant, challengeID, user, period, goal, eventID string) (challenges.Contribution, bool, error) {
	var d contributionDoc
	err := s.contributions.FindOne(ctx, contributionKey(contributionDoc{Tenant: tenant, Challenge: challengeID,
		User: user, Period: period, Goal: goal, EventID: eventID})).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return challenges.Contribution{}, false, nil
	}
	if err != nil {
		return challenges.Contribution{}, false, fmt.Errorf("mongo: contribution: %w", err)
	}
	c, err := d.contribution()
	return c, true, err
}

// Tally sums a goal's tally buckets starting in [from, to): the whole UTC
// days inside from the day tallies, the hours at the ends from the hour
// tallies. Without atomic updates it sums the contributions in those
// buckets.
func (s *Store) Tally(ctx context.Context, tenant, challengeID, user, period, goal string, from, to time.Time) (int64, error) {
	if !s.atomicUpdates {
		// A bucket starts in [from, to) when its contributions are in
		// [from, to) rounded up to bucket starts.
		return s.sumAmounts(ctx, s.contributions, "at", tenant, challengeID, user, period, goal, nextBucket(from), nextBucket(to))
	}
	d0, d1, ok := challenges.TallyDays(from, to)
	if !ok {
		return s.sumAmounts(ctx, s.tallies, "bucket", tenant, challengeID, user, period, goal, from, to)
	}
	var total int64
	for _, r := range []struct {
		col      *mdb.Collection
		from, to time.Time
	}{{s.tallies, from, d0}, {s.dayTallies, d0, d1}, {s.tallies, d1, to}} {
		if !r.from.Before(r.to) {
			continue // an empty end of hours: nothing to read
		}
		n, err := s.sumAmounts(ctx, r.col, "bucket", tenant, challengeID, user, period, goal, r.from, r.to)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// sumAmounts sums the amount of one goal's documents in col whose field
// is in [from, to).
func (s *Store) sumAmounts(ctx context.Context, col *mdb.Collection, field, tenant, challengeID, user, period, goal string, from, to time.Time) (int64, error) {
	filter := append(userPeriod(tenant, challengeID, user, period), bson.E{Key: "goal", Value: goal},
		bson.E{Key: field, Value: bson.D{{Key: "$gte", Value: norm.Trunc(from)}, {Key: "$lt", Value: norm.Trunc(to)}}})
	cur, err := col.Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "amount", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("mongo: tally: %w", err)
	}
	defer cur.Close(context.Background())
	var n int64
	for cur.Next(ctx) {
		var d struct {
			Amount int64 `bson:"amount"`
		}
		if err := cur.Decode(&d); err != nil {
			return 0, fmt.Errorf("mongo: tally: %w", err)
		}
		n += d.Amount
	}
	if err := cur.Err(); err != nil {
		return 0, fmt.Errorf("mongo: tally: %w", err)
	}
	return n, nil
}

// contributionOrder is the order of Contributions and BadgeContributions.
var contributionOrder = bson.D{{Key: "at", Value: 1}, {Key: "event_id", Value: 1}, {Key: "goal", Value: 1}}

// completionDoc is a completion as stored; documents of the first release
// lack claimed_at, which reads as nil.
type completionDoc struct {
	Tenant      string     `bson:"tenant"`
	ID          string     `bson:"id"`
	Challenge   string     `bson:"challenge"`
	User        string     `bson:"user"`
	Period      string     `bson:"period"`
	EventID     string     `bson:"event_id"`
	CompletedAt time.Time  `bson:"completed_at"`
	ClaimedAt   *time.Time `bson:"claimed_at"`
}

func (d completionDoc) completion() (challenges.Completion, error) {
	return challenges.Completion{
		ID: d.ID, Tenant: d.Tenant, ChallengeID: d.Challenge, User: d.User, Period: d.Period,
		EventID: d.EventID, CompletedAt: norm.Trunc(d.CompletedAt), ClaimedAt: tptr(d.ClaimedAt),
	}, nil
}

// InsertCompletion stores c unless the user already completed that
// challenge period, in which case it returns the existing completion and
// inserted=false. An empty ID gets a UUIDv7 and a zero CompletedAt becomes
// now; an ID already used for another period is an errs.ErrDuplicate.
func (s *Store) InsertCompletion(ctx context.Context, c challenges.Completion) (challenges.Completion, bool, error) {
	if c.ID == "" {
		c.ID = uuid.Must(uuid.NewV7()).String()
	}
	c.CompletedAt = norm.NowIfZero(c.CompletedAt)
	c.ClaimedAt = norm.TruncPtr(c.ClaimedAt)
	doc := completionDoc{
		Tenant: c.Tenant, ID: c.ID, Challenge: c.ChallengeID, User: c.User,
		Period: c.Period, EventID: c.EventID, CompletedAt: c.CompletedAt, ClaimedAt: c.ClaimedAt,
	}
	key := bson.D{{Key: "tenant", Value: c.Tenant}, {Key: "challenge", Value: c.ChallengeID},
		{Key: "user", Value: c.User}, {Key: "period", Value: c.Period}}
	stored, inserted, err := insertOrExisting(ctx, s.completions, doc, key, c, completionDoc.completion)
	if err != nil {
		return challenges.Completion{}, false, fmt.Errorf("mongo: insert completion %s: %w", c.ID, err)
	}
	return stored, inserted, nil
}

// UserCompletions lists a user's completions, newest first.
func (s *Store) UserCompletions(ctx context.Context, tenant, user string) ([]challenges.Completion, error) {
	out, err := findAll(ctx, s.completions,
		bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}},
		options.Find().SetSort(bson.D{{Key: "completed_at", Value: -1}, {Key: "id", Value: -1}}),
		completionDoc.completion)
	if err != nil {
		return nil, fmt.Errorf("mongo: user completions: %w", err)
	}
	return out, nil
}

// ChallengeCompletions lists a user's completions of one challenge, oldest
// first (ties by id).
func (s *Store) ChallengeCompletions(ctx context.Context, tenant, challengeID, user string) ([]challenges.Completion, error) {
	out, err := findAll(ctx, s.completions,
		bson.D{{Key: "tenant", Value: tenant}, {Key: "challenge", Value: challengeID}, {Key: "user", Value: user}},
		options.Find().SetSort(bson.D{{Key: "completed_at", Value: 1}, {Key: "id", Value: 1}}),
		completionDoc.completion)
	if err != nil {
		return nil, fmt.Errorf("mongo: challenge completions: %w", err)
	}
	return out, nil
}

// claimDoc records a claim of a completion; unique per (tenant,
// completion).
type claimDoc struct {
	Tenant     string    `bson:"tenant"`
	Completion string    `bson:"completion"`
	At         time.Time `bson:"at"`
}

// ClaimCompletion sets ClaimedAt on an unclaimed completion; claimed is
// false when it was claimed already, and a missing completion is an
// errs.ErrNotFound. A zero at becomes now.
//
// An insert under the unique index of claims decides the claim, not a
// conditional update of the completion: FerretDB does not apply an update
// filtered on claimed_at atomically, and concurrent claims could all
// succeed. The winner then copies its time into the completion. Every
// later claim repeats that copy (it changes nothing once done), which
// completes a claim whose claimer stopped between the two writes.
func (s *Store) ClaimCompletion(ctx context.Context, tenant, completionID string, at time.Time) (bool, error) {
	var d completionDoc
	if err := s.completions.FindOne(ctx, tenantID(tenant, completionID)).Decode(&d); err != nil {
		if errors.Is(err, mdb.ErrNoDocuments) {
			return false, fmt.Errorf("mongo: claim completion: completion %s: %w", completionID, errs.ErrNotFound)
		}
		return false, fmt.Errorf("mongo: claim completion: %w", err)
	}
	if d.ClaimedAt != nil {
		return false, nil // claimed, or stored claimed by InsertCompletion
	}
	claim := claimDoc{Tenant: tenant, Completion: completionID, At: norm.NowIfZero(at)}
	claimed, err := insertIgnore(ctx, s.claims, claim)
	if err == nil && !claimed {
		err = s.claims.FindOne(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "completion", Value: completionID}}).Decode(&claim)
	}
	if err == nil {
		_, err = s.completions.UpdateOne(ctx,
			append(tenantID(tenant, completionID), bson.E{Key: "claimed_at", Value: nil}),
			bson.D{{Key: "$set", Value: bson.D{{Key: "claimed_at", Value: claim.At}}}})
	}
	if err != nil {
		return false, fmt.Errorf("mongo: claim completion: %w", err)
	}
	return claimed, nil
}

// enrolmentDoc is an enrolment as stored; unique per (tenant, challenge,
// user).
type enrolmentDoc struct {
	Tenant    string    `bson:"tenant"`
	Challenge string    `bson:"challenge"`
	User      string    `bson:"user"`
	JoinedAt  time.Time `bson:"joined_at"`
}

func (d enrolmentDoc) enrolment() (challenges.Membership, error) {
	return challenges.Membership{Tenant: d.Tenant, ChallengeID: d.Challenge, User: d.User, JoinedAt: norm.Trunc(d.JoinedAt)}, nil
}

func enrolmentKey(tenant, challengeID, user string) bson.D {
	return bson.D{{Key: "tenant", Value: tenant}, {Key: "challenge", Value: challengeID}, {Key: "user", Value: user}}
}

// Join stores e unless the user joined already; then it returns the
// stored enrolment, with the first JoinedAt, and inserted=false. A zero
// JoinedAt becomes now.
func (s *Store) Join(ctx context.Context, e challenges.Membership) (challenges.Membership, bool, error) {
	e.JoinedAt = norm.NowIfZero(e.JoinedAt)
	doc := enrolmentDoc{Tenant: e.Tenant, Challenge: e.ChallengeID, User: e.User, JoinedAt: e.JoinedAt}
	stored, inserted, err := insertOrExisting(ctx, s.enrolments, doc,
		enrolmentKey(e.Tenant, e.ChallengeID, e.User), e, enrolmentDoc.enrolment)
	if err != nil {
		return challenges.Membership{}, false, fmt.Errorf("mongo: join: %w", err)
	}
	return stored, inserted, nil
}

// Enrolled returns the user's enrolment; ok is false when there is none.
func (s *Store) Enrolled(ctx context.Context, tenant, challengeID, user string) (challenges.Membership, bool, error) {
	var d enrolmentDoc
	err := s.enrolments.FindOne(ctx, enrolmentKey(tenant, challengeID, user)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return challenges.Membership{}, false, nil
	}
	if err != nil {
		return challenges.Membership{}, false, fmt.Errorf("mongo: enrolled: %w", err)
	}
	e, err := d.enrolment()
	return e, true, err
}

// unlockDoc is unlocked content as stored; unique per (tenant, user,
// content).
type unlockDoc struct {
	Tenant     string    `bson:"tenant"`
	User       string    `bson:"user"`
	Content    string    `bson:"content"`
	Source     string    `bson:"source"`
	UnlockedAt time.Time `bson:"unlocked_at"`
}

func (d unlockDoc) unlock() (challenges.Unlock, error) {
	return challenges.Unlock{Tenant: d.Tenant, User: d.User, Content: d.Content, Source: d.Source, UnlockedAt: norm.Trunc(d.UnlockedAt)}, nil
}

// AddUnlock stores u unless the user has that content already (then
// inserted is false and the first unlock stays). A zero UnlockedAt becomes
// now.
func (s *Store) AddUnlock(ctx context.Context, u challenges.Unlock) (bool, error) {
	inserted, err := insertIgnore(ctx, s.unlocks, unlockDoc{
		Tenant: u.Tenant, User: u.User, Content: u.Content, Source: u.Source, UnlockedAt: norm.NowIfZero(u.UnlockedAt),
	})
	if err != nil {
		return false, fmt.Errorf("mongo: add unlock: %w", err)
	}
	return inserted, nil
}

// UserUnlocks lists a user's unlocks, newest first (ties by content,
// descending).
func (s *Store) UserUnlocks(ctx context.Context, tenant, user string) ([]challenges.Unlock, error) {
	out, err := findAll(ctx, s.unlocks, bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}},
		options.Find().SetSort(bson.D{{Key: "unlocked_at", Value: -1}, {Key: "content", Value: -1}}),
		unlockDoc.unlock)
	if err != nil {
		return nil, fmt.Errorf("mongo: user unlocks: %w", err)
	}
	return out, nil
}

// ChallengeStats counts a challenge's participants, completions,
// completers and enrolments, each with one query over an index that leads
// with (tenant, challenge), so no other challenge is read. Without
// transactions the four are not one snapshot: under concurrent writes a
// figure may include a write the one before it missed.
func (s *Store) ChallengeStats(ctx context.Context, tenant, challengeID string) (challenges.Stats, error) {
	match := bson.D{{Key: "tenant", Value: tenant}, {Key: "challenge", Value: challengeID}}
	var (
		st  challenges.Stats
		err error
	)
	if st.Participants, err = countDistinct(ctx, s.contributions, match, "$user"); err != nil {
		return challenges.Stats{}, fmt.Errorf("mongo: challenge stats: participants: %w", err)
	}
	if st.Completions, err = s.completions.CountDocuments(ctx, match); err != nil {
		return challenges.Stats{}, fmt.Errorf("mongo: challenge stats: completions: %w", err)
	}
	if st.Completers, err = countDistinct(ctx, s.completions, match, "$user"); err != nil {
		return challenges.Stats{}, fmt.Errorf("mongo: challenge stats: completers: %w", err)
	}
	if st.Joined, err = s.enrolments.CountDocuments(ctx, match); err != nil {
		return challenges.Stats{}, fmt.Errorf("mongo: challenge stats: enrolments: %w", err)
	}
	return st, nil
}
