package ophost

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

func TestSplitAndReassemble(t *testing.T) {
	value := &ophostv1.Value{Kind: &ophostv1.Value_BytesValue{BytesValue: bytes.Repeat([]byte("abc"), 1000)}}
	if inline, chunks, err := splitValue(value, proto.Size(value), 100, "inputs.x"); err != nil || inline != value || chunks != nil {
		t.Fatalf("a value at the threshold must stay inline: %v, %d chunks, %v", inline, len(chunks), err)
	}
	ref, chunks, err := splitValue(value, 100, 256, "inputs.x")
	if err != nil {
		t.Fatal(err)
	}
	size := proto.Size(value)
	want := (size + 255) / 256
	r := ref.GetChunkedValue()
	if r == nil || r.GetValueId() != "inputs.x" || int(r.GetTotalSizeBytes()) != size || int(r.GetChunkCount()) != want || len(chunks) != want {
		t.Fatalf("reference %v with %d chunks; want %d chunks of %d bytes", r, len(chunks), want, size)
	}
	for i, c := range chunks {
		if int(c.GetIndex()) != i || int(c.GetOffset()) != i*256 || c.GetLast() != (i == want-1) {
			t.Errorf("chunk %d: index %d offset %d last %t", i, c.GetIndex(), c.GetOffset(), c.GetLast())
		}
	}
	a, err := newAssembly(r)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range chunks {
		done, err := a.add(c)
		if err != nil || done != (i == want-1) {
			t.Fatalf("add chunk %d: done %t, %v", i, done, err)
		}
	}
	got, err := a.value()
	if err != nil || !proto.Equal(got, value) {
		t.Fatalf("reassembled %d bytes, %v", len(got.GetBytesValue()), err)
	}
}

func TestAssemblyRejectsMismatches(t *testing.T) {
	value := &ophostv1.Value{Kind: &ophostv1.Value_StringValue{StringValue: strings.Repeat("x", 600)}}
	ref, chunks, err := splitValue(value, 10, 256, "v")
	if err != nil {
		t.Fatal(err)
	}
	clone := func(c *ophostv1.ValueChunk) *ophostv1.ValueChunk { return proto.Clone(c).(*ophostv1.ValueChunk) }
	wrongID := clone(chunks[0])
	wrongID.ValueId = "w"
	wrongOffset := clone(chunks[0])
	wrongOffset.Offset = 1
	earlyLast := clone(chunks[0])
	earlyLast.Last = true
	for name, first := range map[string]*ophostv1.ValueChunk{
		"value id": wrongID, "index": chunks[1], "offset": wrongOffset, "last flag": earlyLast,
	} {
		a, err := newAssembly(ref.GetChunkedValue())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.add(first); err == nil {
			t.Errorf("a chunk with the wrong %s was accepted", name)
		}
	}
	if _, err := newAssembly(&ophostv1.ChunkedValueRef{ValueId: "v"}); err == nil {
		t.Error("a reference with no chunks was accepted")
	}
}
