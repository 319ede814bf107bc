// Package mongo implements Questline's domain stores (events, challenges,
// badges, points, leaderboards, API keys, the audit log and profiles) on
// MongoDB with the official v2 driver.
//
// It never uses multi-document transactions: a standalone mongod has none
// and sharded ones make them slow. Correctness comes from unique indexes
// ((tenant, id) everywhere, plus (tenant, idempotency_key) for events,
// (tenant, challenge or badge, user, period, goal, event_id) for
// contributions, (tenant, challenge, user, period) for completions,
// (tenant, completion) for claims, (tenant, challenge, user) for
// enrolments, (tenant, user, content) for unlocks, (tenant, badge, tier,
// user, period) and (tenant, badge, tier, edition_key) for awards,
// (tenant, key) for the ledger, (tenant, board, event_id) for board
// scores, (tenant, board, user) for exclusions, (tenant, user) for
// profiles and attributes, and hash for API keys) and single-document
// atomic operations: an insert that hits a unique index is a repeat,
// answered by reading the document that won.
//
// Reads go to the primary and writes wait for a majority, whatever the URI
// asks for (see clientOptions): exactly-once rests on reading one's own
// writes and on no acknowledged write being rolled back.
//
// Values follow the same conventions as the SQLite store (see
// storage/storagetest): times are UTC milliseconds, props and results are
// stored as subdocuments built from their JSON form and read back as
// encoding/json would decode them (numbers as float64), rules come back
// normalized, empty maps and slices come back nil, and a limit <= 0 means
// DefaultLimit.
//
// FerretDB does not apply an update filtered on a document's state
// atomically: of concurrent updates that all match, several may succeed.
// So a write that must succeed once among concurrent callers, such as
// ClaimCompletion or an edit of a definition (UpdateChallenge,
// UpdateBadge: see updateVersioned), is decided by an insert under a
// unique index, which is exact on both.
//
// Production runs on MongoDB; CI runs the conformance suite on FerretDB
// 1.x (a MongoDB-compatible server on SQLite). Forms both accept are the
// default: no distinct command, and a "first by some order" is a find with
// sort and limit. Where a MongoDB-only form is clearly better, it is sent
// first and a refusal (unsupported) alone falls back to a form both
// accept: partial indexes (createIndex), and single-pass $group stages
// with $cond or $max (groupOnce). FerretDB refuses those operators; a
// $group of several plain accumulators it accepts but folds wrongly,
// without an error, so no such $group is ever sent.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/storage/internal/norm"
	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// DefaultLimit is the page size used when a caller passes a limit <= 0, so
// a forgotten limit can never turn into a scan of a whole collection.
const DefaultLimit = 100

// ServerSelectionTimeout is how long Open and every operation wait for a
// usable server unless the URI sets serverSelectionTimeoutMS. The driver's
// default of 30s would make a wrong MONGO_URI look like a hung start.
const ServerSelectionTimeout = 5 * time.Second

// Collection names.
const (
	colEvents        = "events"
	colChallenges    = "challenges"
	colContributions = "contributions"
	colTallies       = "challenge_tallies"
	colDayTallies    = "challenge_day_tallies"
	colCompletions   = "completions"
	colLedger        = "ledger"
	colBoards        = "boards"
	colScores        = "board_scores"
	colTotals        = "board_totals"
	colExclusions    = "board_exclusions"
	colFeed          = "board_feed"
	colFeedClaims    = "board_feed_claims"
	colAPIKeys       = "api_keys"
	colAudit         = "audit"
	colProfiles      = "profiles"
	colClaims        = "claims"
	colEnrolments    = "enrolments"
	colUnlocks       = "unlocks"
	colBadges        = "badges"
	colBadgeContribs = "badge_contributions"
	colAwards        = "awards"
	colAttributes    = "attributes"

	// colRevisions decides concurrent edits of challenges and badges (see
	// updateVersioned).
	colRevisions = "revisions"
)

// Store is the MongoDB implementation of events.Store, challenges.Store,
// badges.Store, points.Store, leaderboards.Store, auth.KeyStore,
// audit.Store and profiles.Store. It is safe for concurrent use; Close it
// to release the connection pool.
type Store struct {
	client *mdb.Client
	db     *mdb.Database

	events, challenges, contributions, completions *mdb.Collection
	tallies, dayTallies                            *mdb.Collection
	claims, enrolments, unlocks                    *mdb.Collection
	badges, badgeContributions, awards             *mdb.Collection
	ledger, boards, scores, exclusions             *mdb.Collection
	feed, feedClaims                               *mdb.Collection
	totals                                         *mdb.Collection
	// atomicUpdates is false on FerretDB, whose conditional updates are
	// not atomic (see the package doc): there, challenge tallies and board
	// totals are not kept, and Tally and Total fold the contributions and
	// scores instead, exact at the cost the folds save on MongoDB.
	atomicUpdates bool
	// staleBoards are the boards whose scores predate totals (see
	// upgradeBoardTotals), by tenant and id; read-only after Open.
	staleBoards                          map[[2]string]bool
	apiKeys, audit, profiles, attributes *mdb.Collection

	revisions *mdb.Collection
	wh        webhookCols

	wallets walletCols

	contests, contestEntries *mdb.Collection

	ugc ugcCollections

	qz quizCols

	rewards rewardCols
}

// clientOptions are the driver options for uri. The default server
// selection timeout goes first, so a serverSelectionTimeoutMS in the URI
// wins. Primary reads and majority writes go last, so they override the
// URI: every store reads its own writes (an insert that hits a unique index
// reads the document that won, a version-checked update reads the version
// it checks), which a secondary may not have yet, and a write acknowledged
// by one node can be rolled back by a failover after the caller was told it
// happened. Either would let a retried event pay twice. They are not
// settings an operator can loosen.
func clientOptions(uri string) *options.ClientOptions {
	return options.Client().
		SetServerSelectionTimeout(ServerSelectionTimeout).
		ApplyURI(uri).
		SetReadPreference(readpref.Primary()).
		SetWriteConcern(writeconcern.Majority())
}

// Overridden lists the settings of uri that Open does not apply because
// they would loosen what exactly-once rests on (see clientOptions), as
// "readPreference=secondaryPreferred", "w=1" or "journal=false", so the
// node can say so at start rather than ignore them silently.
func Overridden(uri string) []string {
	opts := options.Client().ApplyURI(uri)
	var out []string
	if rp := opts.ReadPreference; rp != nil && rp.Mode() != readpref.PrimaryMode {
		out = append(out, "readPreference="+rp.Mode().String())
	}
	if wc := opts.WriteConcern; wc != nil {
		if wc.W != nil && wc.W != writeconcern.WCMajority {
			out = append(out, fmt.Sprintf("w=%v", wc.W))
		}
		if wc.Journal != nil && !*wc.Journal {
			out = append(out, "journal=false")
		}
	}
	return out
}

// Open connects to uri, checks that a primary answers (failing after
// ServerSelectionTimeout rather than hanging), upgrades what the first
// release stored (see upgradeV1) and creates the indexes of database. Both
// are idempotent, so every node runs them on every start.
func Open(ctx context.Context, uri, database string) (*Store, error) {
	if database == "" {
		return nil, errors.New("mongo: open: empty database name")
	}
	client, err := mdb.Connect(clientOptions(uri))
	if err != nil {
		return nil, fmt.Errorf("mongo: open: %w", err)
	}
	if err := client.Ping(ctx, readpref.Primary()); err != nil {
		client.Disconnect(context.Background())
		return nil, fmt.Errorf("mongo: open: no MongoDB primary reachable: %w", err)
	}
	db := client.Database(database)
	s := &Store{
		client:        client,
		db:            db,
		events:        db.Collection(colEvents),
		challenges:    db.Collection(colChallenges),
		contributions: db.Collection(colContributions),
		tallies:       db.Collection(colTallies),
		dayTallies:    db.Collection(colDayTallies),
		completions:   db.Collection(colCompletions),
		claims:        db.Collection(colClaims),
		enrolments:    db.Collection(colEnrolments),
		unlocks:       db.Collection(colUnlocks),
		badges:        db.Collection(colBadges),
		awards:        db.Collection(colAwards),
		ledger:        db.Collection(colLedger),
		boards:        db.Collection(colBoards),
		scores:        db.Collection(colScores),
		totals:        db.Collection(colTotals),
		exclusions:    db.Collection(colExclusions),
		feed:          db.Collection(colFeed),
		feedClaims:    db.Collection(colFeedClaims),
		apiKeys:       db.Collection(colAPIKeys),
		audit:         db.Collection(colAudit),
		profiles:      db.Collection(colProfiles),
		attributes:    db.Collection(colAttributes),

		badgeContributions: db.Collection(colBadgeContribs),
		revisions:          db.Collection(colRevisions),
	}
	if s.atomicUpdates, err = atomicUpdates(ctx, db); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.upgradeV1(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.ensureIndexes(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.openWebhooks(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.ensureRetentionIndexes(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.openWallets(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.backfillWallets(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.backfillPointsDays(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.ensureLoyaltyIndexes(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.openContests(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.openQuizzes(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.openRewards(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.ensureAnalyticsIndexes(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.upgradeTallies(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.upgradeBoardTotals(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.upgradePointsBoards(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	return s, nil
}

// Database returns the database the store works in, for tests and tools.
func (s *Store) Database() *mdb.Database { return s.db }

// Ping checks that a primary answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("mongo: ping: %w", err)
	}
	return nil
}

// Close disconnects, waiting at most 10s for in-flight operations.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("mongo: close: %w", err)
	}
	return nil
}

// index describes one index; every key list leads with tenant except the
// two lookups that are global by nature (the sweeper's unprocessed events
// and the API-key hash, looked up before the tenant is known).
type index struct {
	name    string
	keys    bson.D
	unique  bool
	partial bson.D
}

func (s *Store) ensureIndexes(ctx context.Context) error {
	byID := func(name string) index {
		return index{name: name + "_id", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "id", Value: 1}}, unique: true}
	}
	plan := []struct {
		col *mdb.Collection
		idx []index
	}{
		{s.events, []index{
			byID("events"),
			{name: "events_idem", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "idempotency_key", Value: 1}}, unique: true},
			// The sweeper's cross-tenant scan. Partial where the server
			// supports it, so it holds only unprocessed events and stays
			// tiny; FerretDB lacks partialFilterExpression and gets the
			// plain index (see createIndex), where processed leads, so the
			// scan still touches only unprocessed entries.
			{name: "events_unprocessed",
				keys:    bson.D{{Key: "processed", Value: 1}, {Key: "received_at", Value: 1}},
				partial: bson.D{{Key: "processed", Value: false}}},
			// A user's events, for their export and erasure (package users).
			{name: "events_user", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1}, {Key: "id", Value: 1}}},
			// The ops list of a tenant's dead events, newest first; dead
			// events are few, so where the partial form is refused the
			// plain one still serves (dead_at leads after tenant).
			{name: "events_dead",
				keys:    bson.D{{Key: "tenant", Value: 1}, {Key: "dead_at", Value: 1}, {Key: "id", Value: -1}},
				partial: bson.D{{Key: "dead_at", Value: bson.D{{Key: "$exists", Value: true}}}}},
		}},
		{s.challenges, []index{
			byID("challenges"),
			{name: "challenges_status", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "status", Value: 1}, {Key: "id", Value: 1}}},
		}},
		// The unique key also serves ChallengeStats (a range of one
		// challenge); contributions_at gives Contributions its order.
		{s.contributions, contributionIndexes("contributions", "challenge")},
		// Tally sums a range of one goal's buckets, by hour and by day.
		{s.tallies, []index{tallyIndex("challenge_tallies_bucket")}},
		{s.dayTallies, []index{tallyIndex("challenge_day_tallies_bucket")}},
		{s.completions, []index{
			byID("completions"),
			{name: "completions_once", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "challenge", Value: 1},
				{Key: "user", Value: 1}, {Key: "period", Value: 1}}},
			{name: "completions_user", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1},
				{Key: "completed_at", Value: -1}, {Key: "id", Value: -1}}},
			{name: "completions_challenge", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "challenge", Value: 1},
				{Key: "user", Value: 1}, {Key: "completed_at", Value: 1}, {Key: "id", Value: 1}}},
		}},
		{s.claims, []index{
			{name: "claims_completion", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "completion", Value: 1}}},
		}},
		{s.enrolments, []index{
			{name: "enrolments_user", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "challenge", Value: 1}, {Key: "user", Value: 1}}},
		}},
		{s.unlocks, []index{
			{name: "unlocks_content", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1}, {Key: "content", Value: 1}}},
			{name: "unlocks_user", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1},
				{Key: "unlocked_at", Value: -1}, {Key: "content", Value: -1}}},
		}},
		{s.badges, []index{
			byID("badges"),
			{name: "badges_status", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "status", Value: 1}, {Key: "id", Value: 1}}},
		}},
		{s.badgeContributions, contributionIndexes("badge_contributions", "badge")},
		// awards_edition is unique per (tenant, badge, tier, edition_key),
		// see awardDoc; tier before user in awards_once lets it count a
		// tier's awards too.
		{s.awards, []index{
			byID("awards"),
			{name: "awards_once", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "badge", Value: 1},
				{Key: "tier", Value: 1}, {Key: "user", Value: 1}, {Key: "period", Value: 1}}},
			{name: "awards_edition", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "badge", Value: 1},
				{Key: "tier", Value: 1}, {Key: "edition_key", Value: 1}}},
			{name: "awards_user", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1},
				{Key: "awarded_at", Value: -1}, {Key: "id", Value: -1}}},
		}},
		{s.ledger, []index{
			byID("ledger"),
			{name: "ledger_key", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "key", Value: 1}}},
			{name: "ledger_user", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1}, {Key: "id", Value: 1}}},
			{name: "ledger_user_time", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1},
				{Key: "created_at", Value: 1}, {Key: "amount", Value: 1}}},
		}},
		{s.boards, []index{byID("boards")}},
		{s.scores, []index{
			// Also serves ScanScores's event_id order.
			{name: "board_scores_once", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "board", Value: 1}, {Key: "event_id", Value: 1}}},
			// One user's window in time order; with value last it also
			// gives Latest's (at, value) order without a sort.
			{name: "board_scores_user", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "board", Value: 1},
				{Key: "user", Value: 1}, {Key: "at", Value: 1}, {Key: "value", Value: 1}}},
		}},
		// Total reads one member's documents of a board period.
		{s.totals, []index{{name: "board_totals_member", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "board", Value: 1},
			{Key: "period", Value: 1}, {Key: "user", Value: 1}, {Key: "day", Value: 1}}}}},
		{s.exclusions, []index{
			{name: "board_exclusions_user", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "board", Value: 1}, {Key: "user", Value: 1}}},
		}},
		// Pending board refreshes: one per board entry, claimed across
		// tenants by every node's feeder (global by nature, like the
		// sweeper's scan); board_feed_since finds the oldest for the lag.
		{s.feed, []index{
			{name: "board_feed_key", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "board", Value: 1},
				{Key: "period", Value: 1}, {Key: "user", Value: 1}}},
			{name: "board_feed_due", keys: bson.D{{Key: "lease_until", Value: 1}, {Key: "since", Value: 1}}},
			{name: "board_feed_since", keys: bson.D{{Key: "since", Value: 1}}},
		}},
		{s.apiKeys, []index{
			byID("api_keys"),
			{name: "api_keys_hash", unique: true, keys: bson.D{{Key: "hash", Value: 1}}},
		}},
		{s.audit, []index{byID("audit")}},
		{s.profiles, []index{
			{name: "profiles_user", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1}}},
		}},
		{s.attributes, []index{
			{name: "attributes_user", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1}}},
		}},
		{s.revisions, []index{
			{name: "revisions_once", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "kind", Value: 1},
				{Key: "id", Value: 1}, {Key: "version", Value: 1}}},
		}},
	}
	for _, p := range plan {
		for _, ix := range p.idx {
			if err := createIndex(ctx, p.col, ix); err != nil {
				return err
			}
		}
	}
	return s.ensureUGC(ctx)
}

// tallyIndex is the index of a tallies collection: one goal's buckets in
// order.
func tallyIndex(name string) index {
	return index{name: name, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "challenge", Value: 1},
		{Key: "user", Value: 1}, {Key: "period", Value: 1}, {Key: "goal", Value: 1}, {Key: "bucket", Value: 1}}}
}

// contributionIndexes are the indexes of a contributions collection whose
// documents name what they count towards in the field owner: unique per
// (tenant, owner, user, period, goal, event_id), and in (at, event_id,
// goal) order for one user's period.
func contributionIndexes(name, owner string) []index {
	userPeriod := bson.D{{Key: "tenant", Value: 1}, {Key: owner, Value: 1}, {Key: "user", Value: 1}, {Key: "period", Value: 1}}
	return []index{
		{name: name + "_key", unique: true, keys: append(slices.Clone(userPeriod),
			bson.E{Key: "goal", Value: 1}, bson.E{Key: "event_id", Value: 1})},
		{name: name + "_at", keys: append(slices.Clone(userPeriod),
			bson.E{Key: "at", Value: 1}, bson.E{Key: "event_id", Value: 1}, bson.E{Key: "goal", Value: 1})},
	}
}

// createIndex creates one index. createIndexes with a spec identical to an
// existing index is a no-op, so this is safe on every start and from many
// nodes. It sends one index per command because FerretDB drops the
// connection when one createIndexes lists several indexes that all exist.
func createIndex(ctx context.Context, col *mdb.Collection, ix index) error {
	model := func(partial bool) mdb.IndexModel {
		o := options.Index().SetName(ix.name)
		if ix.unique {
			o.SetUnique(true)
		}
		if partial {
			o.SetPartialFilterExpression(ix.partial)
		}
		return mdb.IndexModel{Keys: ix.keys, Options: o}
	}
	_, err := col.Indexes().CreateOne(ctx, model(ix.partial != nil))
	if ix.partial != nil && unsupported(err) {
		// A server without partial indexes (FerretDB): the full index
		// serves the same queries, only bigger.
		_, err = col.Indexes().CreateOne(ctx, model(false))
	}
	if err != nil {
		return fmt.Errorf("mongo: create index %s on %s: %w", ix.name, col.Name(), err)
	}
	return nil
}

// atomicUpdates reports whether the server applies a conditional update
// atomically, as MongoDB does; FerretDB, which names itself in buildInfo,
// does not.
func atomicUpdates(ctx context.Context, db *mdb.Database) (bool, error) {
	var info bson.M
	if err := db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, fmt.Errorf("mongo: open: buildInfo: %w", err)
	}
	_, ferret := info["ferretdbVersion"]
	return !ferret, nil
}

// codeUnsupported is the server error code for an unsupported feature.
const codeUnsupported = 238

// unsupported reports whether err is the server refusing a feature it
// does not implement, as opposed to a failure of the operation.
func unsupported(err error) bool {
	var ce mdb.CommandError
	return errors.As(err, &ce) && ce.Code == codeUnsupported
}

// findAll runs a query and decodes every document with conv.
func findAll[D, T any](ctx context.Context, col *mdb.Collection, filter any, opts *options.FindOptionsBuilder, conv func(D) (T, error)) ([]T, error) {
	cur, err := col.Find(ctx, filter, opts)
	if err != nil {
		return nil, err
	}
	defer cur.Close(context.Background())
	var out []T
	for cur.Next(ctx) {
		var d D
		if err := cur.Decode(&d); err != nil {
			return nil, err
		}
		v, err := conv(d)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := cur.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// exists reports whether col has a document matching filter.
func exists(ctx context.Context, col *mdb.Collection, filter any) (bool, error) {
	n, err := col.CountDocuments(ctx, filter, options.Count().SetLimit(1))
	return n > 0, err
}

// insertOrExisting inserts doc into a collection whose unique key is
// filter; if that key is taken it decodes the document holding it with
// conv. A document that conflicted on another unique index (its id) is
// reported as errs.ErrDuplicate. This is how every "exactly once" write
// works without transactions: the unique index decides, and the loser
// reads the winner.
func insertOrExisting[D any, T any](ctx context.Context, col *mdb.Collection, doc any, filter bson.D, fresh T, conv func(D) (T, error)) (T, bool, error) {
	var zero T
	_, err := col.InsertOne(ctx, doc)
	if err == nil {
		return fresh, true, nil
	}
	if !mdb.IsDuplicateKeyError(err) {
		return zero, false, err
	}
	var d D
	err = col.FindOne(ctx, filter).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return zero, false, errs.ErrDuplicate
	}
	if err != nil {
		return zero, false, fmt.Errorf("read existing: %w", err)
	}
	stored, err := conv(d)
	return stored, false, err
}

// sum runs $match filter and a $group summing field ("$amount") and returns
// the sum (0 when nothing matches). The $group has this one accumulator
// only, which FerretDB computes right.
func sum(ctx context.Context, col *mdb.Collection, filter bson.D, field string) (int64, error) {
	cur, err := col.Aggregate(ctx, mdb.Pipeline{
		{{Key: "$match", Value: filter}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: nil}, {Key: "n", Value: bson.D{{Key: "$sum", Value: field}}}}}},
	})
	if err != nil {
		return 0, err
	}
	var rows []struct {
		N int64 `bson:"n"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		return 0, nil
	}
	return rows[0].N, nil
}

// groupOnce runs $match filter and one $group of all matching documents
// with the accumulators acc, in a single pass, and decodes its row into
// out; found is false when nothing matched. MongoDB runs any accumulator;
// FerretDB 1.x refuses $cond, $max and most others (unsupported(err) is
// then true), and its callers fall back to one $sum or a sorted find each,
// which every server runs. Only a refusal falls back: any other error is
// returned.
func groupOnce(ctx context.Context, col *mdb.Collection, filter, acc bson.D, out any) (found bool, err error) {
	cur, err := col.Aggregate(ctx, mdb.Pipeline{
		{{Key: "$match", Value: filter}},
		{{Key: "$group", Value: append(bson.D{{Key: "_id", Value: nil}}, acc...)}},
	})
	if err != nil {
		return false, err
	}
	defer cur.Close(context.Background())
	if !cur.Next(ctx) {
		return false, cur.Err()
	}
	return true, cur.Decode(out)
}

// sumAndLatest sums field over the documents of filter(at) with at the
// range [from, to) of atField, and returns the latest atField among them;
// found is false when there are none. Both come from one $group ($sum and
// $max), so they describe the same documents. A server that refuses $max
// there (FerretDB) finds the latest document first and then sums up to
// it, so that one written in between cannot make the two disagree.
func sumAndLatest(ctx context.Context, col *mdb.Collection, filter func(at bson.D) bson.D, from, to time.Time, field, atField string) (n int64, latest time.Time, found bool, err error) {
	window := filter(bson.D{{Key: "$gte", Value: from}, {Key: "$lt", Value: to}})
	var row struct {
		N    int64     `bson:"n"`
		Last time.Time `bson:"last"`
	}
	found, err = groupOnce(ctx, col, window, bson.D{
		{Key: "n", Value: bson.D{{Key: "$sum", Value: "$" + field}}},
		{Key: "last", Value: bson.D{{Key: "$max", Value: "$" + atField}}},
	}, &row)
	switch {
	case err == nil && !found:
		return 0, time.Time{}, false, nil
	case err == nil:
		return row.N, norm.Trunc(row.Last), true, nil
	case !unsupported(err):
		return 0, time.Time{}, false, err
	}
	var last bson.Raw
	err = col.FindOne(ctx, window, options.FindOne().
		SetSort(bson.D{{Key: atField, Value: -1}}).
		SetProjection(bson.D{{Key: atField, Value: 1}})).Decode(&last)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return 0, time.Time{}, false, nil
	}
	if err != nil {
		return 0, time.Time{}, false, err
	}
	var at time.Time
	if err := last.Lookup(atField).Unmarshal(&at); err != nil {
		return 0, time.Time{}, false, fmt.Errorf("decode %s: %w", atField, err)
	}
	n, err = sum(ctx, col, filter(bson.D{{Key: "$gte", Value: from}, {Key: "$lte", Value: at}}), "$"+field)
	if err != nil {
		return 0, time.Time{}, false, err
	}
	return n, norm.Trunc(at), true, nil
}

// insertNew inserts doc and reports a taken unique key as
// errs.ErrDuplicate under what: for Create methods, where a taken key is
// the caller's mistake.
func insertNew(ctx context.Context, col *mdb.Collection, doc any, what string) error {
	_, err := col.InsertOne(ctx, doc)
	if mdb.IsDuplicateKeyError(err) {
		return fmt.Errorf("%s: %w", what, errs.ErrDuplicate)
	}
	return err
}

// insertIgnore inserts doc and reports whether it did: false means a
// unique key was taken, which for idempotent writes is a repeat, not an
// error.
func insertIgnore(ctx context.Context, col *mdb.Collection, doc any) (bool, error) {
	_, err := col.InsertOne(ctx, doc)
	if mdb.IsDuplicateKeyError(err) {
		return false, nil
	}
	return err == nil, err
}

// updateVersioned applies update (of $set and $unset stages) to the
// document (tenant, id) if its version is version-1. When it is not, a
// document that exists means a version conflict, errs.ErrDuplicate; none,
// errs.ErrNotFound.
//
// Of concurrent updates to the same version exactly one wins, on any
// server: the winner is decided by an insert under the unique index of
// revisions (tenant, kind, id, version), not by the update's filter alone,
// which FerretDB does not apply atomically (several matching updates can
// all succeed there). The revision stores the update, so a loser, or any
// later update, first rolls the winner's update forward: an update whose
// writer stopped between the two writes is still applied, exactly once
// (its filter on version-1 makes the roll-forward a no-op once done).
func updateVersioned(ctx context.Context, revisions, col *mdb.Collection, tenant, id string, version int64, update bson.D, what string) error {
	var cur struct {
		Version int64 `bson:"version"`
	}
	err := col.FindOne(ctx, tenantID(tenant, id), options.FindOne().SetProjection(bson.D{{Key: "version", Value: 1}})).Decode(&cur)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return fmt.Errorf("%s %s: %w", what, id, errs.ErrNotFound)
	}
	if err != nil {
		return err
	}
	conflict := fmt.Errorf("%s %s version %d: %w", what, id, version, errs.ErrDuplicate)
	if cur.Version != version-1 {
		// Checked before claiming: a claim of a version that cannot come
		// next would block, and later replay, an unrelated update.
		return conflict
	}
	rev := revisionDoc{Tenant: tenant, Kind: col.Name(), ID: id, Version: version}
	for _, stage := range update {
		rev.Update = append(rev.Update, revisionStage{Op: stage.Key, Value: stage.Value})
	}
	won, err := insertIgnore(ctx, revisions, rev)
	if err != nil {
		return err
	}
	if !won {
		key := bson.D{{Key: "tenant", Value: tenant}, {Key: "kind", Value: rev.Kind}, {Key: "id", Value: id}, {Key: "version", Value: version}}
		var winner revisionDoc
		if err := revisions.FindOne(ctx, key).Decode(&winner); err != nil {
			return err
		}
		update = winner.update()
	}
	if _, err := col.UpdateOne(ctx, append(tenantID(tenant, id), bson.E{Key: "version", Value: version - 1}), update); err != nil {
		return err
	}
	if !won {
		return conflict
	}
	return nil
}

// revisionDoc records which update made a definition's version; unique
// per (tenant, kind, id, version), kind being the collection's name. The
// update is kept as a list of stages, as stored documents cannot have
// $-prefixed keys.
type revisionDoc struct {
	Tenant  string          `bson:"tenant"`
	Kind    string          `bson:"kind"`
	ID      string          `bson:"id"`
	Version int64           `bson:"version"`
	Update  []revisionStage `bson:"update"`
}

// revisionStage is one stage of an update: an operator and its document.
type revisionStage struct {
	Op    string `bson:"op"`
	Value any    `bson:"value"`
}

// update rebuilds the update document of r.
func (r revisionDoc) update() bson.D {
	out := make(bson.D, len(r.Update))
	for i, st := range r.Update {
		out[i] = bson.E{Key: st.Op, Value: st.Value}
	}
	return out
}

// countDistinct counts the distinct values of field ("$user") among the
// documents matching filter, with a $group by it and a $count: no
// accumulator at all, and no distinct command (FerretDB encodes its reply
// in a form the driver cannot decode).
func countDistinct(ctx context.Context, col *mdb.Collection, filter bson.D, field string) (int64, error) {
	cur, err := col.Aggregate(ctx, mdb.Pipeline{
		{{Key: "$match", Value: filter}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: field}}}},
		{{Key: "$count", Value: "n"}},
	})
	if err != nil {
		return 0, err
	}
	var rows []struct {
		N int64 `bson:"n"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		return 0, nil
	}
	return rows[0].N, nil
}

// upsert replaces the document with key filter by doc, inserting it when
// there is none. Two concurrent upserts of a new key can both try to
// insert, and the unique index fails the loser; retrying once makes it
// replace the winner's document, as if it had come second.
func upsert(ctx context.Context, col *mdb.Collection, filter bson.D, doc any) error {
	opts := options.Replace().SetUpsert(true)
	_, err := col.ReplaceOne(ctx, filter, doc, opts)
	if mdb.IsDuplicateKeyError(err) {
		_, err = col.ReplaceOne(ctx, filter, doc, opts)
	}
	return err
}
