package ugc

import (
	"time"
	"unicode/utf8"

	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/ugc/text"
)

// Check names, as a failed check's problem type says them.
const (
	CheckTooShort  = "too-short"
	CheckTooLong   = "too-long"
	CheckBanned    = "banned-word"
	CheckLink      = "link-not-allowed"
	CheckDuplicate = "duplicate"
	CheckNear      = "near-duplicate"
	CheckRate      = "rate-limited"
	CheckDailyCap  = "daily-cap"
)

// checkFailed is the 422 of a failed check.
func checkFailed(check, format string, args ...any) error {
	e := errs.New(errs.Unprocessable, check, format, args...)
	return e.OnField("body")
}

// textChecks runs the checks that need only the content: length, banned
// words and links. Photos, videos and posts may go without words, so they
// skip the minimum length.
func textChecks(c Checks, k Kind, content Content) error {
	raw := content.Text()
	n := utf8.RuneCountInString(raw)
	mediaOnly := k == Photo || k == Video || k == SocialPost
	if n < c.MinLength && !mediaOnly {
		return checkFailed(CheckTooShort, "the text has %d characters; at least %d are needed", n, c.MinLength)
	}
	if c.MaxLength > 0 && n > c.MaxLength {
		return checkFailed(CheckTooLong, "the text has %d characters; at most %d are allowed", n, c.MaxLength)
	}
	if w := text.BannedWord(text.Normalize(raw), c.BannedWords); w != "" {
		return checkFailed(CheckBanned, "the text holds a banned word or phrase: %q", w)
	}
	if !c.LinksAllowed && text.HasLink(raw) {
		return checkFailed(CheckLink, "links are not allowed in the text")
	}
	return nil
}

// duplicateOf judges the candidates the store found for a text with the
// given fingerprints: an equal normalised text, or, for texts of at least
// MinNearWords words, an estimated similarity of NearSimilarity percent
// or more.
func duplicateOf(c Checks, hash string, sig []uint32, words int, candidates []Submission) error {
	if !c.Duplicates {
		return nil
	}
	for _, o := range candidates {
		if o.TextHash == hash {
			return checkFailed(CheckDuplicate, "the same text was already submitted")
		}
	}
	if c.NearSimilarity == 0 || words < c.MinNearWords {
		return nil
	}
	for _, o := range candidates {
		if text.Similarity(o.Signature, sig)*100 >= float64(c.NearSimilarity) {
			return checkFailed(CheckNear, "the text is nearly the same as one already submitted")
		}
	}
	return nil
}

// rateWindows are the starts of the UTC hour and day holding now.
func rateWindows(now time.Time) (hour, day time.Time) {
	now = now.UTC()
	return now.Truncate(time.Hour), time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
}

// hourFull is the refusal of a submission over the hourly limit.
func hourFull(c Checks) error {
	return errs.New(errs.Unprocessable, CheckRate, "at most %d submissions per hour", c.PerHour).OnField("body")
}

// dayFull is the refusal of a submission over the daily cap of the UTC
// day starting at day.
func dayFull(c Checks, day time.Time) error {
	return errs.New(errs.Unprocessable, CheckDailyCap, "at most %d submissions per day; the cap resets at %s",
		c.PerDay, day.Add(24*time.Hour).Format(time.RFC3339)).OnField("body")
}
