package earn

import (
	"encoding/json"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/events/rule"
)

// Decimal is a number as written (1.5, 0.25), kept as its text so that it
// is read exactly, never through a float. It decodes a JSON number or a
// string holding one.
type Decimal string

// UnmarshalJSON keeps the number's text.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return err
		}
		*d = Decimal(s)
		return nil
	}
	*d = Decimal(b)
	return nil
}

// MarshalJSON writes the number as a JSON number when it is one.
func (d Decimal) MarshalJSON() ([]byte, error) {
	if _, ok := d.thousandths(); ok {
		return []byte(d), nil
	}
	return json.Marshal(string(d))
}

// Schema documents a Decimal as a number for OpenAPI; its precision is
// checked by Compile.
func (Decimal) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeNumber, Description: "A decimal with at most 3 decimals."}
}

func (d Decimal) thousandths() (int64, bool) {
	if d == "" {
		return 0, false
	}
	return rule.Scaled(json.Number(d))
}
