package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/questline/questline/quizzes"
	"github.com/questline/questline/storage/internal/norm"
)

// quizSchema holds quizzes and attempts as JSON documents with the
// columns their keys and lists need. The unique (quiz, user, seq) is what
// keeps a user to one open attempt when two starts race.
var quizSchema = []string{
	`CREATE TABLE IF NOT EXISTS quizzes (
		tenant     TEXT NOT NULL,
		id         TEXT NOT NULL,
		status     TEXT NOT NULL,
		doc        TEXT NOT NULL,
		version    INTEGER NOT NULL,
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS quizzes_status ON quizzes (tenant, status, id)`,
	`CREATE TABLE IF NOT EXISTS quiz_attempts (
		tenant     TEXT NOT NULL,
		id         TEXT NOT NULL,
		quiz_id    TEXT NOT NULL,
		user_id    TEXT NOT NULL,
		seq        INTEGER NOT NULL,
		doc        TEXT NOT NULL,
		version    INTEGER NOT NULL,
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX IF NOT EXISTS quiz_attempts_seq ON quiz_attempts (tenant, user_id, quiz_id, seq)`,
	`CREATE INDEX IF NOT EXISTS quiz_attempts_quiz ON quiz_attempts (tenant, quiz_id, id)`,
	// Analytics count a quiz's attempts and first attempts (seq 1) from
	// this index alone.
	`CREATE INDEX IF NOT EXISTS quiz_attempts_quiz_seq ON quiz_attempts (tenant, quiz_id, seq)`,
}

// quizStmts are the quiz statements: writes on the writer connection,
// reads on the read pool.
type quizStmts struct {
	insertQuiz, updateQuiz, quizExists                        *sql.Stmt
	insertAttempt, attemptBySeq, updateAttempt, attemptExists *sql.Stmt
	eraseAttempts                                             *sql.Stmt

	getQuiz, listQuizzes, listQuizzesBy        *sql.Stmt
	getAttempt, userAttempts, userQuizAttempts *sql.Stmt
	quizAttempts, lastAttempt, starts          *sql.Stmt
}

func (s *Store) prepareQuizzes(ctx context.Context, conn *sql.Conn) error {
	q := &s.qz
	for _, p := range []struct {
		dst  **sql.Stmt
		q    string
		read bool
	}{
		{&q.insertQuiz, `INSERT INTO quizzes (tenant, id, status, doc, version) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`, false},
		{&q.updateQuiz, `UPDATE quizzes SET status = ?, doc = ?, version = ? WHERE tenant = ? AND id = ? AND version = ?`, false},
		{&q.quizExists, `SELECT 1 FROM quizzes WHERE tenant = ? AND id = ?`, false},
		{&q.insertAttempt, `INSERT INTO quiz_attempts (tenant, id, quiz_id, user_id, seq, doc, version) VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`, false},
		{&q.attemptBySeq, `SELECT doc FROM quiz_attempts WHERE tenant = ? AND user_id = ? AND quiz_id = ? AND seq = ?`, false},
		{&q.updateAttempt, `UPDATE quiz_attempts SET doc = ?, version = ? WHERE tenant = ? AND id = ? AND version = ?`, false},
		{&q.attemptExists, `SELECT 1 FROM quiz_attempts WHERE tenant = ? AND id = ?`, false},
		{&q.eraseAttempts, `DELETE FROM quiz_attempts WHERE tenant = ? AND user_id = ?`, false},

		{&q.getQuiz, `SELECT doc FROM quizzes WHERE tenant = ? AND id = ?`, true},
		{&q.listQuizzes, `SELECT doc FROM quizzes WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?`, true},
		{&q.listQuizzesBy, `SELECT doc FROM quizzes INDEXED BY quizzes_status WHERE tenant = ? AND status = ? AND id > ? ORDER BY id LIMIT ?`, true},
		{&q.getAttempt, `SELECT doc FROM quiz_attempts WHERE tenant = ? AND id = ?`, true},
		{&q.userAttempts, `SELECT doc FROM quiz_attempts INDEXED BY quiz_attempts_seq WHERE tenant = ? AND user_id = ? ORDER BY id`, true},
		{&q.userQuizAttempts, `SELECT doc FROM quiz_attempts INDEXED BY quiz_attempts_seq WHERE tenant = ? AND user_id = ? AND quiz_id = ? ORDER BY seq`, true},
		{&q.lastAttempt, `SELECT doc FROM quiz_attempts INDEXED BY quiz_attempts_seq WHERE tenant = ? AND user_id = ? AND quiz_id = ? ORDER BY seq DESC LIMIT 1`, true},
		{&q.quizAttempts, `SELECT doc FROM quiz_attempts INDEXED BY quiz_attempts_quiz WHERE tenant = ? AND quiz_id = ? AND id > ? ORDER BY id LIMIT ?`, true},
		{&q.starts, `SELECT count(*), coalesce(sum(seq = 1), 0) FROM quiz_attempts INDEXED BY quiz_attempts_quiz_seq WHERE tenant = ? AND quiz_id = ?`, true},
	} {
		if err := s.prepareOne(ctx, conn, p.read, p.dst, p.q); err != nil {
			return err
		}
	}
	return nil
}

// scanDoc decodes the JSON document of a row; the tenant is not in it.
func scanDoc[T any](tenant string, set func(*T, string)) func(scanner) (T, error) {
	return func(sc scanner) (T, error) {
		var (
			v   T
			doc string
		)
		if err := sc.Scan(&doc); err != nil {
			return v, err
		}
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			return v, fmt.Errorf("decode: %w", err)
		}
		set(&v, tenant)
		return v, nil
	}
}

func quizOf(tenant string) func(scanner) (quizzes.Quiz, error) {
	return scanDoc(tenant, func(q *quizzes.Quiz, t string) { q.Tenant = t })
}

func attemptOf(tenant string) func(scanner) (quizzes.Attempt, error) {
	return scanDoc(tenant, func(a *quizzes.Attempt, t string) { a.Tenant = t })
}

// CreateQuiz stores a new quiz; an existing (tenant, id) is an errs.ErrDuplicate.
func (s *Store) CreateQuiz(ctx context.Context, q quizzes.Quiz) error {
	if q.ID == "" {
		return errors.New("sqlite: create quiz: empty id")
	}
	doc, err := json.Marshal(q)
	if err != nil {
		return fmt.Errorf("sqlite: create quiz: %w", err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		return insertNew(tx, s.qz.insertQuiz, []any{q.Tenant, q.ID, string(q.Status), string(doc), q.Version}, "quiz "+q.ID)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create quiz: %w", err)
	}
	return nil
}

// UpdateQuiz replaces the quiz if its stored version is q.Version-1.
func (s *Store) UpdateQuiz(ctx context.Context, q quizzes.Quiz) error {
	doc, err := json.Marshal(q)
	if err != nil {
		return fmt.Errorf("sqlite: update quiz: %w", err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		return updateVersioned(tx, s.qz.updateQuiz, s.qz.quizExists, []any{string(q.Status), string(doc), q.Version},
			q.Tenant, q.ID, q.Version, "quiz")
	})
	if err != nil {
		return fmt.Errorf("sqlite: update quiz: %w", err)
	}
	return nil
}

// GetQuiz returns one quiz of tenant.
func (s *Store) GetQuiz(ctx context.Context, tenant, id string) (quizzes.Quiz, error) {
	q, err := quizOf(tenant)(s.qz.getQuiz.QueryRowContext(ctx, tenant, id))
	if err != nil {
		return quizzes.Quiz{}, fmt.Errorf("sqlite: get quiz: %w", notFound(err, "quiz", id))
	}
	return q, nil
}

// ListQuizzes pages a tenant's quizzes by id; status "" is every status.
func (s *Store) ListQuizzes(ctx context.Context, tenant string, status quizzes.Status, after string, limit int) ([]quizzes.Quiz, error) {
	limit = norm.Limit(limit, DefaultLimit)
	var (
		out []quizzes.Quiz
		err error
	)
	if status == "" {
		out, err = queryAll(ctx, s.qz.listQuizzes, quizOf(tenant), tenant, after, limit)
	} else {
		out, err = queryAll(ctx, s.qz.listQuizzesBy, quizOf(tenant), tenant, string(status), after, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list quizzes: %w", err)
	}
	return out, nil
}

// InsertAttempt stores a unless the user has an attempt of the quiz with
// its seq; then it returns that one.
func (s *Store) InsertAttempt(ctx context.Context, a quizzes.Attempt) (quizzes.Attempt, bool, error) {
	doc, err := json.Marshal(a)
	if err != nil {
		return quizzes.Attempt{}, false, fmt.Errorf("sqlite: insert attempt: %w", err)
	}
	var (
		stored   quizzes.Attempt
		inserted bool
	)
	err = s.w.do(ctx, func(tx *wtx) error {
		var err error
		stored, inserted, err = insertOrExisting(tx, s.qz.insertAttempt,
			[]any{a.Tenant, a.ID, a.QuizID, a.User, a.Seq, string(doc), a.Version}, a,
			func() (quizzes.Attempt, error) {
				return attemptOf(a.Tenant)(tx.queryRow(s.qz.attemptBySeq, a.Tenant, a.User, a.QuizID, a.Seq))
			}, "attempt "+a.ID)
		return err
	})
	if err != nil {
		return quizzes.Attempt{}, false, fmt.Errorf("sqlite: insert attempt: %w", err)
	}
	return stored, inserted, nil
}

// UpdateAttempt replaces the attempt if its stored version is a.Version-1.
func (s *Store) UpdateAttempt(ctx context.Context, a quizzes.Attempt) error {
	doc, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("sqlite: update attempt: %w", err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		return updateVersioned(tx, s.qz.updateAttempt, s.qz.attemptExists, []any{string(doc), a.Version},
			a.Tenant, a.ID, a.Version, "attempt")
	})
	if err != nil {
		return fmt.Errorf("sqlite: update attempt: %w", err)
	}
	return nil
}

// GetAttempt returns one attempt of tenant.
func (s *Store) GetAttempt(ctx context.Context, tenant, id string) (quizzes.Attempt, error) {
	a, err := attemptOf(tenant)(s.qz.getAttempt.QueryRowContext(ctx, tenant, id))
	if err != nil {
		return quizzes.Attempt{}, fmt.Errorf("sqlite: get attempt: %w", notFound(err, "attempt", id))
	}
	return a, nil
}

// UserAttempts lists a user's attempts of a quiz (every quiz for ""),
// oldest first.
func (s *Store) UserAttempts(ctx context.Context, tenant, quizID, user string) ([]quizzes.Attempt, error) {
	var (
		out []quizzes.Attempt
		err error
	)
	if quizID == "" {
		out, err = queryAll(ctx, s.qz.userAttempts, attemptOf(tenant), tenant, user)
	} else {
		out, err = queryAll(ctx, s.qz.userQuizAttempts, attemptOf(tenant), tenant, user, quizID)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user attempts: %w", err)
	}
	return out, nil
}

// LastAttempt returns the user's attempt of the quiz with the highest seq:
// one step down the (tenant, user, quiz, seq) index.
func (s *Store) LastAttempt(ctx context.Context, tenant, quizID, user string) (quizzes.Attempt, error) {
	a, err := attemptOf(tenant)(s.qz.lastAttempt.QueryRowContext(ctx, tenant, user, quizID))
	if err != nil {
		return quizzes.Attempt{}, fmt.Errorf("sqlite: last attempt: %w", notFound(err, "attempt of quiz", quizID))
	}
	return a, nil
}

// QuizAttempts pages a quiz's attempts by id.
func (s *Store) QuizAttempts(ctx context.Context, tenant, quizID, after string, limit int) ([]quizzes.Attempt, error) {
	out, err := queryAll(ctx, s.qz.quizAttempts, attemptOf(tenant), tenant, quizID, after, norm.Limit(limit, DefaultLimit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: quiz attempts: %w", err)
	}
	return out, nil
}

// EraseQuizUser deletes the user's attempts.
func (s *Store) EraseQuizUser(ctx context.Context, tenant, user string) error {
	err := s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.exec(s.qz.eraseAttempts, tenant, user)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: erase quiz user: %w", err)
	}
	return nil
}

// QuizStarts counts a quiz's attempts and its first attempts (one per
// user who began one), reading only the (tenant, quiz, seq) index.
func (s *Store) QuizStarts(ctx context.Context, tenant, quizID string) (quizzes.Starts, error) {
	var st quizzes.Starts
	if err := s.qz.starts.QueryRowContext(ctx, tenant, quizID).Scan(&st.Attempts, &st.Users); err != nil {
		return quizzes.Starts{}, fmt.Errorf("sqlite: quiz starts: %w", err)
	}
	return st, nil
}
