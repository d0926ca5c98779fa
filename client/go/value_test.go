package ophost_test

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ophost "github.com/ophost-dev/ophost/client/go"
	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

func mustBig(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return n
}

// roundTrip encodes v, sends it through the protobuf wire format and decodes it.
func roundTrip(t *testing.T, v any) (any, *ophostv1.Value) {
	t.Helper()
	encoded, err := ophost.EncodeValue(v)
	if err != nil {
		t.Fatalf("EncodeValue(%#v): %v", v, err)
	}
	data, err := proto.Marshal(encoded)
	if err != nil {
		t.Fatal(err)
	}
	wire := &ophostv1.Value{}
	if err := proto.Unmarshal(data, wire); err != nil {
		t.Fatal(err)
	}
	decoded, err := ophost.DecodeValue(wire)
	if err != nil {
		t.Fatalf("DecodeValue(%v): %v", wire, err)
	}
	return decoded, wire
}

func TestValueRoundTrips(t *testing.T) {
	type level int8
	n := 7
	cases := []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"nil pointer", (*int)(nil), nil},
		{"pointer", &n, int64(7)},
		{"true", true, true},
		{"int", -3, int64(-3)},
		{"int8 named", level(-8), int64(-8)},
		{"int64 max", int64(math.MaxInt64), int64(math.MaxInt64)},
		{"int64 min", int64(math.MinInt64), int64(math.MinInt64)},
		{"uint64 in range", uint64(math.MaxInt64), int64(math.MaxInt64)},
		{"uint64 above int64", uint64(math.MaxUint64), mustBig("18446744073709551615")},
		{"big fits int64", big.NewInt(42), int64(42)},
		{"big negative", mustBig("-170141183460469231731687303715884105728"), mustBig("-170141183460469231731687303715884105728")},
		{"float64", 1.5, 1.5},
		{"float32", float32(0.25), 0.25},
		{"+Inf", math.Inf(1), math.Inf(1)},
		{"-Inf", math.Inf(-1), math.Inf(-1)},
		{"string", "héllo 🌍", "héllo 🌍"},
		{"empty string", "", ""},
		{"bytes", []byte{0, 255, 7}, []byte{0, 255, 7}},
		{"empty bytes", []byte{}, []byte{}},
		{"byte array", [3]byte{1, 2, 3}, []byte{1, 2, 3}},
		{"list", []any{1, "a", nil, []any{}}, []any{int64(1), "a", nil, []any{}}},
		{"typed slice", []string{"x", "y"}, []any{"x", "y"}},
		{"int array", [2]int{4, 5}, []any{int64(4), int64(5)}},
		{"tuple", ophost.Tuple{1, ophost.Tuple{}}, ophost.Tuple{int64(1), ophost.Tuple{}}},
		{"set", ophost.Set{"a", 2}, ophost.Set{"a", int64(2)}},
		{"go map sorted", map[string]any{"b": 1, "a": 2}, ophost.Map{{Key: "a", Value: int64(2)}, {Key: "b", Value: int64(1)}}},
		{"int keys sorted numerically", map[int]string{10: "x", 9: "y"}, ophost.Map{{Key: int64(9), Value: "y"}, {Key: int64(10), Value: "x"}}},
		{"ordered map, any keys", ophost.Map{{Key: "z", Value: 1}, {Key: ophost.Tuple{1, 2}, Value: "t"}, {Key: nil, Value: 1.0}},
			ophost.Map{{Key: "z", Value: int64(1)}, {Key: ophost.Tuple{int64(1), int64(2)}, Value: "t"}, {Key: nil, Value: 1.0}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := roundTrip(t, tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("round trip of %#v = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestValueWireArms(t *testing.T) {
	_, wire := roundTrip(t, int64(math.MaxInt64))
	if _, ok := wire.GetKind().(*ophostv1.Value_IntValue); !ok {
		t.Errorf("int64 max travels as %T", wire.GetKind())
	}
	_, wire = roundTrip(t, uint64(1)<<63)
	if wire.GetBigIntValue() != "9223372036854775808" {
		t.Errorf("2^63 travels as %v", wire)
	}
	_, wire = roundTrip(t, true)
	if _, ok := wire.GetKind().(*ophostv1.Value_BoolValue); !ok {
		t.Errorf("bool travels as %T", wire.GetKind())
	}
	_, wire = roundTrip(t, 1.0)
	if _, ok := wire.GetKind().(*ophostv1.Value_DoubleValue); !ok {
		t.Errorf("1.0 travels as %T", wire.GetKind())
	}
}

func TestSpecialFloats(t *testing.T) {
	got, _ := roundTrip(t, math.NaN())
	if f, ok := got.(float64); !ok || !math.IsNaN(f) {
		t.Errorf("NaN came back as %#v", got)
	}
	got, _ = roundTrip(t, math.Copysign(0, -1))
	if f, ok := got.(float64); !ok || f != 0 || !math.Signbit(f) {
		t.Errorf("-0.0 came back as %#v", got)
	}
}

func TestDecodeAcceptsBigIntThatFits(t *testing.T) {
	got, err := ophost.DecodeValue(&ophostv1.Value{Kind: &ophostv1.Value_BigIntValue{BigIntValue: "12"}})
	if err != nil || got.(*big.Int).Int64() != 12 {
		t.Errorf("DecodeValue(big 12) = %v, %v", got, err)
	}
}

func TestDecodeRejectsMalformedValues(t *testing.T) {
	for name, v := range map[string]*ophostv1.Value{
		"no kind":        {},
		"bad big int":    {Kind: &ophostv1.Value_BigIntValue{BigIntValue: "12a"}},
		"leading plus":   {Kind: &ophostv1.Value_BigIntValue{BigIntValue: "+12"}},
		"leading zeros":  {Kind: &ophostv1.Value_BigIntValue{BigIntValue: "012"}},
		"chunked":        {Kind: &ophostv1.Value_ChunkedValue{ChunkedValue: &ophostv1.ChunkedValueRef{ValueId: "x"}}},
		"nested no kind": {Kind: &ophostv1.Value_ListValue{ListValue: &ophostv1.ListValue{Values: []*ophostv1.Value{{}}}}},
	} {
		if _, err := ophost.DecodeValue(v); err == nil {
			t.Errorf("%s: DecodeValue(%v) succeeded", name, v)
		} else if ve := (*ophost.ValueError)(nil); !errors.As(err, &ve) {
			t.Errorf("%s: error %T, want *ValueError", name, err)
		}
	}
	_, err := ophost.DecodeValue(&ophostv1.Value{Kind: &ophostv1.Value_ListValue{ListValue: &ophostv1.ListValue{Values: []*ophostv1.Value{{}}}}})
	if ve := (*ophost.ValueError)(nil); !errors.As(err, &ve) || ve.Path != "[0]" {
		t.Errorf("nested error path: %v", err)
	}
}

func TestUnconvertibleValues(t *testing.T) {
	type point struct{ X int }
	cases := []struct {
		name string
		in   any
		path string
		typ  string
	}{
		{"chan", make(chan int), "", "chan int"},
		{"func", func() {}, "", "func()"},
		{"struct", point{1}, "", "ophost_test.point"},
		{"invalid utf8", "a\xffb", "", "string"},
		{"inside list", []any{1, 2, make(chan int)}, "[2]", "chan int"},
		{"inside map", map[string]any{"rows": []any{map[string]any{"x": complex(1, 2)}}}, "rows[0].x", "complex128"},
		{"int map key", map[int]any{3: struct{}{}}, "[3]", "struct {}"},
		{"ordered map key", ophost.Map{{Key: func() {}, Value: 1}}, "{key 0}", "func()"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ophost.EncodeValue(tc.in)
			var ve *ophost.ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("EncodeValue(%#v) error = %v, want *ValueError", tc.in, err)
			}
			if ve.Path != tc.path || ve.Type != tc.typ || ve.Reason == "" {
				t.Errorf("ValueError = %+v, want path %q type %q", ve, tc.path, tc.typ)
			}
		})
	}
}

func TestNestingDepth(t *testing.T) {
	nest := func(levels int) any {
		var v any = "leaf"
		for range levels {
			v = []any{v}
		}
		return v
	}
	if _, err := ophost.EncodeValue(nest(ophost.MaxNestingDepth)); err != nil {
		t.Errorf("%d levels: %v", ophost.MaxNestingDepth, err)
	}
	_, err := ophost.EncodeValue(nest(ophost.MaxNestingDepth + 1))
	var ve *ophost.ValueError
	if !errors.As(err, &ve) || !strings.Contains(ve.Reason, "nested") {
		t.Errorf("%d levels: %v", ophost.MaxNestingDepth+1, err)
	}
	cyclic := []any{nil}
	cyclic[0] = cyclic
	if _, err := ophost.EncodeValue(cyclic); !errors.As(err, &ve) {
		t.Errorf("a cyclic value: %v", err)
	}
}

func TestMapHelpers(t *testing.T) {
	m := ophost.Map{{Key: "a", Value: 1}, {Key: int64(2), Value: "two"}, {Key: "a", Value: 3}}
	if v, ok := m.Get("a"); !ok || v != 3 {
		t.Errorf(`Get("a") = %v, %t; the last entry wins`, v, ok)
	}
	if v, ok := m.Get(int64(2)); !ok || v != "two" {
		t.Errorf("Get(2) = %v, %t", v, ok)
	}
	if _, ok := m.Get("missing"); ok {
		t.Error(`Get("missing") found something`)
	}
	if _, ok := m.Strings(); ok {
		t.Error("Strings() accepted an integer key")
	}
	s, ok := ophost.Map{{Key: "x", Value: 1}}.Strings()
	if !ok || !reflect.DeepEqual(s, map[string]any{"x": 1}) {
		t.Errorf("Strings() = %v, %t", s, ok)
	}
}

func TestErrorDataChain(t *testing.T) {
	root := &ophost.ErrorData{TypeName: "builtins.KeyError", Message: "k"}
	mid := &ophost.ErrorData{TypeName: "builtins.ValueError", Message: "v", Context: root}
	top := &ophost.ErrorData{TypeName: "app.Error", Message: "top", Cause: mid}
	chain := top.Chain()
	if len(chain) != 3 || chain[1] != mid || chain[2] != root {
		t.Errorf("Chain() = %v", chain)
	}
	var target *ophost.ErrorData
	if !errors.As(errors.Unwrap(top), &target) || target != mid {
		t.Errorf("Unwrap(top) = %v", errors.Unwrap(top))
	}
	if top.Error() != "app.Error: top" {
		t.Errorf("Error() = %q", top.Error())
	}
}
