package mongo

import (
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/questline/questline/storage/internal/norm"
)

// mapToRaw stores a map already normalised by norm.JSONMap (JSON types
// only) as a BSON document; nil stays nil so the field is omitted.
func mapToRaw(m map[string]any) (bson.Raw, error) {
	if m == nil {
		return nil, nil
	}
	return bson.Marshal(m)
}

// jsonToRaw stores a JSON object as a BSON document with the same field
// names and values, so a struct keeps its json tags in the database.
func jsonToRaw(b []byte) (bson.Raw, error) {
	if b == nil {
		return nil, nil
	}
	m, err := norm.DecodeMap(b)
	if err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return bson.Marshal(m)
}

// rawToMap reads a document back as encoding/json would have decoded its
// JSON form: numbers as float64, documents as map[string]any, arrays as
// []any. Values JSON has no type for (set by hand in the database) become
// what their JSON encoding would decode to: dates as RFC 3339 strings,
// other exotic types as their string form.
func rawToMap(r bson.Raw) (map[string]any, error) {
	if len(r) == 0 {
		return nil, nil
	}
	elems, err := r.Elements()
	if err != nil {
		return nil, err
	}
	if len(elems) == 0 {
		return nil, nil
	}
	m := make(map[string]any, len(elems))
	for _, e := range elems {
		v, err := fromBSON(e.Value())
		if err != nil {
			return nil, err
		}
		m[e.Key()] = v
	}
	return m, nil
}

func fromBSON(v bson.RawValue) (any, error) {
	switch v.Type {
	case bson.TypeDouble:
		return v.Double(), nil
	case bson.TypeInt32:
		return float64(v.Int32()), nil
	case bson.TypeInt64:
		return float64(v.Int64()), nil
	case bson.TypeDecimal128:
		var f float64
		if _, err := fmt.Sscan(v.Decimal128().String(), &f); err != nil {
			return nil, err
		}
		return f, nil
	case bson.TypeString:
		return v.StringValue(), nil
	case bson.TypeBoolean:
		return v.Boolean(), nil
	case bson.TypeNull, bson.TypeUndefined:
		return nil, nil
	case bson.TypeEmbeddedDocument:
		doc := v.Document()
		elems, err := doc.Elements()
		if err != nil {
			return nil, err
		}
		m := make(map[string]any, len(elems))
		for _, e := range elems {
			x, err := fromBSON(e.Value())
			if err != nil {
				return nil, err
			}
			m[e.Key()] = x
		}
		return m, nil
	case bson.TypeArray:
		vals, err := v.Array().Values()
		if err != nil {
			return nil, err
		}
		a := make([]any, len(vals))
		for i, x := range vals {
			if a[i], err = fromBSON(x); err != nil {
				return nil, err
			}
		}
		return a, nil
	case bson.TypeDateTime:
		return v.Time().UTC().Format(time.RFC3339Nano), nil
	default:
		return v.String(), nil
	}
}

// rawToJSON decodes a document stored by jsonToRaw into dst.
func rawToJSON(r bson.Raw, dst any) error {
	m, err := rawToMap(r)
	if err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

// tptr normalises an optional time read from BSON.
func tptr(t *time.Time) *time.Time { return norm.TruncPtr(t) }
