package audit

import (
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
)

func TestSubject(t *testing.T) {
	userParam := func(name string) *huma.Param {
		return &huma.Param{Name: name, In: "path", Schema: &huma.Schema{Format: auth.UserIDFormat}}
	}
	params := map[string]string{"id": "c1", "uid": "ann"}
	tests := []struct {
		path   string
		params []*huma.Param
		want   string
	}{
		{"/v1/challenges", nil, "challenges"},
		{"/v1/challenges/{id}/publish", nil, "challenge:c1"},
		{"/v1/api-keys/{id}", nil, "api-key:c1"},
		{"/v1/users/{uid}/attributes", []*huma.Param{userParam("uid")}, "user:ann"},
		{"/v1/leaderboards/{id}/exclusions/{uid}", []*huma.Param{{Name: "id", In: "path"}, userParam("uid")}, "leaderboard:c1/user:ann"},
	}
	for _, tt := range tests {
		op := &huma.Operation{Path: tt.path, Parameters: tt.params}
		if got := subject(op, func(n string) string { return params[n] }); got != tt.want {
			t.Errorf("subject(%s) = %q, want %q", tt.path, got, tt.want)
		}
	}
}
