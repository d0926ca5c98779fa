package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"

	ophost "github.com/ophost-dev/ophost/client/go"
)

// bigBytes is the size above which result bytes are reported by digest.
const bigBytes = 4096

// decodeTV turns a case's typed value into the Go value the client takes.
func decodeTV(raw json.RawMessage) (any, error) {
	var tv map[string]json.RawMessage
	if err := json.Unmarshal(raw, &tv); err != nil {
		return nil, fmt.Errorf("typed value %s: %w", raw, err)
	}
	if len(tv) != 1 {
		return nil, fmt.Errorf("typed value %s must have exactly one tag", raw)
	}
	for tag, body := range tv {
		return decodeTagged(tag, body)
	}
	panic("unreachable")
}

func decodeTagged(tag string, body json.RawMessage) (any, error) {
	switch tag {
	case "null":
		return nil, nil
	case "bool":
		var b bool
		return b, json.Unmarshal(body, &b)
	case "string":
		var s string
		return s, json.Unmarshal(body, &s)
	case "int":
		var s string
		if err := json.Unmarshal(body, &s); err != nil {
			return nil, err
		}
		n, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, fmt.Errorf("bad int %q", s)
		}
		if n.IsInt64() {
			return n.Int64(), nil
		}
		return n, nil
	case "float":
		var s string
		if err := json.Unmarshal(body, &s); err != nil {
			return nil, err
		}
		return parseFloat(s)
	case "bytes":
		var s string
		if err := json.Unmarshal(body, &s); err != nil {
			return nil, err
		}
		return base64.StdEncoding.DecodeString(s)
	case "bytes_pattern":
		var n int
		if err := json.Unmarshal(body, &n); err != nil {
			return nil, err
		}
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i % 251)
		}
		return data, nil
	case "list", "tuple", "set":
		items, err := decodeItems(body)
		switch tag {
		case "tuple":
			return ophost.Tuple(items), err
		case "set":
			return ophost.Set(items), err
		}
		return items, err
	case "map":
		var pairs [][2]json.RawMessage
		if err := json.Unmarshal(body, &pairs); err != nil {
			return nil, err
		}
		m := make(ophost.Map, len(pairs))
		for i, pair := range pairs {
			key, err := decodeTV(pair[0])
			if err != nil {
				return nil, err
			}
			value, err := decodeTV(pair[1])
			if err != nil {
				return nil, err
			}
			m[i] = ophost.MapEntry{Key: key, Value: value}
		}
		return m, nil
	}
	return nil, fmt.Errorf("unknown typed value tag %q", tag)
}

func decodeItems(body json.RawMessage) ([]any, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, err
	}
	items := make([]any, len(raws))
	for i, raw := range raws {
		var err error
		if items[i], err = decodeTV(raw); err != nil {
			return nil, err
		}
	}
	return items, nil
}

func parseFloat(s string) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(s, 64)
}

// decodeInputs decodes a case's {name: TV} inputs.
func decodeInputs(raw map[string]json.RawMessage) (map[string]any, error) {
	inputs := make(map[string]any, len(raw))
	for name, tv := range raw {
		v, err := decodeTV(tv)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", name, err)
		}
		inputs[name] = v
	}
	return inputs, nil
}

// encodeTV turns a value the client returned into a typed value.
func encodeTV(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return map[string]any{"null": nil}, nil
	case bool:
		return map[string]any{"bool": x}, nil
	case int64:
		return map[string]any{"int": strconv.FormatInt(x, 10)}, nil
	case *big.Int:
		return map[string]any{"int": x.String()}, nil
	case float64:
		return map[string]any{"float": formatFloat(x)}, nil
	case string:
		return map[string]any{"string": x}, nil
	case []byte:
		if len(x) > bigBytes {
			sum := sha256.Sum256(x)
			return map[string]any{"bytes_sha256": hex.EncodeToString(sum[:]), "size": len(x)}, nil
		}
		return map[string]any{"bytes": base64.StdEncoding.EncodeToString(x)}, nil
	case []any:
		items, err := encodeItems(x)
		return map[string]any{"list": items}, err
	case ophost.Tuple:
		items, err := encodeItems(x)
		return map[string]any{"tuple": items}, err
	case ophost.Set:
		items, err := encodeItems(x)
		return map[string]any{"set": items}, err
	case ophost.Map:
		pairs := make([][2]any, len(x))
		for i, entry := range x {
			key, err := encodeTV(entry.Key)
			if err != nil {
				return nil, err
			}
			value, err := encodeTV(entry.Value)
			if err != nil {
				return nil, err
			}
			pairs[i] = [2]any{key, value}
		}
		return map[string]any{"map": pairs}, nil
	}
	return nil, fmt.Errorf("no typed value for %T", v)
}

func encodeItems(items []any) ([]any, error) {
	out := make([]any, len(items))
	for i, item := range items {
		var err error
		if out[i], err = encodeTV(item); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func encodeOutputs(outputs map[string]any) (map[string]any, error) {
	result := make(map[string]any, len(outputs))
	for name, value := range outputs {
		tv, err := encodeTV(value)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", name, err)
		}
		result[name] = tv
	}
	return result, nil
}
