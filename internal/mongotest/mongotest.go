// Package mongotest gives tests the MongoDB-wire server named by MONGO_URI.
//
// Nothing is started here: .ci/mongo-up starts a throwaway one (FerretDB)
// for CI and for developers. Without MONGO_URI the MongoDB tests skip,
// except under CI=true, where a missing server is a failure, so a CI run
// can never pass with the MongoDB suites silently skipped.
package mongotest

import (
	"os"
	"testing"
)

// URI returns MONGO_URI, or skips the test when it is unset (fails it
// under CI=true).
func URI(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("MONGO_URI"); u != "" {
		return u
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("mongotest: MONGO_URI not set (CI=true requires MongoDB; .ci/run starts one with .ci/mongo-up)")
	}
	t.Skip("mongotest: MONGO_URI not set; skipping MongoDB tests (.ci/mongo-up starts a throwaway server)")
	return ""
}
