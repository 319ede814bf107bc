// Package errs is Questline's one error type. Domain packages return *Error
// (or wrap the sentinels below); internal/httpx maps a Kind to an HTTP status
// and the Code to a stable problem+json type in one place, so storage and
// driver errors never reach a client.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the transport layer.
type Kind int

// The kinds of error a client can be shown. Anything else is internal.
const (
	Internal      Kind = iota // 500: never carries detail to the client
	Invalid                   // 400: malformed request
	Unauthorized              // 401: missing or bad credential
	Forbidden                 // 403: credential lacks the role or scope
	NotFound                  // 404: no such resource in the caller's tenant
	Conflict                  // 409: state does not allow the action
	TooLarge                  // 413: body over the limit
	Unprocessable             // 422: well-formed but semantically wrong
	RateLimited               // 429: slow down
	Unavailable               // 503: a backend is down
)

// Error is an error a client may see: a kind, a stable code and a message.
type Error struct {
	Kind    Kind
	Code    string // stable, kebab-case; becomes the problem type
	Message string // human readable, safe to show
	Field   string // optional: the request field at fault
	Err     error  // optional cause, never shown to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an Error of the given kind.
func New(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// OnField returns a copy of e that points at a request field.
func (e *Error) OnField(field string) *Error {
	c := *e
	c.Field = field
	return &c
}

// Storage sentinels: stores wrap these so services can tell "absent" and
// "already there" apart from real failures without importing a driver.
var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("duplicate key")
)

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// KindOf returns the Kind of err: its *Error's kind, NotFound for a wrapped
// ErrNotFound, Conflict for ErrDuplicate, Internal otherwise.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return NotFound
	case errors.Is(err, ErrDuplicate):
		return Conflict
	}
	return Internal
}
