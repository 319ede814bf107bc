package points

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/questline/questline/internal/errs"
)

func TestBucketsJSON(t *testing.T) {
	at := time.Date(2028, 2, 29, 23, 0, 0, 0, time.UTC)
	for _, bs := range []Buckets{nil, {{At: at, Amount: 5}}, {{At: at, Amount: 5}, {At: at.Add(time.Hour), Amount: -1}}} {
		b := Balance{Held: 3, Expiring: bs}
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		var got Balance
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		if !reflect.DeepEqual(got, b) {
			t.Fatalf("%s read back as %+v, want %+v", data, got, b)
		}
	}
	for _, bad := range []string{`{"expiring":[1]}`, `{"expiring":"x"}`, `{"expiring":[1,"a"]}`} {
		var b Balance
		if err := json.Unmarshal([]byte(bad), &b); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}

// FuzzBuckets: the stored bucket form never panics on any input, and
// what it accepts encodes back to an equal list.
func FuzzBuckets(f *testing.F) {
	for _, s := range []string{`[]`, `[1,2]`, `[1,2,3,4]`, `[1]`, `["a",1]`, ` [ 5 , -3 ] `, `[9223372036854775807,1]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var bs Buckets
		if err := bs.UnmarshalJSON([]byte(s)); err != nil {
			return
		}
		data, err := bs.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var again Buckets
		if err := again.UnmarshalJSON(data); err != nil || !reflect.DeepEqual(again, bs) {
			t.Fatalf("%q → %s → %v, %v", s, data, again, err)
		}
	})
}

// FuzzPolicy: any policy either fails validation naming a field or
// gives lots whose expiry comes after their availability.
func FuzzPolicy(f *testing.F) {
	f.Add(14, "months", 12, "Europe/Paris", 7, int64(1_700_000_000_000))
	f.Add(0, "quarters", 0, "", 0, int64(0))
	f.Fuzz(func(t *testing.T, pending int, expiry string, n int, tz string, notice int, at int64) {
		p := Policy{PendingDays: pending, Expiry: expiry, ExpiryN: n, TimeZone: tz, NoticeDays: notice}
		if err := p.Validate(); err != nil {
			if e, ok := errs.As(err); !ok || e.Field == "" {
				t.Fatalf("%+v: %v names no field", p, err)
			}
			return
		}
		at = at % (1 << 45) // within years 800..2800 or so
		l := p.Lot(Entry{ID: "x", Amount: 1, CreatedAt: time.UnixMilli(at).UTC()})
		if !l.ExpiresAt.IsZero() && !l.ExpiresAt.After(l.AvailableAt) {
			t.Fatalf("%+v at %d: expires %s, available %s", p, at, l.ExpiresAt, l.AvailableAt)
		}
	})
}
