// Package sqlite implements Questline's domain stores (events, challenges,
// badges, points, leaderboards, API keys, the audit log and profiles) on an
// embedded SQLite database through the pure-Go driver modernc.org/sqlite.
// It is the zero-dependency default deployment: one file, one process.
//
// SQLite allows one writer at a time, and every commit costs an fsync. To
// reach thousands of writes per second anyway, every write method hands a
// closure to a single writer goroutine that owns the only writing
// connection. The writer takes everything queued, runs it in one transaction
// with a SAVEPOINT per operation (so one operation's failure rolls back only
// that operation), commits once and then answers every caller of the batch.
// A write method returns only after its batch committed: a nil error means
// the write is durable (with the default synchronous=FULL). Reads go to a
// separate pool of query_only connections and never wait for the writer,
// thanks to WAL mode.
//
// Conventions shared with the MongoDB store (see storage/storagetest):
// times are stored as UTC milliseconds and come back truncated to the
// millisecond in UTC; props and results are stored as JSON and come back as
// encoding/json would decode them (numbers as float64); rules are stored as
// JSON and come back normalized (rule.Normalize); empty maps and slices
// come back nil; a limit <= 0 means DefaultLimit.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	// The driver registers itself as "sqlite".
	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DefaultLimit is the page size used when a caller passes a limit <= 0, so
// a forgotten limit can never turn into a scan of a whole table.
const DefaultLimit = 100

// Options tunes a Store. The zero value of each field selects its default.
type Options struct {
	// Synchronous is the writer's PRAGMA synchronous: "FULL" (the default)
	// fsyncs the WAL on every commit, so an acknowledged write survives a
	// power loss; "NORMAL" is faster but may lose the last commits (never
	// corrupt the file) on a power loss.
	Synchronous string
	// MaxBatch caps the write operations that share one transaction
	// (default 512). Larger batches amortise the fsync over more writes but
	// make every caller of the batch wait for all of it.
	MaxBatch int
	// QueueSize is the capacity of the writer's queue (default 4096);
	// callers block (respecting their context) when it is full.
	QueueSize int
	// ReadConns is the size of the read pool (default 8). Reads in WAL mode
	// run in parallel with each other and with the writer.
	ReadConns int
	// BusyTimeout is how long a connection waits for a lock held by another
	// process before failing (default 5s).
	BusyTimeout time.Duration
	// CheckpointInterval is the least time between two background WAL
	// checkpoints while writes flow (default 200ms).
	CheckpointInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.Synchronous == "" {
		o.Synchronous = "FULL"
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 512
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	if o.ReadConns <= 0 {
		o.ReadConns = 8
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = 200 * time.Millisecond
	}
	return o
}

// Store is the SQLite implementation of events.Store, challenges.Store,
// badges.Store, points.Store, leaderboards.Store, auth.KeyStore,
// audit.Store and profiles.Store. It is safe for concurrent use; Close it
// to stop the writer and release the file.
type Store struct {
	path  string
	read  *sql.DB
	wdb   *sql.DB
	w     *writer
	ckpt  *checkpointer
	rq    readStmts
	wq    writeStmts
	close []*sql.Stmt
	// stale holds the boards read from their scores (see
	// upgradeBoardTotals): set once, by the upgrade in migrate, so it is
	// read at Open instead of on every board write.
	stale map[[2]string]bool

	// Each domain's statements, prepared in its own file.
	wh      webhookStmts
	lq      loyaltyStmts
	ugc     ugcStmts
	wallets walletStmts
	cq      contestStmts
	qz      quizStmts
	aq      analyticsStmts
}

// Open opens (creating it and its directory if needed) the database at path
// with default Options, and creates or upgrades the schema.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith is Open with explicit Options.
func OpenWith(ctx context.Context, path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	switch strings.ToUpper(opts.Synchronous) {
	case "OFF", "NORMAL", "FULL", "EXTRA":
	default:
		return nil, fmt.Errorf("sqlite: open: invalid synchronous %q", opts.Synchronous)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("sqlite: open: create directory: %w", err)
		}
	}
	busy := strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)

	// The writer sets journal_mode=WAL (persistent in the file) before any
	// reader opens, so readers never see a rollback-journal database.
	wq := url.Values{}
	wq.Add("_pragma", "busy_timeout("+busy+")")
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Add("_pragma", "synchronous("+strings.ToUpper(opts.Synchronous)+")")
	wq.Add("_pragma", "temp_store(MEMORY)")
	wq.Add("_pragma", "cache_size(-32000)")
	// Map the file (up to 256 MiB) so reads of pages SQLite's cache lost
	// are memory reads, not a pread system call each.
	wq.Add("_pragma", "mmap_size(268435456)")
	// Truncate the WAL back to 64 MiB after a checkpoint, so one burst
	// does not leave a huge file behind forever.
	wq.Add("_pragma", "journal_size_limit(67108864)")
	wdsn := path + "?" + wq.Encode()
	// Checkpoints run on their own connection (see checkpointer); the
	// writer's automatic one stays as a safety net at 10000 pages.
	wq.Add("_pragma", "wal_autocheckpoint(10000)")
	wdb, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open writer: %w", err)
	}
	// Exactly one writing connection, kept forever: SQLite serialises
	// writers anyway, and one connection lets prepared statements and the
	// page cache stay warm.
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	s := &Store{path: path, wdb: wdb}
	if err := s.migrate(ctx, opts.BusyTimeout); err != nil {
		wdb.Close()
		return nil, err
	}
	if err := s.loadStale(ctx); err != nil {
		wdb.Close()
		return nil, err
	}

	rq := url.Values{}
	rq.Add("_pragma", "busy_timeout("+busy+")")
	rq.Add("_pragma", "query_only(1)")
	rq.Add("_pragma", "temp_store(MEMORY)")
	rq.Add("_pragma", "cache_size(-8000)")
	rq.Add("_pragma", "mmap_size(268435456)")
	read, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open readers: %w", err)
	}
	read.SetMaxOpenConns(opts.ReadConns)
	read.SetMaxIdleConns(opts.ReadConns)
	read.SetConnMaxLifetime(0)
	read.SetConnMaxIdleTime(0)
	s.read = read

	conn, err := wdb.Conn(ctx)
	if err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("sqlite: open writer connection: %w", err)
	}
	if err := s.prepare(ctx, conn); err != nil {
		conn.Close()
		s.closeDBs()
		return nil, err
	}
	cdb, err := sql.Open("sqlite", wdsn)
	if err != nil {
		s.closeStmts()
		conn.Close()
		s.closeDBs()
		return nil, fmt.Errorf("sqlite: open checkpointer: %w", err)
	}
	cdb.SetMaxOpenConns(1)
	cdb.SetMaxIdleConns(1)
	cdb.SetConnMaxLifetime(0)
	cdb.SetConnMaxIdleTime(0)
	ckpt := newCheckpointer(cdb, opts.CheckpointInterval)
	w, err := newWriter(ctx, conn, opts.MaxBatch, opts.QueueSize, ckpt.notify)
	if err != nil {
		ckpt.close()
		s.closeStmts()
		conn.Close()
		s.closeDBs()
		return nil, err
	}
	s.w, s.ckpt = w, ckpt
	return s, nil
}

// Path returns the database file the store was opened on.
func (s *Store) Path() string { return s.path }

// WriterStats reports how many write transactions the writer committed
// (or rolled back) and how many operations they held; ops/batches is the
// average group-commit batch size, worth exporting as a metric.
func (s *Store) WriterStats() (batches, ops int64) {
	return s.w.nBatches.Load(), s.w.nOps.Load()
}

// Ping checks that the store is open and a read connection answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.w.isClosed() {
		return errClosed
	}
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close finishes the queued writes, stops the writer and closes every
// connection. Writes submitted after Close fail.
func (s *Store) Close() error {
	if s.w == nil || !s.w.stop() {
		return nil
	}
	s.ckpt.close()
	s.closeStmts()
	err := s.w.conn.Close()
	if e := s.closeDBs(); err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

func (s *Store) closeStmts() {
	for _, st := range s.close {
		st.Close()
	}
	s.close = nil
}

func (s *Store) closeDBs() error {
	var err error
	if s.read != nil {
		err = s.read.Close()
	}
	if e := s.wdb.Close(); err == nil {
		err = e
	}
	return err
}

// errClosed is returned by every method of a closed Store.
var errClosed = errors.New("sqlite: store closed")

// schemaVersion is stored in PRAGMA user_version so a later release can tell
// which migrations a file has seen. Version 2 added board definitions
// (boards.spec), board scores, exclusions, the audit log, profiles and
// attributes, challenges defined by rules (with contributions per goal,
// claims, enrolments and unlocks) and badges; upgrade.go converts
// version 1 files. Version 3 added the sweeper's attempts and dead letters
// on events, a user's events index (export and erasure), board builds,
// the board feed, challenge tallies and board totals. A version 2 binary
// refuses a version 3 file: it would store contributions and scores
// without folding them into the tallies and totals this release reads.
// Version 4 added points wallets (changes, balances, lots, reversals,
// policies; the first open fills them from the ledger) and rewards, and
// each domain's own tables, each created by its list (IF NOT EXISTS):
// retention settings, webhooks, the loyalty programme (event catalogues,
// earn rules and marks, tiers, referrals), contests, UGC and quizzes. A
// version 3 binary refuses a version 4 file: it would pay credits without
// lots, so wallets would no longer match the ledger. Version 5 folds
// points boards' credits into board scores and totals (the first open
// starts every points board's build again, see upgradePointsBoards) and
// adds points_days (each user's earnings per UTC day and month, for
// rolling tier windows; the first open fills it from the ledger, see
// applyPointsDays). A version 4 binary refuses a version 5 file: it would
// pay credits without folding them into either.
const schemaVersion = 5

// schema is idempotent (IF [NOT] EXISTS throughout) and runs in one
// IMMEDIATE transaction, so several processes opening the same file at
// once serialise on it instead of racing. Every table carries tenant and
// every index leads with it, except the two documented lookups that are
// global by nature: the sweeper's unprocessed-events index and the API-key
// hash (a key is looked up before its tenant is known).
//
// Tables are WITHOUT ROWID with (tenant, id), or the row's natural key, as
// primary key: one B-tree less per insert than a rowid table with a unique
// index, and rows stay small.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS events (
		tenant       TEXT NOT NULL,
		id           TEXT NOT NULL,
		idem_key     TEXT NOT NULL,
		user_id      TEXT NOT NULL,
		type         TEXT NOT NULL,
		props        TEXT,
		occurred_at  INTEGER NOT NULL,
		received_at  INTEGER NOT NULL,
		source       TEXT NOT NULL,
		fingerprint  TEXT NOT NULL,
		processed    INTEGER NOT NULL,
		processed_at INTEGER,
		result       TEXT,
		attempts     INTEGER NOT NULL DEFAULT 0,
		next_at      INTEGER NOT NULL DEFAULT 0,
		dead_at      INTEGER,
		dead_reason  TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX IF NOT EXISTS events_idem ON events (tenant, idem_key)`,
	// Partial: only unprocessed, live events are in it, so it stays tiny
	// and MarkProcessed removes rows from it rather than rewriting them.
	// Events waiting out a backoff stay in it; dead ones leave it for
	// events_dead, the ops list.
	`CREATE INDEX IF NOT EXISTS events_due ON events (received_at, tenant, id) WHERE processed = 0 AND dead_at IS NULL`,
	`CREATE INDEX IF NOT EXISTS events_dead ON events (tenant, id) WHERE processed = 0 AND dead_at IS NOT NULL`,
	// A user's events, for their export and erasure (package users): one
	// more entry per event, so neither scans the tenant.
	`CREATE INDEX IF NOT EXISTS events_user ON events (tenant, user_id, id)`,

	// A challenge's rule is one JSON column and the rest of its definition
	// another (spec): challenges are few and always read whole. Version 1
	// had a single count goal in columns of its own; copyV1Challenges
	// converts its rows.
	`CREATE TABLE IF NOT EXISTS challenges (
		tenant      TEXT NOT NULL,
		id          TEXT NOT NULL,
		name        TEXT NOT NULL,
		description TEXT NOT NULL,
		status      TEXT NOT NULL,
		rule        TEXT NOT NULL,
		spec        TEXT NOT NULL,
		created_at  INTEGER NOT NULL,
		updated_at  INTEGER NOT NULL,
		version     INTEGER NOT NULL,
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS challenges_status ON challenges (tenant, status, id)`,

	// The key is unique per (tenant, challenge, user, period, goal,
	// event). contributions_at gives Contributions its (at, event_id,
	// goal) order and covers it, so that read never touches the table.
	// Both lead with (tenant, challenge_id): ChallengeStats counts a
	// challenge's participants in a range of one of them.
	`CREATE TABLE IF NOT EXISTS contributions (
		tenant       TEXT NOT NULL,
		challenge_id TEXT NOT NULL,
		user_id      TEXT NOT NULL,
		period       TEXT NOT NULL,
		goal         TEXT NOT NULL,
		event_id     TEXT NOT NULL,
		amount       INTEGER NOT NULL,
		distinct_key TEXT NOT NULL,
		at           INTEGER NOT NULL,
		PRIMARY KEY (tenant, challenge_id, user_id, period, goal, event_id)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS contributions_at ON contributions
		(tenant, challenge_id, user_id, period, at, event_id, goal, amount, distinct_key)`,
	// The amounts of each goal's contributions folded per TallyWidth
	// bucket (bucket: the UTC hour's start in Unix ms), written in the
	// contribution's own transaction and only when it was new, so progress
	// reads a row per hour instead of every contribution. Files from
	// before it are folded once in upgradeTallies.
	tallyTable("challenge_tallies"),
	// The same by UTC day (bucket: the day's start), so that Tally reads
	// a week as 7 rows and the hours at its ends, not 168 rows.
	tallyTable("challenge_day_tallies"),

	// completions_once also serves ChallengeStats (a range of one
	// challenge); completions_challenge gives ChallengeCompletions its
	// order, with the primary key's id breaking ties. claimed_at is NULL
	// until a manual claim; version 1 files get the column in upgradeV1.
	`CREATE TABLE IF NOT EXISTS completions (
		tenant       TEXT NOT NULL,
		id           TEXT NOT NULL,
		challenge_id TEXT NOT NULL,
		user_id      TEXT NOT NULL,
		period       TEXT NOT NULL,
		event_id     TEXT NOT NULL,
		completed_at INTEGER NOT NULL,
		claimed_at   INTEGER,
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX IF NOT EXISTS completions_once ON completions (tenant, challenge_id, user_id, period)`,
	`CREATE INDEX IF NOT EXISTS completions_user ON completions (tenant, user_id, completed_at)`,
	`CREATE INDEX IF NOT EXISTS completions_challenge ON completions (tenant, challenge_id, user_id, completed_at)`,

	`CREATE TABLE IF NOT EXISTS enrolments (
		tenant       TEXT NOT NULL,
		challenge_id TEXT NOT NULL,
		user_id      TEXT NOT NULL,
		joined_at    INTEGER NOT NULL,
		PRIMARY KEY (tenant, challenge_id, user_id)
	) WITHOUT ROWID`,

	// unlocks_user holds content too (the primary key's last column), so
	// UserUnlocks walks it backwards without a sort.
	`CREATE TABLE IF NOT EXISTS unlocks (
		tenant      TEXT NOT NULL,
		user_id     TEXT NOT NULL,
		content     TEXT NOT NULL,
		source      TEXT NOT NULL,
		unlocked_at INTEGER NOT NULL,
		PRIMARY KEY (tenant, user_id, content)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS unlocks_user ON unlocks (tenant, user_id, unlocked_at)`,

	// Badges are stored like challenges: the rule and the rest of the
	// definition (tiers, hidden, limit, valid_for) as JSON.
	`CREATE TABLE IF NOT EXISTS badges (
		tenant      TEXT NOT NULL,
		id          TEXT NOT NULL,
		name        TEXT NOT NULL,
		description TEXT NOT NULL,
		image_url   TEXT NOT NULL,
		status      TEXT NOT NULL,
		rule        TEXT NOT NULL,
		spec        TEXT NOT NULL,
		created_at  INTEGER NOT NULL,
		updated_at  INTEGER NOT NULL,
		version     INTEGER NOT NULL,
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS badges_status ON badges (tenant, status, id)`,

	// As contributions, per badge.
	`CREATE TABLE IF NOT EXISTS badge_contributions (
		tenant       TEXT NOT NULL,
		badge_id     TEXT NOT NULL,
		user_id      TEXT NOT NULL,
		period       TEXT NOT NULL,
		goal         TEXT NOT NULL,
		event_id     TEXT NOT NULL,
		amount       INTEGER NOT NULL,
		distinct_key TEXT NOT NULL,
		at           INTEGER NOT NULL,
		PRIMARY KEY (tenant, badge_id, user_id, period, goal, event_id)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS badge_contributions_at ON badge_contributions
		(tenant, badge_id, user_id, period, at, event_id, goal, amount, distinct_key)`,

	// An award is unique per (badge, tier, user, period) (tier before
	// user, so the same index counts a tier's awards) and, for limited
	// editions only, per (badge, tier, edition): the partial index leaves
	// unnumbered awards (edition 0) out, so they never collide.
	`CREATE TABLE IF NOT EXISTS awards (
		tenant     TEXT NOT NULL,
		id         TEXT NOT NULL,
		badge_id   TEXT NOT NULL,
		user_id    TEXT NOT NULL,
		tier       TEXT NOT NULL,
		period     TEXT NOT NULL,
		edition    INTEGER NOT NULL,
		event_id   TEXT NOT NULL,
		source     TEXT NOT NULL,
		awarded_at INTEGER NOT NULL,
		expires_at INTEGER,
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX IF NOT EXISTS awards_once ON awards (tenant, badge_id, tier, user_id, period)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS awards_edition ON awards (tenant, badge_id, tier, edition) WHERE edition > 0`,
	`CREATE INDEX IF NOT EXISTS awards_user ON awards (tenant, user_id, awarded_at)`,

	`CREATE TABLE IF NOT EXISTS ledger (
		tenant     TEXT NOT NULL,
		id         TEXT NOT NULL,
		user_id    TEXT NOT NULL,
		amount     INTEGER NOT NULL,
		entry_key  TEXT NOT NULL,
		reason     TEXT NOT NULL,
		event_id   TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX IF NOT EXISTS ledger_key ON ledger (tenant, entry_key)`,
	`CREATE INDEX IF NOT EXISTS ledger_user ON ledger (tenant, user_id, id)`,
	// Covering index for Totals and EarnedBetween (whose key prefix is
	// checked in the index too): the sums never touch the table. It
	// replaces version 1's ledger_user_time, which lacked entry_key.
	`DROP INDEX IF EXISTS ledger_user_time`,
	`CREATE INDEX IF NOT EXISTS ledger_user_earned ON ledger (tenant, user_id, created_at, entry_key, amount)`,

	// A board's definition beyond name and window is one JSON column:
	// boards are few and always read whole. Version 1 files get spec (and
	// lose their metric column) in upgradeBoards.
	`CREATE TABLE IF NOT EXISTS boards (
		tenant     TEXT NOT NULL,
		id         TEXT NOT NULL,
		name       TEXT NOT NULL,
		win        TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		spec       TEXT NOT NULL DEFAULT '{}',
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,
	// A points board's background fill from the ledger, with its lease
	// (see leaderboards.Build). Boards without one (event boards, boards
	// from before builds existed) have no row.
	`CREATE TABLE IF NOT EXISTS board_builds (
		tenant      TEXT NOT NULL,
		board_id    TEXT NOT NULL,
		state       TEXT NOT NULL,
		done        INTEGER NOT NULL,
		total       INTEGER NOT NULL,
		error       TEXT NOT NULL,
		owner       TEXT NOT NULL,
		lease_until INTEGER NOT NULL,
		PRIMARY KEY (tenant, board_id)
	) WITHOUT ROWID`,

	// One row per (board, event), so a replayed event never scores twice.
	// AggregateScores reads only board_scores_user, which holds value
	// too: a range scan of one user's window, ordered by time.
	`CREATE TABLE IF NOT EXISTS board_scores (
		tenant   TEXT NOT NULL,
		board_id TEXT NOT NULL,
		event_id TEXT NOT NULL,
		user_id  TEXT NOT NULL,
		value    INTEGER NOT NULL,
		at       INTEGER NOT NULL,
		PRIMARY KEY (tenant, board_id, event_id)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS board_scores_user ON board_scores (tenant, board_id, user_id, at, value)`,
	// Each member's entry per board period, folded from board_scores in
	// the score's own transaction and only when the score was new (see
	// foldScore), so a write reads one row, not the member's history.
	// Boards with scores from before it are listed in board_totals_stale
	// by upgradeBoardTotals and read from board_scores.
	`CREATE TABLE IF NOT EXISTS board_totals (
		tenant   TEXT NOT NULL,
		board_id TEXT NOT NULL,
		period   TEXT NOT NULL,
		user_id  TEXT NOT NULL,
		value    INTEGER NOT NULL,
		at       INTEGER NOT NULL,
		PRIMARY KEY (tenant, board_id, period, user_id)
	) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS board_totals_stale (
		tenant   TEXT NOT NULL,
		board_id TEXT NOT NULL,
		PRIMARY KEY (tenant, board_id)
	) WITHOUT ROWID`,

	// Board refreshes the engine did not take (leaderboards/feed.go), one
	// per board entry. Global by nature, like the sweeper's index: every
	// node's feeder claims due rows of any tenant through board_feed_due.
	`CREATE TABLE IF NOT EXISTS board_feed (
		tenant      TEXT NOT NULL,
		board_id    TEXT NOT NULL,
		period      TEXT NOT NULL,
		user_id     TEXT NOT NULL,
		at          INTEGER NOT NULL,
		since       INTEGER NOT NULL,
		token       TEXT NOT NULL,
		lease_until INTEGER NOT NULL,
		PRIMARY KEY (tenant, board_id, period, user_id)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS board_feed_due ON board_feed (lease_until, since)`,

	`CREATE TABLE IF NOT EXISTS board_exclusions (
		tenant      TEXT NOT NULL,
		board_id    TEXT NOT NULL,
		user_id     TEXT NOT NULL,
		excluded_by TEXT NOT NULL,
		reason      TEXT NOT NULL,
		at          INTEGER NOT NULL,
		PRIMARY KEY (tenant, board_id, user_id)
	) WITHOUT ROWID`,

	// Ids are UUIDv7, so the primary key pages the log newest first.
	`CREATE TABLE IF NOT EXISTS audit (
		tenant  TEXT NOT NULL,
		id      TEXT NOT NULL,
		actor   TEXT NOT NULL,
		action  TEXT NOT NULL,
		subject TEXT NOT NULL,
		detail  TEXT,
		at      INTEGER NOT NULL,
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,

	`CREATE TABLE IF NOT EXISTS profiles (
		tenant     TEXT NOT NULL,
		user_id    TEXT NOT NULL,
		name       TEXT NOT NULL,
		avatar_url TEXT NOT NULL,
		updated_at INTEGER NOT NULL,
		PRIMARY KEY (tenant, user_id)
	) WITHOUT ROWID`,

	// segments is a JSON array, NULL when empty.
	`CREATE TABLE IF NOT EXISTS attributes (
		tenant     TEXT NOT NULL,
		user_id    TEXT NOT NULL,
		tier       TEXT NOT NULL,
		segments   TEXT,
		updated_at INTEGER NOT NULL,
		PRIMARY KEY (tenant, user_id)
	) WITHOUT ROWID`,

	`CREATE TABLE IF NOT EXISTS api_keys (
		tenant     TEXT NOT NULL,
		id         TEXT NOT NULL,
		name       TEXT NOT NULL,
		prefix     TEXT NOT NULL,
		hash       TEXT NOT NULL,
		scopes     TEXT,
		created_at INTEGER NOT NULL,
		revoked_at INTEGER,
		PRIMARY KEY (tenant, id)
	) WITHOUT ROWID`,
	`CREATE UNIQUE INDEX IF NOT EXISTS api_keys_hash ON api_keys (hash)`,
}

// tallyTable creates a table of challenge tallies, one row per (tenant,
// challenge, user, period, goal, bucket).
func tallyTable(name string) string {
	return `CREATE TABLE IF NOT EXISTS ` + name + ` (
		tenant       TEXT NOT NULL,
		challenge_id TEXT NOT NULL,
		user_id      TEXT NOT NULL,
		period       TEXT NOT NULL,
		goal         TEXT NOT NULL,
		bucket       INTEGER NOT NULL,
		amount       INTEGER NOT NULL,
		PRIMARY KEY (tenant, challenge_id, user_id, period, goal, bucket)
	) WITHOUT ROWID`
}

// migrate creates or upgrades the schema (see schema). Nodes starting at
// once on a fresh file race to switch it to WAL, and SQLite answers the
// loser SQLITE_BUSY at once, without waiting in its busy handler: the
// loser tries again, for up to the busy timeout.
func (s *Store) migrate(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := s.migrateOnce(ctx)
		var se *sqlitedrv.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *Store) migrateOnce(ctx context.Context) error {
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("sqlite: migrate: begin: %w", err)
	}
	if err := applySchema(ctx, conn); err != nil {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("sqlite: migrate: commit: %w", err)
	}
	return nil
}

// applySchema runs inside migrate's transaction.
func applySchema(ctx context.Context, conn *sql.Conn) error {
	var version int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read version: %w", err)
	}
	if version > schemaVersion {
		return fmt.Errorf("database schema version %d is newer than this binary's %d", version, schemaVersion)
	}
	if err := setAsideV1(ctx, conn); err != nil {
		return fmt.Errorf("upgrade from version 1: %w", err)
	}
	if err := upgradeEvents(ctx, conn); err != nil {
		return fmt.Errorf("upgrade events: %w", err)
	}
	if err := execAll(ctx, conn, schema...); err != nil {
		return err
	}
	if err := execAll(ctx, conn, webhooksSchema...); err != nil {
		return err
	}
	if err := execAll(ctx, conn, retentionSchema...); err != nil {
		return err
	}
	if err := execAll(ctx, conn, ugcSchema...); err != nil {
		return err
	}
	if err := applyWalletSchema(ctx, conn); err != nil {
		return err
	}
	if err := applyPointsDays(ctx, conn); err != nil {
		return fmt.Errorf("points days: %w", err)
	}
	if err := execAll(ctx, conn, rewardSchema...); err != nil {
		return err
	}
	if err := execAll(ctx, conn, loyaltySchema...); err != nil {
		return err
	}
	if err := execAll(ctx, conn, contestSchema...); err != nil {
		return err
	}
	if err := execAll(ctx, conn, quizSchema...); err != nil {
		return err
	}
	if err := execAll(ctx, conn, analyticsSchema...); err != nil {
		return err
	}
	if err := upgradeV1(ctx, conn); err != nil {
		return fmt.Errorf("upgrade from version 1: %w", err)
	}
	if version < 5 {
		if err := upgradePointsBoards(ctx, conn); err != nil {
			return fmt.Errorf("upgrade points boards: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(schemaVersion)); err != nil {
		return fmt.Errorf("set version: %w", err)
	}
	return nil
}

// execAll runs statements in order on conn.
func execAll(ctx context.Context, conn *sql.Conn, stmts ...string) error {
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
