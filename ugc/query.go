package ugc

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/questline/questline/internal/errs"
)

// QueueQuery selects the moderation queue.
type QueueQuery struct {
	Kind      Kind      // "" = any
	ProductID string    // "" = any
	Flag      string    // "" = any
	Before    time.Time // only items queued before this (age filter); zero = any
	Moderator string    // leases held by this moderator do not hide items
	Now       time.Time // leases ending after this hide items from others
	Limit     int
}

// Sort orders the public feed.
type Sort string

// The feed's orders. Ties fall to the submission id (newest first for
// newest and helpful, oldest first for rating_low, newest for
// rating_high), the same on every read.
const (
	Newest     Sort = "newest"
	Helpful    Sort = "helpful"
	RatingHigh Sort = "rating_high"
	RatingLow  Sort = "rating_low"
)

// FeedQuery selects a page of a product's feed.
type FeedQuery struct {
	Sort       Sort
	Rating     int  // 0 = any
	Verified   bool // only verified purchases
	WithPhotos bool // only with media
	After      *Cursor
	Limit      int
}

// Cursor is the position after the last item of a page: its sort key and
// id.
type Cursor struct {
	Key int64
	ID  string
}

// SortKey is s's key in order o.
func SortKey(s Submission, o Sort) int64 {
	switch o {
	case Helpful:
		return s.Helpful
	case RatingHigh, RatingLow:
		return int64(s.PublicRating())
	}
	return 0
}

// Encode renders c for a next_cursor, tied to the sort it came from so it
// is not replayed under another.
func (c Cursor) Encode(o Sort) string {
	return base64.RawURLEncoding.EncodeToString([]byte(string(o) + "|" + strconv.FormatInt(c.Key, 10) + "|" + c.ID))
}

// ParseCursor reads a cursor of sort o.
func ParseCursor(s string, o Sort) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	bad := errs.New(errs.Invalid, "bad-cursor", "cursor is not a next_cursor of this sort").OnField("cursor")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 || parts[0] != string(o) || parts[2] == "" || len(parts[2]) > 64 {
		return nil, bad
	}
	k, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return nil, bad
	}
	return &Cursor{Key: k, ID: parts[2]}, nil
}

// Summary is a product's rating summary, exact: it moves with every
// review listed, edited, unlisted or erased.
type Summary struct {
	Count        int64    `json:"count"`
	Average      float64  `json:"average" doc:"Mean rating, to two decimals; 0 without reviews."`
	Distribution [5]int64 `json:"distribution" doc:"Listed reviews by rating, 1 star first."`
}

// WithAverage fills Count and Average from Distribution.
func (s Summary) WithAverage() Summary {
	var n, sum int64
	for i, c := range s.Distribution {
		n += c
		sum += int64(i+1) * c
	}
	s.Count, s.Average = n, 0
	if n > 0 {
		s.Average = float64(sum*100/n) / 100
		if r := sum * 100 % n; r*2 >= n {
			s.Average = float64(sum*100/n+1) / 100
		}
	}
	return s
}
