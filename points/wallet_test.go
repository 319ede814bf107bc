package points

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
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
