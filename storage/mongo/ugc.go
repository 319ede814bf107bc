package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/storage/internal/norm"
	"github.com/questline/questline/ugc"
	"github.com/questline/questline/ugc/text"
)

// ugcCollections hold user-generated content. A submission is one
// document: its searchable fields at the top (feed sort keys, queue
// filters, the duplicate fingerprints: b0..b7, the MinHash bands) and
// its content below. On MongoDB the rating summaries and the helpful and
// report counters are folded with $inc as the writes happen; on FerretDB,
// whose updates are not atomic, summaries and counters are counted from
// the indexed submissions and votes instead (exact, at a cost the folds
// save on MongoDB), as tallies and board totals are.
type ugcCollections struct {
	subs, summaries, votes, reports, settings, purchases *mdb.Collection
	// rate holds one document per taken submission slot of a user's rate
	// window: a unique (tenant, user, window, slot) key, so the limit
	// holds under concurrency without conditional updates.
	rate *mdb.Collection
}

// ensureUGC opens the UGC collections and creates their indexes.
func (s *Store) ensureUGC(ctx context.Context) error {
	s.ugc = ugcCollections{
		subs: s.db.Collection("ugc_submissions"), summaries: s.db.Collection("ugc_summaries"),
		votes: s.db.Collection("ugc_votes"), reports: s.db.Collection("ugc_reports"),
		settings: s.db.Collection("ugc_settings"), purchases: s.db.Collection("ugc_purchases"),
		rate: s.db.Collection("ugc_rate"),
	}
	keys := func(fields ...string) bson.D {
		d := bson.D{{Key: "tenant", Value: 1}}
		for _, f := range fields {
			d = append(d, bson.E{Key: f, Value: 1})
		}
		return d
	}
	pending := bson.D{{Key: "status", Value: "pending"}}
	listed := bson.D{{Key: "listed", Value: true}}
	plan := []struct {
		col *mdb.Collection
		idx []index
	}{
		{s.ugc.subs, []index{
			{name: "ugc_id", keys: keys("id"), unique: true},
			// review_key is user|product for a review and the id for any
			// other kind, so one review per product per user needs no
			// partial index.
			{name: "ugc_review_key", keys: keys("review_key"), unique: true},
			{name: "ugc_user", keys: keys("user_id", "id")},
			{name: "ugc_user_created", keys: keys("user_id", "created_at")},
			{name: "ugc_queue", keys: keys("status", "queued_at", "id"), partial: pending},
			{name: "ugc_feed_newest", keys: keys("product_id", "listed", "id"), partial: listed},
			{name: "ugc_feed_helpful", keys: keys("product_id", "listed", "helpful", "id"), partial: listed},
			{name: "ugc_feed_rating", keys: keys("product_id", "listed", "rating", "id"), partial: listed},
			{name: "ugc_text_hash", keys: keys("text_hash")},
			// Analytics count submissions per status on this index.
			{name: "ugc_status", keys: keys("status")},
			// Across tenants, for the sweep of owed summary folds.
			{name: "ugc_folds_owed", keys: bson.D{{Key: "folds_owed.token", Value: 1}}},
			// Across tenants, for the recount of counters a vote or report
			// may have left unsettled (see dirtyMarks).
			{name: "ugc_marks_dirty", keys: bson.D{{Key: "marks_dirty", Value: 1}}, partial: bson.D{{Key: "marks_dirty", Value: bson.D{{Key: "$exists", Value: true}}}}},
			// Across tenants, for the sweep of owed effects.
			{name: "ugc_owed", keys: bson.D{{Key: "owed", Value: 1}, {Key: "updated_at", Value: 1}}},
			{name: "ugc_band0", keys: keys("b0")},
			{name: "ugc_band1", keys: keys("b1")},
			{name: "ugc_band2", keys: keys("b2")},
			{name: "ugc_band3", keys: keys("b3")},
			{name: "ugc_band4", keys: keys("b4")},
			{name: "ugc_band5", keys: keys("b5")},
			{name: "ugc_band6", keys: keys("b6")},
			{name: "ugc_band7", keys: keys("b7")},
		}},
		{s.ugc.summaries, []index{{name: "ugc_summary", keys: keys("product_id"), unique: true}}},
		{s.ugc.votes, []index{
			{name: "ugc_vote", keys: keys("submission_id", "user_id"), unique: true},
			{name: "ugc_votes_user", keys: keys("user_id")},
		}},
		{s.ugc.reports, []index{
			{name: "ugc_report", keys: keys("submission_id", "user_id"), unique: true},
			{name: "ugc_reports_user", keys: keys("user_id")},
		}},
		{s.ugc.settings, []index{{name: "ugc_settings", keys: keys(), unique: true}}},
		{s.ugc.purchases, []index{{name: "ugc_purchase", keys: keys("user_id", "product_id"), unique: true}}},
		{s.ugc.rate, []index{{name: "ugc_rate_slot", keys: keys("user_id", "kind", "win", "slot"), unique: true}}},
	}
	for _, p := range plan {
		for _, ix := range p.idx {
			if err := createIndex(ctx, p.col, ix); err != nil {
				return err
			}
		}
	}
	return nil
}

// ugcDef is what SaveSubmission sets: every field but the key and the
// counters.
type ugcDef struct {
	Status     string       `bson:"status"`
	Listed     bool         `bson:"listed"`
	Rating     int          `bson:"rating"`
	Verified   bool         `bson:"verified"`
	Photos     bool         `bson:"photos"`
	Flags      []string     `bson:"flags"`
	QueuedAt   time.Time    `bson:"queued_at"`
	LeaseBy    string       `bson:"lease_by"`
	LeaseUntil time.Time    `bson:"lease_until"`
	TextHash   string       `bson:"text_hash"`
	Signature  []int64      `bson:"signature"`
	B0         *int64       `bson:"b0"`
	B1         *int64       `bson:"b1"`
	B2         *int64       `bson:"b2"`
	B3         *int64       `bson:"b3"`
	B4         *int64       `bson:"b4"`
	B5         *int64       `bson:"b5"`
	B6         *int64       `bson:"b6"`
	B7         *int64       `bson:"b7"`
	Tags       []string     `bson:"tags"`
	Content    ugc.Content  `bson:"content"`
	Public     *ugc.Content `bson:"public"`
	Reason     string       `bson:"reason"`
	Note       string       `bson:"note"`
	ApprovedAt *time.Time   `bson:"approved_at"`
	UpdatedAt  time.Time    `bson:"updated_at"`
	Reply      *ugc.Reply   `bson:"reply"`
	Paid       []string     `bson:"paid"`
	Owed       string       `bson:"owed"`
	Version    int64        `bson:"version"`
}

// ugcDoc is a submission as stored.
type ugcDoc struct {
	Tenant    string    `bson:"tenant"`
	ID        string    `bson:"id"`
	User      string    `bson:"user_id"`
	Kind      string    `bson:"kind"`
	ProductID string    `bson:"product_id"`
	ReviewKey string    `bson:"review_key"`
	CreatedAt time.Time `bson:"created_at"`
	Helpful   int64     `bson:"helpful"`
	Reports   int64     `bson:"reports"`
	Def       ugcDef    `bson:",inline"`
}

func ugcDefOf(sub ugc.Submission) ugcDef {
	d := ugcDef{
		Status: string(sub.Status), Listed: sub.Listed(), Rating: sub.PublicRating(), Verified: sub.Verified, Photos: sub.HasPhotos(),
		Flags: sub.Flags, QueuedAt: norm.Trunc(sub.QueuedAt), LeaseBy: sub.LeaseBy, LeaseUntil: norm.Trunc(sub.LeaseUntil),
		TextHash: sub.TextHash, Tags: sub.Tags, Content: sub.Content, Public: sub.Public,
		Reason: sub.Reason, Note: sub.Note, ApprovedAt: norm.TruncPtr(sub.ApprovedAt), UpdatedAt: norm.Trunc(sub.UpdatedAt),
		Reply: sub.Reply, Paid: sub.Paid, Owed: sub.Owed, Version: sub.Version,
	}
	if b := text.Bands(sub.Signature); sub.TextHash != "" && b != nil {
		for _, v := range sub.Signature {
			d.Signature = append(d.Signature, int64(v))
		}
		band := func(i int) *int64 { return &b[i] }
		d.B0, d.B1, d.B2, d.B3, d.B4, d.B5, d.B6, d.B7 = band(0), band(1), band(2), band(3), band(4), band(5), band(6), band(7)
	}
	return d
}

func toUGCDoc(sub ugc.Submission) ugcDoc {
	key := sub.ID
	if sub.Kind == ugc.Review {
		key = sub.User + "|" + sub.ProductID
	}
	return ugcDoc{
		Tenant: sub.Tenant, ID: sub.ID, User: sub.User, Kind: string(sub.Kind), ProductID: sub.ProductID, ReviewKey: key,
		CreatedAt: norm.Trunc(sub.CreatedAt), Helpful: sub.Helpful, Reports: sub.Reports, Def: ugcDefOf(sub),
	}
}

func (d ugcDoc) submission() (ugc.Submission, error) {
	lease := time.Time{}
	if !d.Def.LeaseUntil.IsZero() && d.Def.LeaseUntil.UnixMilli() != 0 {
		lease = norm.Trunc(d.Def.LeaseUntil)
	}
	sub := ugc.Submission{
		ID: d.ID, Tenant: d.Tenant, User: d.User, Kind: ugc.Kind(d.Kind), ProductID: d.ProductID, Tags: norm.Strings(d.Def.Tags),
		Verified: d.Def.Verified, Status: ugc.Status(d.Def.Status), Flags: norm.Strings(d.Def.Flags), Content: content(d.Def.Content),
		Public: d.Def.Public, Reason: d.Def.Reason, ApprovedAt: norm.TruncPtr(d.Def.ApprovedAt), CreatedAt: norm.Trunc(d.CreatedAt),
		UpdatedAt: norm.Trunc(d.Def.UpdatedAt), QueuedAt: norm.Trunc(d.Def.QueuedAt), Reply: d.Def.Reply, Helpful: d.Helpful,
		Reports: d.Reports, LeaseBy: d.Def.LeaseBy, LeaseUntil: lease, Note: d.Def.Note, TextHash: d.Def.TextHash,
		Paid: norm.Strings(d.Def.Paid), Owed: d.Def.Owed, Version: d.Def.Version,
	}
	for _, v := range d.Def.Signature {
		sub.Signature = append(sub.Signature, uint32(v))
	}
	if sub.Public != nil {
		c := content(*sub.Public)
		sub.Public = &c
	}
	if sub.Reply != nil {
		sub.Reply.At = norm.Trunc(sub.Reply.At)
	}
	return sub, nil
}

// content normalises a decoded Content: empty lists come back nil, as
// from the SQLite store.
func content(c ugc.Content) ugc.Content {
	c.Steps, c.Media = norm.Strings(c.Steps), norm.Strings(c.Media)
	return c
}

// moveSummary folds a product's summary from rating from to rating to;
// on FerretDB summaries are counted at read time instead.
func (s *Store) moveSummary(ctx context.Context, tenant, product string, from, to int) error {
	if from == to || !s.atomicUpdates {
		return nil
	}
	inc := bson.D{}
	if from > 0 {
		inc = append(inc, bson.E{Key: fmt.Sprintf("r%d", from), Value: -1})
	}
	if to > 0 {
		inc = append(inc, bson.E{Key: fmt.Sprintf("r%d", to), Value: 1})
	}
	filter := bson.D{{Key: "tenant", Value: tenant}, {Key: "product_id", Value: product}}
	opts := options.UpdateOne().SetUpsert(true)
	_, err := s.ugc.summaries.UpdateOne(ctx, filter, bson.D{{Key: "$inc", Value: inc}}, opts)
	if mdb.IsDuplicateKeyError(err) { // two first upserts raced: the loser updates
		_, err = s.ugc.summaries.UpdateOne(ctx, filter, bson.D{{Key: "$inc", Value: inc}}, opts)
	}
	return err
}

// CreateSubmission stores sub, or returns the user's review of the same
// product.
func (s *Store) CreateSubmission(ctx context.Context, sub ugc.Submission) (ugc.Submission, bool, error) {
	d := toUGCDoc(sub)
	stored, inserted, err := insertOrExisting(ctx, s.ugc.subs, d,
		bson.D{{Key: "tenant", Value: sub.Tenant}, {Key: "review_key", Value: d.ReviewKey}}, sub, ugcDoc.submission)
	if err == nil && inserted {
		err = s.moveSummary(ctx, sub.Tenant, sub.ProductID, 0, sub.PublicRating())
	}
	if err != nil {
		return ugc.Submission{}, false, fmt.Errorf("mongo: create submission: %w", err)
	}
	return stored, inserted, nil
}

func (s *Store) findSubmission(ctx context.Context, filter bson.D, what string) (ugc.Submission, error) {
	var d ugcDoc
	err := s.ugc.subs.FindOne(ctx, filter).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return ugc.Submission{}, fmt.Errorf("mongo: %s: %w", what, errs.ErrNotFound)
	}
	if err != nil {
		return ugc.Submission{}, fmt.Errorf("mongo: %s: %w", what, err)
	}
	return d.submission()
}

// UserReview returns the user's review of product.
func (s *Store) UserReview(ctx context.Context, tenant, user, product string) (ugc.Submission, error) {
	return s.findSubmission(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "review_key", Value: user + "|" + product}}, "review of "+product)
}

// GetSubmission returns one submission.
func (s *Store) GetSubmission(ctx context.Context, tenant, id string) (ugc.Submission, error) {
	return s.findSubmission(ctx, tenantID(tenant, id), "submission "+id)
}

// SaveSubmission writes next over version next.Version-1 (decided by the
// revisions index, exact on FerretDB too) and then folds the summary. A
// crash between the two leaves the summary off by the one review; see
// the notes of issue 11.
func (s *Store) SaveSubmission(ctx context.Context, prev, next ugc.Submission) error {
	update := bson.D{{Key: "$set", Value: ugcDefOf(next)}}
	var fold *ugcFold
	if s.atomicUpdates && prev.PublicRating() != next.PublicRating() {
		fold = &ugcFold{Token: fmt.Sprintf("%s:%d", next.ID, next.Version), Product: next.ProductID, From: prev.PublicRating(), To: next.PublicRating()}
		update = append(update, bson.E{Key: "$push", Value: bson.D{{Key: "folds_owed", Value: fold}}})
	}
	if err := updateVersioned(ctx, s.revisions, s.ugc.subs, next.Tenant, next.ID, next.Version, update, "submission"); err != nil {
		return fmt.Errorf("mongo: save submission: %w", err)
	}
	if fold == nil {
		return nil
	}
	if err := s.applyFold(ctx, next.Tenant, next.ID, *fold); err != nil {
		return fmt.Errorf("mongo: save submission: summary: %w", err)
	}
	return nil
}

// ugcFold is a summary move a save owes its product's summary. The save
// itself records it on the submission (folds_owed); it is applied to the
// summary under its token, which the summary keeps (its last foldTokens),
// so applying it again changes nothing; then it is pulled. HealFolds
// applies what a crash left owed.
type ugcFold struct {
	Token   string `bson:"token"`
	Product string `bson:"product_id"`
	From    int    `bson:"from"`
	To      int    `bson:"to"`
}

// foldTokens is how many applied tokens a summary keeps: far more than a
// product's folds within the sweep's grace.
const foldTokens = 2000

// applyFold moves the summary by f once, then pulls f from the submission.
func (s *Store) applyFold(ctx context.Context, tenant, id string, f ugcFold) error {
	inc := bson.D{}
	if f.From > 0 {
		inc = append(inc, bson.E{Key: fmt.Sprintf("r%d", f.From), Value: -1})
	}
	if f.To > 0 {
		inc = append(inc, bson.E{Key: fmt.Sprintf("r%d", f.To), Value: 1})
	}
	filter := bson.D{{Key: "tenant", Value: tenant}, {Key: "product_id", Value: f.Product}, {Key: "folds", Value: bson.D{{Key: "$ne", Value: f.Token}}}}
	update := bson.D{{Key: "$inc", Value: inc}, {Key: "$push", Value: bson.D{{Key: "folds",
		Value: bson.D{{Key: "$each", Value: bson.A{f.Token}}, {Key: "$slice", Value: -foldTokens}}}}}}
	opts := options.UpdateOne().SetUpsert(true)
	_, err := s.ugc.summaries.UpdateOne(ctx, filter, update, opts)
	if mdb.IsDuplicateKeyError(err) {
		// Two first upserts raced (the loser updates now), or the summary
		// holds the token already (its upsert fails again: applied).
		if _, err = s.ugc.summaries.UpdateOne(ctx, filter, update, opts); mdb.IsDuplicateKeyError(err) {
			err = nil
		}
	}
	if err != nil {
		return err
	}
	// Pulled by whole value (every field, in the order it was pushed).
	_, err = s.ugc.subs.UpdateOne(ctx, tenantID(tenant, id), bson.D{{Key: "$pull", Value: bson.D{{Key: "folds_owed", Value: f}}}})
	return err
}

// RecountMarks counts a submission's helpful votes and reports and sets
// its counters to them.
func (s *Store) RecountMarks(ctx context.Context, tenant, id string) (int64, int64, error) {
	helpful, reports, err := s.countMarks(ctx, tenant, id)
	if err != nil {
		return 0, 0, fmt.Errorf("mongo: recount marks: %w", err)
	}
	res, err := s.ugc.subs.UpdateOne(ctx, tenantID(tenant, id), bson.D{{Key: "$set", Value: bson.D{{Key: "helpful", Value: helpful}, {Key: "reports", Value: reports}}}})
	if err != nil {
		return 0, 0, fmt.Errorf("mongo: recount marks: %w", err)
	}
	if res.MatchedCount == 0 {
		return 0, 0, fmt.Errorf("mongo: recount marks: submission %s: %w", id, errs.ErrNotFound)
	}
	return helpful, reports, nil
}

// HealFolds recounts the vote and report counters of submissions marked
// before before (see dirtyMarks) and applies the summary folds of
// submissions updated before before that a crash left owed, up to limit
// submissions of each, and returns how many recounts and folds it did.
func (s *Store) HealFolds(ctx context.Context, before time.Time, limit int) (int, error) {
	marks, err := s.healMarks(ctx, before, limit)
	if err != nil || !s.atomicUpdates {
		return marks, err // FerretDB counts summaries at read time
	}
	folds, err := s.healFolds(ctx, before, limit)
	return marks + folds, err
}

func (s *Store) healFolds(ctx context.Context, before time.Time, limit int) (int, error) {
	var owed []struct {
		Tenant string    `bson:"tenant"`
		ID     string    `bson:"id"`
		Folds  []ugcFold `bson:"folds_owed"`
	}
	cur, err := s.ugc.subs.Find(ctx, bson.D{{Key: "folds_owed.token", Value: bson.D{{Key: "$gt", Value: ""}}},
		{Key: "updated_at", Value: bson.D{{Key: "$lt", Value: norm.Trunc(before)}}}}, options.Find().SetLimit(int64(norm.Limit(limit, DefaultLimit))))
	if err != nil {
		return 0, fmt.Errorf("mongo: heal folds: %w", err)
	}
	if err := cur.All(ctx, &owed); err != nil {
		return 0, fmt.Errorf("mongo: heal folds: %w", err)
	}
	n := 0
	for _, o := range owed {
		for _, f := range o.Folds {
			if err := s.applyFold(ctx, o.Tenant, o.ID, f); err != nil {
				return n, fmt.Errorf("mongo: heal folds of %s: %w", o.ID, err)
			}
			n++
		}
	}
	return n, nil
}

// SimilarTexts returns the candidates of a duplicate check: nine indexed
// equality branches of one $or.
func (s *Store) SimilarTexts(ctx context.Context, tenant, hash string, bands []int64, exclude string, limit int) ([]ugc.Submission, error) {
	or := bson.A{bson.D{{Key: "tenant", Value: tenant}, {Key: "text_hash", Value: hash}}}
	for i, v := range bands {
		or = append(or, bson.D{{Key: "tenant", Value: tenant}, {Key: fmt.Sprintf("b%d", i), Value: v}})
	}
	filter := bson.D{
		{Key: "$or", Value: or},
		{Key: "id", Value: bson.D{{Key: "$ne", Value: exclude}}},
		{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{"pending", "approved"}}}},
	}
	out, err := findAll(ctx, s.ugc.subs, filter, options.Find().SetLimit(int64(norm.Limit(limit, DefaultLimit))), ugcDoc.submission)
	if err != nil {
		return nil, fmt.Errorf("mongo: similar texts: %w", err)
	}
	// A rejected edit of a listed submission still shows its old text.
	listed, err := findAll(ctx, s.ugc.subs, bson.D{{Key: "$or", Value: or}, {Key: "id", Value: bson.D{{Key: "$ne", Value: exclude}}},
		{Key: "status", Value: "rejected"}, {Key: "listed", Value: true}},
		options.Find().SetLimit(int64(norm.Limit(limit, DefaultLimit))), ugcDoc.submission)
	if err != nil {
		return nil, fmt.Errorf("mongo: similar texts: %w", err)
	}
	return append(out, listed...), nil
}

// TakeSlot inserts the first free slot of the user's window from the
// count taken so far (slots are never freed but by erasing the user, so
// they are taken in order); a slot another taker won is a duplicate key,
// so the next one is tried. The user's older windows of the same kind are
// dropped.
func (s *Store) TakeSlot(ctx context.Context, tenant, user, window string, limit int) (bool, error) {
	kind := window[:1]
	mine := bson.D{{Key: "tenant", Value: tenant}, {Key: "user_id", Value: user}, {Key: "kind", Value: kind}}
	if _, err := s.ugc.rate.DeleteMany(ctx, append(mine, bson.E{Key: "win", Value: bson.D{{Key: "$lt", Value: window}}})); err != nil {
		return false, fmt.Errorf("mongo: take rate slot: %w", err)
	}
	n, err := s.ugc.rate.CountDocuments(ctx, append(mine, bson.E{Key: "win", Value: window}))
	if err != nil {
		return false, fmt.Errorf("mongo: take rate slot: %w", err)
	}
	for slot := int(n); slot < limit; slot++ {
		_, err := s.ugc.rate.InsertOne(ctx, append(mine, bson.E{Key: "win", Value: window}, bson.E{Key: "slot", Value: slot}))
		if err == nil {
			return true, nil
		}
		if !mdb.IsDuplicateKeyError(err) {
			return false, fmt.Errorf("mongo: take rate slot: %w", err)
		}
	}
	return false, nil
}

// Owed returns the oldest submissions owing effects, updated before before.
func (s *Store) Owed(ctx context.Context, before time.Time, limit int) ([]ugc.Submission, error) {
	out, err := findAll(ctx, s.ugc.subs, bson.D{{Key: "owed", Value: bson.D{{Key: "$in", Value: bson.A{ugc.OwePay, ugc.OweReverse}}}},
		{Key: "updated_at", Value: bson.D{{Key: "$lt", Value: norm.Trunc(before)}}}},
		options.Find().SetSort(bson.D{{Key: "updated_at", Value: 1}}).SetLimit(int64(norm.Limit(limit, DefaultLimit))), ugcDoc.submission)
	if err != nil {
		return nil, fmt.Errorf("mongo: owed submissions: %w", err)
	}
	return out, nil
}

// UserSubmissions pages the user's submissions newest first.
func (s *Store) UserSubmissions(ctx context.Context, tenant, user, before string, limit int) ([]ugc.Submission, error) {
	filter := bson.D{{Key: "tenant", Value: tenant}, {Key: "user_id", Value: user}}
	if before != "" {
		filter = append(filter, bson.E{Key: "id", Value: bson.D{{Key: "$lt", Value: before}}})
	}
	out, err := findAll(ctx, s.ugc.subs, filter, options.Find().SetSort(bson.D{{Key: "id", Value: -1}}).
		SetLimit(int64(norm.Limit(limit, DefaultLimit))), ugcDoc.submission)
	if err != nil {
		return nil, fmt.Errorf("mongo: user submissions: %w", err)
	}
	return out, nil
}

// Queue lists pending submissions oldest first.
func (s *Store) Queue(ctx context.Context, tenant string, q ugc.QueueQuery) ([]ugc.Submission, error) {
	filter := bson.D{{Key: "tenant", Value: tenant}, {Key: "status", Value: "pending"},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "lease_until", Value: bson.D{{Key: "$lte", Value: norm.Trunc(q.Now)}}}},
			bson.D{{Key: "lease_by", Value: q.Moderator}},
		}}}
	if q.Kind != "" {
		filter = append(filter, bson.E{Key: "kind", Value: string(q.Kind)})
	}
	if q.ProductID != "" {
		filter = append(filter, bson.E{Key: "product_id", Value: q.ProductID})
	}
	if q.Flag != "" {
		filter = append(filter, bson.E{Key: "flags", Value: q.Flag})
	}
	if !q.Before.IsZero() {
		filter = append(filter, bson.E{Key: "queued_at", Value: bson.D{{Key: "$lt", Value: norm.Trunc(q.Before)}}})
	}
	out, err := findAll(ctx, s.ugc.subs, filter, options.Find().SetSort(bson.D{{Key: "queued_at", Value: 1}, {Key: "id", Value: 1}}).
		SetLimit(int64(norm.Limit(q.Limit, DefaultLimit))).SetHint("ugc_queue"), ugcDoc.submission)
	if err != nil {
		return nil, fmt.Errorf("mongo: queue: %w", err)
	}
	return out, nil
}

// feedSorts are each order's key field, direction and index.
var feedSorts = map[ugc.Sort]struct {
	key, index string
	dir        int
}{
	ugc.Newest:     {"", "ugc_feed_newest", -1},
	ugc.Helpful:    {"helpful", "ugc_feed_helpful", -1},
	ugc.RatingHigh: {"rating", "ugc_feed_rating", -1},
	ugc.RatingLow:  {"rating", "ugc_feed_rating", 1},
}

// Feed pages a product's listed submissions.
func (s *Store) Feed(ctx context.Context, tenant, product string, q ugc.FeedQuery) ([]ugc.Submission, error) {
	o, ok := feedSorts[q.Sort]
	if !ok {
		o = feedSorts[ugc.Newest]
	}
	filter := bson.D{{Key: "tenant", Value: tenant}, {Key: "product_id", Value: product}, {Key: "listed", Value: true}}
	if q.Rating > 0 {
		filter = append(filter, bson.E{Key: "rating", Value: q.Rating})
	}
	if q.Verified {
		filter = append(filter, bson.E{Key: "verified", Value: true})
	}
	if q.WithPhotos {
		filter = append(filter, bson.E{Key: "photos", Value: true})
	}
	cmp := "$lt"
	if o.dir > 0 {
		cmp = "$gt"
	}
	sort := bson.D{{Key: "id", Value: o.dir}}
	if o.key != "" {
		sort = bson.D{{Key: o.key, Value: o.dir}, {Key: "id", Value: o.dir}}
	}
	if a := q.After; a != nil {
		if o.key == "" {
			filter = append(filter, bson.E{Key: "id", Value: bson.D{{Key: cmp, Value: a.ID}}})
		} else {
			filter = append(filter, bson.E{Key: "$or", Value: bson.A{
				bson.D{{Key: o.key, Value: bson.D{{Key: cmp, Value: a.Key}}}},
				bson.D{{Key: o.key, Value: a.Key}, {Key: "id", Value: bson.D{{Key: cmp, Value: a.ID}}}},
			}})
		}
	}
	out, err := findAll(ctx, s.ugc.subs, filter, options.Find().SetSort(sort).SetHint(o.index).
		SetLimit(int64(norm.Limit(q.Limit, DefaultLimit))), ugcDoc.submission)
	if err != nil {
		return nil, fmt.Errorf("mongo: feed: %w", err)
	}
	return out, nil
}

// RebuildSummary recounts a product's summary from its listed reviews
// (five indexed counts) and stores it; on FerretDB, where summaries are
// always counted, it only counts.
func (s *Store) RebuildSummary(ctx context.Context, tenant, product string) (ugc.Summary, error) {
	var sum ugc.Summary
	for r := 1; r <= 5; r++ {
		n, err := s.ugc.subs.CountDocuments(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "product_id", Value: product},
			{Key: "listed", Value: true}, {Key: "rating", Value: r}})
		if err != nil {
			return ugc.Summary{}, fmt.Errorf("mongo: rebuild summary: %w", err)
		}
		sum.Distribution[r-1] = n
	}
	if !s.atomicUpdates {
		return sum, nil
	}
	d := sum.Distribution
	filter := bson.D{{Key: "tenant", Value: tenant}, {Key: "product_id", Value: product}}
	set := bson.D{{Key: "$set", Value: bson.D{{Key: "r1", Value: d[0]}, {Key: "r2", Value: d[1]}, {Key: "r3", Value: d[2]},
		{Key: "r4", Value: d[3]}, {Key: "r5", Value: d[4]}}}}
	_, err := s.ugc.summaries.UpdateOne(ctx, filter, set, options.UpdateOne().SetUpsert(true))
	if mdb.IsDuplicateKeyError(err) {
		_, err = s.ugc.summaries.UpdateOne(ctx, filter, set)
	}
	if err != nil {
		return ugc.Summary{}, fmt.Errorf("mongo: rebuild summary: %w", err)
	}
	return sum, nil
}

// Summary returns a product's rating summary: the folded document on
// MongoDB, five indexed counts on FerretDB.
func (s *Store) Summary(ctx context.Context, tenant, product string) (ugc.Summary, error) {
	var sum ugc.Summary
	if !s.atomicUpdates {
		for r := 1; r <= 5; r++ {
			n, err := s.ugc.subs.CountDocuments(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "product_id", Value: product},
				{Key: "listed", Value: true}, {Key: "rating", Value: r}})
			if err != nil {
				return ugc.Summary{}, fmt.Errorf("mongo: summary: %w", err)
			}
			sum.Distribution[r-1] = n
		}
		return sum, nil
	}
	var d struct {
		R1, R2, R3, R4, R5 int64
	}
	err := s.ugc.summaries.FindOne(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "product_id", Value: product}}).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return sum, nil
	}
	if err != nil {
		return ugc.Summary{}, fmt.Errorf("mongo: summary: %w", err)
	}
	sum.Distribution = [5]int64{d.R1, d.R2, d.R3, d.R4, d.R5}
	return sum, nil
}

// addCounter moves a submission's counter field by delta ($inc on
// MongoDB) or sets it to count() (FerretDB), and returns it after.
func (s *Store) addCounter(ctx context.Context, tenant, id, field string, delta int64, count func() (int64, error)) (int64, error) {
	// The counter moves and the submission is marked again, so the
	// recount that follows (HealFolds) sees this vote or report even when
	// it came after an earlier recount read the marks.
	dirty := bson.E{Key: "marks_dirty", Value: norm.Trunc(time.Now())}
	var update bson.D
	if s.atomicUpdates {
		update = bson.D{{Key: "$inc", Value: bson.D{{Key: field, Value: delta}}}, {Key: "$set", Value: bson.D{dirty}}}
	} else {
		n, err := count()
		if err != nil {
			return 0, err
		}
		update = bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: n}, dirty}}}
	}
	var after bson.M // no projection: FerretDB refuses one on findAndModify
	err := s.ugc.subs.FindOneAndUpdate(ctx, tenantID(tenant, id), update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&after)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return 0, fmt.Errorf("submission %s: %w", id, errs.ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	n, _ := after[field].(int64)
	if v, ok := after[field].(int32); ok {
		n = int64(v)
	}
	return n, nil
}

// dirtyMarks marks a submission's helpful and report counters as
// possibly unsettled before a vote or report is written: the mark, the
// vote and the counter are three writes here, and a crash between the
// last two would leave the counter off by one. HealFolds recounts every
// submission marked longer than its grace ago from the stored votes and
// reports, so the counters are exact again once it has run; a missing
// submission is errs.ErrNotFound.
func (s *Store) dirtyMarks(ctx context.Context, tenant, id string) error {
	r, err := s.ugc.subs.UpdateOne(ctx, tenantID(tenant, id), bson.D{{Key: "$set", Value: bson.D{{Key: "marks_dirty", Value: norm.Trunc(time.Now())}}}})
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 {
		return fmt.Errorf("submission %s: %w", id, errs.ErrNotFound)
	}
	return nil
}

// healMarks recounts the counters of up to limit submissions marked
// before before and clears each mark unless a vote or report marked it
// again meanwhile (then the next run recounts it). It returns how many it
// recounted.
func (s *Store) healMarks(ctx context.Context, before time.Time, limit int) (int, error) {
	var dirty []struct {
		Tenant string    `bson:"tenant"`
		ID     string    `bson:"id"`
		Mark   time.Time `bson:"marks_dirty"`
	}
	cur, err := s.ugc.subs.Find(ctx, bson.D{{Key: "marks_dirty", Value: bson.D{{Key: "$lt", Value: norm.Trunc(before)}}}},
		options.Find().SetLimit(int64(norm.Limit(limit, DefaultLimit))))
	if err != nil {
		return 0, fmt.Errorf("mongo: heal marks: %w", err)
	}
	if err := cur.All(ctx, &dirty); err != nil {
		return 0, fmt.Errorf("mongo: heal marks: %w", err)
	}
	for i, d := range dirty {
		helpful, reports, err := s.countMarks(ctx, d.Tenant, d.ID)
		if err != nil {
			return i, fmt.Errorf("mongo: heal marks of %s: %w", d.ID, err)
		}
		filter := append(tenantID(d.Tenant, d.ID), bson.E{Key: "marks_dirty", Value: d.Mark})
		_, err = s.ugc.subs.UpdateOne(ctx, filter, bson.D{
			{Key: "$set", Value: bson.D{{Key: "helpful", Value: helpful}, {Key: "reports", Value: reports}}},
			{Key: "$unset", Value: bson.D{{Key: "marks_dirty", Value: ""}}}})
		if err != nil {
			return i, fmt.Errorf("mongo: heal marks of %s: %w", d.ID, err)
		}
	}
	return len(dirty), nil
}

// countMarks counts a submission's helpful votes and reports.
func (s *Store) countMarks(ctx context.Context, tenant, id string) (helpful, reports int64, err error) {
	marks := bson.D{{Key: "tenant", Value: tenant}, {Key: "submission_id", Value: id}}
	if helpful, err = s.ugc.votes.CountDocuments(ctx, append(marks, bson.E{Key: "helpful", Value: true})); err != nil {
		return 0, 0, err
	}
	reports, err = s.ugc.reports.CountDocuments(ctx, marks)
	return helpful, reports, err
}

// Vote sets a helpful vote and moves the submission's counter by the
// change. The vote's previous value comes from the one atomic
// find-and-update of the vote, so concurrent votes of one user add their
// changes exactly.
func (s *Store) Vote(ctx context.Context, tenant, submission, user string, helpful bool) (int64, error) {
	if err := s.dirtyMarks(ctx, tenant, submission); err != nil {
		return 0, fmt.Errorf("mongo: vote: %w", err)
	}
	filter := bson.D{{Key: "tenant", Value: tenant}, {Key: "submission_id", Value: submission}, {Key: "user_id", Value: user}}
	set := bson.D{{Key: "$set", Value: bson.D{{Key: "helpful", Value: helpful}}}}
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.Before)
	var was struct {
		Helpful bool `bson:"helpful"`
	}
	err := s.ugc.votes.FindOneAndUpdate(ctx, filter, set, opts).Decode(&was)
	if mdb.IsDuplicateKeyError(err) { // a concurrent first vote inserted it
		err = s.ugc.votes.FindOneAndUpdate(ctx, filter, set, opts).Decode(&was)
	}
	if err != nil && !errors.Is(err, mdb.ErrNoDocuments) {
		return 0, fmt.Errorf("mongo: vote: %w", err)
	}
	delta := int64(boolInt(helpful) - boolInt(was.Helpful))
	n, err := s.addCounter(ctx, tenant, submission, "helpful", delta, func() (int64, error) {
		return s.ugc.votes.CountDocuments(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "submission_id", Value: submission}, {Key: "helpful", Value: true}})
	})
	if err != nil {
		return 0, fmt.Errorf("mongo: vote: %w", err)
	}
	return n, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Report stores a user's report once and counts it.
func (s *Store) Report(ctx context.Context, tenant, submission, user, reason string) (bool, int64, error) {
	if err := s.dirtyMarks(ctx, tenant, submission); err != nil {
		return false, 0, fmt.Errorf("mongo: report: %w", err)
	}
	fresh, err := insertIgnore(ctx, s.ugc.reports, bson.D{{Key: "tenant", Value: tenant}, {Key: "submission_id", Value: submission},
		{Key: "user_id", Value: user}, {Key: "reason", Value: reason}, {Key: "at", Value: norm.Trunc(time.Now())}})
	if err != nil {
		return false, 0, fmt.Errorf("mongo: report: %w", err)
	}
	n, err := s.addCounter(ctx, tenant, submission, "reports", int64(boolInt(fresh)), func() (int64, error) {
		return s.ugc.reports.CountDocuments(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "submission_id", Value: submission}})
	})
	if err != nil {
		return false, 0, fmt.Errorf("mongo: report: %w", err)
	}
	return fresh, n, nil
}

type settingsDoc struct {
	Tenant   string       `bson:"tenant"`
	Settings ugc.Settings `bson:"settings"`
}

// GetSettings returns the tenant's settings.
func (s *Store) GetSettings(ctx context.Context, tenant string) (ugc.Settings, bool, error) {
	var d settingsDoc
	err := s.ugc.settings.FindOne(ctx, bson.D{{Key: "tenant", Value: tenant}}).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return ugc.Settings{}, false, nil
	}
	if err != nil {
		return ugc.Settings{}, false, fmt.Errorf("mongo: ugc settings: %w", err)
	}
	d.Settings.Checks.BannedWords = norm.Strings(d.Settings.Checks.BannedWords)
	return d.Settings, true, nil
}

// PutSettings stores the tenant's settings.
func (s *Store) PutSettings(ctx context.Context, tenant string, st ugc.Settings) error {
	if err := upsert(ctx, s.ugc.settings, bson.D{{Key: "tenant", Value: tenant}}, settingsDoc{Tenant: tenant, Settings: st}); err != nil {
		return fmt.Errorf("mongo: put ugc settings: %w", err)
	}
	return nil
}

// AddPurchase records a purchase of product by user.
func (s *Store) AddPurchase(ctx context.Context, tenant, user, product string) error {
	_, err := insertIgnore(ctx, s.ugc.purchases, bson.D{{Key: "tenant", Value: tenant}, {Key: "user_id", Value: user}, {Key: "product_id", Value: product}})
	if err != nil {
		return fmt.Errorf("mongo: add purchase: %w", err)
	}
	return nil
}

// Purchased reports whether user bought product.
func (s *Store) Purchased(ctx context.Context, tenant, user, product string) (bool, error) {
	ok, err := exists(ctx, s.ugc.purchases, bson.D{{Key: "tenant", Value: tenant}, {Key: "user_id", Value: user}, {Key: "product_id", Value: product}})
	if err != nil {
		return false, fmt.Errorf("mongo: purchased: %w", err)
	}
	return ok, nil
}

// DeleteSubmission deletes one submission, then its votes and reports,
// and takes its rating out of its product's summary.
func (s *Store) DeleteSubmission(ctx context.Context, tenant, id string) error {
	var d ugcDoc
	err := s.ugc.subs.FindOneAndDelete(ctx, tenantID(tenant, id)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return fmt.Errorf("mongo: delete submission %s: %w", id, errs.ErrNotFound)
	}
	if err == nil {
		err = s.moveSummary(ctx, tenant, d.ProductID, d.Def.Rating, 0)
	}
	for _, col := range []*mdb.Collection{s.ugc.votes, s.ugc.reports} {
		if err == nil {
			_, err = col.DeleteMany(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "submission_id", Value: id}})
		}
	}
	if err != nil {
		return fmt.Errorf("mongo: delete submission %s: %w", id, err)
	}
	return nil
}

// EraseUGCUser deletes the user's submissions, then each vote and report
// the user made (each deleted before its counter moves, so a repeat after
// a failure never moves one twice), then the user's purchases.
func (s *Store) EraseUGCUser(ctx context.Context, tenant, user string) error {
	mine := bson.D{{Key: "tenant", Value: tenant}, {Key: "user_id", Value: user}}
	subs, err := findAll(ctx, s.ugc.subs, mine, options.Find().SetProjection(bson.D{{Key: "id", Value: 1}}),
		func(d struct {
			ID string `bson:"id"`
		}) (string, error) {
			return d.ID, nil
		})
	if err != nil {
		return fmt.Errorf("mongo: erase ugc user: %w", err)
	}
	for _, id := range subs {
		if err := s.DeleteSubmission(ctx, tenant, id); err != nil && !errors.Is(err, errs.ErrNotFound) {
			return fmt.Errorf("mongo: erase ugc user: %w", err)
		}
	}
	if err := s.eraseMarks(ctx, tenant, user, s.ugc.votes, "helpful"); err != nil {
		return err
	}
	if err := s.eraseMarks(ctx, tenant, user, s.ugc.reports, "reports"); err != nil {
		return err
	}
	for _, col := range []*mdb.Collection{s.ugc.purchases, s.ugc.rate} {
		if _, err := col.DeleteMany(ctx, mine); err != nil {
			return fmt.Errorf("mongo: erase ugc user: %w", err)
		}
	}
	return nil
}

// eraseMarks deletes the user's votes or reports one by one, moving the
// counter field of the submission each counted in.
func (s *Store) eraseMarks(ctx context.Context, tenant, user string, col *mdb.Collection, field string) error {
	for {
		var m struct {
			Submission string `bson:"submission_id"`
			Helpful    *bool  `bson:"helpful"`
		}
		err := col.FindOneAndDelete(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "user_id", Value: user}}).Decode(&m)
		if errors.Is(err, mdb.ErrNoDocuments) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("mongo: erase ugc user %s: %w", col.Name(), err)
		}
		counted := m.Helpful == nil || *m.Helpful // a report always counts; a vote if helpful
		if !counted {
			continue
		}
		_, err = s.addCounter(ctx, tenant, m.Submission, field, -1, func() (int64, error) {
			f := bson.D{{Key: "tenant", Value: tenant}, {Key: "submission_id", Value: m.Submission}}
			if field == "helpful" {
				f = append(f, bson.E{Key: "helpful", Value: true})
			}
			return col.CountDocuments(ctx, f)
		})
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return fmt.Errorf("mongo: erase ugc user %s: %w", col.Name(), err)
		}
	}
}

// CountByStatus counts the tenant's submissions per status: one indexed
// count per status.
func (s *Store) CountByStatus(ctx context.Context, tenant string) (ugc.StatusCounts, error) {
	var c ugc.StatusCounts
	for _, st := range []ugc.Status{ugc.Pending, ugc.Approved, ugc.Rejected, ugc.Removed} {
		n, err := s.ugc.subs.CountDocuments(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "status", Value: string(st)}},
			options.Count().SetHint("ugc_status"))
		if err != nil {
			return ugc.StatusCounts{}, fmt.Errorf("mongo: ugc status counts: %w", err)
		}
		c.Add(st, n)
	}
	return c, nil
}
