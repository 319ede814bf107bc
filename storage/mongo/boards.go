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

// boardDoc is a board definition as stored.
type boardDoc struct {
	Tenant    string    `bson:"tenant"`
	ID        string    `bson:"id"`
	Name      string    `bson:"name"`
	Metric    string    `bson:"metric"`
	Window    string    `bson:"window"`
	CreatedAt time.Time `bson:"created_at"`
}

func (d boardDoc) board() (leaderboards.Board, error) {
	return leaderboards.Board{
		ID: d.ID, Tenant: d.Tenant, Name: d.Name, Metric: d.Metric,
		Window: leaderboards.Window(d.Window), CreatedAt: norm.Trunc(d.CreatedAt),
	}, nil
}

// CreateBoard stores a board definition; an existing (tenant, id) is an
// errs.ErrDuplicate. A zero CreatedAt becomes now.
func (s *Store) CreateBoard(ctx context.Context, b leaderboards.Board) error {
	if b.ID == "" {
		return errors.New("mongo: create board: empty id")
	}
	_, err := s.boards.InsertOne(ctx, boardDoc{
		Tenant: b.Tenant, ID: b.ID, Name: b.Name, Metric: b.Metric,
		Window: string(b.Window), CreatedAt: norm.NowIfZero(b.CreatedAt),
	})
	if err != nil {
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
