// Package norm holds the value conventions both storage backends share, so
// that SQLite and MongoDB return identical Go values for the same input:
// times are UTC and truncated to the millisecond (BSON dates hold
// milliseconds), free-form maps round-trip through JSON (numbers come back
// as float64, as encoding/json decodes them), and empty maps and slices
// come back nil.
package norm

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/questline/questline/events"
	"github.com/questline/questline/leaderboards"
)

// Millis is t as Unix milliseconds, the stored form of every time.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// Time is the inverse of Millis, in UTC.
func Time(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Trunc is t as it will come back from a store.
func Trunc(t time.Time) time.Time { return Time(Millis(t)) }

// TruncPtr is Trunc for optional times; nil stays nil.
func TruncPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := Trunc(*t)
	return &v
}

// NowIfZero fills a missing timestamp, so a row is never stored at year 1
// by accident and time-window queries stay meaningful.
func NowIfZero(t time.Time) time.Time {
	if t.IsZero() {
		return Trunc(time.Now())
	}
	return Trunc(t)
}

// JSONMap encodes m as JSON and decodes it again, returning the encoding
// and the map as any store will return it (nil when m is empty). Doing the
// round trip on write means the value a caller gets back from an insert is
// the same as the one a later read returns.
func JSONMap(m map[string]any) ([]byte, map[string]any, error) {
	if len(m) == 0 {
		return nil, nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, nil, err
	}
	if nativeMap(m) {
		// Already what decoding would produce (the usual case: props
		// decoded from a JSON request); skip the second half of the trip.
		return b, m, nil
	}
	out, err := DecodeMap(b)
	if err != nil {
		return nil, nil, err
	}
	return b, out, nil
}

// nativeMap reports whether m holds only the types encoding/json decodes
// into an any, so decoding its encoding would give an equal map.
func nativeMap(m map[string]any) bool {
	for _, v := range m {
		if !native(v) {
			return false
		}
	}
	return true
}

func native(v any) bool {
	switch x := v.(type) {
	case nil, string, bool, float64:
		return true
	case map[string]any:
		return x != nil && nativeMap(x) // a nil map encodes as null
	case []any:
		if x == nil {
			return false // encodes as null
		}
		for _, e := range x {
			if !native(e) {
				return false
			}
		}
		return true
	default:
		return false
	}
}

// DecodeMap decodes a JSON object stored by JSONMap; empty input is nil.
func DecodeMap(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// StringMap returns nil for an empty map, so empty and absent compare equal
// across backends.
func StringMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// Strings returns nil for an empty slice, for the same reason.
func Strings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// Limit maps a caller's limit to the one a query uses: <= 0 means def.
func Limit(limit, def int) int {
	if limit <= 0 {
		return def
	}
	return limit
}

// Event fills the defaults every backend applies and normalises e to
// what a read will return. It returns the JSON forms of Props and Result.
func Event(e events.Event) (events.Event, []byte, []byte, error) {
	if e.ID == "" {
		e.ID = uuid.Must(uuid.NewV7()).String()
	}
	// An event without a key is its own idempotency scope; keys must be
	// present for the unique index to mean anything.
	if e.IdempotencyKey == "" {
		e.IdempotencyKey = e.ID
	}
	e.OccurredAt = Trunc(e.OccurredAt)
	e.ReceivedAt = NowIfZero(e.ReceivedAt)
	e.ProcessedAt = TruncPtr(e.ProcessedAt)
	e.NextAttemptAt, e.DeadAt = TruncPtr(e.NextAttemptAt), TruncPtr(e.DeadAt)
	props, m, err := JSONMap(e.Props)
	if err != nil {
		return e, nil, nil, fmt.Errorf("encode props: %w", err)
	}
	e.Props = m
	// A Result holds only strings, numbers, booleans and slices of them,
	// so it reads back exactly as written: encoding it is enough.
	var res []byte
	if e.Result != nil {
		if res, err = json.Marshal(e.Result); err != nil {
			return e, nil, nil, fmt.Errorf("encode result: %w", err)
		}
	}
	return e, props, res, nil
}

// Board fills the definition fields a stored board lacks with what boards
// were before those fields existed: points summed over the window in UTC.
// Both backends apply it on every read, so rows written by an older
// release, and new ones without those fields, read the same everywhere.
func Board(b leaderboards.Board) leaderboards.Board {
	if b.Source == "" {
		b.Source = leaderboards.FromPoints
	}
	if b.Aggregation == "" {
		b.Aggregation = leaderboards.Sum
	}
	if b.TimeZone == "" {
		b.TimeZone = "UTC"
	}
	return b
}

// PrefixEnd returns the least string above every string that starts with
// prefix, so that [prefix, end) holds exactly those strings in bytewise
// order (which is code point order for UTF-8). Unlike prefix+"\xff" the
// bound is valid UTF-8, as a BSON string must be. ok is false when there
// is no bound: prefix is empty or all U+10FFFF. prefix must be valid UTF-8.
func PrefixEnd(prefix string) (end string, ok bool) {
	for prefix != "" {
		r, size := utf8.DecodeLastRuneInString(prefix)
		prefix = prefix[:len(prefix)-size]
		switch {
		case r == utf8.MaxRune:
			continue // no successor: carry into the rune before
		case r == 0xD7FF:
			r = 0xE000 // surrogates are not encodable; skip them
		default:
			r++
		}
		return prefix + string(r), true
	}
	return "", false
}

// IDBefore returns a string that sorts above every UUIDv7 id minted
// before t's millisecond and below every one minted from it on: such ids
// encode their creation time in their first 12 hex digits. Events and their records
// are keyed by such ids, which lets a prune walk only the old part of a
// key range. An id of another form (tests) compares as its text does.
func IDBefore(t time.Time) string {
	ms := max(t.UnixMilli(), 0)
	return fmt.Sprintf("%08x-%04x", ms>>16, ms&0xffff)
}
