package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/events"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/loyalty"
	"github.com/questline/questline/storage/internal/norm"
)

// The loyalty programme's collections: definitions as JSON documents
// (a tenant's event catalogue, earn rules), and each earn rule's chain of
// counted events per user.
const (
	colLoyaltyDocs = "loyalty_docs"
	colEarnMarks   = "earn_marks"
	colTierStates  = "tier_states"
	colRefCodes    = "referral_codes"
	colRefClaims   = "referral_claims"
)

// Kinds of loyalty_docs; a document's id is kind/id, unique per tenant.
const (
	docEventTypes = "event_types"
	docEarnRule   = "earn_rule"
	docTiers      = "tiers"
	docReferrals  = "referrals"
)

func (s *Store) loyaltyDocs() *mdb.Collection { return s.db.Collection(colLoyaltyDocs) }
func (s *Store) earnMarks() *mdb.Collection   { return s.db.Collection(colEarnMarks) }
func (s *Store) tierStates() *mdb.Collection  { return s.db.Collection(colTierStates) }
func (s *Store) refCodes() *mdb.Collection    { return s.db.Collection(colRefCodes) }
func (s *Store) refClaims() *mdb.Collection   { return s.db.Collection(colRefClaims) }

// ensureLoyaltyIndexes creates the loyalty collections' indexes.
func (s *Store) ensureLoyaltyIndexes(ctx context.Context) error {
	for _, p := range []struct {
		col *mdb.Collection
		idx []index
	}{
		{s.loyaltyDocs(), []index{
			{name: "loyalty_docs_id", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "id", Value: 1}}},
			{name: "loyalty_docs_kind", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "kind", Value: 1}, {Key: "id", Value: 1}}},
		}},
		{s.earnMarks(), []index{
			{name: "earn_marks_seq", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "rule", Value: 1},
				{Key: "user", Value: 1}, {Key: "seq", Value: 1}}},
			{name: "earn_marks_event", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "rule", Value: 1}, {Key: "event_id", Value: 1}}},
			{name: "earn_marks_user", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1}}},
		}},
		{s.tierStates(), []index{
			{name: "tier_states_id", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "id", Value: 1}}},
			// The review job's scan of due standings of every tenant.
			{name: "tier_states_due", keys: bson.D{{Key: "review_at", Value: 1}, {Key: "tenant", Value: 1}, {Key: "id", Value: 1}},
				partial: bson.D{{Key: "review_at", Value: bson.D{{Key: "$exists", Value: true}}}}},
		}},
		{s.refCodes(), []index{
			{name: "referral_codes_user", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1}}},
			{name: "referral_codes_code", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "code", Value: 1}}},
		}},
		{s.refClaims(), []index{
			{name: "referral_claims_referee", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "referee", Value: 1}}},
			{name: "referral_claims_referrer", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "referrer", Value: 1}, {Key: "completed_at", Value: 1}}},
		}},
	} {
		for _, ix := range p.idx {
			if err := createIndex(ctx, p.col, ix); err != nil {
				return err
			}
		}
	}
	return nil
}

// loyaltyDoc is a definition as stored: its JSON body, versioned.
type loyaltyDoc struct {
	Tenant    string    `bson:"tenant"`
	ID        string    `bson:"id"`
	Kind      string    `bson:"kind"`
	Body      string    `bson:"body"`
	Version   int64     `bson:"version"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// getDoc decodes the document (tenant, kind, id) into v; errs.ErrNotFound
// when there is none.
func (s *Store) getDoc(ctx context.Context, tenant, kind, id string, v any) error {
	var d loyaltyDoc
	err := s.loyaltyDocs().FindOne(ctx, tenantID(tenant, kind+"/"+id)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return fmt.Errorf("%s %s: %w", kind, id, errs.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(d.Body), v)
}

// putDoc stores v as version of (tenant, kind, id): version 1 creates it,
// a later one replaces version-1 (see updateVersioned).
func (s *Store) putDoc(ctx context.Context, tenant, kind, id string, version int64, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	now := norm.Trunc(time.Now())
	if version == 1 {
		return insertNew(ctx, s.loyaltyDocs(), loyaltyDoc{Tenant: tenant, ID: kind + "/" + id, Kind: kind,
			Body: string(body), Version: 1, UpdatedAt: now}, kind+" "+id)
	}
	return updateVersioned(ctx, s.revisions, s.loyaltyDocs(), tenant, kind+"/"+id, version,
		bson.D{{Key: "$set", Value: bson.D{{Key: "body", Value: string(body)}, {Key: "version", Value: version},
			{Key: "updated_at", Value: now}}}}, kind)
}

// listDocs decodes a page of a tenant's documents of kind by id.
func listDocs[T any](ctx context.Context, s *Store, tenant, kind, after string, limit int) ([]T, error) {
	filter := bson.D{{Key: "tenant", Value: tenant}, {Key: "kind", Value: kind}, {Key: "id", Value: bson.D{{Key: "$gt", Value: kind + "/" + after}}}}
	return findAll(ctx, s.loyaltyDocs(), filter, options.Find().SetSort(bson.D{{Key: "id", Value: 1}}).SetLimit(int64(limit)),
		func(d loyaltyDoc) (T, error) {
			var v T
			return v, json.Unmarshal([]byte(d.Body), &v)
		})
}

// EventTypes returns the tenant's own event catalogue.
func (s *Store) EventTypes(ctx context.Context, tenant string) (events.Catalogue, bool, error) {
	var c events.Catalogue
	err := s.getDoc(ctx, tenant, docEventTypes, "", &c)
	if errors.Is(err, errs.ErrNotFound) {
		return events.Catalogue{}, false, nil
	}
	if err != nil {
		return events.Catalogue{}, false, fmt.Errorf("mongo: event types: %w", err)
	}
	c.Tenant = tenant
	return c, true, nil
}

// PutEventTypes stores c if the stored version is c.Version-1.
func (s *Store) PutEventTypes(ctx context.Context, c events.Catalogue) error {
	if err := s.putDoc(ctx, c.Tenant, docEventTypes, "", c.Version, c); err != nil {
		if errors.Is(err, errs.ErrNotFound) {
			err = fmt.Errorf("event types: %w", errs.ErrDuplicate)
		}
		return fmt.Errorf("mongo: put event types: %w", err)
	}
	return nil
}

// CreateEarnRule stores a new earn rule.
func (s *Store) CreateEarnRule(ctx context.Context, r loyalty.EarnRule) error {
	if err := s.putDoc(ctx, r.Tenant, docEarnRule, r.ID, 1, r); err != nil {
		return fmt.Errorf("mongo: create earn rule: %w", err)
	}
	return nil
}

// UpdateEarnRule replaces an earn rule whose stored version is r.Version-1.
func (s *Store) UpdateEarnRule(ctx context.Context, r loyalty.EarnRule) error {
	if r.Version < 2 {
		return fmt.Errorf("mongo: update earn rule %s: version %d: %w", r.ID, r.Version, errs.ErrDuplicate)
	}
	if err := s.putDoc(ctx, r.Tenant, docEarnRule, r.ID, r.Version, r); err != nil {
		return fmt.Errorf("mongo: update earn rule: %w", err)
	}
	return nil
}

// GetEarnRule returns one earn rule.
func (s *Store) GetEarnRule(ctx context.Context, tenant, id string) (loyalty.EarnRule, error) {
	var r loyalty.EarnRule
	if err := s.getDoc(ctx, tenant, docEarnRule, id, &r); err != nil {
		return loyalty.EarnRule{}, fmt.Errorf("mongo: get earn rule: %w", err)
	}
	r.Tenant = tenant
	return r, nil
}

// ListEarnRules pages a tenant's earn rules by id.
func (s *Store) ListEarnRules(ctx context.Context, tenant, after string, limit int) ([]loyalty.EarnRule, error) {
	rs, err := listDocs[loyalty.EarnRule](ctx, s, tenant, docEarnRule, after, limit)
	if err != nil {
		return nil, fmt.Errorf("mongo: list earn rules: %w", err)
	}
	for i := range rs {
		rs[i].Tenant = tenant
	}
	return rs, nil
}

// markDoc is an earn mark as stored; State is its JSON.
type markDoc struct {
	Tenant  string    `bson:"tenant"`
	Rule    string    `bson:"rule"`
	User    string    `bson:"user"`
	Seq     int64     `bson:"seq"`
	EventID string    `bson:"event_id"`
	Payout  int64     `bson:"payout"`
	State   string    `bson:"state"`
	At      time.Time `bson:"at"`
}

func (d markDoc) mark() (loyalty.Mark, error) {
	m := loyalty.Mark{Tenant: d.Tenant, Rule: d.Rule, User: d.User, Seq: d.Seq, EventID: d.EventID, Payout: d.Payout, At: norm.Trunc(d.At)}
	return m, json.Unmarshal([]byte(d.State), &m.State)
}

// LastEarnMark returns the latest mark of (rule, user).
func (s *Store) LastEarnMark(ctx context.Context, tenant, rule, user string) (loyalty.Mark, bool, error) {
	var d markDoc
	err := s.earnMarks().FindOne(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "rule", Value: rule}, {Key: "user", Value: user}},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}})).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return loyalty.Mark{}, false, nil
	}
	if err != nil {
		return loyalty.Mark{}, false, fmt.Errorf("mongo: last earn mark: %w", err)
	}
	m, err := d.mark()
	return m, err == nil, err
}

// AppendEarnMark stores m, or returns the mark of its event. The two
// unique indexes decide: (rule, event) makes a repeat return the first
// mark, (rule, user, seq) makes concurrent events of one user chain one
// after the other.
func (s *Store) AppendEarnMark(ctx context.Context, m loyalty.Mark) (loyalty.Mark, bool, error) {
	state, err := json.Marshal(m.State)
	if err != nil {
		return loyalty.Mark{}, false, fmt.Errorf("mongo: append earn mark: %w", err)
	}
	m.At = norm.Trunc(m.At)
	d := markDoc{Tenant: m.Tenant, Rule: m.Rule, User: m.User, Seq: m.Seq, EventID: m.EventID, Payout: m.Payout, State: string(state), At: m.At}
	stored, inserted, err := insertOrExisting(ctx, s.earnMarks(), d,
		bson.D{{Key: "tenant", Value: m.Tenant}, {Key: "rule", Value: m.Rule}, {Key: "event_id", Value: m.EventID}}, m, markDoc.mark)
	if err != nil {
		return loyalty.Mark{}, false, fmt.Errorf("mongo: append earn mark seq %d: %w", m.Seq, err)
	}
	return stored, inserted, nil
}

// EarnMarks lists a user's marks by rule and seq.
func (s *Store) EarnMarks(ctx context.Context, tenant, user string) ([]loyalty.Mark, error) {
	ms, err := findAll(ctx, s.earnMarks(), userKey(tenant, user),
		options.Find().SetSort(bson.D{{Key: "rule", Value: 1}, {Key: "seq", Value: 1}}), markDoc.mark)
	if err != nil {
		return nil, fmt.Errorf("mongo: earn marks: %w", err)
	}
	return ms, nil
}

// EraseEarnUser deletes a user's marks.
func (s *Store) EraseEarnUser(ctx context.Context, tenant, user string) error {
	if _, err := s.earnMarks().DeleteMany(ctx, userKey(tenant, user)); err != nil {
		return fmt.Errorf("mongo: erase earn marks: %w", err)
	}
	if _, err := s.tierStates().DeleteOne(ctx, tenantID(tenant, user)); err != nil {
		return fmt.Errorf("mongo: erase tier state: %w", err)
	}
	if _, err := s.refCodes().DeleteOne(ctx, userKey(tenant, user)); err != nil {
		return fmt.Errorf("mongo: erase referral code: %w", err)
	}
	if _, err := s.refClaims().DeleteOne(ctx, refereeKey(tenant, user)); err != nil {
		return fmt.Errorf("mongo: erase referral claim: %w", err)
	}
	return nil
}

// Tiers returns the tenant's tier programme.
func (s *Store) Tiers(ctx context.Context, tenant string) (loyalty.Programme, bool, error) {
	var p loyalty.Programme
	err := s.getDoc(ctx, tenant, docTiers, "", &p)
	if errors.Is(err, errs.ErrNotFound) {
		return loyalty.Programme{}, false, nil
	}
	if err != nil {
		return loyalty.Programme{}, false, fmt.Errorf("mongo: tiers: %w", err)
	}
	return p, true, nil
}

// PutTiers stores p if the stored version is p.Version-1.
func (s *Store) PutTiers(ctx context.Context, tenant string, p loyalty.Programme) error {
	if err := s.putDoc(ctx, tenant, docTiers, "", p.Version, p); err != nil {
		return fmt.Errorf("mongo: put tiers: %w", err)
	}
	return nil
}

// tierDoc is a tier standing as stored; id is the user, ReviewAt is
// absent when nothing is due.
type tierDoc struct {
	Tenant   string     `bson:"tenant"`
	ID       string     `bson:"id"`
	Body     string     `bson:"body"`
	ReviewAt *time.Time `bson:"review_at,omitempty"`
	Version  int64      `bson:"version"`
}

func (d tierDoc) state() (loyalty.TierState, error) {
	st := loyalty.TierState{Tenant: d.Tenant, User: d.ID, Version: d.Version}
	return st, st.UnmarshalBody([]byte(d.Body))
}

// TierState returns a user's tier standing.
func (s *Store) TierState(ctx context.Context, tenant, user string) (loyalty.TierState, bool, error) {
	var d tierDoc
	err := s.tierStates().FindOne(ctx, tenantID(tenant, user)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return loyalty.TierState{}, false, nil
	}
	if err != nil {
		return loyalty.TierState{}, false, fmt.Errorf("mongo: tier state: %w", err)
	}
	st, err := d.state()
	return st, err == nil, err
}

// PutTierState stores st if the stored version is st.Version-1.
func (s *Store) PutTierState(ctx context.Context, st loyalty.TierState) error {
	body, err := st.MarshalBody()
	if err != nil {
		return fmt.Errorf("mongo: put tier state: %w", err)
	}
	d := tierDoc{Tenant: st.Tenant, ID: st.User, Body: string(body), Version: st.Version}
	if due := st.DueAt(); !due.IsZero() { // the review job's next look
		at := norm.Trunc(due)
		d.ReviewAt = &at
	}
	if st.Version == 1 {
		err = insertNew(ctx, s.tierStates(), d, "tier state "+st.User)
	} else {
		set := bson.D{{Key: "body", Value: d.Body}, {Key: "version", Value: d.Version}}
		update := bson.D{{Key: "$unset", Value: bson.D{{Key: "review_at", Value: ""}}}}
		if d.ReviewAt != nil {
			set, update = append(set, bson.E{Key: "review_at", Value: *d.ReviewAt}), nil
		}
		update = append(bson.D{{Key: "$set", Value: set}}, update...)
		err = updateVersioned(ctx, s.revisions, s.tierStates(), st.Tenant, st.User, st.Version, update, "tier state")
		if errors.Is(err, errs.ErrNotFound) {
			err = fmt.Errorf("tier state %s: %w", st.User, errs.ErrDuplicate)
		}
	}
	if err != nil {
		return fmt.Errorf("mongo: put tier state: %w", err)
	}
	return nil
}

// DueTierStates lists standings due for review by before, soonest first.
func (s *Store) DueTierStates(ctx context.Context, before time.Time, limit int) ([]loyalty.TierState, error) {
	sts, err := findAll(ctx, s.tierStates(), bson.D{{Key: "review_at", Value: bson.D{{Key: "$lte", Value: before}}}},
		options.Find().SetSort(bson.D{{Key: "review_at", Value: 1}, {Key: "tenant", Value: 1}, {Key: "id", Value: 1}}).SetLimit(int64(limit)),
		tierDoc.state)
	if err != nil {
		return nil, fmt.Errorf("mongo: due tier states: %w", err)
	}
	return sts, nil
}

// ReferralProgramme returns the tenant's referral terms.
func (s *Store) ReferralProgramme(ctx context.Context, tenant string) (loyalty.ReferralProgramme, bool, error) {
	var p loyalty.ReferralProgramme
	err := s.getDoc(ctx, tenant, docReferrals, "", &p)
	if errors.Is(err, errs.ErrNotFound) {
		return loyalty.ReferralProgramme{}, false, nil
	}
	if err != nil {
		return loyalty.ReferralProgramme{}, false, fmt.Errorf("mongo: referral terms: %w", err)
	}
	return p, true, nil
}

// PutReferralProgramme stores p if the stored version is p.Version-1.
func (s *Store) PutReferralProgramme(ctx context.Context, tenant string, p loyalty.ReferralProgramme) error {
	if err := s.putDoc(ctx, tenant, docReferrals, "", p.Version, p); err != nil {
		return fmt.Errorf("mongo: put referral terms: %w", err)
	}
	return nil
}

type codeDoc struct {
	Tenant string `bson:"tenant"`
	User   string `bson:"user"`
	Code   string `bson:"code"`
}

// ReferralCode stores code as user's unless they have one. Both unique
// indexes decide: a user's code once, a code for one user.
func (s *Store) ReferralCode(ctx context.Context, tenant, user, code string) (string, error) {
	if _, err := s.refCodes().InsertOne(ctx, codeDoc{Tenant: tenant, User: user, Code: code}); err != nil && !mdb.IsDuplicateKeyError(err) {
		return "", fmt.Errorf("mongo: referral code: %w", err)
	}
	var d codeDoc
	err := s.refCodes().FindOne(ctx, userKey(tenant, user)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return "", fmt.Errorf("mongo: referral code %s: %w", code, errs.ErrDuplicate) // another user's
	}
	if err != nil {
		return "", fmt.Errorf("mongo: referral code: %w", err)
	}
	return d.Code, nil
}

// CodeOf returns the user's referral code.
func (s *Store) CodeOf(ctx context.Context, tenant, user string) (string, bool, error) {
	var d codeDoc
	err := s.refCodes().FindOne(ctx, userKey(tenant, user)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("mongo: referral code of %s: %w", user, err)
	}
	return d.Code, true, nil
}

// ReferralsBy lists the claims of the referrer's code, oldest first.
func (s *Store) ReferralsBy(ctx context.Context, tenant, referrer string) ([]loyalty.Claim, error) {
	cur, err := s.refClaims().Find(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "referrer", Value: referrer}},
		options.Find().SetSort(bson.D{{Key: "claimed_at", Value: 1}, {Key: "referee", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo: referrals by %s: %w", referrer, err)
	}
	var docs []referralDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: referrals by %s: %w", referrer, err)
	}
	out := make([]loyalty.Claim, 0, len(docs))
	for _, d := range docs {
		c, err := d.claim()
		if err != nil {
			return nil, fmt.Errorf("mongo: referrals by %s: %w", referrer, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// AnonymiseReferrer moves the claims naming user as referrer to pseudonym.
func (s *Store) AnonymiseReferrer(ctx context.Context, tenant, user, pseudonym string) error {
	_, err := s.refClaims().UpdateMany(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "referrer", Value: user}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "referrer", Value: pseudonym}}}})
	if err != nil {
		return fmt.Errorf("mongo: anonymise referrer %s: %w", user, err)
	}
	return nil
}

// CodeOwner returns the user holding code.
func (s *Store) CodeOwner(ctx context.Context, tenant, code string) (string, error) {
	var d codeDoc
	err := s.refCodes().FindOne(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "code", Value: code}}).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return "", fmt.Errorf("mongo: code owner %s: %w", code, errs.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("mongo: code owner: %w", err)
	}
	return d.User, nil
}

type referralDoc struct {
	Tenant       string     `bson:"tenant"`
	Referee      string     `bson:"referee"`
	Referrer     string     `bson:"referrer"`
	Code         string     `bson:"code"`
	ClaimedAt    time.Time  `bson:"claimed_at"`
	EventID      string     `bson:"event_id"`
	CompletedAt  *time.Time `bson:"completed_at,omitempty"`
	ReferrerPaid bool       `bson:"referrer_paid"`
}

func (d referralDoc) claim() (loyalty.Claim, error) {
	c := loyalty.Claim{Tenant: d.Tenant, Referee: d.Referee, Referrer: d.Referrer, Code: d.Code,
		ClaimedAt: norm.Trunc(d.ClaimedAt), EventID: d.EventID, ReferrerPaid: d.ReferrerPaid}
	if d.CompletedAt != nil {
		at := norm.Trunc(*d.CompletedAt)
		c.CompletedAt = &at
	}
	return c, nil
}

func refereeKey(tenant, referee string) bson.D {
	return bson.D{{Key: "tenant", Value: tenant}, {Key: "referee", Value: referee}}
}

// InsertClaim stores c; a referee who claimed before is errs.ErrDuplicate.
func (s *Store) InsertClaim(ctx context.Context, c loyalty.Claim) error {
	err := insertNew(ctx, s.refClaims(), referralDoc{Tenant: c.Tenant, Referee: c.Referee, Referrer: c.Referrer, Code: c.Code,
		ClaimedAt: norm.Trunc(c.ClaimedAt)}, "claim of "+c.Referee)
	if err != nil {
		return fmt.Errorf("mongo: insert claim: %w", err)
	}
	return nil
}

// ClaimOf returns the referee's claim.
func (s *Store) ClaimOf(ctx context.Context, tenant, referee string) (loyalty.Claim, bool, error) {
	var d referralDoc
	err := s.refClaims().FindOne(ctx, refereeKey(tenant, referee)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return loyalty.Claim{}, false, nil
	}
	if err != nil {
		return loyalty.Claim{}, false, fmt.Errorf("mongo: claim: %w", err)
	}
	c, err := d.claim()
	return c, err == nil, err
}

// CompleteClaim records the claim's completion once and returns it. The
// update's filter on an absent completion lets one writer win on
// MongoDB; FerretDB may let two both match, and then the last one's
// event wins while each caller reads back what is stored, so only the
// event read back pays (the ledger keys make a repeat pay nothing).
func (s *Store) CompleteClaim(ctx context.Context, tenant, referee, eventID string, referrerPaid bool, at time.Time) (loyalty.Claim, error) {
	filter := append(refereeKey(tenant, referee), bson.E{Key: "completed_at", Value: bson.D{{Key: "$exists", Value: false}}})
	_, err := s.refClaims().UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{{Key: "event_id", Value: eventID},
		{Key: "completed_at", Value: norm.Trunc(at)}, {Key: "referrer_paid", Value: referrerPaid}}}})
	if err != nil {
		return loyalty.Claim{}, fmt.Errorf("mongo: complete claim: %w", err)
	}
	c, found, err := s.ClaimOf(ctx, tenant, referee)
	if err == nil && !found {
		err = fmt.Errorf("claim of %s: %w", referee, errs.ErrNotFound)
	}
	return c, err
}

// CountCompleted counts the referrer's paid completions in [from, to).
func (s *Store) CountCompleted(ctx context.Context, tenant, referrer string, from, to time.Time) (int64, error) {
	n, err := s.refClaims().CountDocuments(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "referrer", Value: referrer},
		{Key: "completed_at", Value: bson.D{{Key: "$gte", Value: from}, {Key: "$lt", Value: to}}}, {Key: "referrer_paid", Value: true}})
	if err != nil {
		return 0, fmt.Errorf("mongo: count referrals: %w", err)
	}
	return n, nil
}
