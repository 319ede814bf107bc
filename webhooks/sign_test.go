package webhooks

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks reference vectors (standard-webhooks repository,
// libraries/go/webhook_test.go, TestWebhookSign and TestWebhook).
const (
	vectorSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID      = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTime    = 1614265330
	vectorBody    = `{"test": 2432232314}`
	vectorSig     = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	vectorBadSig  = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
	vectorTimeout = 5 * time.Minute
)

func TestSignVector(t *testing.T) {
	for _, secret := range []string{vectorSecret, strings.TrimPrefix(vectorSecret, secretPrefix)} {
		got, err := Sign(secret, vectorID, time.Unix(vectorTime, 0), []byte(vectorBody))
		if err != nil {
			t.Fatal(err)
		}
		if got != vectorSig {
			t.Errorf("Sign(%s) = %s, want %s", secret, got, vectorSig)
		}
	}
}

func TestVerifyVectors(t *testing.T) {
	now := time.Unix(vectorTime, 0)
	header := func(edit func(h http.Header)) http.Header {
		h := http.Header{}
		h.Set(HeaderID, vectorID)
		h.Set(HeaderTimestamp, fmt.Sprint(vectorTime))
		h.Set(HeaderSignature, vectorSig)
		if edit != nil {
			edit(h)
		}
		return h
	}
	for _, tc := range []struct {
		name string
		h    http.Header
		now  time.Time
		ok   bool
	}{
		{"valid", header(nil), now, true},
		{"missing id", header(func(h http.Header) { h.Del(HeaderID) }), now, false},
		{"missing timestamp", header(func(h http.Header) { h.Del(HeaderTimestamp) }), now, false},
		{"missing signature", header(func(h http.Header) { h.Del(HeaderSignature) }), now, false},
		{"invalid signature", header(func(h http.Header) { h.Set(HeaderSignature, vectorBadSig) }), now, false},
		{"old timestamp", header(nil), now.Add(vectorTimeout + time.Second), false},
		{"new timestamp", header(nil), now.Add(-vectorTimeout - time.Second), false},
		{"multi signature", header(func(h http.Header) {
			h.Set(HeaderSignature, strings.Join([]string{vectorBadSig, "v2," + vectorBadSig[3:], vectorSig, vectorBadSig}, " "))
		}), now, true},
		{"other id", header(func(h http.Header) { h.Set(HeaderID, vectorID+"x") }), now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(vectorSecret, tc.h, []byte(vectorBody), tc.now, vectorTimeout)
			if (err == nil) != tc.ok {
				t.Errorf("Verify: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestSignaturesDuringOverlap(t *testing.T) {
	now := time.Unix(vectorTime, 0)
	fresh := NewSecret()
	until := now.Add(time.Hour)
	e := Endpoint{Secret: fresh, PreviousSecret: vectorSecret, PreviousUntil: &until}
	for _, tc := range []struct {
		name  string
		at    time.Time
		count int
	}{
		{"within overlap", now, 2},
		{"after overlap", until, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sigs, err := signatures(e, vectorID, tc.at, []byte(vectorBody))
			if err != nil {
				t.Fatal(err)
			}
			if n := len(strings.Fields(sigs)); n != tc.count {
				t.Fatalf("%d signatures, want %d: %s", n, tc.count, sigs)
			}
			h := http.Header{}
			h.Set(HeaderID, vectorID)
			h.Set(HeaderTimestamp, fmt.Sprint(tc.at.Unix()))
			h.Set(HeaderSignature, sigs)
			if err := Verify(fresh, h, []byte(vectorBody), tc.at, vectorTimeout); err != nil {
				t.Errorf("new secret: %v", err)
			}
			err = Verify(vectorSecret, h, []byte(vectorBody), tc.at, vectorTimeout)
			if (err == nil) != (tc.count == 2) {
				t.Errorf("old secret: %v", err)
			}
		})
	}
}
