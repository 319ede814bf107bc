package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// secretPrefix marks a Standard Webhooks signing secret; the rest is the
// base64 of the key.
const secretPrefix = "whsec_"

// The Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// NewSecret returns a fresh signing secret: whsec_ and 32 random bytes in
// base64, as the Standard Webhooks libraries generate them.
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// secretKey decodes a whsec_ secret (the prefix is optional, as in the
// reference libraries) to its HMAC key.
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil {
		return nil, fmt.Errorf("webhooks: bad secret: %w", err)
	}
	return key, nil
}

// Sign returns the v1 signature of a message: "v1," and the base64
// HMAC-SHA256, keyed by the secret, of "id.timestamp.body".
func Sign(secret, id string, at time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(at.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Verify checks a received message the way a receiver must: the headers
// present, the timestamp within tolerance of now, and one of the
// space-separated signatures a v1 signature of the secret. Questline does
// not need it to send; it is the receiver's half, kept here so the tests
// check both sides against the published vectors.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("webhooks: verify: missing %s, %s or %s", HeaderID, HeaderTimestamp, HeaderSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhooks: verify: bad timestamp %q", ts)
	}
	at := time.Unix(sec, 0)
	if tolerance > 0 && (now.Sub(at) > tolerance || at.Sub(now) > tolerance) {
		return fmt.Errorf("webhooks: verify: timestamp %s outside tolerance", at.UTC())
	}
	want, err := Sign(secret, id, at, body)
	if err != nil {
		return err
	}
	for _, sig := range strings.Fields(sigs) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("webhooks: verify: no matching signature")
}

// signatures is the webhook-signature header of a delivery to e at at: one
// signature per live secret, the previous one too during the overlap.
func signatures(e Endpoint, id string, at time.Time, body []byte) (string, error) {
	sig, err := Sign(e.Secret, id, at, body)
	if err != nil {
		return "", err
	}
	if e.PreviousSecret != "" && e.PreviousUntil != nil && at.Before(*e.PreviousUntil) {
		old, err := Sign(e.PreviousSecret, id, at, body)
		if err != nil {
			return "", err
		}
		sig += " " + old
	}
	return sig, nil
}
