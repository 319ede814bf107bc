// Package text holds the pure text work of user-generated content:
// normalisation, exact and near-duplicate fingerprints (a hash of the
// normalised text and a 64-bit simhash of its word shingles), banned
// words and link detection. It has no state and no I/O, so every part is
// table-tested on its own.
package text

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"math/bits"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Normalize folds text to the form duplicates are judged on: Unicode NFKD
// (so full-width and ligature forms match plain ones), lower case, marks
// removed, punctuation and symbols dropped, and runs of white space
// collapsed to one space. "Great  product!!" and "great product" are the
// same text.
func Normalize(s string) string {
	s = norm.NFKD.String(s)
	var b strings.Builder
	b.Grow(len(s))
	space := true // drops leading white space
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue // combining marks: café = cafe
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
			space = false
		case !space:
			b.WriteByte(' ')
			space = true
		}
	}
	return strings.TrimSuffix(b.String(), " ")
}

// Words splits normalised text into its words.
func Words(normalized string) []string { return strings.Fields(normalized) }

// Hash is the exact-duplicate fingerprint: hex SHA-256 of the normalised
// text.
func Hash(normalized string) string {
	sum := sha256.Sum256([]byte(normalized))
	return hex.EncodeToString(sum[:16])
}

// shingle is how many consecutive words make one feature of the simhash:
// three keeps word order mattering while one changed word moves only a
// few features.
const shingle = 3

// Simhash is the 64-bit simhash of the word shingles of normalised text:
// texts that share most shingles differ in few bits. A text shorter than
// a shingle uses its words as features.
func Simhash(normalized string) uint64 {
	words := Words(normalized)
	var acc [64]int
	add := func(feature string) {
		h := fnv.New64a()
		h.Write([]byte(feature))
		v := h.Sum64()
		for i := range acc {
			if v&(1<<i) != 0 {
				acc[i]++
			} else {
				acc[i]--
			}
		}
	}
	if len(words) < shingle {
		for _, w := range words {
			add(w)
		}
	}
	for i := 0; i+shingle <= len(words); i++ {
		add(strings.Join(words[i:i+shingle], " "))
	}
	var out uint64
	for i, n := range acc {
		if n > 0 {
			out |= 1 << i
		}
	}
	return out
}

// Bands is how a simhash is looked up: its four 16-bit quarters. Two
// hashes within Bands-1 = 3 bits of each other share at least one
// quarter exactly (pigeonhole), so an index on each quarter finds every
// near duplicate with four exact lookups, whatever the number of texts.
const Bands = 4

// BandsOf returns the quarters of h, low first.
func BandsOf(h uint64) [Bands]uint16 {
	return [Bands]uint16{uint16(h), uint16(h >> 16), uint16(h >> 32), uint16(h >> 48)}
}

// MaxDistance is the largest Hamming distance the banded lookup is exact
// for.
const MaxDistance = Bands - 1

// Distance is the number of bits in which a and b differ.
func Distance(a, b uint64) int { return bits.OnesCount64(a ^ b) }

var linkPattern = regexp.MustCompile(`(?i)\b(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|net|org|io|co|ly|me|info|biz|xyz|shop)\b`)

// HasLink reports whether raw (not normalised: normalising drops the
// punctuation a link is made of) holds something a reader would follow
// as a link.
func HasLink(raw string) bool { return linkPattern.MatchString(raw) }

// BannedWord returns the first of banned (each normalised, a word or a
// phrase of words) that normalised text contains as whole words, or "".
func BannedWord(normalized string, banned []string) string {
	padded := " " + normalized + " "
	for _, w := range banned {
		n := Normalize(w)
		if n != "" && strings.Contains(padded, " "+n+" ") {
			return w
		}
	}
	return ""
}
