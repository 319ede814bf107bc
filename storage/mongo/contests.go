package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/questline/questline/contests"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/storage/internal/norm"
)

// Collection names of contests.
const (
	colContests       = "contests"
	colContestEntries = "contest_entries"
)

// openContests opens the contest collections and their indexes. A ticket
// is unique per (contest, entrant, n), which caps a user's tickets, and
// per (contest, source), which makes earning idempotent; the first index
// is also the entry list's canonical order.
func (s *Store) openContests(ctx context.Context) error {
	s.contests, s.contestEntries = s.db.Collection(colContests), s.db.Collection(colContestEntries)
	for _, p := range []struct {
		col *mdb.Collection
		ix  index
	}{
		{s.contests, index{name: "contests_id", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "id", Value: 1}}, unique: true}},
		{s.contests, index{name: "contests_status", keys: bson.D{{Key: "tenant", Value: 1}, {Key: "status", Value: 1}, {Key: "id", Value: 1}}}},
		{s.contestEntries, index{name: "contest_entries_ticket", unique: true,
			keys: bson.D{{Key: "tenant", Value: 1}, {Key: "contest", Value: 1}, {Key: "entrant", Value: 1}, {Key: "n", Value: 1}}}},
		{s.contestEntries, index{name: "contest_entries_source", unique: true,
			keys: bson.D{{Key: "tenant", Value: 1}, {Key: "contest", Value: 1}, {Key: "source", Value: 1}}}},
		{s.contestEntries, index{name: "contest_entries_user",
			keys: bson.D{{Key: "tenant", Value: 1}, {Key: "user", Value: 1}, {Key: "contest", Value: 1}, {Key: "n", Value: 1}}}},
	} {
		if err := createIndex(ctx, p.col, p.ix); err != nil {
			return fmt.Errorf("mongo: contest indexes: %w", err)
		}
	}
	return nil
}

// contestDoc is a contest as stored: its definition and state as JSON,
// which nothing queries inside, beside what lists filter on and the seed.
type contestDoc struct {
	Tenant  string `bson:"tenant"`
	ID      string `bson:"id"`
	Status  string `bson:"status"`
	Doc     string `bson:"doc"`
	Seed    []byte `bson:"seed,omitempty"`
	Version int64  `bson:"version"`
}

func (d contestDoc) contest() (contests.Contest, error) {
	var c contests.Contest
	if err := json.Unmarshal([]byte(d.Doc), &c); err != nil {
		return contests.Contest{}, fmt.Errorf("decode contest %s: %w", d.ID, err)
	}
	c.Tenant, c.ID, c.Status, c.Seed, c.Version = d.Tenant, d.ID, contests.Status(d.Status), d.Seed, d.Version
	return c, nil
}

// CreateContest stores a new contest; an existing (tenant, id) is an
// errs.ErrDuplicate.
func (s *Store) CreateContest(ctx context.Context, c contests.Contest) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("mongo: create contest: %w", err)
	}
	d := contestDoc{Tenant: c.Tenant, ID: c.ID, Status: string(c.Status), Doc: string(doc), Seed: c.Seed, Version: c.Version}
	if err := insertNew(ctx, s.contests, d, "contest "+c.ID); err != nil {
		return fmt.Errorf("mongo: create contest: %w", err)
	}
	return nil
}

// UpdateContest replaces a contest at version c.Version-1 (exactly one of
// concurrent edits wins: see updateVersioned), keeping its seed.
func (s *Store) UpdateContest(ctx context.Context, c contests.Contest) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("mongo: update contest: %w", err)
	}
	set := bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: string(c.Status)}, {Key: "doc", Value: string(doc)}, {Key: "version", Value: c.Version}}}}
	if err := updateVersioned(ctx, s.revisions, s.contests, c.Tenant, c.ID, c.Version, set, "contest"); err != nil {
		return fmt.Errorf("mongo: update contest: %w", err)
	}
	return nil
}

// GetContest returns one contest of tenant.
func (s *Store) GetContest(ctx context.Context, tenant, id string) (contests.Contest, error) {
	var d contestDoc
	err := s.contests.FindOne(ctx, tenantID(tenant, id)).Decode(&d)
	if errors.Is(err, mdb.ErrNoDocuments) {
		return contests.Contest{}, fmt.Errorf("mongo: get contest %s: %w", id, errs.ErrNotFound)
	}
	if err != nil {
		return contests.Contest{}, fmt.Errorf("mongo: get contest: %w", err)
	}
	return d.contest()
}

// ListContests pages a tenant's contests by id; status "" is all.
func (s *Store) ListContests(ctx context.Context, tenant string, status contests.Status, after string, limit int) ([]contests.Contest, error) {
	f := bson.D{{Key: "tenant", Value: tenant}}
	if status != "" {
		f = append(f, bson.E{Key: "status", Value: string(status)})
	}
	f = append(f, bson.E{Key: "id", Value: bson.D{{Key: "$gt", Value: after}}})
	opts := options.Find().SetSort(bson.D{{Key: "id", Value: 1}}).SetLimit(int64(norm.Limit(limit, DefaultLimit)))
	out, err := findAll(ctx, s.contests, f, opts, contestDoc.contest)
	if err != nil {
		return nil, fmt.Errorf("mongo: list contests: %w", err)
	}
	return out, nil
}

// OpenContests lists every tenant's open contests, for the close job (a
// scan of the contests collection: open contests are few).
func (s *Store) OpenContests(ctx context.Context) ([]contests.Contest, error) {
	out, err := findAll(ctx, s.contests, bson.D{{Key: "status", Value: string(contests.Open)}}, options.Find(), contestDoc.contest)
	if err != nil {
		return nil, fmt.Errorf("mongo: open contests: %w", err)
	}
	return out, nil
}

// contestEntryDoc is one ticket (n > 0) or opt-in (n = 0).
type contestEntryDoc struct {
	Tenant  string    `bson:"tenant"`
	Contest string    `bson:"contest"`
	Entrant string    `bson:"entrant"`
	N       int64     `bson:"n"`
	User    string    `bson:"user"`
	Source  string    `bson:"source"`
	At      time.Time `bson:"at"`
}

func (d contestEntryDoc) entry() (contests.Entry, error) {
	return contests.Entry{Tenant: d.Tenant, Contest: d.Contest, Entrant: d.Entrant, N: d.N, User: d.User, Source: d.Source, At: norm.Trunc(d.At)}, nil
}

// AddContestEntry stores e once per (contest, source); a (contest,
// entrant, n) another source holds is an errs.ErrDuplicate.
func (s *Store) AddContestEntry(ctx context.Context, e contests.Entry) (bool, error) {
	d := contestEntryDoc{Tenant: e.Tenant, Contest: e.Contest, Entrant: e.Entrant, N: e.N, User: e.User, Source: e.Source, At: norm.NowIfZero(e.At)}
	ok, err := insertIgnore(ctx, s.contestEntries, d)
	if err != nil || ok {
		if err != nil {
			err = fmt.Errorf("mongo: add contest entry: %w", err)
		}
		return ok, err
	}
	repeat, err := s.HasContestEntry(ctx, e.Tenant, e.Contest, e.Source)
	if err != nil {
		return false, fmt.Errorf("mongo: add contest entry: %w", err)
	}
	if !repeat {
		return false, fmt.Errorf("mongo: add contest entry: ticket %d of %s: %w", e.N, e.Entrant, errs.ErrDuplicate)
	}
	return false, nil
}

// HasContestEntry reports whether a contest holds an entry of source.
func (s *Store) HasContestEntry(ctx context.Context, tenant, contest, source string) (bool, error) {
	ok, err := exists(ctx, s.contestEntries, bson.D{{Key: "tenant", Value: tenant}, {Key: "contest", Value: contest}, {Key: "source", Value: source}})
	if err != nil {
		return false, fmt.Errorf("mongo: has contest entry: %w", err)
	}
	return ok, nil
}

// ContestUserEntries counts a user's tickets and opt-in in a contest with
// two index reads, whatever the user holds: tickets are numbered densely
// from 1, so the highest number is the count.
func (s *Store) ContestUserEntries(ctx context.Context, tenant, contest, user string) (int64, bool, error) {
	f := bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}, {Key: "contest", Value: contest}}
	ends := func(dir int) (int64, bool, error) {
		var d contestEntryDoc
		err := s.contestEntries.FindOne(ctx, f, options.FindOne().SetSort(bson.D{{Key: "n", Value: dir}}).SetProjection(bson.D{{Key: "n", Value: 1}})).Decode(&d)
		if errors.Is(err, mdb.ErrNoDocuments) {
			return 0, false, nil
		}
		return d.N, err == nil, err
	}
	top, _, err := ends(-1)
	if err != nil {
		return 0, false, fmt.Errorf("mongo: contest user entries: %w", err)
	}
	low, any, err := ends(1)
	if err != nil {
		return 0, false, fmt.Errorf("mongo: contest user entries: %w", err)
	}
	return top, any && low == 0, nil
}

// CountContestEntries counts a contest's tickets.
func (s *Store) CountContestEntries(ctx context.Context, tenant, contest string) (int64, error) {
	n, err := s.contestEntries.CountDocuments(ctx, ticketsOf(tenant, contest))
	if err != nil {
		return 0, fmt.Errorf("mongo: count contest entries: %w", err)
	}
	return n, nil
}

// ContestEntryCounts counts a contest's tickets, entrants, opt-ins and
// bought tickets: four indexed counts.
func (s *Store) ContestEntryCounts(ctx context.Context, tenant, contest string) (contests.EntryCounts, error) {
	of := bson.D{{Key: "tenant", Value: tenant}, {Key: "contest", Value: contest}}
	var c contests.EntryCounts
	for _, q := range []struct {
		dst  *int64
		cond bson.E
		hint string
	}{
		{&c.Tickets, bson.E{Key: "n", Value: bson.D{{Key: "$gt", Value: 0}}}, "contest_entries_ticket"},
		{&c.Entrants, bson.E{Key: "n", Value: 1}, "contest_entries_ticket"},
		{&c.OptIns, bson.E{Key: "n", Value: 0}, "contest_entries_ticket"},
		{&c.Bought, bson.E{Key: "source", Value: prefixRange(contests.BoughtPrefix)}, "contest_entries_source"},
	} {
		n, err := s.contestEntries.CountDocuments(ctx, append(slices.Clip(of), q.cond), options.Count().SetHint(q.hint))
		if err != nil {
			return contests.EntryCounts{}, fmt.Errorf("mongo: contest entry counts: %w", err)
		}
		*q.dst = n
	}
	return c, nil
}

func ticketsOf(tenant, contest string) bson.D {
	return bson.D{{Key: "tenant", Value: tenant}, {Key: "contest", Value: contest}, {Key: "n", Value: bson.D{{Key: "$gt", Value: 0}}}}
}

// ScanContestEntries streams a contest's tickets in canonical order.
func (s *Store) ScanContestEntries(ctx context.Context, tenant, contest string, fn func(contests.Entry) error) error {
	cur, err := s.contestEntries.Find(ctx, ticketsOf(tenant, contest), options.Find().
		SetSort(bson.D{{Key: "entrant", Value: 1}, {Key: "n", Value: 1}}).SetBatchSize(10000))
	if err != nil {
		return fmt.Errorf("mongo: scan contest entries: %w", err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var d contestEntryDoc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("mongo: scan contest entries: %w", err)
		}
		e, _ := d.entry()
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("mongo: scan contest entries: %w", err)
	}
	return nil
}

// UserContestEntries lists a user's entries in every contest.
func (s *Store) UserContestEntries(ctx context.Context, tenant, user string) ([]contests.Entry, error) {
	opts := options.Find().SetSort(bson.D{{Key: "contest", Value: 1}, {Key: "n", Value: 1}})
	out, err := findAll(ctx, s.contestEntries, bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}}, opts, contestEntryDoc.entry)
	if err != nil {
		return nil, fmt.Errorf("mongo: user contest entries: %w", err)
	}
	return out, nil
}

// EraseContestUser moves the user's entries to pseudonym.
func (s *Store) EraseContestUser(ctx context.Context, tenant, user, pseudonym string) error {
	_, err := s.contestEntries.UpdateMany(ctx, bson.D{{Key: "tenant", Value: tenant}, {Key: "user", Value: user}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "user", Value: pseudonym}}}})
	if err != nil {
		return fmt.Errorf("mongo: erase contest user: %w", err)
	}
	return nil
}
