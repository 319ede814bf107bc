package httpx

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/questline/questline/internal/errs"
)

// ParamRule checks the path parameters of one OpenAPI format.
type ParamRule struct {
	Valid   func(string) bool
	Code    string // the problem code of a value Valid refuses (422)
	Message string
}

// PathParams is the huma middleware that percent-decodes every path
// parameter before the handler sees it, and checks those whose schema
// format has a rule. Fiber hands path parameters over raw, so without it
// user%40example.com would reach a handler as is and name another user.
// Decoding after routing keeps an encoded slash inside its segment. A
// malformed escape is a 400, a value its rule refuses a 422 naming the
// parameter (path.<name>).
func PathParams(api huma.API, rules map[string]ParamRule) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		var decoded map[string]string
		for _, p := range ctx.Operation().Parameters {
			if p.In != "path" {
				continue
			}
			raw := ctx.Param(p.Name)
			v, err := url.PathUnescape(raw)
			if err != nil {
				_ = huma.WriteErr(api, ctx, http.StatusBadRequest, "", errs.New(errs.Invalid, "bad-path-escape",
					"path parameter %s is not validly percent-encoded", p.Name).OnField("path."+p.Name))
				return
			}
			if p.Schema != nil {
				if r, ok := rules[p.Schema.Format]; ok && !r.Valid(v) {
					_ = huma.WriteErr(api, ctx, http.StatusUnprocessableEntity, "",
						errs.New(errs.Unprocessable, r.Code, "%s", r.Message).OnField("path."+p.Name))
					return
				}
			}
			if v != raw {
				if decoded == nil {
					decoded = map[string]string{}
				}
				decoded[p.Name] = v
			}
		}
		if decoded != nil {
			ctx = decodedParams{humaContext: ctx, params: decoded}
		}
		next(ctx)
	}
}

// humaContext names the embedded huma.Context of decodedParams, whose
// own name would clash with its Context method.
type humaContext = huma.Context

// decodedParams is a huma.Context whose path parameters are decoded.
type decodedParams struct {
	humaContext
	params map[string]string
}

func (c decodedParams) Param(name string) string {
	if v, ok := c.params[name]; ok {
		return v
	}
	return c.humaContext.Param(name)
}

// ValidJSONText reports whether a JSON body is valid UTF-8 and has no
// string escape that decodes to an unpaired surrogate (\ud800 alone):
// encoding/json turns both into U+FFFD, so a name would be stored other
// than it was sent. It does not check the JSON syntax; the decoder does.
func ValidJSONText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	// Outside strings valid JSON has no backslash, so every one starts an
	// escape; an invalid body fails in the decoder anyway.
	for i := bytes.IndexByte(b, '\\'); i >= 0; {
		rest := b[i:]
		if len(rest) < 2 {
			return true
		}
		step := 2
		if rest[1] == 'u' {
			r, ok := hex4(rest[2:])
			switch {
			case !ok:
				return true // malformed: the decoder refuses it
			case r >= 0xdc00 && r <= 0xdfff:
				return false // a low surrogate first
			case r >= 0xd800 && r <= 0xdbff:
				low, ok := uint16(0), len(rest) >= 12 && rest[6] == '\\' && rest[7] == 'u'
				if ok {
					low, ok = hex4(rest[8:])
				}
				if !ok || low < 0xdc00 || low > 0xdfff {
					return false
				}
				step = 12
			default:
				step = 6
			}
		}
		j := bytes.IndexByte(b[i+step:], '\\')
		if j < 0 {
			return true
		}
		i += step + j
	}
	return true
}

// hex4 parses the four hex digits of a \u escape.
func hex4(b []byte) (uint16, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r uint16
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | uint16(c)
	}
	return r, true
}

// TextBodies refuses, with a 400 invalid-utf8 problem, a JSON request
// body (or one without a content type, which huma reads as JSON) that is
// not valid UTF-8 text (see ValidJSONText), before any handler decodes it.
func TextBodies() fiber.Handler {
	return func(c *fiber.Ctx) error {
		body := c.Body()
		if len(body) == 0 {
			return c.Next()
		}
		if ct := c.Get(fiber.HeaderContentType); ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
			return c.Next()
		}
		if !ValidJSONText(body) {
			return WriteProblem(c, http.StatusBadRequest, "invalid-utf8",
				"the body must be UTF-8 text: it holds invalid UTF-8 or an unpaired \\u surrogate escape")
		}
		return c.Next()
	}
}
