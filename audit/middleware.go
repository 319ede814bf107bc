package audit

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
)

// selfKey marks, in huma.Operation.Metadata, an operation whose handler
// records its own entries.
const selfKey = "questline.audit.self"

// SelfAudited returns op marked as recording its own entries, with what
// only its handler knows (an exclusion's reason, the pseudonym that stands
// for an erased user), so that Middleware does not record it again.
func SelfAudited(op huma.Operation) huma.Operation {
	op.Metadata = maps.Clone(op.Metadata)
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[selfKey] = true
	return op
}

// Middleware records every change staff make through the API, in one
// place so that no manager route can be left out: each successful call,
// other than a read, of an operation whose access names roles rather than
// every person (the Managers and Admins routes, and manage API keys on
// them). The entry's action is the operation id (publish-challenge), its
// subject the objects the path names (challenge:{id}, or
// leaderboard:{id}/user:{uid}: a user comes last, as the erasure of a
// user expects), and its detail the method and status.
//
// The entry is written after the answer: a failure to write it is logged,
// never turned into a failed change that did happen.
func Middleware(l *Log, logger *slog.Logger) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		next(ctx)
		op := ctx.Operation()
		if op.Method == http.MethodGet || op.Method == http.MethodHead || op.Metadata[selfKey] == true ||
			ctx.Status() < 200 || ctx.Status() >= 300 {
			return
		}
		a, ok := auth.AccessOf(op)
		if !ok || a.Public || a.People || len(a.Roles) == 0 {
			return
		}
		p, ok := auth.FromContext(ctx.Context())
		if !ok {
			return
		}
		e := Entry{
			Tenant: p.Tenant, Actor: p.Subject, Action: op.OperationID, Subject: subject(op, ctx.Param),
			Detail: map[string]string{"method": op.Method, "status": strconv.Itoa(ctx.Status())},
			At:     time.Now().UTC().Truncate(time.Millisecond),
		}
		// The request's own deadline may be spent by now.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx.Context()), 5*time.Second)
		defer cancel()
		if err := l.Append(actx, e); err != nil {
			logger.Error("audit: a staff change was made but not recorded", "action", e.Action, "subject", e.Subject, "actor", e.Actor, "err", err)
		}
	}
}

// subject names what op's path points at: kind:id for each path
// parameter, the kind being the segment before it in the singular
// (/v1/challenges/{id} is challenge:{id}), and a user id last as
// user:{id}; a path without parameters names its collection (api-keys).
func subject(op *huma.Operation, param func(string) string) string {
	segs := strings.Split(strings.Trim(op.Path, "/"), "/")
	var parts []string
	user := ""
	for i, seg := range segs {
		name, ok := strings.CutPrefix(seg, "{")
		if !ok || i == 0 {
			continue
		}
		name = strings.TrimSuffix(name, "}")
		if isUserParam(op, name) {
			user = "user:" + param(name)
			continue
		}
		parts = append(parts, strings.TrimSuffix(segs[i-1], "s")+":"+param(name))
	}
	if user != "" {
		parts = append(parts, user)
	}
	if len(parts) == 0 {
		return segs[len(segs)-1]
	}
	return strings.Join(parts, "/")
}

func isUserParam(op *huma.Operation, name string) bool {
	for _, p := range op.Parameters {
		if p.In == "path" && p.Name == name {
			return p.Schema != nil && p.Schema.Format == auth.UserIDFormat
		}
	}
	return false
}
