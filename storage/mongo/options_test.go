package mongo

import (
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// TestClientOptionsPinConsistency checks that a URI cannot loosen the read
// preference or the write concern, while its other settings still apply.
// It needs no server.
func TestClientOptionsPinConsistency(t *testing.T) {
	for _, tc := range []struct {
		name, uri   string
		wantTimeout time.Duration
	}{
		{"defaults", "mongodb://127.0.0.1:27017/", ServerSelectionTimeout},
		{"secondary reads, w:1", "mongodb://127.0.0.1:27017/?readPreference=secondaryPreferred&w=1", ServerSelectionTimeout},
		{"nearest, unacknowledged, journal off", "mongodb://127.0.0.1:27017/?readPreference=nearest&w=0&journal=false", ServerSelectionTimeout},
		{"secondary, w:2, own timeout", "mongodb://h1:27017,h2:27017/?replicaSet=rs0&readPreference=secondary&w=2&serverSelectionTimeoutMS=750", 750 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := clientOptions(tc.uri)
			if err := opts.Validate(); err != nil {
				t.Fatalf("options: %v", err)
			}
			if opts.ReadPreference == nil || opts.ReadPreference.Mode() != readpref.PrimaryMode {
				t.Errorf("read preference = %v, want primary", opts.ReadPreference)
			}
			if wc := opts.WriteConcern; wc == nil || wc.W != writeconcern.WCMajority || wc.Journal != nil {
				t.Errorf("write concern = %+v, want majority with the server's journal default", wc)
			}
			if opts.ServerSelectionTimeout == nil || *opts.ServerSelectionTimeout != tc.wantTimeout {
				t.Errorf("server selection timeout = %v, want %v", opts.ServerSelectionTimeout, tc.wantTimeout)
			}
		})
	}
}

// TestOverridden names exactly the URI settings that clientOptions
// overrides, so the node can warn of them. It needs no server.
func TestOverridden(t *testing.T) {
	for _, tc := range []struct{ uri, want string }{
		{"mongodb://127.0.0.1:27017/", ""},
		{"mongodb://127.0.0.1:27017/?readPreference=primary&w=majority&journal=true", ""},
		{"mongodb://h1,h2/?replicaSet=rs0&serverSelectionTimeoutMS=750&maxPoolSize=5", ""},
		{"mongodb://127.0.0.1:27017/?readPreference=secondaryPreferred", "readPreference=secondaryPreferred"},
		{"mongodb://127.0.0.1:27017/?w=1", "w=1"},
		{"mongodb://127.0.0.1:27017/?readPreference=nearest&w=0&journal=false", "readPreference=nearest w=0 journal=false"},
	} {
		if got := strings.Join(Overridden(tc.uri), " "); got != tc.want {
			t.Errorf("Overridden(%s) = %q, want %q", tc.uri, got, tc.want)
		}
	}
}
