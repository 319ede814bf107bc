package leaderboards

import (
	"context"
	"time"
)

// Window is the period a board ranks over.
type Window string

// The windows a board can have. Each period of a window is its own ranked
// set; a new period starts empty and old periods stay readable.
const (
	AllTime Window = "all_time"
	Daily   Window = "daily"
	Weekly  Window = "weekly"
	Monthly Window = "monthly"
)

// Board is a leaderboard definition. Foundation boards rank points earned
// from the ledger in the window.
type Board struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"-"`
	Name      string    `json:"name"`
	Metric    string    `json:"metric"` // "points"
	Window    Window    `json:"window"`
	CreatedAt time.Time `json:"created_at"`
}

// Store keeps board definitions.
type Store interface {
	CreateBoard(ctx context.Context, b Board) error
	GetBoard(ctx context.Context, tenant, id string) (Board, error)
	// ListBoards returns a tenant's boards in id order.
	ListBoards(ctx context.Context, tenant string) ([]Board, error)
	// Tenants lists every tenant that has a board, for rebuilds.
	Tenants(ctx context.Context) ([]string, error)
}
