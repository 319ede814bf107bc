package ugc

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/audit"
	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/internal/httpx"
)

// Moderators admits moderators (and admins): the queue and its
// decisions. A manager is not a moderator (see auth.Role), so a manage
// key, which does what a manager does, is not one either.
var Moderators = auth.Access{Roles: []auth.Role{auth.Moderator}}

// Routes registers the UGC API.
func Routes(api huma.API, s *Service) {
	authorRoutes(api, s)
	moderationRoutes(api, s)
	feedRoutes(api, s)
}

func op(id, method, path, summary, desc string) huma.Operation {
	return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc, Tags: []string{"ugc"}}
}

type submissionOutput struct{ Body Submission }

type idInput struct {
	ID string `path:"id" maxLength:"64" doc:"Submission id."`
}

func authorRoutes(api huma.API, s *Service) {
	create := op("create-submission", http.MethodPost, "/v1/submissions", "Submit content for moderation",
		"A review (rating, title, body, optional photos), photo, video, tutorial (title, body, steps) or social_post (link). "+
			"Media are https URLs only. The tenant's automatic checks run first; a failed one answers 422 whose type names the check "+
			"(too-short, too-long, banned-word, link-not-allowed, duplicate, near-duplicate, rate-limited, daily-cap) and stores nothing. "+
			"A second review of the same product by the same user edits the first. A review is verified when the author has a purchase event with its product_id.")
	create.DefaultStatus = http.StatusCreated
	auth.Register(api, create, auth.People, func(ctx context.Context, in *struct{ Body Input }) (*submissionOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		sub, err := s.Submit(ctx, p.Tenant, p.Subject, in.Body)
		return one(sub, err)
	})
	auth.Register(api, op("update-submission", http.MethodPatch, "/v1/submissions/{id}", "Edit my submission",
		"Only the author may edit (others get 404). The checks run again. An approved submission goes back to moderation flagged edited; "+
			"its approved version stays public until the new one is approved."), auth.People,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body Edit
		}) (*submissionOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			return one(s.Edit(ctx, p.Tenant, p.Subject, in.ID, in.Body))
		})
	auth.Register(api, op("list-my-submissions", http.MethodGet, "/v1/me/submissions", "My submissions, with status and reasons",
		"Newest first. status is the latest version's (pending, approved, rejected, removed); reason is the moderator's reason code; "+
			"public is the version readers see, if any."), auth.People,
		func(ctx context.Context, in *pageInput) (*mySubmissionsOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			subs, err := s.Mine(ctx, p.Tenant, p.Subject, in.Cursor, in.Limit+1)
			if err != nil {
				return nil, err
			}
			out := &mySubmissionsOutput{}
			out.Body.Submissions, out.Body.NextCursor = httpx.Page(subs, in.Limit, func(x Submission) string { return x.ID })
			return out, nil
		})
	del := op("delete-my-submission", http.MethodDelete, "/v1/me/submissions/{id}", "Erase my submission",
		"Deletes the content, its media links, votes and reports, and takes it out of its product's rating summary. "+
			"The audit log keeps a record of the erasure without the content.")
	del.DefaultStatus = http.StatusNoContent
	auth.Register(api, del, auth.People, func(ctx context.Context, in *idInput) (*struct{}, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		return nil, s.DeleteOwn(ctx, p.Tenant, p.Subject, in.ID)
	})
	auth.Register(api, op("vote-submission", http.MethodPost, "/v1/submissions/{id}/votes", "Vote a review helpful or not",
		"One vote per user per submission; voting again changes it. Only listed content; not on one's own. Answers the helpful count."), auth.People,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body struct {
				Helpful bool `json:"helpful"`
			}
		}) (*helpfulVoteOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			n, err := s.Vote(ctx, p.Tenant, p.Subject, in.ID, in.Body.Helpful)
			if err != nil {
				return nil, err
			}
			out := &helpfulVoteOutput{}
			out.Body.Helpful = n
			return out, nil
		})
	auth.Register(api, op("report-submission", http.MethodPost, "/v1/submissions/{id}/reports", "Report content as abusive",
		"One report per user counts. At the tenant's report_threshold the content leaves the feed and returns to the moderation queue, flagged reported."), auth.People,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body struct {
				Reason string `json:"reason" pattern:"^[a-z0-9-]{1,64}$" doc:"e.g. spam, abusive, off-topic, fake."`
			}
		}) (*abuseReportOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			fresh, err := s.Report(ctx, p.Tenant, p.Subject, in.ID, in.Body.Reason)
			if err != nil {
				return nil, err
			}
			out := &abuseReportOutput{}
			out.Body.Counted = fresh
			return out, nil
		})
}

func one(sub Submission, err error) (*submissionOutput, error) {
	if err != nil {
		return nil, err
	}
	return &submissionOutput{Body: sub}, nil
}

type pageInput struct {
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

type mySubmissionsOutput struct {
	Body struct {
		Submissions []Submission `json:"submissions"`
		NextCursor  string       `json:"next_cursor,omitempty"`
	}
}

type helpfulVoteOutput struct {
	Body struct {
		Helpful int64 `json:"helpful" doc:"Helpful votes of the submission now."`
	}
}

type abuseReportOutput struct {
	Body struct {
		Counted bool `json:"counted" doc:"False when this user had reported it already."`
	}
}

// QueueItem is a queue entry as moderators see it: the submission with
// its lease and report count.
type QueueItem struct {
	Submission
	Reports    int64      `json:"reports"`
	ClaimedBy  string     `json:"claimed_by,omitempty"`
	LeaseUntil *time.Time `json:"lease_until,omitempty"`
}

func queueItems(subs []Submission) []QueueItem {
	out := make([]QueueItem, len(subs))
	for i, s := range subs {
		out[i] = QueueItem{Submission: s, Reports: s.Reports, ClaimedBy: s.LeaseBy}
		if s.LeaseBy != "" {
			t := s.LeaseUntil
			out[i].LeaseUntil = &t
		}
	}
	return out
}

// QueueFilter selects queue items.
type QueueFilter struct {
	Kind      Kind   `json:"kind,omitempty" query:"kind" enum:"review,photo,video,tutorial,social_post"`
	ProductID string `json:"product_id,omitempty" query:"product_id" maxLength:"64" pattern:"^[A-Za-z0-9._-]{1,64}$"`
	Flag      string `json:"flag,omitempty" query:"flag" enum:"edited,reported"`
	OlderThan int    `json:"older_than,omitempty" query:"older_than" minimum:"0" maximum:"31536000" doc:"Only items queued at least this many seconds ago."`
	Limit     int    `json:"limit,omitempty" query:"limit" minimum:"1" maximum:"100" default:"20"`
}

func (s *Service) query(f QueueFilter) QueueQuery {
	return QueueQuery{Kind: f.Kind, ProductID: f.ProductID, Flag: f.Flag, Before: s.ageFilter(f.OlderThan), Limit: f.Limit}
}

type queueItemsOutput struct {
	Body struct {
		Items []QueueItem `json:"items"`
	}
}

func moderationRoutes(api huma.API, s *Service) {
	auth.Register(api, op("list-moderation-queue", http.MethodGet, "/v1/moderation/queue", "The moderation queue",
		"Pending items oldest first, filtered by kind, product, flag and age. Items another moderator claimed are left out until their lease ends. "+
			"Listing claims nothing: POST /v1/moderation/claims does."), Moderators,
		func(ctx context.Context, in *QueueFilter) (*queueItemsOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			subs, err := s.Queue(ctx, p.Tenant, p.Subject, s.query(*in))
			if err != nil {
				return nil, err
			}
			out := &queueItemsOutput{}
			out.Body.Items = queueItems(subs)
			return out, nil
		})
	claim := op("claim-moderation-items", http.MethodPost, "/v1/moderation/claims", "Claim queue items",
		"Leases up to limit of the oldest matching items to the caller for the tenant's lease_seconds: no other moderator is handed them, "+
			"nor may decide them, meanwhile.")
	auth.Register(api, claim, Moderators, func(ctx context.Context, in *struct{ Body QueueFilter }) (*queueItemsOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		subs, err := s.Claim(ctx, p.Tenant, p.Subject, s.query(in.Body))
		if err != nil {
			return nil, err
		}
		out := &queueItemsOutput{}
		out.Body.Items = queueItems(subs)
		return out, nil
	})
	for _, d := range []struct {
		id, path, summary, desc string
		do                      func(context.Context, Moderator, string, Decision) (Submission, error)
	}{
		{"approve-submission", "/v1/submissions/{id}/approve", "Approve a pending item",
			"Publishes the pending version, pays the author's points once per rule (base by kind, verified bonus, first review of the product), " +
				"emits ugc.approved once and pushes ugc.approved to the author. Approving again changes nothing. " +
				"409 claimed while another moderator's lease runs. Audited with the reason.", s.Approve},
		{"reject-submission", "/v1/submissions/{id}/reject", "Reject a pending item",
			"The author is told the reason code (live push ugc.rejected and /v1/me/submissions); an earlier approved version stays public. Audited with the reason.", s.Reject},
		{"remove-submission", "/v1/submissions/{id}/remove", "Take public content down",
			"Unlists approved content: it leaves the feed and its product's summary, and the author is told why (push ugc.removed). Audited with the reason. " +
				"The points it paid are not reversed yet.", s.Remove},
	} {
		auth.Register(api, audit.SelfAudited(op(d.id, http.MethodPost, d.path, d.summary, d.desc)), Moderators,
			func(ctx context.Context, in *struct {
				ID   string `path:"id" maxLength:"64"`
				Body Decision
			}) (*submissionOutput, error) {
				p, err := auth.Require(ctx)
				if err != nil {
					return nil, err
				}
				return one(d.do(ctx, Moderator{Tenant: p.Tenant, ID: p.Subject}, in.ID, in.Body))
			})
	}
	auth.Register(api, audit.SelfAudited(op("bulk-moderate", http.MethodPost, "/v1/moderation/bulk", "Approve or reject many items",
		"Applies one decision to up to 100 items; each succeeds or fails on its own (error names its problem type). Each decision is audited.")), Moderators,
		func(ctx context.Context, in *struct {
			Body struct {
				Action string   `json:"action" enum:"approve,reject"`
				IDs    []string `json:"ids" minItems:"1" maxItems:"100"`
				Decision
			}
		}) (*bulkModerationOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			for i, id := range in.Body.IDs {
				if id == "" || len(id) > 64 {
					return nil, errs.New(errs.Unprocessable, "bad-id", "ids[%d] must hold 1-64 characters", i).OnField("body.ids")
				}
			}
			res, err := s.Bulk(ctx, Moderator{Tenant: p.Tenant, ID: p.Subject}, in.Body.IDs, in.Body.Decision, in.Body.Action == "approve")
			if err != nil {
				return nil, err
			}
			out := &bulkModerationOutput{}
			out.Body.Results = res
			return out, nil
		})
}

type bulkModerationOutput struct {
	Body struct {
		Results []BulkResult `json:"results"`
	}
}

// PublicReview is a listed submission as the public sees it: its approved
// version, no moderation state.
type PublicReview struct {
	ID         string     `json:"id"`
	User       string     `json:"user_id"`
	Kind       Kind       `json:"kind"`
	Verified   bool       `json:"verified"`
	Tags       []string   `json:"tags,omitempty"`
	Content               // the approved version
	Helpful    int64      `json:"helpful"`
	ApprovedAt *time.Time `json:"approved_at,omitempty"`
	Reply      *Reply     `json:"reply,omitempty" doc:"The brand's answer."`
}

func publicOf(s Submission) PublicReview {
	r := PublicReview{ID: s.ID, User: s.User, Kind: s.Kind, Verified: s.Verified, Tags: s.Tags, Helpful: s.Helpful, ApprovedAt: s.ApprovedAt, Reply: s.Reply}
	if s.Public != nil {
		r.Content = *s.Public
	}
	return r
}

type feedInput struct {
	ID         string `path:"id" maxLength:"64" pattern:"^[A-Za-z0-9._-]{1,64}$" doc:"Product id."`
	Sort       Sort   `query:"sort" enum:"newest,helpful,rating_high,rating_low" default:"newest"`
	Rating     int    `query:"rating" minimum:"0" maximum:"5" doc:"Only this rating; 0 = any."`
	Verified   bool   `query:"verified" doc:"Only verified purchases."`
	WithPhotos bool   `query:"with_photos" doc:"Only reviews with photos."`
	Cursor     string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page (of the same sort)"`
	Limit      int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

type reviewFeedOutput struct {
	Body struct {
		Summary    Summary        `json:"summary" doc:"All listed reviews of the product, whatever the filters."`
		Reviews    []PublicReview `json:"reviews"`
		NextCursor string         `json:"next_cursor,omitempty"`
	}
}

func feedRoutes(api huma.API, s *Service) {
	auth.Register(api, op("list-product-reviews", http.MethodGet, "/v1/products/{id}/reviews", "A product's public review feed and rating summary",
		"Approved content about the product only, as approved (a pending edit is not shown until approved). Sorts: newest, helpful, rating_high, "+
			"rating_low; filters: rating, verified, with_photos; cursor-paginated. The summary (count, average, 1-5 distribution) is exact: it is kept "+
			"as reviews are approved, edited, removed and erased. No private fields (moderation notes, reports) appear. "+
			"A storefront reads it with a manage API key."), auth.Readers,
		func(ctx context.Context, in *feedInput) (*reviewFeedOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			after, err := ParseCursor(in.Cursor, in.Sort)
			if err != nil {
				return nil, err
			}
			subs, err := s.Feed(ctx, p.Tenant, in.ID, FeedQuery{Sort: in.Sort, Rating: in.Rating, Verified: in.Verified,
				WithPhotos: in.WithPhotos, After: after, Limit: in.Limit + 1})
			if err != nil {
				return nil, err
			}
			out := &reviewFeedOutput{}
			if out.Body.Summary, err = s.Summary(ctx, p.Tenant, in.ID); err != nil {
				return nil, err
			}
			if len(subs) > in.Limit {
				subs = subs[:in.Limit]
				last := subs[len(subs)-1]
				out.Body.NextCursor = Cursor{Key: SortKey(last, in.Sort), ID: last.ID}.Encode(in.Sort)
			}
			out.Body.Reviews = make([]PublicReview, len(subs))
			for i, sub := range subs {
				out.Body.Reviews[i] = publicOf(sub)
			}
			return out, nil
		})
	auth.Register(api, op("rebuild-product-summary", http.MethodPost, "/v1/products/{id}/reviews/summary/rebuild",
		"Recount a product's rating summary (manager)",
		"The summary is kept on every write (on MongoDB a save's fold that a crash cut short is applied by the sweep); "+
			"this recounts it from the listed reviews, to repair it after a crash between a review's deletion and its summary "+
			"update on MongoDB. Run it while the product's reviews are quiet."), auth.Managers,
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"64" pattern:"^[A-Za-z0-9._-]{1,64}$" doc:"Product id."`
		}) (*summaryOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			sum, err := s.RebuildSummary(ctx, p.Tenant, in.ID)
			if err != nil {
				return nil, err
			}
			return &summaryOutput{Body: sum}, nil
		})
	auth.Register(api, op("rebuild-submission-counters", http.MethodPost, "/v1/submissions/{id}/counters/rebuild",
		"Recount a submission's helpful and report counters (manager)",
		"The counters are kept on every vote and report; this recounts them from the stored votes and reports now. "+
			"On MongoDB, where a vote and its counter are two writes, the sweep also recounts every voted or reported submission "+
			"a grace after the vote, so a crash in between heals by itself; this is for a repair without waiting."), auth.Managers,
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"64"`
		}) (*countersOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			c, err := s.RecountMarks(ctx, p.Tenant, in.ID)
			if err != nil {
				return nil, err
			}
			return &countersOutput{Body: c}, nil
		})
	auth.Register(api, op("reply-to-submission", http.MethodPut, "/v1/submissions/{id}/reply", "Answer a review as the brand (manager)",
		"Sets the brand's public reply to listed content; an empty body removes it."), auth.Managers,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body struct {
				Body string `json:"body" maxLength:"5000"`
			}
		}) (*submissionOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			return one(s.ReplyTo(ctx, p.Tenant, in.ID, in.Body.Body))
		})
	auth.Register(api, op("get-ugc-settings", http.MethodGet, "/v1/ugc/settings", "The tenant's UGC settings (manager)",
		"Checks, lease, report threshold and points per rule; the defaults until saved."), auth.Managers,
		func(ctx context.Context, _ *struct{}) (*ugcSettingsOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			st, err := s.Settings(ctx, p.Tenant)
			if err != nil {
				return nil, err
			}
			return &ugcSettingsOutput{Body: st}, nil
		})
	auth.Register(api, op("put-ugc-settings", http.MethodPut, "/v1/ugc/settings", "Save the tenant's UGC settings (manager)",
		"Replaces every setting."), auth.Managers,
		func(ctx context.Context, in *struct{ Body Settings }) (*ugcSettingsOutput, error) {
			p, err := auth.Require(ctx)
			if err != nil {
				return nil, err
			}
			st, err := s.PutSettings(ctx, p.Tenant, in.Body)
			if err != nil {
				return nil, err
			}
			return &ugcSettingsOutput{Body: st}, nil
		})
}

type ugcSettingsOutput struct{ Body Settings }

type summaryOutput struct{ Body Summary }

type countersOutput struct {
	Body Counters
}
