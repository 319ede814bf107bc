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
		RetentionDays: b.RetentionDays,
	}
	if b.Scope != nil {
		d.Scope = &scopeDoc{Type: b.Scope.Type, ID: b.Scope.ID}
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
		RetentionDays: d.RetentionDays,
	}
	if d.Scope != nil {
		b.Scope = &leaderboards.Scope{Type: d.Scope.Type, ID: d.Scope.ID}
	}
	return norm.Board(b), nil
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
	cur, err := s.boards.Aggregate(ctx, mdb.Pipeline{
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$tenant"}}}},
		{{Key: "$sort", Value: bson.D{{Key: "_id", Value: 1}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: board tenants: %w", err)
	}
	var rows []struct {
		Tenant string `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("mongo: board tenants: %w", err)
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
// now.
func (s *Store) AddScore(ctx context.Context, sc leaderboards.Score) (bool, error) {
	if sc.Board == "" || sc.EventID == "" {
		return false, errors.New("mongo: add score: empty board or event id")
	}
	_, err := s.scores.InsertOne(ctx, scoreDoc{
		Tenant: sc.Tenant, Board: sc.Board, EventID: sc.EventID, User: sc.User,
		Value: sc.Value, At: norm.NowIfZero(sc.At),
	})
	if mdb.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mongo: add score: %w", err)
	}
	return true, nil
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
