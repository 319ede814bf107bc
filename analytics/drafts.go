package analytics

import (
	"context"

	"github.com/questline/questline/leaderboards"
	"github.com/questline/questline/loyalty/earn"
	"github.com/questline/questline/points"
)

// EarnRuleSource reads an earn rule of the tenant whatever its status (a
// paused rule is the draft); another tenant's is not found.
type EarnRuleSource func(ctx context.Context, tenant, id string) (earn.Rule, error)

// MemberSource tells who a rule prices a user as (loyalty's Member: their
// current tier and its earn multiplier).
type MemberSource func(ctx context.Context, tenant, user string, r earn.Rule) (earn.Member, error)

// LedgerScanner reads a tenant's earnings in ledger order, a reversal as
// its credit negated (the points service's ScanEarnings).
type LedgerScanner interface {
	ScanEarnings(ctx context.Context, tenant string, fn func(points.Entry) error) error
}

// BoardDrafter validates a board definition as creating it does.
type BoardDrafter interface {
	Draft(ctx context.Context, tenant string, in leaderboards.CreateInput) (leaderboards.Board, error)
}

// Drafts are what earn rule and board backtests read. Members may be nil
// (every user priced without a tier).
type Drafts struct {
	EarnRules EarnRuleSource
	Members   MemberSource
	Ledger    LedgerScanner
	Boards    BoardDrafter
}

// backtests are the sources and jobs of earn rule and board backtests.
type backtests struct {
	Drafts
	earn  jobStore[EarnBacktest]
	board jobStore[BoardBacktest]
}
