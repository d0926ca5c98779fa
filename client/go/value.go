package ophost

import (
	"reflect"
)

// Map is a mapping that keeps its entries in order and allows keys of any
// kind, like a Python dict. Decoded map values are always a Map.
type Map []MapEntry

// MapEntry is one key/value pair of a Map.
type MapEntry struct {
	// Key is the entry's key: any value the client can convert.
	Key any
	// Value is the entry's value.
	Value any
}

// Get returns the value of the last entry whose key equals key (compared with
// reflect.DeepEqual, so decoded integer keys must be looked up as int64).
func (m Map) Get(key any) (any, bool) {
	for i := len(m) - 1; i >= 0; i-- {
		if reflect.DeepEqual(m[i].Key, key) {
			return m[i].Value, true
		}
	}
	return nil, false
}

// Strings returns the map as a Go map when every key is a string; ok is false
// otherwise. When a key repeats, the last entry wins.
func (m Map) Strings() (result map[string]any, ok bool) {
	result = make(map[string]any, len(m))
	for _, entry := range m {
		key, isString := entry.Key.(string)
		if !isString {
			return nil, false
		}
		result[key] = entry.Value
	}
	return result, true
}

// Tuple is an ordered, fixed sequence (a Python tuple). It travels apart from
// a list so that it comes back as a tuple.
type Tuple []any

// Set is an unordered collection of distinct elements (a Python set). The
// order of its elements carries no meaning.
type Set []any
