// Package text holds the pure text work of user-generated content:
// normalisation, exact and near-duplicate fingerprints (a hash of the
// normalised text and a MinHash signature of its word shingles with
// banded lookup keys), banned words and link detection. It has no state and no I/O, so every part is
// table-tested on its own.
package text

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
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
	// Invalid bytes first: the normaliser passes what follows one
	// through undecomposed, and a second pass would then change it.
	s = norm.NFKD.String(strings.ToValidUTF8(s, " "))
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

// Signature is a MinHash signature of the word bigrams (two-word
// shingles) of a normalised text: SignatureSize minimums, one per hash
// function. The share of positions where two signatures agree estimates
// the Jaccard similarity of the two texts' bigram sets, which stays high
// for a copy with a word added, dropped or changed even in a short review
// (a simhash of so few features moves by many bits). A text of one word
// uses the word; an empty one has no signature.
func Signature(normalized string) []uint32 {
	words := Words(normalized)
	if len(words) == 0 {
		return nil
	}
	features := make([]uint64, 0, len(words))
	if len(words) == 1 {
		features = append(features, hash64(words[0]))
	}
	for i := 0; i+1 < len(words); i++ {
		features = append(features, hash64(words[i]+" "+words[i+1]))
	}
	sig := make([]uint32, SignatureSize)
	for i := range sig {
		sig[i] = ^uint32(0)
		seed := seeds[i]
		for _, f := range features {
			if v := mix(f ^ seed); v < sig[i] {
				sig[i] = v
			}
		}
	}
	return sig
}

// SignatureSize is the number of hash functions of a Signature.
const SignatureSize = 16

// BandCount is how many bands a signature is looked up by: each band is
// SignatureSize/BandCount = 2 consecutive minimums, hashed into one key.
// Two texts of Jaccard similarity J share some band with probability
// 1-(1-J²)^8: 0.9997 at J = 0.8, 0.90 at 0.5, 0.55 at 0.3; unrelated
// texts almost never do, so each of the BandCount indexed lookups returns
// few candidates whatever the number of texts stored.
const BandCount = 8

// Bands returns the lookup keys of sig (nil for no signature).
func Bands(sig []uint32) []int64 {
	if len(sig) != SignatureSize {
		return nil
	}
	out := make([]int64, BandCount)
	rows := SignatureSize / BandCount
	for b := range out {
		h := uint64(b) << 56
		for _, v := range sig[b*rows : (b+1)*rows] {
			h = h*1099511628211 ^ uint64(v)
		}
		// 53 bits: exact as a JSON number and in every store.
		out[b] = int64(mix64(h) >> 11)
	}
	return out
}

// Similarity estimates the Jaccard similarity of the texts of two
// signatures: the share of agreeing positions, 0 when either is missing.
func Similarity(a, b []uint32) float64 {
	if len(a) != SignatureSize || len(b) != SignatureSize {
		return 0
	}
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	return float64(same) / SignatureSize
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// seeds make the SignatureSize hash functions out of one: mix(f ^ seed).
var seeds = func() [SignatureSize]uint64 {
	var out [SignatureSize]uint64
	x := uint64(0x9e3779b97f4a7c15)
	for i := range out {
		x = mix64(x + uint64(i))
		out[i] = x
	}
	return out
}()

// mix64 is the SplitMix64 finaliser: every input bit moves every output
// bit.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func mix(x uint64) uint32 { return uint32(mix64(x) >> 32) }

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
