package analytics

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/errs"
)

type rangeInput struct {
	From string `query:"from" required:"true" maxLength:"10" doc:"First local date, YYYY-MM-DD." example:"2026-11-01"`
	To   string `query:"to" required:"true" maxLength:"10" doc:"Last local date (inclusive), YYYY-MM-DD; at most 367 days after from." example:"2026-11-30"`
	TZ   string `query:"tz" maxLength:"64" doc:"IANA time zone the dates are in; UTC when empty." example:"Europe/Paris"`
}

func (r rangeInput) rng() Range { return Range{From: r.From, To: r.To, Zone: r.TZ} }

type objectInput struct {
	ID   string `path:"id" maxLength:"64"`
	From string `query:"from" maxLength:"10" doc:"With to: also count per local date from this date (YYYY-MM-DD)."`
	To   string `query:"to" maxLength:"10" doc:"Last local date (inclusive)."`
	TZ   string `query:"tz" maxLength:"64" doc:"IANA time zone of the dates; UTC when empty."`
}

func (in objectInput) rng() (*Range, error) {
	if in.From == "" && in.To == "" {
		return nil, nil
	}
	if in.From == "" || in.To == "" {
		return nil, errs.New(errs.Unprocessable, "bad-range", "from and to go together").OnField("from")
	}
	return &Range{From: in.From, To: in.To, Zone: in.TZ}, nil
}

type fraudInput struct {
	Days int `query:"days" minimum:"1" maximum:"90" default:"7" doc:"Window: the last N UTC days, today included."`
}

type summaryOutput struct{ Body Summary }

type seriesOutput struct {
	Body struct {
		Days []Day `json:"days"`
	}
}

type objectOutput struct{ Body ObjectStats }

type fraudOutput struct{ Body FraudReport }

type settingsOutput struct{ Body Settings }

// csvOutput is a report as CSV, for spreadsheets.
type csvOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

func csvOf(name string, rows [][]string) (*csvOutput, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(rows); err != nil {
		return nil, fmt.Errorf("analytics: csv: %w", err)
	}
	return &csvOutput{ContentType: "text/csv; charset=utf-8", ContentDisposition: `attachment; filename="` + name + `.csv"`, Body: b.Bytes()}, nil
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

func f64(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// Routes registers the analytics API: every route is for managers.
func Routes(api huma.API, s *Service) {
	summaryRoutes(api, s)
	seriesRoutes(api, s)
	objectRoutes(api, s, "challenge", "challenges")
	objectRoutes(api, s, "badge", "badges")
	fraudRoutes(api, s)
	settingsRoutes(api, s)
	backtestRoutes(api, s, "challenge", "challenges")
	backtestRoutes(api, s, "badge", "badges")
	earnBacktestRoutes(api, s)
	boardBacktestRoutes(api, s)
	rebuildRoutes(api, s)
	boardRoutes(api, s)
	quizRoutes(api, s)
	contestRoutes(api, s)
}

var tags = []string{"analytics"}

// get registers a manager-only GET.
func get[I, O any](api huma.API, id, path, summary, desc string, h func(context.Context, string, *I) (*O, error)) {
	auth.Register(api, huma.Operation{OperationID: id, Method: http.MethodGet, Path: path, Summary: summary, Description: desc, Tags: tags},
		auth.Managers, func(ctx context.Context, in *I) (*O, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			return h(ctx, p.Tenant, in)
		})
}

func summaryRoutes(api huma.API, s *Service) {
	const desc = "Read from counters kept on the write path (per UTC quarter-hour), so it answers in milliseconds whatever the history. " +
		"Outstanding points are issued minus spent, expired and reversed; their value uses the tenant's point value (PUT /v1/analytics/settings). " +
		"UGC numbers are the submissions per status now, counted over an index (exact after any crash); the rest are folded counters."
	get(api, "analytics-summary", "/v1/analytics/summary", "Programme summary (manager)", desc,
		func(ctx context.Context, tenant string, _ *struct{}) (*summaryOutput, error) {
			sum, err := s.Summary(ctx, tenant)
			return &summaryOutput{Body: sum}, err
		})
	get(api, "export-analytics-summary", "/v1/analytics/summary/export", "Programme summary as CSV (manager)", "The summary as metric,value rows.",
		func(ctx context.Context, tenant string, _ *struct{}) (*csvOutput, error) {
			m, err := s.Summary(ctx, tenant)
			if err != nil {
				return nil, err
			}
			l := m.Points
			return csvOf("summary", [][]string{{"metric", "value"},
				{"participants", i64(m.Participants)}, {"events", i64(m.Events)},
				{"active_users_today", i64(m.ActiveToday)}, {"active_users_this_week", i64(m.ActiveWeek)},
				{"points_issued", i64(l.Issued)}, {"points_spent", i64(l.Spent)}, {"points_expired", i64(l.Expired)},
				{"points_reversed", i64(l.Reversed)}, {"points_outstanding", i64(l.Outstanding)},
				{"currency", l.Currency}, {"point_value", f64(l.PointValue)}, {"outstanding_value", f64(l.Value)},
				{"challenge_completions", i64(m.Completions)}, {"badges_unlocked", i64(m.Badges)}, {"rewards_redeemed", i64(m.Redeemed)},
				{"quiz_completions", i64(m.Quizzes.Completions)}, {"quiz_passes", i64(m.Quizzes.Passes)},
				{"ugc_received", i64(m.UGC.Received)}, {"ugc_pending", i64(m.UGC.Pending)}, {"ugc_approved", i64(m.UGC.Approved)},
				{"ugc_rejected", i64(m.UGC.Rejected)}, {"ugc_removed", i64(m.UGC.Removed)}, {"ugc_approval_rate", f64(m.UGC.ApprovalRate)},
				{"ugc_ever_approved", i64(m.UGC.EverApproved)}, {"contest_winners", i64(m.Winners)}})
		})
}

func seriesRoutes(api huma.API, s *Service) {
	const desc = "One row per local date of [from, to] in tz: the quarter-hour rollups summed into local days, so any zone works " +
		"(including :30 and :45 offsets and DST days). Active users are counted per UTC day."
	get(api, "analytics-series", "/v1/analytics/series", "Daily time series (manager)", desc,
		func(ctx context.Context, tenant string, in *rangeInput) (*seriesOutput, error) {
			days, err := s.Series(ctx, tenant, in.rng())
			out := &seriesOutput{}
			out.Body.Days = days
			return out, err
		})
	get(api, "export-analytics-series", "/v1/analytics/series/export", "Daily time series as CSV (manager)", desc,
		func(ctx context.Context, tenant string, in *rangeInput) (*csvOutput, error) {
			days, err := s.Series(ctx, tenant, in.rng())
			if err != nil {
				return nil, err
			}
			head := []string{"date"}
			for _, c := range dayColumns {
				head = append(head, c.name)
			}
			rows := [][]string{head}
			for _, d := range days {
				row := []string{d.Date}
				for _, c := range dayColumns {
					row = append(row, i64(*c.field(&d)))
				}
				rows = append(rows, row)
			}
			return csvOf("series", rows)
		})
}

func objectRoutes(api huma.API, s *Service, kind, plural string) {
	desc := "Completions (challenge, every period's) or unlocks (badge, every tier's), all time and, with from/to, per local date. " +
		"A challenge also reports its participants (users with any counted progress) and, with several goals, the users who met " +
		"each goal and the drop-off from the step before. Another tenant's id answers 404."
	stats := func(ctx context.Context, tenant string, in *objectInput) (ObjectStats, error) {
		r, err := in.rng()
		if err != nil {
			return ObjectStats{}, err
		}
		return s.ObjectStats(ctx, tenant, kind, in.ID, r)
	}
	get(api, "analytics-"+kind, "/v1/analytics/"+plural+"/{id}", "Stats of a "+kind+" (manager)", desc,
		func(ctx context.Context, tenant string, in *objectInput) (*objectOutput, error) {
			st, err := stats(ctx, tenant, in)
			return &objectOutput{Body: st}, err
		})
	get(api, "export-analytics-"+kind, "/v1/analytics/"+plural+"/{id}/export", "Stats of a "+kind+" as CSV (manager)", desc,
		func(ctx context.Context, tenant string, in *objectInput) (*csvOutput, error) {
			st, err := stats(ctx, tenant, in)
			if err != nil {
				return nil, err
			}
			rows := [][]string{{"date", "count"}, {"all", i64(st.Count)}}
			for _, d := range st.Days {
				rows = append(rows, []string{d.Date, i64(d.Count)})
			}
			return csvOf(kind+"-"+in.ID, rows)
		})
}

func fraudRoutes(api huma.API, s *Service) {
	desc := fmt.Sprintf("Users whose events or credited points over the window are at least %.0f standard deviations above the mean of "+
		"the tenant's active users and at least %.0f× that mean (tenants with fewer than %d active users are not judged), at most %d, "+
		"most extreme first. Exclude one from a board with POST /v1/leaderboards/{id}/exclusions {\"user_id\", \"reason\"} (audited).",
		FraudZ, FraudMinRatio, FraudMinUsers, FraudMaxList)
	get(api, "analytics-fraud", "/v1/analytics/fraud", "Fraud signals (manager)", desc,
		func(ctx context.Context, tenant string, in *fraudInput) (*fraudOutput, error) {
			rep, err := s.Fraud(ctx, tenant, in.Days)
			return &fraudOutput{Body: rep}, err
		})
	get(api, "export-analytics-fraud", "/v1/analytics/fraud/export", "Fraud signals as CSV (manager)", desc,
		func(ctx context.Context, tenant string, in *fraudInput) (*csvOutput, error) {
			rep, err := s.Fraud(ctx, tenant, in.Days)
			if err != nil {
				return nil, err
			}
			rows := [][]string{{"user_id", "events", "points", "events_z", "points_z", "signals"}}
			for _, su := range rep.Suspects {
				rows = append(rows, []string{su.User, i64(su.Events), i64(su.Points), f64(su.EventsZ), f64(su.PointsZ), fmt.Sprint(su.Signals)})
			}
			return csvOf("fraud", rows)
		})
}

func settingsRoutes(api huma.API, s *Service) {
	get(api, "get-analytics-settings", "/v1/analytics/settings", "Analytics settings (manager)", "The currency value of a point.",
		func(ctx context.Context, tenant string, _ *struct{}) (*settingsOutput, error) {
			set, err := s.store.AnalyticsSettings(ctx, tenant)
			return &settingsOutput{Body: set}, err
		})
	auth.Register(api, huma.Operation{
		OperationID: "set-analytics-settings", Method: http.MethodPut, Path: "/v1/analytics/settings",
		Summary: "Set the analytics settings (manager)", Tags: tags,
		Description: "Sets the currency and value of one point, used for the liability in the summary.",
	}, auth.Managers, func(ctx context.Context, in *struct{ Body Settings }) (*settingsOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		if err := s.store.SetAnalyticsSettings(ctx, p.Tenant, in.Body); err != nil {
			return nil, err
		}
		return &settingsOutput{Body: in.Body}, nil
	})
}

type rebuildOutput struct {
	Location string `header:"Location"`
	Body     Rebuild
}

func rebuildRoutes(api huma.API, s *Service) {
	auth.Register(api, huma.Operation{
		OperationID: "rebuild-analytics", Method: http.MethodPost, Path: "/v1/analytics/rebuild",
		Summary: "Fold stored events into the rollups (manager)", Tags: tags, DefaultStatus: http.StatusAccepted,
		Description: "For events stored before analytics existed: scans the tenant's events as a background job on this node " +
			"(poll the Location) and folds each under the key the write path uses, so nothing counts twice. Ledger history and " +
			"challenge funnels are not rebuilt.",
	}, auth.Managers, func(ctx context.Context, _ *struct{}) (*rebuildOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		j := s.StartRebuild(ctx, p.Tenant)
		return &rebuildOutput{Location: "/v1/analytics/rebuilds/" + j.ID, Body: j}, nil
	})
	get(api, "get-analytics-rebuild", "/v1/analytics/rebuilds/{job}", "A rollup rebuild (manager)", "Its progress (events scanned) and status.",
		func(_ context.Context, tenant string, in *struct {
			Job string `path:"job" maxLength:"64"`
		}) (*rebuildOutput, error) {
			j, err := s.RebuildJob(tenant, in.Job)
			return &rebuildOutput{Body: j}, err
		})
}

type boardOutput struct{ Body BoardStats }

func boardRoutes(api huma.API, s *Service) {
	const desc = "Members of the board's current period (and of the one before, for a board that resets) and its exclusions. " +
		"Another tenant's id answers 404."
	get(api, "analytics-leaderboard", "/v1/analytics/leaderboards/{id}", "Stats of a leaderboard (manager)", desc,
		func(ctx context.Context, tenant string, in *struct {
			ID string `path:"id" maxLength:"64"`
		}) (*boardOutput, error) {
			st, err := s.BoardStats(ctx, tenant, in.ID)
			return &boardOutput{Body: st}, err
		})
	get(api, "export-analytics-leaderboard", "/v1/analytics/leaderboards/{id}/export", "Stats of a leaderboard as CSV (manager)", desc,
		func(ctx context.Context, tenant string, in *struct {
			ID string `path:"id" maxLength:"64"`
		}) (*csvOutput, error) {
			st, err := s.BoardStats(ctx, tenant, in.ID)
			if err != nil {
				return nil, err
			}
			prev := ""
			if st.Previous != nil {
				prev = i64(*st.Previous)
			}
			return csvOf("leaderboard-"+in.ID, [][]string{{"period", "participants", "excluded", "building", "previous_participants"},
				{st.Period, i64(st.Participants), strconv.Itoa(st.Excluded), strconv.FormatBool(st.Building), prev}})
		})
}
