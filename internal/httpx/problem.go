// Package httpx holds the HTTP plumbing every domain shares: the one place
// where errors become RFC 9457 problem+json, request ids, access logs and
// request metrics.
package httpx

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/internal/errs"
)

// RetryAfter is the Retry-After (seconds) of every 503: long enough for a
// failed-over backend to come back, short enough that clients recover soon.
const RetryAfter = "5"

// ProblemBase prefixes every problem type; the suffix is the stable code.
const ProblemBase = "https://questline.dev/problems/"

var statusOf = map[errs.Kind]int{
	errs.Internal:      http.StatusInternalServerError,
	errs.Invalid:       http.StatusBadRequest,
	errs.Unauthorized:  http.StatusUnauthorized,
	errs.Forbidden:     http.StatusForbidden,
	errs.NotFound:      http.StatusNotFound,
	errs.Conflict:      http.StatusConflict,
	errs.TooLarge:      http.StatusRequestEntityTooLarge,
	errs.Unprocessable: http.StatusUnprocessableEntity,
	errs.RateLimited:   http.StatusTooManyRequests,
	errs.Unavailable:   http.StatusServiceUnavailable,
}

// codeOfStatus names the problems huma raises itself (validation, body
// parsing), so they get a stable type too.
var codeOfStatus = map[int]string{
	http.StatusBadRequest:            "bad-request",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not-found",
	http.StatusMethodNotAllowed:      "method-not-allowed",
	http.StatusNotAcceptable:         "not-acceptable",
	http.StatusConflict:              "conflict",
	http.StatusRequestEntityTooLarge: "body-too-large",
	http.StatusUnsupportedMediaType:  "unsupported-media-type",
	http.StatusUnprocessableEntity:   "validation-failed",
	http.StatusTooManyRequests:       "rate-limited",
	http.StatusInternalServerError:   "internal",
	http.StatusServiceUnavailable:    "unavailable",
}

// Status returns the HTTP status for an error kind.
func Status(k errs.Kind) int { return statusOf[k] }

// CodeForStatus returns the stable problem code for an HTTP status.
func CodeForStatus(status int) string {
	if c, ok := codeOfStatus[status]; ok {
		return c
	}
	return "error"
}

var installOnce sync.Once

// InstallErrors points huma's error constructor at Questline's mapping.
// huma offers only this package-level hook, so it is set once per process:
// a handler may then return any error, and the client sees the *errs.Error
// in its chain as problem+json, or a bare 500 (logged with its cause) when
// there is none, so storage errors never leak.
func InstallErrors(logger *slog.Logger) {
	installOnce.Do(func() {
		huma.NewErrorWithContext = func(ctx huma.Context, status int, msg string, list ...error) huma.StatusError {
			for _, err := range list {
				if e, ok := errs.As(err); ok {
					if e.Kind == errs.Unavailable && ctx != nil {
						// huma takes headers only from the handler's error
						// chain, which errs cannot carry; the context can.
						ctx.SetHeader("Retry-After", RetryAfter)
					}
					return FromError(e)
				}
			}
			if status >= 500 {
				attrs := []any{"status", status, "msg", msg}
				if ctx != nil {
					attrs = append(attrs, "path", ctx.URL().Path, "request_id", ctx.Header("X-Request-Id"))
				}
				if len(list) > 0 {
					attrs = append(attrs, "err", errors.Join(list...))
				}
				logger.Error("request failed", attrs...)
				return problem(status, "internal", "internal error; the request id identifies it in the logs", nil)
			}
			return problem(status, CodeForStatus(status), msg, list)
		}
	})
}

// FromError turns a client-visible error into a problem.
func FromError(e *errs.Error) huma.StatusError { return Problem(e) }

// Problem is the problem+json body of a client-visible error, for answers
// that carry several (a batch's items).
func Problem(e *errs.Error) *huma.ErrorModel {
	status := Status(e.Kind)
	if e.Kind == errs.Internal {
		return problem(status, "internal", "internal error", nil)
	}
	p := problem(status, e.Code, e.Message, nil)
	if e.Field != "" {
		p.Errors = []*huma.ErrorDetail{{Message: e.Message, Location: e.Field}}
	}
	return p
}

func problem(status int, code, detail string, list []error) *huma.ErrorModel {
	m := &huma.ErrorModel{
		Type:   ProblemBase + code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
	}
	for _, err := range list {
		if err == nil {
			continue
		}
		if d, ok := err.(huma.ErrorDetailer); ok {
			m.Errors = append(m.Errors, d.ErrorDetail())
		} else {
			m.Errors = append(m.Errors, &huma.ErrorDetail{Message: err.Error()})
		}
	}
	return m
}
