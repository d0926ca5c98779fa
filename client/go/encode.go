package ophost

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"unicode/utf8"

	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

// MaxNestingDepth is how many levels of nested containers (lists, tuples,
// sets, maps) a value may have. The protocol guarantees 30; deeper values are
// refused before they are sent, as the server could not parse them.
const MaxNestingDepth = 30

// EncodeValue converts a Go value to its wire form (see the package
// documentation for the mapping). A value that cannot be converted gives a
// *ValueError whose Path is relative to v ("" for v itself, "[2].x" inside).
func EncodeValue(v any) (*ophostv1.Value, error) {
	return encode(v, "", 0)
}

// encodeAt converts v, reporting errors at path (for example "inputs.rows").
func encodeAt(v any, path string) (*ophostv1.Value, error) {
	return encode(v, path, 0)
}

func encode(v any, path string, depth int) (*ophostv1.Value, error) {
	switch x := v.(type) {
	case nil:
		return nullValue(), nil
	case *ophostv1.Value:
		if x == nil {
			return nullValue(), nil
		}
		if x.GetChunkedValue() != nil {
			return nil, valueErr(path, v, "a chunked_value reference cannot be sent as a value")
		}
		return x, nil
	case bool:
		return &ophostv1.Value{Kind: &ophostv1.Value_BoolValue{BoolValue: x}}, nil
	case string:
		return encodeString(x, path, v)
	case []byte:
		return &ophostv1.Value{Kind: &ophostv1.Value_BytesValue{BytesValue: x}}, nil
	case *big.Int:
		if x == nil {
			return nullValue(), nil
		}
		return bigValue(x), nil
	case float64:
		return doubleValue(x), nil
	case float32:
		return doubleValue(float64(x)), nil
	case int:
		return intValue(int64(x)), nil
	case int64:
		return intValue(x), nil
	case Map:
		return encodeMap(x, path, depth)
	case Tuple:
		return encodeSeq(x, path, depth, func(l *ophostv1.ListValue) *ophostv1.Value {
			return &ophostv1.Value{Kind: &ophostv1.Value_TupleValue{TupleValue: l}}
		})
	case Set:
		return encodeSeq(x, path, depth, func(l *ophostv1.ListValue) *ophostv1.Value {
			return &ophostv1.Value{Kind: &ophostv1.Value_SetValue{SetValue: l}}
		})
	case []any:
		return encodeSeq(x, path, depth, listValue)
	}
	return encodeReflect(reflect.ValueOf(v), path, depth)
}

// encodeReflect handles named types and the kinds the type switch above
// does not list (other int widths, typed slices and maps, pointers).
func encodeReflect(rv reflect.Value, path string, depth int) (*ophostv1.Value, error) {
	switch rv.Kind() {
	case reflect.Bool:
		return &ophostv1.Value{Kind: &ophostv1.Value_BoolValue{BoolValue: rv.Bool()}}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intValue(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u <= math.MaxInt64 {
			return intValue(int64(u)), nil
		}
		return bigValue(new(big.Int).SetUint64(u)), nil
	case reflect.Float32, reflect.Float64:
		return doubleValue(rv.Float()), nil
	case reflect.String:
		return encodeString(rv.String(), path, rv.Interface())
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return &ophostv1.Value{Kind: &ophostv1.Value_BytesValue{BytesValue: rv.Bytes()}}, nil
		}
		return encodeReflectSeq(rv, path, depth)
	case reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			data := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(data), rv)
			return &ophostv1.Value{Kind: &ophostv1.Value_BytesValue{BytesValue: data}}, nil
		}
		return encodeReflectSeq(rv, path, depth)
	case reflect.Map:
		return encodeGoMap(rv, path, depth)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nullValue(), nil
		}
		return encode(rv.Elem().Interface(), path, depth)
	}
	return nil, valueErr(path, rv.Interface(), "the type has no wire form")
}

func encodeString(s, path string, original any) (*ophostv1.Value, error) {
	if !utf8.ValidString(s) {
		return nil, valueErr(path, original, "the string is not valid UTF-8")
	}
	return &ophostv1.Value{Kind: &ophostv1.Value_StringValue{StringValue: s}}, nil
}

func enter(path string, depth int, v any) (int, error) {
	if depth+1 > MaxNestingDepth {
		return 0, valueErr(path, v, fmt.Sprintf("containers are nested more than %d levels deep", MaxNestingDepth))
	}
	return depth + 1, nil
}

func encodeSeq[S ~[]any](items S, path string, depth int, wrap func(*ophostv1.ListValue) *ophostv1.Value) (*ophostv1.Value, error) {
	depth, err := enter(path, depth, items)
	if err != nil {
		return nil, err
	}
	list := &ophostv1.ListValue{Values: make([]*ophostv1.Value, len(items))}
	for i, item := range items {
		if list.Values[i], err = encode(item, indexPath(path, i), depth); err != nil {
			return nil, err
		}
	}
	return wrap(list), nil
}

func encodeReflectSeq(rv reflect.Value, path string, depth int) (*ophostv1.Value, error) {
	depth, err := enter(path, depth, rv.Interface())
	if err != nil {
		return nil, err
	}
	list := &ophostv1.ListValue{Values: make([]*ophostv1.Value, rv.Len())}
	for i := range rv.Len() {
		if list.Values[i], err = encode(rv.Index(i).Interface(), indexPath(path, i), depth); err != nil {
			return nil, err
		}
	}
	return listValue(list), nil
}

func encodeMap(m Map, path string, depth int) (*ophostv1.Value, error) {
	depth, err := enter(path, depth, m)
	if err != nil {
		return nil, err
	}
	entries := make([]*ophostv1.MapEntry, len(m))
	for i, entry := range m {
		key, err := encode(entry.Key, fmt.Sprintf("%s{key %d}", path, i), depth)
		if err != nil {
			return nil, err
		}
		value, err := encode(entry.Value, keyPath(path, entry.Key), depth)
		if err != nil {
			return nil, err
		}
		entries[i] = &ophostv1.MapEntry{Key: key, Value: value}
	}
	return mapValue(entries), nil
}

// encodeGoMap encodes a Go map with its keys sorted, so that the same map
// always has the same encoding (which idempotent starts by request id need).
func encodeGoMap(rv reflect.Value, path string, depth int) (*ophostv1.Value, error) {
	depth, err := enter(path, depth, rv.Interface())
	if err != nil {
		return nil, err
	}
	keys := rv.MapKeys()
	slices.SortFunc(keys, compareKeys)
	entries := make([]*ophostv1.MapEntry, len(keys))
	for i, k := range keys {
		keyAny := k.Interface()
		key, err := encode(keyAny, fmt.Sprintf("%s{key %v}", path, keyAny), depth)
		if err != nil {
			return nil, err
		}
		value, err := encode(rv.MapIndex(k).Interface(), keyPath(path, keyAny), depth)
		if err != nil {
			return nil, err
		}
		entries[i] = &ophostv1.MapEntry{Key: key, Value: value}
	}
	return mapValue(entries), nil
}

// compareKeys orders map keys: numbers by value, strings lexically, anything
// else (and keys of different kinds) by their printed form.
func compareKeys(a, b reflect.Value) int {
	for a.Kind() == reflect.Interface && !a.IsNil() {
		a = a.Elem()
	}
	for b.Kind() == reflect.Interface && !b.IsNil() {
		b = b.Elem()
	}
	if a.Kind() == b.Kind() {
		switch a.Kind() {
		case reflect.String:
			return cmp.Compare(a.String(), b.String())
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return cmp.Compare(a.Int(), b.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			return cmp.Compare(a.Uint(), b.Uint())
		case reflect.Float32, reflect.Float64:
			return cmp.Compare(a.Float(), b.Float())
		}
	}
	return cmp.Compare(fmt.Sprintf("%T %#v", a.Interface(), a.Interface()), fmt.Sprintf("%T %#v", b.Interface(), b.Interface()))
}

func indexPath(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// keyPath names a map entry: ".name" for string keys, "[key]" otherwise.
func keyPath(path string, key any) string {
	if s, ok := key.(string); ok {
		if path == "" {
			return s
		}
		return path + "." + s
	}
	return fmt.Sprintf("%s[%v]", path, key)
}

func nullValue() *ophostv1.Value {
	return &ophostv1.Value{Kind: &ophostv1.Value_NullValue{NullValue: &ophostv1.NullValue{}}}
}

func intValue(i int64) *ophostv1.Value {
	return &ophostv1.Value{Kind: &ophostv1.Value_IntValue{IntValue: i}}
}

func bigValue(b *big.Int) *ophostv1.Value {
	if b.IsInt64() {
		return intValue(b.Int64())
	}
	return &ophostv1.Value{Kind: &ophostv1.Value_BigIntValue{BigIntValue: b.String()}}
}

func doubleValue(f float64) *ophostv1.Value {
	return &ophostv1.Value{Kind: &ophostv1.Value_DoubleValue{DoubleValue: f}}
}

func listValue(l *ophostv1.ListValue) *ophostv1.Value {
	return &ophostv1.Value{Kind: &ophostv1.Value_ListValue{ListValue: l}}
}

func mapValue(entries []*ophostv1.MapEntry) *ophostv1.Value {
	return &ophostv1.Value{Kind: &ophostv1.Value_MapValue{MapValue: &ophostv1.MapValue{Entries: entries}}}
}
