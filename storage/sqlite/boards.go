package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/storage/internal/norm"
)

// CreateBoard stores a board definition; an existing (tenant, id) is an
// errs.ErrDuplicate. A zero CreatedAt becomes now.
func (s *Store) CreateBoard(ctx context.Context, b leaderboards.Board) error {
	if b.ID == "" {
		return errors.New("sqlite: create board: empty id")
	}
	b.CreatedAt = norm.NowIfZero(b.CreatedAt)
	err := s.w.do(ctx, func(tx *wtx) error {
		r, err := tx.exec(s.wq.insertBoard, b.Tenant, b.ID, b.Name, b.Metric, string(b.Window), norm.Millis(b.CreatedAt))
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("board %s: %w", b.ID, errs.ErrDuplicate)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: create board: %w", err)
	}
	return nil
}

// GetBoard returns one board of tenant.
func (s *Store) GetBoard(ctx context.Context, tenant, id string) (leaderboards.Board, error) {
	b, err := scanBoard(s.rq.getBoard.QueryRowContext(ctx, tenant, id))
	if err != nil {
		return leaderboards.Board{}, fmt.Errorf("sqlite: get board: %w", notFound(err, "board", id))
	}
	return b, nil
}

// ListBoards returns a tenant's boards in id order.
func (s *Store) ListBoards(ctx context.Context, tenant string) ([]leaderboards.Board, error) {
	rows, err := s.rq.listBoards.QueryContext(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list boards: %w", err)
	}
	out, err := collect(rows, scanBoard)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list boards: %w", err)
	}
	return out, nil
}

// Tenants lists, sorted, every tenant that has a board.
func (s *Store) Tenants(ctx context.Context) ([]string, error) {
	rows, err := s.rq.tenants.QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: board tenants: %w", err)
	}
	out, err := collect(rows, func(sc scanner) (string, error) {
		var t string
		err := sc.Scan(&t)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: board tenants: %w", err)
	}
	return out, nil
}

func scanBoard(sc scanner) (leaderboards.Board, error) {
	var (
		b   leaderboards.Board
		win string
		at  int64
	)
	if err := sc.Scan(&b.Tenant, &b.ID, &b.Name, &b.Metric, &win, &at); err != nil {
		return leaderboards.Board{}, err
	}
	b.Window, b.CreatedAt = leaderboards.Window(win), norm.Time(at)
	return b, nil
}
