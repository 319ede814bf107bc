package ugc

import "time"

// Settings are a tenant's rules for user-generated content: the automatic
// checks, the moderation lease, the report threshold and the points paid
// on approval.
type Settings struct {
	Checks          Checks `json:"checks"`
	LeaseSeconds    int    `json:"lease_seconds" minimum:"10" maximum:"86400" doc:"How long a claimed queue item stays with its moderator."`
	ReportThreshold int    `json:"report_threshold" minimum:"1" maximum:"1000" doc:"Abuse reports that send listed content back to moderation."`
	Points          Points `json:"points"`
}

// Checks configure the automatic checks a submission passes before it is
// queued.
type Checks struct {
	MinLength      int      `json:"min_length" minimum:"0" maximum:"10000" doc:"Fewest characters of title, body and steps together (photos, videos and posts may be shorter if 0)."`
	MaxLength      int      `json:"max_length" minimum:"1" maximum:"20000"`
	BannedWords    []string `json:"banned_words,omitempty" maxItems:"500" doc:"Words or phrases refused, matched as whole words after normalisation."`
	LinksAllowed   bool     `json:"links_allowed" doc:"Whether text may hold links (a social_post's link field is always allowed)."`
	Duplicates     bool     `json:"duplicates" doc:"Refuse a text equal (after normalisation) or nearly equal to another listed or queued one of the tenant."`
	NearSimilarity int      `json:"near_similarity" minimum:"0" maximum:"100" doc:"Estimated percentage of shared word pairs from which two texts are near duplicates; 0 = exact duplicates only."`
	MinNearWords   int      `json:"min_near_words" minimum:"1" maximum:"1000" doc:"Texts shorter than this many words are checked for exact duplicates only."`
	PerHour        int      `json:"per_hour" minimum:"0" maximum:"10000" doc:"Submissions a user may make per UTC clock hour; 0 = unlimited."`
	PerDay         int      `json:"per_day" minimum:"0" maximum:"100000" doc:"Submissions a user may make per UTC day; 0 = unlimited."`
}

// Points are what approval pays, per rule; each rule pays once per
// submission under its own ledger key.
type Points struct {
	Review      int64 `json:"review" minimum:"0" maximum:"1000000"`
	PhotoReview int64 `json:"photo_review" minimum:"0" maximum:"1000000" doc:"Paid instead of review for a review with photos."`
	Photo       int64 `json:"photo" minimum:"0" maximum:"1000000"`
	Video       int64 `json:"video" minimum:"0" maximum:"1000000"`
	Tutorial    int64 `json:"tutorial" minimum:"0" maximum:"1000000"`
	SocialPost  int64 `json:"social_post" minimum:"0" maximum:"1000000"`
	Verified    int64 `json:"verified" minimum:"0" maximum:"1000000" doc:"Bonus for a verified-purchase review."`
	FirstReview int64 `json:"first_review" minimum:"0" maximum:"1000000" doc:"Bonus for the first approved review of a product."`
}

// DefaultSettings are a tenant's settings until a manager saves some.
func DefaultSettings() Settings {
	return Settings{
		Checks: Checks{
			MinLength: 20, MaxLength: 10000, Duplicates: true, NearSimilarity: 60, MinNearWords: 8,
			PerHour: 10, PerDay: 30,
		},
		LeaseSeconds:    300,
		ReportThreshold: 3,
		Points: Points{
			Review: 20, PhotoReview: 40, Photo: 15, Video: 25, Tutorial: 50, SocialPost: 10,
			Verified: 10, FirstReview: 10,
		},
	}
}

// lease is the moderation lease.
func (s Settings) lease() time.Duration { return time.Duration(s.LeaseSeconds) * time.Second }

// base is the points a submission's kind earns.
func (p Points) base(s Submission, c Content) (string, int64) {
	switch s.Kind {
	case Review:
		if len(c.Media) > 0 {
			return "photo_review", p.PhotoReview
		}
		return "review", p.Review
	case Photo:
		return "photo", p.Photo
	case Video:
		return "video", p.Video
	case Tutorial:
		return "tutorial", p.Tutorial
	}
	return "social_post", p.SocialPost
}
