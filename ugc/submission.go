// Package ugc is user-generated content for points: reviews, photos,
// videos, tutorials and social posts; the automatic checks they pass
// before moderation; the moderation queue with leases; points and the
// ugc.approved event on approval; the public review feed with exact
// rating summaries; helpful votes, abuse reports, brand replies and
// erasure.
package ugc

import (
	"context"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/questline/questline/internal/errs"
)

// Kind is what a submission is.
type Kind string

// The kinds of submission.
const (
	Review     Kind = "review"      // rating 1-5, title, body, optional photos
	Photo      Kind = "photo"       // photos, optional caption (body)
	Video      Kind = "video"       // a video URL, optional caption
	Tutorial   Kind = "tutorial"    // title, body, steps
	SocialPost Kind = "social_post" // a link to a post elsewhere
)

// Status is where a submission's latest version stands.
type Status string

// The statuses. An approved submission edited later is pending again
// while its approved version stays public (Public).
const (
	Pending  Status = "pending"
	Approved Status = "approved"
	Rejected Status = "rejected"
	Removed  Status = "removed" // taken down after approval; it earns nothing any more
)

// Content is one version of what the author wrote.
type Content struct {
	Rating int      `json:"rating,omitempty" doc:"1 to 5; reviews only."`
	Title  string   `json:"title,omitempty"`
	Body   string   `json:"body,omitempty"`
	Steps  []string `json:"steps,omitempty" doc:"Tutorial steps, in order."`
	Media  []string `json:"media,omitempty" doc:"https URLs of photos or a video; no files are stored."`
	Link   string   `json:"link,omitempty" doc:"https URL of the post (social_post)."`
}

// Text is the content's words, as the length, word and link checks see
// them.
func (c Content) Text() string {
	return strings.Join(append([]string{c.Title, c.Body}, c.Steps...), "\n")
}

// mainText is what duplicate detection compares: the body and steps. A
// copied body is a copy whatever title it is given.
func (c Content) mainText() string {
	return strings.Join(append([]string{c.Body}, c.Steps...), "\n")
}

// Reply is the brand's public answer to a submission.
type Reply struct {
	Body string    `json:"body"`
	At   time.Time `json:"at"`
}

// Submission is one piece of content and its moderation state. Counters
// (Helpful, Reports) change only through votes and reports, never through
// a save of the submission.
type Submission struct {
	ID        string   `json:"id"`
	Tenant    string   `json:"-"`
	User      string   `json:"user_id"`
	Kind      Kind     `json:"kind"`
	ProductID string   `json:"product_id,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	Verified  bool     `json:"verified" doc:"The author bought the product (a purchase event with its product_id)."`

	Status  Status   `json:"status"`
	Flags   []string `json:"flags,omitempty" doc:"Why the item is in the queue: reported, edited."`
	Content Content  `json:"content" doc:"The latest version (pending, approved or rejected)."`
	// Public is the approved version readers see; nil when none is.
	Public     *Content   `json:"public,omitempty"`
	Reason     string     `json:"reason,omitempty" doc:"Reason code of the last rejection or removal."`
	ApprovedAt *time.Time `json:"approved_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	QueuedAt   time.Time  `json:"queued_at" doc:"When the latest version entered the queue."`
	Reply      *Reply     `json:"reply,omitempty"`

	Helpful int64 `json:"helpful"`
	Reports int64 `json:"-"`

	// Moderation lease and notes: never shown outside the queue.
	LeaseBy    string    `json:"-"`
	LeaseUntil time.Time `json:"-"`
	Note       string    `json:"-"`

	// Paid are the ledger keys of the credits approval paid to this
	// submission: what a take-down reverses.
	Paid []string `json:"-"`
	// Owed marks a decision whose keyed effects are not all confirmed
	// yet (OwePay, OweReverse), saved with the decision itself, so the
	// sweep (Service.Sweep) finishes what a crash cut short.
	Owed string `json:"-"`

	// Fingerprints of Content for duplicate detection.
	TextHash  string   `json:"-"`
	Signature []uint32 `json:"-"` // MinHash of the body's shingles (ugc/text)

	Version int64 `json:"-"`
}

// Listed reports whether s shows in the public feed (and counts in its
// product's rating summary when a review).
func (s Submission) Listed() bool { return s.Public != nil }

// HasPhotos reports whether the public version carries media.
func (s Submission) HasPhotos() bool { return s.Public != nil && len(s.Public.Media) > 0 }

// PublicRating is the rating the submission adds to its product's
// summary: 0 unless it is a listed review.
func (s Submission) PublicRating() int {
	if s.Kind != Review || s.Public == nil {
		return 0
	}
	return s.Public.Rating
}

// Input is what an author sends to create a submission.
type Input struct {
	Kind      Kind     `json:"kind" enum:"review,photo,video,tutorial,social_post"`
	ProductID string   `json:"product_id,omitempty" maxLength:"64" doc:"Required for reviews."`
	Tags      []string `json:"tags,omitempty" maxItems:"10"`
	Rating    int      `json:"rating,omitempty" minimum:"0" maximum:"5" doc:"1 to 5; required for reviews."`
	Title     string   `json:"title,omitempty" maxLength:"200"`
	Body      string   `json:"body,omitempty" maxLength:"10000"`
	Steps     []string `json:"steps,omitempty" maxItems:"50" doc:"Tutorial steps."`
	Media     []string `json:"media,omitempty" maxItems:"10" doc:"https URLs, at most 2048 characters each."`
	Link      string   `json:"link,omitempty" maxLength:"2048" doc:"https URL of the post; social_post only."`
}

// Edit is what an author sends to change a submission; absent fields
// stay.
type Edit struct {
	Rating *int      `json:"rating,omitempty" minimum:"1" maximum:"5"`
	Title  *string   `json:"title,omitempty" maxLength:"200"`
	Body   *string   `json:"body,omitempty" maxLength:"10000"`
	Steps  []string  `json:"steps,omitempty" maxItems:"50"`
	Media  *[]string `json:"media,omitempty" maxItems:"10"`
	Link   *string   `json:"link,omitempty" maxLength:"2048"`
	Tags   *[]string `json:"tags,omitempty" maxItems:"10"`
}

// apply returns c with e's fields set.
func (e Edit) apply(c Content, tags []string) (Content, []string) {
	if e.Rating != nil {
		c.Rating = *e.Rating
	}
	if e.Title != nil {
		c.Title = *e.Title
	}
	if e.Body != nil {
		c.Body = *e.Body
	}
	if e.Steps != nil {
		c.Steps = e.Steps
	}
	if e.Media != nil {
		c.Media = *e.Media
	}
	if e.Link != nil {
		c.Link = *e.Link
	}
	if e.Tags != nil {
		tags = *e.Tags
	}
	return c, tags
}

// idPattern is what product ids and tags may hold: they go into keys
// (the ledger's first-review key) and cursors.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// maxURL bounds a media or link URL.
const maxURL = 2048

func invalid(field, code, format string, args ...any) error {
	return errs.New(errs.Unprocessable, code, format, args...).OnField(field)
}

// validate checks the shape of a submission of kind k: what every tenant
// requires whatever its settings.
func validate(k Kind, product string, tags []string, c Content) error {
	if product != "" && !idPattern.MatchString(product) {
		return invalid("body.product_id", "bad-product-id", "product_id must be 1-64 letters, digits, '.', '_' or '-'")
	}
	for i, t := range tags {
		if !idPattern.MatchString(t) {
			return invalid("body.tags["+strconv.Itoa(i)+"]", "bad-tag", "a tag must be 1-64 letters, digits, '.', '_' or '-'")
		}
	}
	for i, m := range c.Media {
		if err := httpsURL(m); err != nil {
			return invalid("body.media["+strconv.Itoa(i)+"]", "bad-media-url", "media must be https URLs of at most %d characters: %v", maxURL, err)
		}
	}
	for i, s := range c.Steps {
		if strings.TrimSpace(s) == "" || len(s) > 2000 {
			return invalid("body.steps["+strconv.Itoa(i)+"]", "bad-step", "a step must hold 1-2000 characters")
		}
	}
	switch k {
	case Review:
		if product == "" {
			return invalid("body.product_id", "product-required", "a review needs a product_id")
		}
		if c.Rating < 1 || c.Rating > 5 {
			return invalid("body.rating", "bad-rating", "a review needs a rating from 1 to 5")
		}
		if strings.TrimSpace(c.Body) == "" {
			return invalid("body.body", "body-required", "a review needs a body")
		}
	case Photo, Video:
		if len(c.Media) == 0 {
			return invalid("body.media", "media-required", "a %s needs at least one media URL", k)
		}
	case Tutorial:
		if strings.TrimSpace(c.Title) == "" || strings.TrimSpace(c.Body) == "" || len(c.Steps) == 0 {
			return invalid("body.steps", "tutorial-incomplete", "a tutorial needs a title, a body and at least one step")
		}
	case SocialPost:
		if err := httpsURL(c.Link); err != nil {
			return invalid("body.link", "bad-link", "a social_post needs the https URL of the post: %v", err)
		}
	default:
		return invalid("body.kind", "bad-kind", "kind must be review, photo, video, tutorial or social_post")
	}
	if k != Review && c.Rating != 0 {
		return invalid("body.rating", "rating-not-allowed", "only reviews carry a rating")
	}
	if k != SocialPost && c.Link != "" {
		return invalid("body.link", "link-not-allowed", "only social posts carry a link")
	}
	return nil
}

// httpsURL accepts an absolute https URL with a host.
func httpsURL(s string) error {
	if s == "" || len(s) > maxURL {
		return errs.New(errs.Unprocessable, "bad-url", "length must be 1-%d", maxURL)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return errs.New(errs.Unprocessable, "bad-url", "not an https URL with a host")
	}
	return nil
}

// Store keeps submissions, their votes and reports, the rating summaries,
// the tenants' settings and the purchases that verify reviews.
type Store interface {
	UserData // export and erasure: privacy.go
	// CreateSubmission stores s. A review is unique per (tenant, user,
	// product): if the user has one already it returns that one and
	// inserted=false, storing nothing.
	CreateSubmission(ctx context.Context, s Submission) (stored Submission, inserted bool, err error)
	// UserReview returns the user's review of product; errs.ErrNotFound if
	// none.
	UserReview(ctx context.Context, tenant, user, product string) (Submission, error)
	// GetSubmission returns one submission; errs.ErrNotFound if absent.
	GetSubmission(ctx context.Context, tenant, id string) (Submission, error)
	// SaveSubmission replaces every field of next but its counters if
	// the stored version is next.Version-1 (errs.ErrDuplicate if not,
	// errs.ErrNotFound if absent), and moves next's product summary from
	// prev's contribution (PublicRating) to next's.
	SaveSubmission(ctx context.Context, prev, next Submission) error
	// SimilarTexts returns up to limit listed-or-queued submissions of the
	// tenant, other than exclude, whose TextHash is hash or whose
	// signature has one of bands (text.Bands) at the same position.
	SimilarTexts(ctx context.Context, tenant, hash string, bands []int64, exclude string, limit int) ([]Submission, error)
	// TakeSlot reserves one of the limit submission slots of the user's
	// rate window (an opaque key naming a UTC hour or day); false when all
	// are taken. Exact under concurrency: a slot is a unique key, so N
	// concurrent takers of L free slots get exactly L.
	TakeSlot(ctx context.Context, tenant, user, window string, limit int) (bool, error)
	// Owed returns up to limit submissions of any tenant whose Owed is set
	// and that were last updated before before, oldest first.
	Owed(ctx context.Context, before time.Time, limit int) ([]Submission, error)
	// HealFolds applies the summary folds that saves of submissions
	// updated before before still owe (a crash between a save and its
	// fold, on stores that fold in a second write), each once, and, on
	// such stores, recounts the helpful and report counters a vote or
	// report made before before may have left unsettled; it returns how
	// many folds and recounts it did, up to limit submissions of each.
	HealFolds(ctx context.Context, before time.Time, limit int) (int, error)
	// UserSubmissions pages the user's submissions newest first, after
	// the id `before` ("" = from the newest).
	UserSubmissions(ctx context.Context, tenant, user, before string, limit int) ([]Submission, error)
	// Queue lists pending submissions oldest first (QueuedAt, id) that q
	// matches and that no other moderator than q.Moderator holds a lease
	// on at q.Now.
	Queue(ctx context.Context, tenant string, q QueueQuery) ([]Submission, error)
	// Feed pages a product's listed submissions in q's order.
	Feed(ctx context.Context, tenant, product string, q FeedQuery) ([]Submission, error)
	// Summary returns a product's rating summary, kept as reviews are
	// listed and unlisted; the zero Summary when it has none.
	Summary(ctx context.Context, tenant, product string) (Summary, error)
	// RebuildSummary recounts a product's summary from its listed reviews
	// and stores it: a repair for derived state, run when the product's
	// reviews are quiet (a review listed during the recount may be missed
	// on MongoDB until the next rebuild).
	RebuildSummary(ctx context.Context, tenant, product string) (Summary, error)
	// RecountMarks recounts a submission's Helpful and Reports counters
	// from its votes and reports and stores them now (on MongoDB, where a
	// counter moves in a second write, HealFolds does it by itself a
	// grace after each vote); errs.ErrNotFound if absent.
	RecountMarks(ctx context.Context, tenant, id string) (helpful, reports int64, err error)
	// Vote sets the user's helpful vote on a submission and moves its
	// Helpful counter by the change; it returns the counter after.
	Vote(ctx context.Context, tenant, submission, user string, helpful bool) (int64, error)
	// Report stores the user's report of a submission once and returns
	// whether it was new and the submission's report count after.
	Report(ctx context.Context, tenant, submission, user, reason string) (bool, int64, error)
	// GetSettings returns the tenant's settings (ok=false: none saved).
	GetSettings(ctx context.Context, tenant string) (Settings, bool, error)
	// PutSettings stores the tenant's settings.
	PutSettings(ctx context.Context, tenant string, s Settings) error
	// AddPurchase records that user bought product; repeats are harmless.
	AddPurchase(ctx context.Context, tenant, user, product string) error
	// Purchased reports whether user bought product.
	Purchased(ctx context.Context, tenant, user, product string) (bool, error)
	// CountByStatus counts the tenant's submissions in each status over
	// an index on (tenant, status), whatever their number.
	CountByStatus(ctx context.Context, tenant string) (StatusCounts, error)
}

// StatusCounts are how many of a tenant's submissions stand in each
// status now.
type StatusCounts struct {
	Pending, Approved, Rejected, Removed int64
}

// Add counts n submissions of status st (a store's grouped count).
func (c *StatusCounts) Add(st Status, n int64) {
	switch st {
	case Pending:
		c.Pending += n
	case Approved:
		c.Approved += n
	case Rejected:
		c.Rejected += n
	case Removed:
		c.Removed += n
	}
}
