package ophost

import (
	"fmt"
	"math/big"
	"regexp"

	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

// bigIntPattern is the decimal form of Value.big_int_value.
var bigIntPattern = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// DecodeValue converts a wire value to Go: nil, bool, int64, *big.Int (for
// big_int_value), float64, string, []byte, []any, Tuple, Set or Map. A
// malformed value (no kind set, a bad big integer, a chunked_value reference)
// gives a *ValueError.
func DecodeValue(v *ophostv1.Value) (any, error) {
	return decode(v, "")
}

func decode(v *ophostv1.Value, path string) (any, error) {
	if v == nil {
		return nil, &ValueError{Path: path, Reason: "the value is missing"}
	}
	switch kind := v.GetKind().(type) {
	case *ophostv1.Value_NullValue:
		return nil, nil
	case *ophostv1.Value_BoolValue:
		return kind.BoolValue, nil
	case *ophostv1.Value_IntValue:
		return kind.IntValue, nil
	case *ophostv1.Value_DoubleValue:
		return kind.DoubleValue, nil
	case *ophostv1.Value_StringValue:
		return kind.StringValue, nil
	case *ophostv1.Value_BytesValue:
		if kind.BytesValue == nil {
			return []byte{}, nil
		}
		return kind.BytesValue, nil
	case *ophostv1.Value_BigIntValue:
		n, ok := new(big.Int).SetString(kind.BigIntValue, 10)
		if !ok || !bigIntPattern.MatchString(kind.BigIntValue) {
			return nil, &ValueError{Path: path, Reason: fmt.Sprintf("big_int_value %q is not a base-10 integer", kind.BigIntValue)}
		}
		return n, nil
	case *ophostv1.Value_ListValue:
		return decodeList(kind.ListValue, path)
	case *ophostv1.Value_TupleValue:
		items, err := decodeList(kind.TupleValue, path)
		return Tuple(items), err
	case *ophostv1.Value_SetValue:
		items, err := decodeList(kind.SetValue, path)
		return Set(items), err
	case *ophostv1.Value_MapValue:
		return decodeMap(kind.MapValue, path)
	case *ophostv1.Value_ChunkedValue:
		return nil, &ValueError{Path: path, Reason: "a chunked_value reference appears where a whole value is expected"}
	}
	return nil, &ValueError{Path: path, Reason: "the value has no kind this client knows"}
}

func decodeList(l *ophostv1.ListValue, path string) ([]any, error) {
	items := make([]any, len(l.GetValues()))
	for i, item := range l.GetValues() {
		var err error
		if items[i], err = decode(item, indexPath(path, i)); err != nil {
			return nil, err
		}
	}
	return items, nil
}

func decodeMap(m *ophostv1.MapValue, path string) (Map, error) {
	entries := make(Map, len(m.GetEntries()))
	for i, entry := range m.GetEntries() {
		key, err := decode(entry.GetKey(), fmt.Sprintf("%s{key %d}", path, i))
		if err != nil {
			return nil, err
		}
		value, err := decode(entry.GetValue(), keyPath(path, key))
		if err != nil {
			return nil, err
		}
		entries[i] = MapEntry{Key: key, Value: value}
	}
	return entries, nil
}
