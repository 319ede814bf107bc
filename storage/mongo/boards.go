package mongo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/storage/internal/norm"
)

// boardDoc is a board definition as stored. Documents written before
// sources and aggregations existed lack the fields after Window (and have
// a metric field, ignored); norm.Board fills them on read.
type boardDoc struct {
	Tenant        string     `bson:"tenant"`
	ID            string     `bson:"id"`
	Name          string     `bson:"name"`
	Window        string     `bson:"window"`
	CreatedAt     time.Time  `bson:"created_at"`
	Source        string     `bson:"source,omitempty"`
	EventType     string     `bson:"event_type,omitempty"`
	Prop          string     `bson:"prop,omitempty"`
	Aggregation   string     `bson:"aggregation,omitempty"`
	TimeZone      string     `bson:"time_zone,omitempty"`
	StartsAt      *time.Time `bson:"starts_at,omitempty"`
	EndsAt        *time.Time `bson:"ends_at,omitempty"`
	Scope         *scopeDoc  `bson:"scope,omitempty"`
	RetentionDays int        `bson:"retention_days,omitempty"`
	MaxPerEvent   int64      `bson:"max_per_event,omitempty"`
	Build         *buildDoc  `bson:"build,omitempty"`
}

// buildDoc is a points board's background fill from the ledger, kept in
// the board's document so that claiming and renewing its lease are
// single-document conditional updates.
type buildDoc struct {
	State      string    `bson:"state"`
	Done       int64     `bson:"done"`
	Total      int64     `bson:"total"`
	Error      string    `bson:"error"`
	Owner      string    `bson:"owner"`
	LeaseUntil time.Time `bson:"lease_until"`
}

type scopeDoc struct {
	Type string `bson:"type"`
	ID   string `bson:"id"`
}

func toBoardDoc(b leaderboards.Board) boardDoc {
	d := boardDoc{
		Tenant: b.Tenant, ID: b.ID, Name: b.Name, Window: string(b.Window),
		CreatedAt: norm.NowIfZero(b.CreatedAt),
		Source:    string(b.Source), EventType: b.EventType, Prop: b.Prop,
		Aggregation: string(b.Aggregation), TimeZone: b.TimeZone,
		StartsAt: norm.TruncPtr(b.StartsAt), EndsAt: norm.TruncPtr(b.EndsAt),
		RetentionDays: b.RetentionDays, MaxPerEvent: b.MaxPerEvent,
	}
	if b.Scope != nil {
		d.Scope = &scopeDoc{Type: b.Scope.Type, ID: b.Scope.ID}
	}
	if g := b.Build; g != nil {
		d.Build = &buildDoc{State: string(g.State), Done: g.Done, Total: g.Total, Error: g.Error, Owner: g.Owner, LeaseUntil: norm.Trunc(g.LeaseUntil)}
	}
	return d
}

func (d boardDoc) board() (leaderboards.Board, error) {
	b := leaderboards.Board{
		ID: d.ID, Tenant: d.Tenant, Name: d.Name,
		Window: leaderboards.Window(d.Window), CreatedAt: norm.Trunc(d.CreatedAt),
		Source: leaderboards.Source(d.Source), EventType: d.EventType, Prop: d.Prop,
		Aggregation: leaderboards.Aggregation(d.Aggregation), TimeZone: d.TimeZone,
		StartsAt: tptr(d.StartsAt), EndsAt: tptr(d.EndsAt),
		RetentionDays: d.RetentionDays, MaxPerEvent: d.MaxPerEvent,
	}
	if d.Scope != nil {
		b.Scope = &leaderboards.Scope{Type: d.Scope.Type, ID: d.Scope.ID}
	}
	if g := d.Build; g != nil {
		b.Build = &leaderboards.Build{
			State: leaderboards.BuildState(g.State), Done: g.Done, Total: g.Total,
			Error: g.Error, Owner: g.Owner, LeaseUntil: norm.Trunc(g.LeaseUntil),
		}
	}
	return norm.Board(b), nil
}

// ClaimBuild makes owner the builder of the board if its build is not
// ready and its lease ended by now: one conditional update, so two nodes
// racing for it cannot both win.
func (s *Store) ClaimBuild(ctx context.Context, tenant, id, owner string, now, until time.Time) (bool, error) {
	filter := append(tenantID(tenant, id),
		bson.E{Key: "build.state", Value: bson.D{{Key: "$in", Value: bson.A{string(leaderboards.Building), string(leaderboards.Failed)}}}},
		bson.E{Key: "build.lease_until", Value: bson.D{{Key: "$lte", Value: norm.Trunc(now)}}})
	set := bson.D{{Key: "$set", Value: bson.D{
		{Key: "build.state", Value: string(leaderboards.Building)},
		{Key: "build.owner", Value: owner}, {Key: "build.lease_until", Value: norm.Trunc(until)},
	}}}
	r, err := s.boards.UpdateOne(ctx, filter, set)
	if err != nil {
		return false, fmt.Errorf("mongo: claim build of %s: %w", id, err)
	}
	return r.MatchedCount == 1, nil
}

// SaveBuild stores g as the board's build if owner holds it.
func (s *Store) SaveBuild(ctx context.Context, tenant, id, owner string, g leaderboards.Build) (bool, error) {
	filter := append(tenantID(tenant, id), bson.E{Key: "build.owner", Value: owner})
	set := bson.D{{Key: "$set", Value: bson.D{{Key: "build", Value: buildDoc{
		State: string(g.State), Done: g.Done, Total: g.Total, Error: g.Error, Owner: g.Owner, LeaseUntil: norm.Trunc(g.LeaseUntil),
	}}}}}
	r, err := s.boards.UpdateOne(ctx, filter, set)
	if err != nil {
		return false, fmt.Errorf("mongo: save build of %s: %w", id, err)
	}
	return r.MatchedCount == 1, nil
}

// CreateBoard stores a board definition; an existing (tenant, id) is an
// errs.ErrDuplicate. A zero CreatedAt becomes now.
func (s *Store) CreateBoard(ctx context.Context, b leaderboards.Board) error {
	if b.ID == "" {
		return errors.New("mongo: create board: empty id")
	}
	if _, err := s.boards.InsertOne(ctx, toBoardDoc(b)); err != nil {
		if mdb.IsDuplicateKeyError(err) {
			return fmt.Errorf("mongo: create board: board %s: %w", b.ID, errs.ErrDuplicate)
		}
		return fmt.Errorf("mongo: create board: %w", err)
	}
	return nil
}

// GetBoard returns one board of tenant.
func (s *Store) GetBoard(ctx context.Context, tenant, id string) (leaderboards.Board, error) {
	var d boardDoc
	if err := s.boards.FindOne(ctx, tenantID(tenant, id)).Decode(&d); err != nil {
		if errors.Is(err, mdb.ErrNoDocuments) {
			return leaderboards.Board{}, fmt.Errorf("mongo: get board: board %s: %w", id, errs.ErrNotFound)
		}
		return leaderboards.Board{}, fmt.Errorf("mongo: get board: %w", err)
	}
	return d.board()
}

// ExtendBoard moves a board's EndsAt to endsAt.
func (s *Store) ExtendBoard(ctx context.Context, tenant, id string, endsAt time.Time) error {
	r, err := s.boards.UpdateOne(ctx, tenantID(tenant, id), bson.D{{Key: "$set", Value: bson.D{{Key: "ends_at", Value: norm.Trunc(endsAt)}}}})
	if err != nil {
		return fmt.Errorf("mongo: extend board %s: %w", id, err)
	}
	if r.MatchedCount == 0 {
		return fmt.Errorf("mongo: extend board: board %s: %w", id, errs.ErrNotFound)
	}
	return nil
}

// ListBoards returns a tenant's boards in id order.
func (s *Store) ListBoards(ctx context.Context, tenant string) ([]leaderboards.Board, error) {
	out, err := findAll(ctx, s.boards, bson.D{{Key: "tenant", Value: tenant}},
		options.Find().SetSort(bson.D{{Key: "id", Value: 1}}), boardDoc.board)
	if err != nil {
		return nil, fmt.Errorf("mongo: list boards: %w", err)
	}
	return out, nil
}

// Tenants lists, sorted, every tenant that has a board. It groups rather
// than using the distinct command, whose reply FerretDB encodes in a form
// the driver cannot decode.
func (s *Store) Tenants(ctx context.Context) ([]string, error) {
	out, err := tenantsOf(ctx, s.boards)
	if err != nil {
		return nil, fmt.Errorf("mongo: board tenants: %w", err)
	}
	return out, nil
}

// tenantsOf lists the tenants of col's documents in order. Sorting on
// tenant before grouping lets MongoDB walk the distinct keys of an index
// led by tenant (a DISTINCT_SCAN) instead of every document.
func tenantsOf(ctx context.Context, col *mdb.Collection) ([]string, error) {
	cur, err := col.Aggregate(ctx, mdb.Pipeline{
		{{Key: "$sort", Value: bson.D{{Key: "tenant", Value: 1}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$tenant"}}}},
		{{Key: "$sort", Value: bson.D{{Key: "_id", Value: 1}}}},
	})
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Tenant string `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.Tenant)
	}
	return out, nil
}

// scoreDoc is one event's score on a board as stored.
type scoreDoc struct {
	Tenant  string    `bson:"tenant"`
	Board   string    `bson:"board"`
	EventID string    `bson:"event_id"`
	User    string    `bson:"user"`
	Value   int64     `bson:"value"`
	At      time.Time `bson:"at"`
}

func (d scoreDoc) score() leaderboards.Score {
	return leaderboards.Score{
		Tenant: d.Tenant, Board: d.Board, User: d.User, EventID: d.EventID,
		Value: d.Value, At: norm.Trunc(d.At),
	}
}

// AddScore stores sc unless the board has a score for sc.EventID already;
// the unique (tenant, board, event_id) index decides. A zero At becomes
// now. It then folds the stored score into its member's total for
// sc.Period, on a repeat too: the two writes are not one transaction, and
// a crash between them leaves the fold to the replay. Each fold is
// idempotent on its own (see foldTotal), so it never counts twice.
func (s *Store) AddScore(ctx context.Context, sc leaderboards.Score) (bool, error) {
	d, err := newScoreDoc(sc)
	if err != nil {
		return false, err
	}
	inserted, err := insertIgnore(ctx, s.scores, d)
	if err != nil {
		return false, fmt.Errorf("mongo: add score: %w", err)
	}
	if sc.Period == "" || !s.atomicUpdates {
		return inserted, nil
	}
	if !inserted {
		key := bson.D{{Key: "tenant", Value: d.Tenant}, {Key: "board", Value: d.Board}, {Key: "event_id", Value: d.EventID}}
		if err := s.scores.FindOne(ctx, key).Decode(&d); err != nil {
			return false, fmt.Errorf("mongo: add score: %w", err)
		}
	}
	if err := s.foldTotal(ctx, d, sc.Period, sc.Aggregation); err != nil {
		return false, fmt.Errorf("mongo: add score: %w", err)
	}
	return inserted, nil
}

// FoldScore is AddScore; the fold is a guarded update whose outcome (and,
// for Sum, the total over the member's day documents) would take another
// read, so the caller reads the total (Known false).
func (s *Store) FoldScore(ctx context.Context, sc leaderboards.Score) (leaderboards.Folded, error) {
	inserted, err := s.AddScore(ctx, sc)
	return leaderboards.Folded{Inserted: inserted}, err
}

// FoldScores is AddScore for many scores: one unordered insert of the
// scores, whose unique index says which are new, then one unordered bulk
// of the folds into their totals. As in AddScore, a repeat is folded too
// (its stored score: a crash may have come between the two writes), and
// each fold is the guarded update of foldTotal, so none counts twice. A
// fold upserts its total; where that meets a duplicate key (the total
// exists and the score does not change it, or a concurrent write created
// it first) the fold is done again on its own by foldTotal, which tells
// the two apart.
func (s *Store) FoldScores(ctx context.Context, scs []leaderboards.Score) (int, error) {
	docs := make([]any, len(scs))
	for i, sc := range scs {
		d, err := newScoreDoc(sc)
		if err != nil {
			return 0, err
		}
		docs[i] = d
	}
	if len(docs) == 0 {
		return 0, nil
	}
	_, err := s.scores.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	repeats, err := duplicates(err)
	if err != nil {
		return 0, fmt.Errorf("mongo: add scores: %w", err)
	}
	if s.atomicUpdates {
		if err := s.foldTotals(ctx, scs, docs, repeats); err != nil {
			return 0, fmt.Errorf("mongo: add scores: %w", err)
		}
	}
	return len(docs) - len(repeats), nil
}

// newScoreDoc is sc as AddScore stores it, checked.
func newScoreDoc(sc leaderboards.Score) (scoreDoc, error) {
	if sc.Board == "" || sc.EventID == "" {
		return scoreDoc{}, errors.New("mongo: add score: empty board or event id")
	}
	if sc.Period != "" && !slices.Contains([]leaderboards.Aggregation{leaderboards.Sum, leaderboards.Best, leaderboards.Latest}, sc.Aggregation) {
		return scoreDoc{}, fmt.Errorf("mongo: add score: unknown aggregation %q", sc.Aggregation)
	}
	return scoreDoc{Tenant: sc.Tenant, Board: sc.Board, EventID: sc.EventID, User: sc.User,
		Value: sc.Value, At: norm.NowIfZero(sc.At)}, nil
}

// duplicates returns the indexes of an unordered bulk write's models that
// failed on a duplicate key, or err when anything else failed.
func duplicates(err error) (map[int]bool, error) {
	var bwe mdb.BulkWriteException
	if err == nil || !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		return nil, err
	}
	dup := make(map[int]bool, len(bwe.WriteErrors))
	for _, we := range bwe.WriteErrors {
		if !mdb.IsDuplicateKeyError(we.WriteError) {
			return nil, err
		}
		dup[we.Index] = true
	}
	return dup, nil
}

// foldTotals folds the scores docs (scs as stored, the repeats as stored
// before) into their totals, as foldTotal would one by one.
func (s *Store) foldTotals(ctx context.Context, scs []leaderboards.Score, docs []any, repeats map[int]bool) error {
	if err := s.storedScores(ctx, docs, repeats); err != nil {
		return err
	}
	var models []mdb.WriteModel
	var folded []int // index in scs of each model
	for i, sc := range scs {
		if sc.Period == "" {
			continue
		}
		filter, update, _ := totalFold(docs[i].(scoreDoc), sc.Period, sc.Aggregation)
		models = append(models, mdb.NewUpdateOneModel().SetFilter(filter).SetUpdate(update).SetUpsert(true))
		folded = append(folded, i)
	}
	if len(models) == 0 {
		return nil
	}
	_, err := s.totals.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	failed, err := duplicates(err)
	if err != nil || len(failed) == 0 {
		return err
	}
	// Fold again, one by one, from the first failed model on: MongoDB
	// runs the models after it, a server may also stop there (FerretDB
	// does), and each fold is idempotent, so either way this completes
	// the batch exactly.
	from := len(models)
	for j := range failed {
		from = min(from, j)
	}
	for _, i := range folded[from:] {
		if err := s.foldTotal(ctx, docs[i].(scoreDoc), scs[i].Period, scs[i].Aggregation); err != nil {
			return err
		}
	}
	return nil
}

// storedScores replaces each repeat of docs by the score stored under its
// key, which the fold must use, as AddScore does: one read per board.
func (s *Store) storedScores(ctx context.Context, docs []any, repeats map[int]bool) error {
	type board struct{ tenant, id string }
	byBoard := map[board]map[string][]int{} // event id -> indexes in docs
	for i := range repeats {
		d := docs[i].(scoreDoc)
		b := board{d.Tenant, d.Board}
		if byBoard[b] == nil {
			byBoard[b] = map[string][]int{}
		}
		byBoard[b][d.EventID] = append(byBoard[b][d.EventID], i)
	}
	for b, events := range byBoard {
		stored, err := findAll(ctx, s.scores, bson.D{{Key: "tenant", Value: b.tenant}, {Key: "board", Value: b.id},
			{Key: "event_id", Value: bson.D{{Key: "$in", Value: slices.Collect(maps.Keys(events))}}}}, options.Find(),
			func(d scoreDoc) (scoreDoc, error) { return d, nil })
		if err != nil {
			return err
		}
		for _, d := range stored {
			for _, i := range events[d.EventID] {
				docs[i] = d
			}
		}
	}
	return nil
}

// totalDoc is a member's folded entry in a board period. Best and Latest
// keep one document, replaced only by a better score, which is idempotent
// as it stands. Sum adds, so it keeps the events it added in Applied and
// adds only an event not there, in the same atomic update; to bound that
// list it keeps one document per UTC day of the scores (Day), and Total
// adds the days up: the list holds one member's events of one day, and a
// read touches one document per day the member scored in the period.
type totalDoc struct {
	ID      bson.D    `bson:"_id"`
	Tenant  string    `bson:"tenant"`
	Board   string    `bson:"board"`
	Period  string    `bson:"period"`
	User    string    `bson:"user"`
	Day     time.Time `bson:"day"`
	Value   int64     `bson:"value"`
	At      time.Time `bson:"at"`
	Applied []string  `bson:"applied,omitempty"`
}

// foldTotal folds the stored score d into its member's total (see
// foldDoc): the filter matches only a total the score changes.
func (s *Store) foldTotal(ctx context.Context, d scoreDoc, period string, agg leaderboards.Aggregation) error {
	filter, update, first := totalFold(d, period, agg)
	if first == nil {
		return fmt.Errorf("fold total: unknown aggregation %q", agg)
	}
	return foldDoc(ctx, s.totals, filter, update, first) // no upsert: $setOnInsert does nothing
}

// totalFold returns the fold of the stored score d into its member's
// total: the filter matches only a total the score changes, the update
// (ending with the $setOnInsert of an upsert) makes that change, and
// first is the total when there is none yet; first is nil for an unknown
// aggregation.
func totalFold(d scoreDoc, period string, agg leaderboards.Aggregation) (filter, update bson.D, first *totalDoc) {
	at := norm.Trunc(d.At)
	var day time.Time
	if agg == leaderboards.Sum {
		day = at.Truncate(24 * time.Hour)
	}
	id := bson.D{{Key: "t", Value: d.Tenant}, {Key: "b", Value: d.Board}, {Key: "p", Value: period},
		{Key: "u", Value: d.User}, {Key: "d", Value: day}}
	first = &totalDoc{ID: id, Tenant: d.Tenant, Board: d.Board, Period: period, User: d.User, Day: day, Value: d.Value, At: at}
	update = bson.D{{Key: "$set", Value: bson.D{{Key: "value", Value: d.Value}, {Key: "at", Value: at}}}}
	var better bson.A
	switch agg {
	case leaderboards.Sum:
		better = bson.A{bson.D{{Key: "applied", Value: bson.D{{Key: "$ne", Value: d.EventID}}}}}
		update = bson.D{
			{Key: "$inc", Value: bson.D{{Key: "value", Value: d.Value}}},
			{Key: "$max", Value: bson.D{{Key: "at", Value: at}}},
			{Key: "$push", Value: bson.D{{Key: "applied", Value: d.EventID}}},
		}
		first.Applied = []string{d.EventID}
	case leaderboards.Best:
		better = bson.A{bson.D{{Key: "value", Value: bson.D{{Key: "$lt", Value: d.Value}}}},
			bson.D{{Key: "value", Value: d.Value}, {Key: "at", Value: bson.D{{Key: "$gt", Value: at}}}}}
	case leaderboards.Latest:
		better = bson.A{bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: at}}}},
			bson.D{{Key: "at", Value: at}, {Key: "value", Value: bson.D{{Key: "$lt", Value: d.Value}}}}}
	default:
		return nil, nil, nil
	}
	onInsert := bson.D{{Key: "tenant", Value: d.Tenant}, {Key: "board", Value: d.Board}, {Key: "period", Value: period},
		{Key: "user", Value: d.User}, {Key: "day", Value: day}}
	update = append(update, bson.E{Key: "$setOnInsert", Value: onInsert})
	return bson.D{{Key: "_id", Value: id}, {Key: "$or", Value: better}}, update, first
}

// Total returns a member's folded entry in one board period; a stale
// board (see upgradeBoardTotals), or any board without atomic updates, is
// read with AggregateScores.
func (s *Store) Total(ctx context.Context, tenant, board, period, user string, agg leaderboards.Aggregation, from, to time.Time) (int64, time.Time, bool, error) {
	if !s.atomicUpdates || s.staleBoards[[2]string{tenant, board}] {
		return s.AggregateScores(ctx, tenant, board, user, agg, from, to)
	}
	cur, err := s.totals.Find(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "board", Value: board},
		{Key: "period", Value: period}, {Key: "user", Value: user}},
		options.Find().SetProjection(bson.D{{Key: "value", Value: 1}, {Key: "at", Value: 1}}))
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("mongo: board total: %w", err)
	}
	defer cur.Close(context.Background())
	var (
		v  int64
		at time.Time
		ok bool
	)
	for cur.Next(ctx) {
		var d totalDoc
		if err := cur.Decode(&d); err != nil {
			return 0, time.Time{}, false, fmt.Errorf("mongo: board total: %w", err)
		}
		// Only Sum has several documents: add them, keep the latest At.
		v, ok = v+d.Value, true
		if d.At.After(at) {
			at = d.At
		}
	}
	if err := cur.Err(); err != nil {
		return 0, time.Time{}, false, fmt.Errorf("mongo: board total: %w", err)
	}
	return v, norm.Trunc(at), ok, nil
}

// AggregateScores folds a user's scores on a board with At in [from, to),
// compared at millisecond precision; see leaderboards.Store for the folds.
// Best and Latest are the first score in an order, found with a sorted
// find of one document along the index, cheaper than any $group.
func (s *Store) AggregateScores(ctx context.Context, tenant, board, user string, agg leaderboards.Aggregation, from, to time.Time) (int64, time.Time, bool, error) {
	from, to = norm.Trunc(from), norm.Trunc(to)
	window := bson.D{{Key: "$gte", Value: from}, {Key: "$lt", Value: to}}
	var (
		v   int64
		at  time.Time
		ok  bool
		err error
	)
	switch agg {
	case leaderboards.Sum:
		v, at, ok, err = s.sumScores(ctx, tenant, board, user, from, to)
	case leaderboards.Best:
		v, at, ok, err = s.firstScore(ctx, userScores(tenant, board, user, window),
			bson.D{{Key: "value", Value: -1}, {Key: "at", Value: 1}})
	case leaderboards.Latest:
		v, at, ok, err = s.firstScore(ctx, userScores(tenant, board, user, window),
			bson.D{{Key: "at", Value: -1}, {Key: "value", Value: -1}})
	default:
		return 0, time.Time{}, false, fmt.Errorf("mongo: aggregate scores: unknown aggregation %q", agg)
	}
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("mongo: aggregate scores: %w", err)
	}
	return v, at, ok, nil
}

// userScores filters a user's scores on a board by the condition at on
// their time.
func userScores(tenant, board, user string, at bson.D) bson.D {
	return bson.D{
		{Key: "tenant", Value: tenant}, {Key: "board", Value: board},
		{Key: "user", Value: user}, {Key: "at", Value: at},
	}
}

// firstScore returns the value and time of the first score matching filter
// in the order sort; ok is false when none matches.
func (s *Store) firstScore(ctx context.Context, filter, sort bson.D) (int64, time.Time, bool, error) {
	var d scoreDoc
	err := s.scores.FindOne(ctx, filter, options.FindOne().SetSort(sort)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return 0, time.Time{}, false, nil
	}
	if err != nil {
		return 0, time.Time{}, false, err
	}
	return d.Value, norm.Trunc(d.At), true, nil
}

// sumScores sums the scores in [from, to) and returns the latest one's
// time (see sumAndLatest).
func (s *Store) sumScores(ctx context.Context, tenant, board, user string, from, to time.Time) (int64, time.Time, bool, error) {
	return sumAndLatest(ctx, s.scores, func(at bson.D) bson.D { return userScores(tenant, board, user, at) },
		from, to, "value", "at")
}

// ScanScores calls fn for every score of a board in event id order, along
// the unique (tenant, board, event_id) index. It stops at, and returns,
// the first error of fn.
func (s *Store) ScanScores(ctx context.Context, tenant, board string, fn func(leaderboards.Score) error) error {
	cur, err := s.scores.Find(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "board", Value: board}},
		options.Find().SetSort(bson.D{{Key: "event_id", Value: 1}}).SetBatchSize(1000))
	if err != nil {
		return fmt.Errorf("mongo: scan scores: %w", err)
	}
	defer cur.Close(context.Background())
	for cur.Next(ctx) {
		var d scoreDoc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("mongo: scan scores: %w", err)
		}
		if err := fn(d.score()); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("mongo: scan scores: %w", err)
	}
	return nil
}

// CountScores counts a board's scores.
func (s *Store) CountScores(ctx context.Context, tenant, board string) (int64, error) {
	n, err := s.scores.CountDocuments(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "board", Value: board}})
	if err != nil {
		return 0, fmt.Errorf("mongo: count scores: %w", err)
	}
	return n, nil
}

// exclusionDoc is an exclusion as stored.
type exclusionDoc struct {
	Tenant string    `bson:"tenant"`
	Board  string    `bson:"board"`
	User   string    `bson:"user"`
	By     string    `bson:"by"`
	Reason string    `bson:"reason"`
	At     time.Time `bson:"at"`
}

func (d exclusionDoc) exclusion() (leaderboards.Exclusion, error) {
	return leaderboards.Exclusion{
		Tenant: d.Tenant, Board: d.Board, User: d.User, By: d.By,
		Reason: d.Reason, At: norm.Trunc(d.At),
	}, nil
}

func exclusionKey(tenant, board, user string) bson.D {
	return bson.D{{Key: "tenant", Value: tenant}, {Key: "board", Value: board}, {Key: "user", Value: user}}
}

// Exclude stores e, replacing an earlier exclusion of the same user from
// the same board. A zero At becomes now.
func (s *Store) Exclude(ctx context.Context, e leaderboards.Exclusion) error {
	if e.Board == "" || e.User == "" {
		return errors.New("mongo: exclude: empty board or user")
	}
	err := upsert(ctx, s.exclusions, exclusionKey(e.Tenant, e.Board, e.User), exclusionDoc{
		Tenant: e.Tenant, Board: e.Board, User: e.User, By: e.By,
		Reason: e.Reason, At: norm.NowIfZero(e.At),
	})
	if err != nil {
		return fmt.Errorf("mongo: exclude: %w", err)
	}
	return nil
}

// Reinstate deletes the exclusion of user from board; errs.ErrNotFound
// when there is none.
func (s *Store) Reinstate(ctx context.Context, tenant, board, user string) error {
	r, err := s.exclusions.DeleteOne(ctx, exclusionKey(tenant, board, user))
	if err != nil {
		return fmt.Errorf("mongo: reinstate: %w", err)
	}
	if r.DeletedCount == 0 {
		return fmt.Errorf("mongo: reinstate: exclusion of %s from board %s: %w", user, board, errs.ErrNotFound)
	}
	return nil
}

// Exclusions lists a board's exclusions in user order; with board "" the
// tenant's every board's, in (board, user) order.
func (s *Store) Exclusions(ctx context.Context, tenant, board string) ([]leaderboards.Exclusion, error) {
	filter := bson.D{{Key: "tenant", Value: tenant}}
	if board != "" {
		filter = append(filter, bson.E{Key: "board", Value: board})
	}
	out, err := findAll(ctx, s.exclusions, filter,
		options.Find().SetSort(bson.D{{Key: "board", Value: 1}, {Key: "user", Value: 1}}), exclusionDoc.exclusion)
	if err != nil {
		return nil, fmt.Errorf("mongo: list exclusions: %w", err)
	}
	return out, nil
}
