package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/quizzes"
	"github.com/questline/questline/storage/internal/norm"
)

// quizCols are the quiz collections. Quizzes and attempts are stored as
// their JSON document beside the fields their keys and lists need, as the
// SQLite store does, so both decode the same bytes.
type quizCols struct {
	quizzes, attempts *mdb.Collection
}

// openQuizzes binds the quiz collections and creates their indexes. The
// unique (tenant, user, quiz_id, seq) is what keeps a user to one open
// attempt when two starts race.
func (s *Store) openQuizzes(ctx context.Context) error {
	s.qz = quizCols{quizzes: s.db.Collection("quizzes"), attempts: s.db.Collection("quiz_attempts")}
	byID := bson.D{{Key: "tenant", Value: 1}, {Key: "id", Value: 1}}
	for _, p := range []struct {
		col *mdb.Collection
		ix  index
	}{
		{s.qz.quizzes, index{name: "quizzes_id", keys: byID, unique: true}},
		{s.qz.quizzes, index{name: "quizzes_status", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "status", Value: 1}, {Key: "id", Value: 1}}}},
		{s.qz.attempts, index{name: "quiz_attempts_id", keys: byID, unique: true}},
		{s.qz.attempts, index{name: "quiz_attempts_seq", unique: true, keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1},
			{Key: "quiz_id", Value: 1}, {Key: "seq", Value: 1}}}},
		{s.qz.attempts, index{name: "quiz_attempts_quiz", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "quiz_id", Value: 1}, {Key: "id", Value: 1}}}},
		// Analytics count a quiz's first attempts (seq 1) on this index.
		{s.qz.attempts, index{name: "quiz_attempts_quiz_seq", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "quiz_id", Value: 1}, {Key: "seq", Value: 1}}}},
	} {
		if err := createIndex(ctx, p.col, p.ix); err != nil {
			return err
		}
	}
	return nil
}

type quizDoc struct {
	Tenant  string `bson:"tenant"`
	ID      string `bson:"id"`
	Status  string `bson:"status"`
	Version int64  `bson:"version"`
	Doc     string `bson:"doc"`
}

type attemptDoc struct {
	Tenant  string `bson:"tenant"`
	ID      string `bson:"id"`
	QuizID  string `bson:"quiz_id"`
	User    string `bson:"user"`
	Seq     int    `bson:"seq"`
	Version int64  `bson:"version"`
	Doc     string `bson:"doc"`
}

func (d quizDoc) quiz() (quizzes.Quiz, error) {
	var q quizzes.Quiz
	if err := json.Unmarshal([]byte(d.Doc), &q); err != nil {
		return q, fmt.Errorf("decode quiz %s: %w", d.ID, err)
	}
	q.Tenant = d.Tenant
	return q, nil
}

func (d attemptDoc) attempt() (quizzes.Attempt, error) {
	var a quizzes.Attempt
	if err := json.Unmarshal([]byte(d.Doc), &a); err != nil {
		return a, fmt.Errorf("decode attempt %s: %w", d.ID, err)
	}
	a.Tenant = d.Tenant
	return a, nil
}

func toQuizDoc(q quizzes.Quiz) (quizDoc, error) {
	b, err := json.Marshal(q)
	return quizDoc{Tenant: q.Tenant, ID: q.ID, Status: string(q.Status), Version: q.Version, Doc: string(b)}, err
}

func toAttemptDoc(a quizzes.Attempt) (attemptDoc, error) {
	b, err := json.Marshal(a)
	return attemptDoc{Tenant: a.Tenant, ID: a.ID, QuizID: a.QuizID, User: a.User, Seq: a.Seq, Version: a.Version, Doc: string(b)}, err
}

// CreateQuiz stores a new quiz; an existing (tenant, id) is an errs.ErrDuplicate.
func (s *Store) CreateQuiz(ctx context.Context, q quizzes.Quiz) error {
	if q.ID == "" {
		return errors.New("mongo: create quiz: empty id")
	}
	d, err := toQuizDoc(q)
	if err == nil {
		err = insertNew(ctx, s.qz.quizzes, d, "quiz "+q.ID)
	}
	if err != nil {
		return fmt.Errorf("mongo: create quiz: %w", err)
	}
	return nil
}

// UpdateQuiz replaces the quiz if its version is q.Version-1, exactly one
// of concurrent edits winning (see updateVersioned).
func (s *Store) UpdateQuiz(ctx context.Context, q quizzes.Quiz) error {
	d, err := toQuizDoc(q)
	if err == nil {
		set := bson.D{{Key: "status", Value: d.Status}, {Key: "doc", Value: d.Doc}, {Key: "version", Value: d.Version}}
		err = updateVersioned(ctx, s.revisions, s.qz.quizzes, q.Tenant, q.ID, q.Version, bson.D{{Key: "$set", Value: set}}, "quiz")
	}
	if err != nil {
		return fmt.Errorf("mongo: update quiz: %w", err)
	}
	return nil
}

// GetQuiz returns one quiz of tenant.
func (s *Store) GetQuiz(ctx context.Context, tenant, id string) (quizzes.Quiz, error) {
	var d quizDoc
	if err := s.qz.quizzes.FindOne(ctx, tenantID(tenant, id)).Decode(&d); err != nil {
		if errors.Is(err, mdb.ErrNoDocuments) {
			return quizzes.Quiz{}, fmt.Errorf("mongo: get quiz: quiz %s: %w", id, errs.ErrNotFound)
		}
		return quizzes.Quiz{}, fmt.Errorf("mongo: get quiz: %w", err)
	}
	return d.quiz()
}

// ListQuizzes pages a tenant's quizzes by id; status "" is every status.
func (s *Store) ListQuizzes(ctx context.Context, tenant string, status quizzes.Status, after string, limit int) ([]quizzes.Quiz, error) {
	out, err := findAll(ctx, s.qz.quizzes, pageFilter(tenant, string(status), after),
		options.Find().SetSort(bson.D{{Key: "id", Value: 1}}).SetLimit(int64(norm.Limit(limit, DefaultLimit))), quizDoc.quiz)
	if err != nil {
		return nil, fmt.Errorf("mongo: list quizzes: %w", err)
	}
	return out, nil
}

// InsertAttempt stores a unless the user has an attempt of the quiz with
// its seq; then it returns that one.
func (s *Store) InsertAttempt(ctx context.Context, a quizzes.Attempt) (quizzes.Attempt, bool, error) {
	d, err := toAttemptDoc(a)
	if err != nil {
		return quizzes.Attempt{}, false, fmt.Errorf("mongo: insert attempt: %w", err)
	}
	key := bson.D{{Key: "tenant", Value: a.Tenant}, {Key: "user", Value: a.User}, {Key: "quiz_id", Value: a.QuizID}, {Key: "seq", Value: a.Seq}}
	stored, inserted, err := insertOrExisting(ctx, s.qz.attempts, d, key, a, attemptDoc.attempt)
	if err != nil {
		return quizzes.Attempt{}, false, fmt.Errorf("mongo: insert attempt %s: %w", a.ID, err)
	}
	return stored, inserted, nil
}

// UpdateAttempt replaces the attempt if its version is a.Version-1.
func (s *Store) UpdateAttempt(ctx context.Context, a quizzes.Attempt) error {
	d, err := toAttemptDoc(a)
	if err == nil {
		set := bson.D{{Key: "doc", Value: d.Doc}, {Key: "version", Value: d.Version}}
		err = updateVersioned(ctx, s.revisions, s.qz.attempts, a.Tenant, a.ID, a.Version, bson.D{{Key: "$set", Value: set}}, "attempt")
	}
	if err != nil {
		return fmt.Errorf("mongo: update attempt: %w", err)
	}
	return nil
}

// GetAttempt returns one attempt of tenant.
func (s *Store) GetAttempt(ctx context.Context, tenant, id string) (quizzes.Attempt, error) {
	var d attemptDoc
	if err := s.qz.attempts.FindOne(ctx, tenantID(tenant, id)).Decode(&d); err != nil {
		if errors.Is(err, mdb.ErrNoDocuments) {
			return quizzes.Attempt{}, fmt.Errorf("mongo: get attempt: attempt %s: %w", id, errs.ErrNotFound)
		}
		return quizzes.Attempt{}, fmt.Errorf("mongo: get attempt: %w", err)
	}
	return d.attempt()
}

// UserAttempts lists a user's attempts of a quiz (every quiz for ""),
// oldest first.
func (s *Store) UserAttempts(ctx context.Context, tenant, quizID, user string) ([]quizzes.Attempt, error) {
	filter := bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}}
	sort := bson.D{{Key: "id", Value: 1}}
	if quizID != "" {
		filter = append(filter, bson.E{Key: "quiz_id", Value: quizID})
		sort = bson.D{{Key: "seq", Value: 1}}
	}
	out, err := findAll(ctx, s.qz.attempts, filter, options.Find().SetSort(sort), attemptDoc.attempt)
	if err != nil {
		return nil, fmt.Errorf("mongo: user attempts: %w", err)
	}
	return out, nil
}

// LastAttempt returns the user's attempt of the quiz with the highest seq,
// read from the end of the quiz_attempts_seq index.
func (s *Store) LastAttempt(ctx context.Context, tenant, quizID, user string) (quizzes.Attempt, error) {
	filter := bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}, {Key: "quiz_id", Value: quizID}}
	var d attemptDoc
	err := s.qz.attempts.FindOne(ctx, filter, options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}})).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return quizzes.Attempt{}, fmt.Errorf("mongo: last attempt of quiz %s: %w", quizID, errs.ErrNotFound)
	}
	if err != nil {
		return quizzes.Attempt{}, fmt.Errorf("mongo: last attempt: %w", err)
	}
	return d.attempt()
}

// QuizAttempts pages a quiz's attempts by id.
func (s *Store) QuizAttempts(ctx context.Context, tenant, quizID, after string, limit int) ([]quizzes.Attempt, error) {
	filter := bson.D{{Key: "tenant", Value: tenant}, {Key: "quiz_id", Value: quizID}, {Key: "id", Value: bson.D{{Key: "$gt", Value: after}}}}
	out, err := findAll(ctx, s.qz.attempts, filter,
		options.Find().SetSort(bson.D{{Key: "id", Value: 1}}).SetLimit(int64(norm.Limit(limit, DefaultLimit))), attemptDoc.attempt)
	if err != nil {
		return nil, fmt.Errorf("mongo: quiz attempts: %w", err)
	}
	return out, nil
}

// EraseQuizUser deletes the user's attempts.
func (s *Store) EraseQuizUser(ctx context.Context, tenant, user string) error {
	if _, err := s.qz.attempts.DeleteMany(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}}); err != nil {
		return fmt.Errorf("mongo: erase quiz attempts: %w", err)
	}
	return nil
}

// QuizStarts counts a quiz's attempts and its first attempts (one per
// user who began one): two indexed counts.
func (s *Store) QuizStarts(ctx context.Context, tenant, quizID string) (quizzes.Starts, error) {
	of := bson.D{{Key: "tenant", Value: tenant}, {Key: "quiz_id", Value: quizID}}
	all, err := s.qz.attempts.CountDocuments(ctx, of, options.Count().SetHint("quiz_attempts_quiz_seq"))
	if err != nil {
		return quizzes.Starts{}, fmt.Errorf("mongo: quiz starts: %w", err)
	}
	first, err := s.qz.attempts.CountDocuments(ctx, append(of, bson.E{Key: "seq", Value: 1}), options.Count().SetHint("quiz_attempts_quiz_seq"))
	if err != nil {
		return quizzes.Starts{}, fmt.Errorf("mongo: quiz starts: %w", err)
	}
	return quizzes.Starts{Attempts: all, Users: first}, nil
}
